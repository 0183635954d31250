"""Collaborative filtering: fast.ai's `EmbeddingDotBias` (the course's MovieLens model). A user and an item each have
a vector of `n_factors` and a bias; a rating is their vectors' dot product plus both biases and one shared bias,
through a sigmoid scaled to `y_range` where given (else a logit: a click's or a purchase's log odds). The shared bias
is not fast.ai's: it starts at the training targets' mean (`start`, on the logit's scale), so that a user or an item
the fit never saw (its vector near 0, its bias 0) is predicted near the mean, not at the middle of `y_range`."""

from __future__ import annotations

import torch
from torch import nn

from models.tabular import embedding


class EmbeddingDotBias(nn.Module):
    """Reads two columns of codes (n, 2): the user's, then the item's. Code 0 (Categorify's: a value missing, or
    unknown to the rows the table was processed on: train, less a time holdout's rows) is no user or item: its vector
    and bias count as 0 (masked), in training and after, so that a test row of an unseen user is predicted by the
    item's bias and the shared one. A code no training row holds (a user new in a fold's held rows) keeps its initial
    vector, about 0, and a bias of 0."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int = 50,
        y_range: tuple[float, float] | None = None,
        start: float = 0.0,
    ) -> None:
        super().__init__()
        # fast.ai's small initial vectors: the dot starts near 0
        self.u_weight, self.i_weight = embedding(n_users, n_factors), embedding(n_items, n_factors)
        self.u_bias, self.i_bias = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)
        for e in (self.u_bias, self.i_bias):
            nn.init.zeros_(e.weight)
        self.bias = nn.Parameter(torch.tensor(float(start)))
        self.register_buffer("y_range", torch.tensor(y_range, dtype=torch.float32) if y_range else None)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        users, items = codes[:, 0], codes[:, 1]
        known_u, known_i = (users != 0).unsqueeze(1), (items != 0).unsqueeze(1)
        u, i = self.u_weight(users) * known_u, self.i_weight(items) * known_i
        biases = self.u_bias(users) * known_u + self.i_bias(items) * known_i
        x = (u * i).sum(1) + biases.squeeze(1) + self.bias
        if self.y_range is None:
            return x
        lo, hi = self.y_range[0], self.y_range[1]
        return torch.sigmoid(x.float()) * (hi - lo) + lo
