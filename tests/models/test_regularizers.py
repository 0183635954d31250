import torch
from torch import nn

from models.data import tensor_loader
from models.learner import Learner
from models.regularizers import MixUp


class Spy:
    order = 20

    def __init__(self):
        self.batches, self.losses = [], []

    def before_batch(self, learn):
        self.batches.append(learn.batch[0].clone())

    def after_loss(self, learn):
        self.losses.append(learn.loss_tensor.item())


def test_mixup_mixes_inputs_and_loss():
    torch.manual_seed(0)
    x = torch.eye(8).repeat(4, 1)  # one-hot rows: a mixed row has two non-zero entries
    y = torch.arange(8).repeat(4)
    spy = Spy()
    mix = MixUp(alpha=1.0)
    learn = Learner(nn.Linear(8, 8), tensor_loader(x, y, batch_size=16, shuffle=True), None,
                    loss_func=nn.functional.cross_entropy, device="cpu", cbs=[mix, spy])  # fmt: skip
    learn.fit(1, 1e-2)
    mixed = spy.batches[-1]
    assert 0.5 <= mix.lam <= 1.0
    assert torch.allclose(mixed.sum(dim=1), torch.ones(16))  # convex combination of one-hot rows
    assert (mixed.max(dim=1).values < 1).any()  # rows really were mixed
    # the loss the optimiser saw is the lam-weighted mix of both targets' losses
    pred = learn.pred
    expect = mix.lam * nn.functional.cross_entropy(pred, learn.batch[1]) + (1 - mix.lam) * nn.functional.cross_entropy(
        pred, learn.batch[1][mix.perm]
    )
    assert abs(spy.losses[-1] - expect.item()) < 1e-5
