"""Collaborative filtering: fast.ai's `EmbeddingDotBias` (the course's MovieLens model). A user and an item each have
a vector of `n_factors` and a bias; a rating is their vectors' dot product plus both biases and one shared bias,
through a sigmoid scaled to `y_range` where given (else a logit: a click's or a purchase's log odds). The shared bias
is not fast.ai's: it starts at the training targets' mean (`start`, on the logit's scale), so that a user or an item
the fit never saw (its vector near 0, its bias 0) is predicted near the mean, not at the middle of `y_range`."""

from __future__ import annotations

import torch
from torch import nn


class EmbeddingDotBias(nn.Module):
    """Reads two columns of codes (n, 2): the user's, then the item's. A code no training row holds (a user new in a
    fold's held rows; Categorify's 0, a value unknown to the processed table or missing, where no training row has
    it) keeps its initial vector, about 0, and a bias of 0."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        y_range: tuple[float, float] | None = None,
        start: float = 0.0,
    ) -> None:
        super().__init__()
        self.u_weight, self.i_weight = nn.Embedding(n_users, n_factors), nn.Embedding(n_items, n_factors)
        self.u_bias, self.i_bias = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)
        for e in (self.u_weight, self.i_weight):  # fast.ai's trunc_normal_(std=0.01): the dot starts near 0
            nn.init.trunc_normal_(e.weight, std=0.01, a=-0.02, b=0.02)
        for e in (self.u_bias, self.i_bias):
            nn.init.zeros_(e.weight)
        self.bias = nn.Parameter(torch.tensor(float(start)))
        self.register_buffer("y_range", torch.tensor(y_range, dtype=torch.float32) if y_range else None)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        users, items = codes[:, 0], codes[:, 1]
        dot = (self.u_weight(users) * self.i_weight(items)).sum(1)
        x = dot + self.u_bias(users).squeeze(1) + self.i_bias(items).squeeze(1) + self.bias
        if self.y_range is None:
            return x
        lo, hi = self.y_range[0], self.y_range[1]
        return torch.sigmoid(x.float()) * (hi - lo) + lo
