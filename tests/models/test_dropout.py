"""models.dropout.Dropout: nn.Dropout's behaviour (rate, scaling, gradient, eval mode, seeding) with its cheaper CPU mask."""

import math

import pytest
import torch
from torch import nn

from models.dropout import Dropout, keep_threshold
from models.tabular import TabularModel


@pytest.mark.parametrize("p", [0.04, 0.1, 0.3, 0.5, 0.9])
def test_keep_threshold_matches_p(p):
    t, scale = keep_threshold(p)
    keep = (2**15 - t) / 2**16  # int16 values >= t out of the 65,536
    assert abs((1 - keep) - p) <= 0.5 / 2**16
    assert scale == pytest.approx(1 / keep)


@pytest.mark.parametrize("p", [0.1, 0.3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_drop_rate_and_scale(p, dtype):
    torch.manual_seed(0)
    x = torch.full((1000, 1000), 2.0, dtype=dtype)
    out = Dropout(p).train()(x)
    assert out.dtype == dtype and out.shape == x.shape
    dropped = (out == 0).double().mean().item()
    # a million Bernoulli(p) draws: the rate within 5 standard deviations
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / x.numel())
    kept = out[out != 0]
    expected = torch.tensor(2.0 * keep_threshold(p)[1], dtype=dtype)
    assert torch.equal(kept, expected.expand_as(kept))
    # expected value preserved, as nn.Dropout's
    assert out.double().mean().item() == pytest.approx(2.0, rel=0.01)


def test_odd_sizes_and_every_bit_chunk_used():
    """Sizes not a multiple of 4, and no position favoured: each of the four 16-bit chunks of a 64-bit draw feeds a
    column here (4 columns), and each must drop at the rate p."""
    torch.manual_seed(1)
    out = Dropout(0.5).train()(torch.ones(200_001, 4))
    rates = (out == 0).double().mean(0)
    assert torch.all((rates - 0.5).abs() < 5 * math.sqrt(0.25 / 200_001)), rates
    assert Dropout(0.5).train()(torch.ones(3, 5)).shape == (3, 5)
    assert Dropout(0.5).train()(torch.ones(0, 5)).shape == (0, 5)


def test_gradient_is_the_scaled_mask():
    torch.manual_seed(2)
    x = torch.randn(64, 33, requires_grad=True)
    out = Dropout(0.3).train()(x)
    out.sum().backward()
    mask = (out != 0).float()
    assert torch.allclose(x.grad, mask * keep_threshold(0.3)[1])
    assert torch.allclose(out, x.detach() * x.grad)


def test_eval_mode_and_zero_p_are_identity():
    x = torch.randn(8, 5)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_seeded_and_fresh_per_call():
    """torch.manual_seed fixes the masks (a checkpoint's saved RNG state resumes them); each call draws anew."""
    drop = Dropout(0.5).train()
    x = torch.ones(100, 100)
    torch.manual_seed(3)
    a, b = drop(x), drop(x)
    torch.manual_seed(3)
    assert torch.equal(drop(x), a)
    assert not torch.equal(a, b)


def test_inplace():
    torch.manual_seed(4)
    x = torch.ones(100, 100)
    out = Dropout(0.5, inplace=True).train()(x)
    assert out.data_ptr() == x.data_ptr() and (x == 0).any()


def test_tabular_model_uses_it():
    model = TabularModel([(10, 4)], n_cont=2, layers=(8, 4), ps=(0.1, 0.2), emb_drop=0.05)
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(isinstance(m, Dropout) for m in drops)
