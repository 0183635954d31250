"""Schedules as pure functions of training progress `pct` in [0, 1]: one-cycle and SGDR are just two of them.

A schedule returns a multiplier of each parameter group's peak learning rate, so differential learning
rates (lr/9, lr/3, lr) keep their ratios through the whole schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[float], float]


def cos_anneal(start: float, end: float, pct: float) -> float:
    """Cosine from `start` (pct=0) to `end` (pct=1)."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * min(max(pct, 0.0), 1.0)))


def constant(pct: float) -> float:
    """The peak learning rate throughout."""
    return 1.0


def one_cycle(pct_start: float = 0.25, div: float = 25.0, div_final: float = 1e5) -> Schedule:
    """Warm up from 1/div to 1 over `pct_start` of training, then anneal to 1/div_final (cosine both ways)."""

    def schedule(pct: float) -> float:
        if pct < pct_start:
            return cos_anneal(1 / div, 1.0, pct / pct_start)
        return cos_anneal(1.0, 1 / div_final, (pct - pct_start) / (1 - pct_start))

    return schedule


def triangular(pct_start: float = 0.23, start: float = 0.2, end: float = 0.07) -> Schedule:
    """Linear warm-up from `start` to 1 over `pct_start` of training, then linear decay to `end` (airbench)."""

    def schedule(pct: float) -> float:
        if pct < pct_start:
            return start + (1 - start) * pct / pct_start
        return 1 + (end - 1) * min((pct - pct_start) / (1 - pct_start), 1.0)

    return schedule


def one_cycle_momentum(pct_start: float = 0.25, high: float = 0.95, low: float = 0.85) -> Schedule:
    """Adam beta1 / SGD momentum opposite to the one-cycle lr: high -> low during warm-up, back to high after."""

    def schedule(pct: float) -> float:
        if pct < pct_start:
            return cos_anneal(high, low, pct / pct_start)
        return cos_anneal(low, high, (pct - pct_start) / (1 - pct_start))

    return schedule


def sgdr_epochs(n_cycles: int, cycle_len: float, cycle_mult: float = 1.0) -> float:
    """Total epochs of `n_cycles` SGDR cycles, the i-th lasting cycle_len * cycle_mult**i epochs."""
    return sum(cycle_len * cycle_mult**i for i in range(n_cycles))


def sgdr_cycles(epochs: int, cycle_len: float, cycle_mult: float = 1.0) -> int:
    """How many SGDR cycles make exactly `epochs` epochs; ValueError when no whole number of cycles does."""
    n = 1
    while sgdr_epochs(n, cycle_len, cycle_mult) < epochs:
        n += 1
    if sgdr_epochs(n, cycle_len, cycle_mult) != epochs:
        raise ValueError(f"sgdr: cycles of {cycle_len} x {cycle_mult}^i epochs cannot add up to epochs={epochs}")
    return n


def sgdr(n_cycles: int, cycle_len: float, cycle_mult: float = 1.0, floor: float = 0.0) -> Schedule:
    """Cosine annealing with warm restarts (Loshchilov & Hutter): each cycle goes from 1 down to `floor`."""
    bounds, start = [], 0.0
    total = sgdr_epochs(n_cycles, cycle_len, cycle_mult)
    for i in range(n_cycles):
        length = cycle_len * cycle_mult**i / total
        bounds.append((start, length))
        start += length

    def schedule(pct: float) -> float:
        for begin, length in bounds:
            if pct < begin + length:
                return cos_anneal(1.0, floor, (pct - begin) / length)
        return floor

    return schedule
