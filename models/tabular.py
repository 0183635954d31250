"""Entity-embedding network for tabular data (Guo & Berkhahn 2016; fast.ai's TabularModel)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from models.dropout import Dropout


def emb_sz_rule(n_cat: int) -> int:
    """fast.ai's embedding width for a vocabulary of `n_cat` codes: min(600, round(1.6 * n**0.56))."""
    return min(600, round(1.6 * n_cat**0.56))


def emb_sizes(cardinality: dict[str, int], overrides: dict[str, int] | None = None) -> list[tuple[int, int]]:
    """(vocabulary size, width) per categorical column, in the column order of `cardinality`."""
    overrides = overrides or {}
    unknown = set(overrides) - set(cardinality)
    if unknown:
        raise KeyError(f"embedding size override for unknown column(s) {sorted(unknown)}")
    return [(n, overrides.get(c, emb_sz_rule(n))) for c, n in cardinality.items()]


def embedding(n_codes: int, width: int) -> nn.Embedding:
    """fast.ai's embedding: its vectors start small (truncated normal, std 0.01), not at PyTorch's N(0, 1). A code
    the fit never trains (a test value train lacks, read as Categorify's 0 where no training row is missing) then
    stays near 0, not at a random vector that moves the prediction by chance."""
    e = nn.Embedding(n_codes, width)
    nn.init.trunc_normal_(e.weight, std=0.01, a=-0.02, b=0.02)
    return e


class TabularModel(nn.Module):
    """Embeddings (+ dropout) for categoricals, BatchNorm for continuous inputs, then Linear-ReLU-BN-Dropout blocks.

    The output goes through a sigmoid scaled to `y_range` when given (on a log target this keeps
    predictions in a sensible band, and the network need not learn the scale).
    """

    def __init__(
        self,
        emb_szs: list[tuple[int, int]],
        n_cont: int,
        out_sz: int = 1,
        layers: tuple[int, ...] = (1000, 500),
        ps: tuple[float, ...] = (0.001, 0.01),
        emb_drop: float = 0.04,
        y_range: tuple[float, float] | None = None,
    ):
        super().__init__()
        if len(ps) != len(layers):
            raise ValueError(f"ps has {len(ps)} values for {len(layers)} layers")
        self.embeds = nn.ModuleList([embedding(n, w) for n, w in emb_szs])
        self.emb_drop = Dropout(emb_drop)
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont else None
        n_in = sum(w for _, w in emb_szs) + n_cont
        blocks = []
        for n_out, p in zip(layers, ps, strict=True):
            blocks += [nn.Linear(n_in, n_out), nn.ReLU(inplace=True), nn.BatchNorm1d(n_out)]
            if p:
                blocks.append(Dropout(p))
            n_in = n_out
        blocks.append(nn.Linear(n_in, out_sz))
        self.layers = nn.Sequential(*blocks)
        self.register_buffer("y_range", torch.tensor(y_range, dtype=torch.float32) if y_range else None)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        parts = [e(x_cat[:, i]) for i, e in enumerate(self.embeds)]
        x = self.emb_drop(torch.cat(parts, dim=1)) if parts else x_cont.new_zeros(len(x_cont), 0)
        if self.bn_cont is not None:
            x = torch.cat([x, self.bn_cont(x_cont)], dim=1)
        x = self.layers(x)
        if self.y_range is not None:
            lo, hi = self.y_range[0], self.y_range[1]
            x = torch.sigmoid(x.float()) * (hi - lo) + lo
        return x.squeeze(-1)

    def dense_layers(self) -> nn.Sequential:
        """The fully connected part alone (used to measure the throughput ceiling)."""
        return self.layers


def frame_tensors(df: pd.DataFrame, cat_names: list[str], cont_names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(int64 codes, float32 values) tensors for the given columns of a processed frame."""
    # writable: pandas' copy-on-write hands out read-only views, which torch warns about (copied only then)
    x_cat = torch.from_numpy(np.require(df[cat_names].to_numpy(np.int64), requirements=("C", "W")))
    x_cont = torch.from_numpy(np.require(df[cont_names].to_numpy(np.float32), requirements=("C", "W")))
    return x_cat, x_cont


def principal_components(table: np.ndarray, k: int) -> np.ndarray:
    """`table`'s rows (one per code) on its top `k` principal components: scikit-learn's PCA with the full SVD,
    deterministic, whose sign convention (each component's largest loading positive) makes every LAPACK give the
    same features."""
    from sklearn.decomposition import PCA

    return PCA(n_components=k, svd_solver="full").fit_transform(table).astype(np.float32)


def embedding_features(
    state: dict[str, torch.Tensor], x_cat: np.ndarray, cat_names: list[str], columns: list[str], dims: int = 0
) -> tuple[np.ndarray, list[str]]:
    """Each row's learned embedding vectors for `columns`, as float32 features of another model (e.g. gradient
    boosting: Guo & Berkhahn 2016, section 5, found them to help every learner they tried), with their names
    `<col>_e0..`. `state` is a TabularModel's state dict, `x_cat` the rows' codes in `cat_names` order. `dims` > 0
    keeps each table's top `dims` principal components (`<col>_pc0..`) instead of its every dimension."""
    unknown = [c for c in columns if c not in cat_names]
    if unknown:
        raise KeyError(f"embedding features for {unknown}: not categorical columns of the network ({cat_names})")
    parts, names = [], []
    for col in columns:
        i = cat_names.index(col)
        table = state[f"embeds.{i}.weight"].float().numpy()
        if 0 < dims < table.shape[1]:
            table = principal_components(table, dims)
            names += [f"{col}_pc{j}" for j in range(dims)]
        else:
            names += [f"{col}_e{j}" for j in range(table.shape[1])]
        parts.append(table[x_cat[:, i]])
    return (np.concatenate(parts, axis=1) if parts else np.zeros((len(x_cat), 0), np.float32)), names
