"""Logistic regression fitted by full-batch L-BFGS in torch (`torch.optim.LBFGS`): every tag, or every class, of
the linear probe at once, on the device its features come from.

scikit-learn's `LogisticRegression` is the reference, and the objective is its own: C times the summed log loss plus
half the squared weights, the intercepts free (softmax over the classes a model sees; one sigmoid for two classes,
as scikit-learn's binary model). It is not used here because it fits tags one at a time (`OneVsRestClassifier`),
each step a matrix-vector product, with a fixed cost per fit; here one matrix-matrix product a step serves every tag.
Its multinomial fit of classes is already one model, and measures slower still (below); why, was not profiled. The
gradient test is scikit-learn's (TOL). L-BFGS also stops where the loss or the step no longer changes in float32:
there the gradient can stay a little above TOL (1.9e-4 on a fold of the embedded Planet sample). Both solvers stop
short of the exact optimum, so one image's probabilities can differ by a few hundredths between them; the
out-of-fold log losses below agree to three decimals. A fit that ran out of its MAX_ITER iterations says so
(`converged`). At a weak penalty the two part: scikit-learn's test is on the mean loss, which it meets after a few
iterations far from the optimum (60 classes of 600 random rows, C=100: its objective 217.5 after 6 iterations, this
fit's 147.0), so this fit's probabilities are the more confident and can score a worse log loss there.

Measured on 2 AMD EPYC cores, 5 folds of the probe's fit, median of 3, by `python -m pipelines.bench COMP --parts
probe` (scikit-learn's fit beside this one on the same cached features: the real samples' Lite2 at 260 px; for the
embedded sample, `--data` of its `make all` and `--args` of its end-to-end test: Lite0 at 64 px, `tta=2`):

| features | scikit-learn | here | out-of-fold log loss, each |
|---|---|---|---|
| Planet sample, 1,000 images x 8 views, 17 tags | 32.8 s | 18.1 s | 0.1252, 0.1252 |
| Dog Breed sample, 300 images x 5 views, 120 classes | 12.0 s | 2.3 s | 2.2447, 2.2454 |
| embedded Planet sample, 400 images x 3 views, 12 tags | 16.7 s | 1.6 s | 0.3729, 0.3729 |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MAX_ITER = 1000
TOL = 1e-4  # scikit-learn's tol: every coordinate of the objective's gradient (mean loss + penalty) under it


@dataclass
class Logistic:
    """A fitted model: `weight` (features, outputs) and `bias` on their device; `kind` "tags" (a sigmoid a tag),
    "binary" (one sigmoid: P(the second of two classes)), "softmax" or "constant" (one class seen: no fit);
    `outputs` the columns the fit predicts (the tags that vary, the classes seen), the others `fixed` (a tag every
    row has or none has: its value; a class no row has: 0); `converged`: it stopped before MAX_ITER iterations."""

    weight: torch.Tensor
    bias: torch.Tensor
    kind: str
    outputs: np.ndarray
    fixed: np.ndarray
    converged: bool = True


def fit_logistic(
    x: np.ndarray, y: np.ndarray, c: float, multi_label: bool, n_classes: int, device: torch.device | str = "cpu"
) -> Logistic:
    """Fit rows `x` (n, F) to `y`: a 0/1 tag matrix (n, T) when `multi_label`, else class indices (n,) of
    `n_classes`. A tag every row has (or none has) predicts that, as `OneVsRestClassifier`'s constant predictor
    does; a class no row has gets 0, as scikit-learn's model of the classes it saw; one class seen is predicted
    without a fit (scikit-learn refuses to fit it)."""
    if multi_label:
        y = np.asarray(y, np.float32)
        outputs, fixed = np.flatnonzero(y.min(0) != y.max(0)), y[0].copy()
        target = torch.as_tensor(y[:, outputs], device=device)
        kind = "tags" if len(outputs) else "constant"
    else:
        outputs, codes = np.unique(np.asarray(y).astype(np.int64).ravel(), return_inverse=True)
        fixed = np.zeros(n_classes, np.float32)
        kind = {1: "constant", 2: "binary"}.get(len(outputs), "softmax")
        fixed[outputs] = kind == "constant"
        target = torch.as_tensor(codes, device=device)
        target = target[:, None].float() if kind == "binary" else target
    k = {"tags": len(outputs), "binary": 1, "softmax": len(outputs), "constant": 0}[kind]
    weight = torch.zeros(x.shape[1], k, device=device, requires_grad=True)
    bias = torch.zeros(k, device=device, requires_grad=True)
    if kind == "constant":
        return Logistic(weight.detach(), bias.detach(), kind, outputs, fixed)
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    strength = 0.5 / (c * len(x))  # scikit-learn's objective divided by C n: the mean log loss, 1/(2Cn) |W|^2
    opt = torch.optim.LBFGS(
        [weight, bias],
        max_iter=MAX_ITER,
        max_eval=2 * MAX_ITER,
        tolerance_grad=TOL,
        history_size=10,
        line_search_fn="strong_wolfe",
    )

    def objective() -> torch.Tensor:
        opt.zero_grad()
        logits = xt @ weight + bias
        if kind == "softmax":
            fit = F.cross_entropy(logits, target)
        else:  # the sum over tags of each tag's mean log loss: one model a tag, as one-vs-rest fits them
            fit = F.binary_cross_entropy_with_logits(logits, target) * k
        value = fit + strength * (weight * weight).sum()
        value.backward()
        return value

    opt.step(objective)
    converged = opt.state[weight]["n_iter"] < MAX_ITER  # LBFGS keeps its state under its first parameter
    return Logistic(weight.detach(), bias.detach(), kind, outputs, fixed, converged)


def predict_logistic(model: Logistic, x: np.ndarray) -> np.ndarray:
    """Probabilities (n, tags or classes), each row's classes summing to 1."""
    out = np.tile(model.fixed.astype(np.float64), (len(x), 1))
    if model.kind == "constant":
        return out
    with torch.no_grad():
        logits = torch.as_tensor(x, dtype=torch.float32, device=model.weight.device) @ model.weight + model.bias
        p = (torch.softmax(logits, 1) if model.kind == "softmax" else torch.sigmoid(logits)).cpu().double().numpy()
    out[:, model.outputs] = np.hstack([1 - p, p]) if model.kind == "binary" else p
    return out
