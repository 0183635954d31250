"""Run by tests/models/test_distributed.py under torchrun: a small model trained data-parallel (gloo on CPU),
each rank saving its final weights and the sample indices it trained on."""

import sys
from pathlib import Path

import torch
from torch import nn

from models.data import tensor_loader
from models.distributed import finish, init_distributed
from models.learner import Learner
from pipelines.__main__ import exit_now

out = Path(sys.argv[1])
rank, world = init_distributed()
torch.manual_seed(100 + rank)  # different initial weights per rank: DDP must broadcast rank 0's
x = torch.randn(96, 5)
y = (x @ torch.arange(5.0) > 0).long()
idx = torch.arange(96)
model = nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
seen = []


class Record:
    order = 0

    def before_batch(self, learn):
        seen.extend(learn.batch[0][:, 0].tolist())


dl = tensor_loader(x, y, batch_size=8, shuffle=True, seed=3)
learn = Learner(model, dl, None, loss_func=nn.functional.cross_entropy, device="cpu", amp="off", cbs=[Record()])
learn.fit_one_cycle(2, 1e-2)
# A second stage on the same parameters, fewer of them trainable (as an image competition's frozen -> unfrozen
# stages, or the head alone): a new wrapper, and the first one's gradient hooks must be gone.
model[0].requires_grad_(False)
head = Learner(model, dl, None, loss_func=nn.functional.cross_entropy, device="cpu", amp="off", cbs=[Record()])
head.fit_one_cycle(1, 1e-2)
torch.save(
    {
        "model": model.state_dict(),
        "seen": seen,
        "world": world,
        "unwrapped": learn.model is model and head.model is model,
        "loss": learn.history[-1]["train_loss"],
        "head_loss": head.history[-1]["train_loss"],
    },
    out / f"rank{rank}.pt",
)
finish()  # barrier, then close the group: a rank that exits while the other still talks makes gloo abort
exit_now(0)  # as the CLI does under torchrun: no interpreter finalization (see pipelines/__main__.py)
