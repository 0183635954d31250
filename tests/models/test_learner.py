"""The shared training loop on a tiny synthetic regression: it learns, schedules apply, resume is exact."""

import math

import pytest
import torch
from torch import nn

from models.callbacks import CheckpointCallback, ProgressCallback, Recorder
from models.data import tensor_loader
from models.learner import CancelFit, Learner, TrainingDiverged, suggest_lr


def data(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(n, generator=g)
    return x, y


def learner(seed=0, cbs=(), **kw):
    torch.manual_seed(seed)
    x, y = data()
    vx, vy = data(128, seed=1)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1), nn.Flatten(0))
    return Learner(
        model,
        tensor_loader(x, y, batch_size=32, shuffle=True, seed=seed),
        tensor_loader(vx, vy, batch_size=64, shuffle=False),
        metrics={"mae": lambda p, t: (p - t).abs().mean()},
        device="cpu",
        cbs=cbs,
        **kw,
    )


def test_fast_epochs_print_the_first_and_last_lines_and_one_every_so_many_seconds(monkeypatch, capsys):
    monkeypatch.setenv("PROGRESS_EVERY", "3600")
    learn = learner(cbs=[ProgressCallback(interactive=False, label="net")])
    learn.fit_one_cycle(5, 5e-2)
    learn.fit_one_cycle(3, 5e-2)  # each fit its own first line
    lines = [line.split("  ")[0] for line in capsys.readouterr().out.splitlines()]
    assert lines == ["net epoch 1/5", "net epoch 5/5", "net epoch 1/3", "net epoch 3/3"]
    monkeypatch.setenv("PROGRESS_EVERY", "0")  # every epoch's line
    learner(cbs=[ProgressCallback(interactive=False)]).fit_one_cycle(4, 5e-2)
    assert capsys.readouterr().out.count("epoch ") == 4
    for bad in ("often", "nan"):
        monkeypatch.setenv("PROGRESS_EVERY", bad)
        with pytest.raises(ValueError, match=f"PROGRESS_EVERY='{bad}': a number of seconds"):
            ProgressCallback(interactive=False)


def test_an_epochs_line_after_every_so_many_seconds_and_the_last_of_a_fit_stopped_early(monkeypatch, capsys):
    from models import progress
    from models.learner import Callback

    clock = iter(range(0, 1000, 4))  # each epoch ends 4 s after the one before
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    learner(cbs=[ProgressCallback(interactive=False, every=10)]).fit_one_cycle(6, 5e-2)
    assert [line.split("  ")[0] for line in capsys.readouterr().out.splitlines()] == [
        "epoch 1/6",  # at 0 s
        "epoch 4/6",  # at 12 s: 10 s after the line before, at least
        "epoch 6/6",  # the last
    ]

    class StopAfterThree(Callback):
        order = 60  # after the progress callback's after_epoch

        def after_epoch(self, learn):
            if learn.epoch == 2:
                raise CancelFit

    learner(cbs=[ProgressCallback(interactive=False, every=3600), StopAfterThree()]).fit_one_cycle(5, 5e-2)
    assert [line.split("  ")[0] for line in capsys.readouterr().out.splitlines()] == ["epoch 1/5", "epoch 3/5"]


def test_learns_and_records(tmp_path, capsys):
    learn = learner(cbs=[Recorder(tmp_path), ProgressCallback(interactive=False, every=0)])
    hist = learn.fit_one_cycle(6, 5e-2)
    assert len(hist) == 6 and hist[-1]["valid_loss"] < hist[0]["valid_loss"] < 20
    assert hist[-1]["valid_loss"] < 0.5  # the targets' variance is ~14
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 7
    assert (tmp_path / "training.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert out.count("epoch ") == 6  # one plain line per epoch when not a terminal (every=0)
    # one-cycle: the lr went up then down to ~0
    peak = max(learn.lrs_seen)
    assert peak == pytest.approx(5e-2, rel=1e-2) and learn.lrs_seen[-1] < 1e-4


def test_same_seed_same_result():
    a = learner(seed=3).fit_one_cycle(2, 1e-2)
    b = learner(seed=3).fit_one_cycle(2, 1e-2)
    assert [r["valid_loss"] for r in a] == [r["valid_loss"] for r in b]


def test_resume_from_checkpoint_is_exact(tmp_path):
    full = learner(seed=1).fit_one_cycle(4, 1e-2)

    class StopAfter2:
        order = 100  # after the checkpoint callback

        def after_epoch(self, learn):
            if learn.epoch == 1:
                raise CancelFit

    ckpt = tmp_path / "checkpoint.pt"
    learner(seed=1, cbs=[CheckpointCallback(ckpt), StopAfter2()]).fit_one_cycle(4, 1e-2)
    resumed = learner(seed=1)
    with torch.no_grad():
        for p in resumed.model.parameters():
            p.fill_(0.5)  # everything must come from the checkpoint
    torch.manual_seed(1234)  # and the RNG state too
    state = resumed.load_checkpoint(ckpt)
    assert state["epoch"] == 2
    hist = resumed.fit_one_cycle(4, 1e-2, start_epoch=state["epoch"])
    assert [r["valid_loss"] for r in hist] == pytest.approx([r["valid_loss"] for r in full], rel=1e-6)


def test_nan_loss_names_batch_and_lr():
    learn = learner()
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 1 \(lr .*\); lower the learning rate"):
        learn.loss_func = lambda p, t: (p - t).mean() * math.nan
        learn.fit(1, 1e-3)


def test_divergence_found_at_the_next_check_names_the_first_bad_batch():
    learn = learner()  # 16 batches an epoch; checked every 3 batches, the loss goes NaN at the 5th
    learn.check_every, calls = 3, []

    def loss(p, t):
        calls.append(1)
        return nn.functional.mse_loss(p, t) * (math.nan if len(calls) >= 5 else 1.0)

    learn.loss_func = loss
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 5 \(lr "):
        learn.fit(1, 1e-3)
    assert len(calls) == 6  # stopped at the check after batch 6, not at the end of the epoch


def test_training_reads_no_loss_back_per_batch(monkeypatch):
    """The per-batch loss stays a device tensor: no `.item()` / float() per step (a host sync on a GPU)."""
    learn = learner()
    learn.train_dl = tensor_loader(*data(), batch_size=8, shuffle=True)  # 64 steps an epoch
    reads = []
    for name in ("item", "__float__", "__bool__", "tolist"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda t, *a, _f=original: reads.append(1) or _f(t, *a))
    learn.fit(2, 1e-3)
    steps = 2 * len(learn.train_dl)
    assert len(learn.losses_seen) == steps and all(math.isfinite(x) for x in learn.losses_seen)
    assert len(reads) < steps / 4, f"{len(reads)} host reads for {steps} steps"  # the checks and validation


def test_loader_batches_are_the_epoch_samplers_order_as_device_index_slices():
    from torch.utils.data import BatchSampler

    from models.data import EpochSampler

    x = torch.arange(1000.0)[:, None]
    dl = tensor_loader(x, batch_size=64, shuffle=True, seed=3)
    dl.sampler.set_epoch(2)
    sampler = EpochSampler(1000, 3)
    sampler.set_epoch(2)
    assert [b[0][:, 0].long().tolist() for b in dl] == list(BatchSampler(sampler, 64, drop_last=True))
    assert all(isinstance(i, torch.Tensor) and i.device == x.device for i in dl.sampler)
    ordered = tensor_loader(x, batch_size=64, shuffle=False)
    assert len(ordered) == 16 and torch.equal(torch.cat([b[0] for b in ordered]), x)


def test_differential_learning_rates():
    learn = learner()
    learn.model.layer_groups = lambda: [learn.model[0].parameters(), learn.model[3].parameters()]
    learn.fit(1, [1e-4, 1e-2])
    lrs = {g["layer_group"]: g["lr"] for g in learn.opt.param_groups}
    assert lrs == {0: 1e-4, 1: 1e-2}
    with pytest.raises(ValueError, match="3 learning rates for 2 layer groups"):
        learn.fit(1, [1e-4, 1e-3, 1e-2])


def test_lr_find_restores_weights_and_suggests(tmp_path):
    learn = learner()
    before = {k: v.clone() for k, v in learn.model.state_dict().items()}
    res = learn.lr_find(num_it=100, plot=tmp_path / "lr.png")
    assert all(torch.equal(before[k], v) for k, v in learn.model.state_dict().items())
    assert 1e-3 < res["suggested_lr"] < 1.0  # the loss only falls from ~1e-2 on for this problem
    assert (tmp_path / "lr.png").stat().st_size > 1000
    assert len(res["lrs"]) <= 100


def test_suggest_lr_on_a_known_curve():
    lrs = [10 ** (-6 + i * 0.1) for i in range(60)]
    losses = [1.0 if lr < 1e-4 else (0.2 if lr > 1e-2 else 1.0 - 0.8 * (math.log10(lr) + 4) / 2) for lr in lrs]
    assert 1e-4 <= suggest_lr(lrs, losses) <= 1e-2
