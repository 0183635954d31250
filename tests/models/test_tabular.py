import pytest
import torch

from models.tabular import TabularModel, emb_sizes, emb_sz_rule


def test_embedding_width_rule():
    assert emb_sz_rule(1116) == 81  # the Store column on the real data
    assert emb_sz_rule(2) == 2
    assert emb_sz_rule(10**7) == 600
    assert emb_sizes({"Store": 1116, "Day": 32}, {"Store": 50}) == [(1116, 50), (32, emb_sz_rule(32))]
    with pytest.raises(KeyError, match="Stor"):
        emb_sizes({"Store": 10}, {"Stor": 5})


@pytest.mark.parametrize("y_range", [None, (0.0, 12.0)])
def test_shapes_range_and_no_nan(y_range):
    torch.manual_seed(0)
    m = TabularModel([(10, 4), (5, 3)], n_cont=6, layers=(32, 16), ps=(0.1, 0.1), emb_drop=0.1, y_range=y_range)
    x_cat = torch.randint(0, 5, (64, 2))
    out = m(x_cat, torch.randn(64, 6))
    assert out.shape == (64,)
    assert torch.isfinite(out).all()
    if y_range:
        assert (out >= 0).all() and (out <= 12).all()
    m.eval()
    assert m(x_cat[:1], torch.randn(1, 6)).shape == (1,)  # batch of one in eval mode (BatchNorm)


def test_ps_must_match_layers():
    with pytest.raises(ValueError, match="ps has 1 values for 2 layers"):
        TabularModel([(3, 2)], 1, layers=(8, 4), ps=(0.1,))
