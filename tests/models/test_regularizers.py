import torch
from torch import nn

from models.callbacks import FreezeAfter, Lookahead
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
    learn = Learner(
        nn.Linear(8, 8),
        tensor_loader(x, y, batch_size=16, shuffle=True),
        None,
        loss_func=nn.functional.cross_entropy,
        device="cpu",
        cbs=[mix, spy],
    )
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


class Snapshot:
    """Records the weights after every batch, at its `order` (Lookahead's is 30)."""

    def __init__(self, order: int):
        self.order, self.weights = order, []

    def after_batch(self, learn):
        self.weights.append(learn.model.weight.detach().clone())


def test_lookahead_pulls_weights_to_their_average_from_its_start_epoch():
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    la = Lookahead(start_epoch=1, every=3, decay_base=0.9, power=0.0)  # power 0: a fixed decay of 0.9**3
    before, after = Snapshot(order=20), Snapshot(order=40)
    learn = Learner(
        nn.Linear(4, 1),
        tensor_loader(x, y, batch_size=16, shuffle=False),
        None,
        opt="sgd",
        device="cpu",
        cbs=[la, before, after],
    )
    learn.fit(3, 0.1)  # 4 steps an epoch; epoch 1 (steps 1-4) is left alone
    b, a = before.weights, after.weights
    assert all(torch.equal(b[i], a[i]) for i in range(6))  # nothing changes until the average exists (step 6)
    avg = b[5].clone()
    for i in range(6, 12):  # steps 7..12
        step = i + 1
        if step % 3 == 0:  # the average moves towards the weights, the weights jump to the average
            avg = avg.lerp(b[i], 1 - 0.9**3)
            assert torch.allclose(a[i], avg)
        elif step % 4 == 0:  # an epoch's last step: the weights go back to the average
            assert torch.equal(a[i], avg)
        else:
            assert torch.equal(a[i], b[i])
    assert torch.allclose(learn.model.weight, avg)


def test_freeze_after_holds_a_parameter_from_its_epoch_on():
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    model = nn.Linear(4, 1)
    snap = Snapshot(order=40)
    learn = Learner(
        model,
        tensor_loader(x, y, batch_size=16, shuffle=False),
        None,
        opt="sgd",
        wd=0.1,
        device="cpu",
        cbs=[FreezeAfter(model.weight, epochs=2), snap],
    )
    learn.fit(4, 0.1)  # 4 steps an epoch
    w = snap.weights
    assert not torch.equal(w[3], w[7])  # epochs 1 and 2 train it
    assert all(torch.equal(w[7], w[i]) for i in range(8, 16))  # from epoch 3 on it stays, decay and momentum aside
    assert torch.equal(model.weight, w[7])
