"""Training-time regularisers as callbacks. (Label smoothing needs no code: nn.CrossEntropyLoss(label_smoothing=).)"""

from __future__ import annotations

import torch

from models.learner import Callback


class MixUp(Callback):
    """mixup (Zhang et al., 2018): train on convex combinations of pairs of inputs, with the loss mixed alike.

    lam ~ Beta(alpha, alpha) per batch (kept >= 0.5 so the first image dominates); inputs are mixed
    in float, so uint8 image batches should be normalised before (or in) the model's first layer.
    """

    order = 10

    def __init__(self, alpha: float = 0.4):
        # Draws use torch's global RNG, which the learner checkpoints: a resumed run mixes the same pairs.
        self.beta = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))
        self.alpha = alpha

    def before_batch(self, learn):
        *xb, yb = learn.batch
        if len(xb) != 1:
            raise ValueError("MixUp mixes a single input tensor per batch")
        lam = float(self.beta.sample())
        self.lam = max(lam, 1 - lam)
        self.perm = torch.randperm(len(yb)).to(yb.device)
        x = xb[0].float()
        learn.batch = (self.lam * x + (1 - self.lam) * x[self.perm], yb)

    def after_loss(self, learn):
        yb = learn.batch[-1]
        other = learn.loss_func(learn.pred, yb[self.perm])
        learn.loss_tensor = self.lam * learn.loss_tensor + (1 - self.lam) * other
