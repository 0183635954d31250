"""fast.ai's EmbeddingDotBias with the project's shared bias: code 0 is no user or item."""

from __future__ import annotations

import torch

from models.collab import EmbeddingDotBias


def test_code_0_is_no_user_and_the_shared_bias_starts_at_the_mean():
    torch.manual_seed(0)
    model = EmbeddingDotBias(5, 7, n_factors=4, y_range=(0.0, 5.0), start=0.4)
    for table in (model.u_weight, model.i_weight, model.u_bias, model.i_bias):
        torch.nn.init.normal_(table.weight)  # code 0's rows too: trained (or not), they must not count
    codes = torch.tensor([[0, 3], [2, 0], [0, 0], [2, 3]])
    out = model(codes)
    i_bias, u_bias = model.i_bias.weight[3, 0], model.u_bias.weight[2, 0]
    dot = (model.u_weight.weight[2] * model.i_weight.weight[3]).sum()
    expected = torch.stack([i_bias + 0.4, u_bias + 0.4, torch.tensor(0.4), dot + u_bias + i_bias + 0.4])
    torch.testing.assert_close(out, torch.sigmoid(expected) * 5.0)
    out.sum().backward()  # code 0's rows learn nothing from the rows that hold it
    assert model.u_weight.weight.grad[0].abs().max() == 0 and model.i_bias.weight.grad[0].abs().max() == 0
    logits = EmbeddingDotBias(5, 7, n_factors=4)(codes)  # no y_range: a logit, the shared bias 0
    assert logits.shape == (4,) and logits[2] == 0
