"""Blending ensemble members: weights fitted on out-of-fold (validation) predictions, for any competition.

A member is a name and its predictions on the validation rows, in the space where averaging makes sense
(log sales for Rossmann, log-odds or probabilities for images). `fit_weights` finds non-negative weights
summing to 1 that minimise the competition's loss of the weighted average on those rows; `blend` applies
them to any other predictions of the same members (the test set's, from the refit models).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


def blend(preds: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """The weighted average of the members' predictions (members with weight 0 may be absent)."""
    used = [n for n, w in weights.items() if w > 0]
    missing = [n for n in used if n not in preds]
    if missing:
        raise KeyError(f"blend: no predictions for member(s) {missing} (have {sorted(preds)})")
    return sum(weights[n] * np.asarray(preds[n], np.float64) for n in used) / sum(weights[n] for n in used)


def fit_weights(preds: Mapping[str, np.ndarray], loss: Callable[[np.ndarray], float]) -> dict[str, float]:
    """Non-negative weights summing to 1 that minimise `loss(blend)` on the validation rows.

    scipy's SLSQP over the simplex, started from equal weights (a handful of members: milliseconds). Weights
    under 1e-4 are set to 0 and the rest renormalised, so a member that does not help is dropped visibly."""
    from scipy.optimize import minimize

    names = list(preds)
    if len(names) == 1:
        return {names[0]: 1.0}
    stack = np.stack([np.asarray(preds[n], np.float64) for n in names])
    start = np.full(len(names), 1.0 / len(names))
    res = minimize(
        lambda w: loss(np.tensordot(w, stack, axes=1)),
        start,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * len(names),
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.where(res.x < 1e-4, 0.0, res.x)
    if (
        not np.isfinite(w).all()
        or w.sum() <= 0
        or loss(np.tensordot(w, stack, 1)) > loss(np.tensordot(start, stack, 1))
    ):
        w = start  # the optimiser failed to beat equal weights: keep those
    w = w / w.sum()
    return {n: round(float(x), 6) for n, x in zip(names, w, strict=True)}
