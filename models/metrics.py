"""Competition metrics on whole prediction arrays (numpy or torch), exactly as Kaggle scores them, and the registry
(`METRICS`, `get_metric`) that names each and says what it asks of a model and a submission."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


def _np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float64)


def rmspe(pred, target) -> float:
    """Root mean square percentage error, ignoring rows whose true value is 0 (Rossmann's rule)."""
    pred, target = _np(pred).astype(np.float64).ravel(), _np(target).astype(np.float64).ravel()
    keep = target != 0
    if not keep.any():
        return float("nan")
    pct = (target[keep] - pred[keep]) / target[keep]
    return float(np.sqrt(np.mean(pct**2)))


def exp_rmspe(pred_log, target_log) -> float:
    """RMSPE of predictions and targets given in log space (the Rossmann model's output)."""
    return rmspe(np.exp(_np(pred_log)), np.exp(_np(target_log)))


def accuracy(logits, target) -> float:
    """Share of rows whose arg-max class is the target class."""
    return float((_np(logits).argmax(1) == _np(target).astype(np.int64)).mean())


def log_loss(probs, target, eps: float = 1e-15) -> float:
    """Multi-class log loss of probabilities (rows sum to 1), clipped like Kaggle's scorer."""
    from sklearn.metrics import log_loss as sk_log_loss

    p = np.clip(_np(probs).astype(np.float64), eps, 1 - eps)
    return float(sk_log_loss(_np(target).astype(np.int64), p / p.sum(1, keepdims=True), labels=range(p.shape[1])))


def binary_log_losses(probs, target) -> np.ndarray:
    """Element-wise binary cross-entropy of tag probabilities (clipped at 1e-7): rows x tags."""
    p, y = _np(probs), _np(target)
    return -(y * np.log(np.clip(p, 1e-7, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-7, 1)))


def f2_score(probs, target, thresholds=0.2) -> float:
    """Planet's metric: F-beta with beta=2 per image (sample-averaged) for tags with prob > threshold."""
    from sklearn.metrics import fbeta_score

    pred = _np(probs) > np.asarray(thresholds)
    return float(fbeta_score(_np(target).astype(bool), pred, beta=2, average="samples", zero_division=0))


def _f2_per_sample(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    tp = (pred & target).sum(1)
    precision = np.divide(tp, pred.sum(1), out=np.zeros(len(tp)), where=pred.sum(1) > 0)
    recall = np.divide(tp, target.sum(1), out=np.zeros(len(tp)), where=target.sum(1) > 0)
    denom = 4 * precision + recall
    return np.divide(5 * precision * recall, denom, out=np.zeros(len(tp)), where=denom > 0)


def best_thresholds(probs, target, per_tag: bool = True, grid=None, rounds: int = 2) -> np.ndarray:
    """Thresholds maximising the sample-averaged F2 on (validation) predictions: the best global threshold,
    then, with `per_tag`, coordinate ascent over each tag's threshold (a few rounds).

    Hand-written F2 here because the search calls it thousands of times; it equals sklearn's fbeta_score
    (tests/models/test_metrics.py) at a fraction of its per-call overhead.
    """
    p, t = _np(probs), _np(target).astype(bool)
    grid = np.round(np.arange(0.02, 0.6, 0.01), 2) if grid is None else np.asarray(grid)
    scores = [_f2_per_sample(p > g, t).mean() for g in grid]
    th = np.full(p.shape[1], grid[int(np.argmax(scores))])
    if per_tag:
        for _ in range(rounds):
            for j in range(p.shape[1]):
                best, best_g = -1.0, th[j]
                for g in grid:
                    th[j] = g
                    s = _f2_per_sample(p > th, t).mean()
                    if s > best + 1e-12:
                        best, best_g = s, g
                th[j] = best_g
    return th


def shrunk_thresholds(probs, target, prior: float = 20.0, grid=None) -> np.ndarray:
    """Per-tag thresholds pulled toward the best global one: tag j keeps n_j / (n_j + prior) of its own
    optimum's distance from the global threshold, n_j its number of positive rows. A tag with a handful of
    positives stays near the global threshold (its own optimum would fit noise); a common tag gets its own."""
    t = _np(target).astype(bool)
    glob = best_thresholds(probs, t, per_tag=False, grid=grid)
    own = best_thresholds(probs, t, per_tag=True, grid=grid)
    weight = t.sum(0) / (t.sum(0) + prior)
    return glob + weight * (own - glob)


# --- The registry: every metric by its Kaggle name, with what it asks of a model and a submission ------------------
# A competition names its metric; from it come the training target (log1p for rmsle, log for rmspe, ...), the loss,
# what the submission holds (numbers, probabilities, labels, ranked labels) and whether labels need a threshold
# chosen out of fold. Each `score(y_true, y_pred)` takes the submission's own form: numbers for the regression
# metrics, P(class 1) (binary) or a rows x classes matrix (multi-class) for the probability metrics, labels for
# the label metrics, multi-hot rows for the multi-label ones, ranked label lists for map@k. (The older helpers
# above, rmspe(pred, target) and accuracy(logits, target), keep their own argument order for their callers.)

TASKS = ("regression", "binary", "multiclass", "multilabel")


@dataclass(frozen=True)
class Metric:
    """A Kaggle evaluation metric and what follows from it."""

    name: str
    score: Callable[[Any, Any], float]
    greater_is_better: bool
    tasks: tuple[str, ...]  # the kinds of competition it scores (TASKS)
    target: Literal["raw", "log1p", "log"] = "raw"  # the training target (see to_target / from_target)
    loss: Literal["mse", "l1", "bce", "ce"] = "mse"  # what the network minimises on that target
    submits: Literal["number", "probability", "label", "labels", "ranked"] = "number"
    threshold: bool = False  # labels cut from probabilities at a threshold chosen out of fold
    shift: bool = False  # log predictions shifted down by rmspe_log_shift (chosen out of fold) before exp
    ordinal: bool = False  # ordered classes: a number (learned, or the expected class) cut into classes
    doc: str = ""

    def better(self, a: float, b: float) -> bool:
        """True when score a beats score b."""
        return a > b if self.greater_is_better else a < b


def to_target(metric: Metric, y) -> np.ndarray:
    """The training target for `metric` (log1p for rmsle / smape, log for rmspe / mape: the metric becomes a
    plain squared or absolute error there)."""
    y = np.asarray(y, np.float64)
    if metric.target == "log1p":
        if (y < 0).any():
            raise ValueError(f"{metric.name}: the target has negative values; a log1p target needs y >= 0")
        return np.log1p(y)
    if metric.target == "log":
        if (y <= 0).any():
            raise ValueError(f"{metric.name}: a log target needs y > 0 (train on the rows with y > 0)")
        return np.log(y)
    return y


def from_target(metric: Metric, pred) -> np.ndarray:
    """Predictions on the training target's scale back to the metric's (never below 0 from a log target)."""
    pred = np.asarray(pred, np.float64)
    if metric.target == "log1p":
        return np.clip(np.expm1(pred), 0, None)
    if metric.target == "log":
        return np.exp(pred)
    return pred


def rmspe_log_shift(residual_mse: float) -> float:
    """What to add to log predictions so that exp() of them minimises RMSPE: with log residuals ~ N(0, s2) the
    ratio c minimising E[(1 - c * exp(pred) / y)^2] is exp(-1.5 * s2) (the mean residual's square `residual_mse`
    stands for s2). A log model predicts the median; RMSPE punishes over-prediction more than under."""
    return -1.5 * residual_mse


def rmse(y_true, y_pred) -> float:
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(_np(y_true), _np(y_pred)))


def r2(y_true, y_pred) -> float:
    """The coefficient of determination (Mercedes-Benz Greener Manufacturing)."""
    from sklearn.metrics import r2_score

    return float(r2_score(_np(y_true), _np(y_pred)))


def rmsle(y_true, y_pred) -> float:
    """Root mean squared log error (log1p); Kaggle refuses negative predictions, and so does this."""
    from sklearn.metrics import root_mean_squared_log_error

    return float(root_mean_squared_log_error(_np(y_true), _np(y_pred)))


def mae(y_true, y_pred) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(_np(y_true), _np(y_pred)))


def smape(y_true, y_pred) -> float:
    """Symmetric MAPE in percent as Kaggle scores it (Web Traffic, Store Item Demand): 100/n sum 2|F-A|/(|A|+|F|),
    a row whose actual and forecast are both 0 counting 0. scikit-learn has no SMAPE."""
    a, f = _np(y_true).ravel(), _np(y_pred).ravel()
    denom = np.abs(a) + np.abs(f)
    ratio = np.divide(2 * np.abs(f - a), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * ratio.mean())


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error as a fraction (scikit-learn's definition: 0.1 is 10%)."""
    from sklearn.metrics import mean_absolute_percentage_error

    return float(mean_absolute_percentage_error(_np(y_true), _np(y_pred)))


def binary_log_loss(y_true, p, eps: float = 1e-15) -> float:
    """Binary log loss of P(class 1) (or of one column per class), clipped at eps as Kaggle's scorer does."""
    p = _np(p)
    if p.ndim == 2 and p.shape[1] == 2:
        return log_loss(p, y_true, eps)
    p = np.clip(p.ravel(), eps, 1 - eps)
    y = _np(y_true).ravel()
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def multiclass_log_loss(y_true, probs) -> float:
    """Kaggle's multi-class log loss: probabilities clipped at 1e-15 and each row rescaled to sum 1."""
    return log_loss(probs, y_true)


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve (binary: P(class 1); multi-class: one-vs-rest, macro-averaged)."""
    from sklearn.metrics import roc_auc_score

    score = _np(y_score)
    if score.ndim == 2 and score.shape[1] == 2:  # one column per class of a binary target: P(class 1)
        score = score[:, 1]
    return float(
        roc_auc_score(_np(y_true), score, multi_class="ovr") if score.ndim == 2 else roc_auc_score(_np(y_true), score)
    )


def normalized_gini(y_true, y_score) -> float:
    """Kaggle's normalized Gini coefficient of P(class 1) of a binary target (Porto Seguro): 2 AUC - 1."""
    return 2 * roc_auc(y_true, y_score) - 1


def label_accuracy(y_true, y_pred) -> float:
    """Share of rows whose label equals the true one (labels, not probabilities: `accuracy` takes logits)."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def binary_counts(y_true, y_pred) -> tuple[int, int, int, int]:
    """(true positives, false positives, false negatives, true negatives) of 0/1 labels, class 1 the positive.
    Written with numpy because choosing the f1 / mcc threshold (tabular.blend.best_threshold) scores 49 cuts in
    each of 6 choices: sklearn's f1_score takes 4 ms a call on 200 rows and 175 ms on 1,000,000 (matthews_corrcoef
    5 ms and 284 ms), these counts 0.01 ms and 1.2 ms (20 calls each, 2 AMD EPYC cores)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"labels of shape {t.shape} against predictions of shape {p.shape}")
    for what, v in (("labels", t), ("predictions", p)):
        other = v[(v != 0) & (v != 1)]
        if len(other):
            raise ValueError(f"binary {what} must be 0 or 1 (class 1 the positive); found {other[:1].tolist()[0]!r}")
    t, p = t == 1, p == 1
    tp, fp, fn = (int(np.count_nonzero(both)) for both in (t & p, ~t & p, t & ~p))
    return tp, fp, fn, len(t) - tp - fp - fn


def f1(y_true, y_pred) -> float:
    """F1 of the positive class (binary labels 0/1; sklearn's f1_score, 0 where nothing is positive)."""
    tp, fp, fn, _ = binary_counts(y_true, y_pred)
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def f1_macro(y_true, y_pred) -> float:
    """F1 averaged over the classes with equal weight (multi-class labels)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro"))


def f1_macro_tags(y_true, y_pred) -> float:
    """F1 of each tag over the rows, averaged over the tags with equal weight (Human Protein Atlas: multi-hot rows)."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(y_true, bool), np.asarray(y_pred, bool), average="macro", zero_division=0))


def f2_samples(y_true, y_pred) -> float:
    """Planet's metric on multi-hot rows: F-beta (beta 2) per row, averaged over rows."""
    return float(_f2_per_sample(np.asarray(y_pred, bool), np.asarray(y_true, bool)).mean())


def mcc(y_true, y_pred) -> float:
    """Matthews correlation coefficient of binary labels 0/1 (sklearn's matthews_corrcoef: 0 where a row or column
    of the confusion matrix is empty)."""
    tp, fp, fn, tn = (float(n) for n in binary_counts(y_true, y_pred))  # floats: the product of four counts
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return float((tp * tn - fp * fn) / np.sqrt(denominator)) if denominator else 0.0


def quadratic_weighted_kappa(y_true, y_pred, k: int | None = None) -> float:
    """Cohen's kappa with quadratic weights, of ordinal labels (sklearn's cohen_kappa_score(weights="quadratic"):
    the labels of both, sorted, are the scale; `k`: the labels are class indices 0..k-1, none sorted). Written with
    numpy because choosing the cuts of ordinal classes (best_cuts) scores hundreds of candidates: on 10,000 rows
    (medians of 5 x 100 calls, 2 Intel cores) sklearn's takes 1.5 ms, this 0.5 ms, and with `k=` 0.03 ms."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"qwk: labels of shape {y_true.shape} against predictions of shape {y_pred.shape}")
    if k is None:
        if (y_true != y_true).any() or (y_pred != y_pred).any():  # NaN, of any dtype
            raise ValueError("qwk: a label is missing (NaN): every row needs a class")
        labels = np.unique(np.concatenate([y_true, y_pred]))
        k, y_true, y_pred = len(labels), np.searchsorted(labels, y_true), np.searchsorted(labels, y_pred)
    seen = np.bincount(y_true.astype(np.int64) * k + y_pred.astype(np.int64), minlength=k * k)
    seen = seen.reshape(k, k).astype(np.float64)
    expected = np.outer(seen.sum(1), seen.sum(0)) / seen.sum()
    weights = (np.arange(k)[:, None] - np.arange(k)[None, :]) ** 2
    disagreement = (weights * expected).sum()
    return float(1 - (weights * seen).sum() / disagreement) if disagreement else float("nan")  # as sklearn


def best_cuts(p: np.ndarray, y: np.ndarray, k: int) -> list[float]:
    """The k - 1 cuts of a predicted class number (0..k-1: a regression of the class index, or the expected class
    of probabilities) whose classes score the best quadratic weighted kappa against the class indices `y`: from
    the midpoints 0.5, 1.5, ..., each cut in turn moved to the best of 40 quantiles of the predictions between its
    neighbours, three passes over them (the "optimized rounder" of Kaggle's ordinal competitions; scipy's
    Nelder-Mead, which it usually runs on, stalls on a score made of steps). 2 s on 200,000 rows."""

    def score(cuts: np.ndarray) -> float:
        return quadratic_weighted_kappa(y, np.digitize(p, cuts), k=k)

    cuts = np.arange(k - 1) + 0.5
    best = score(cuts)
    for _ in range(3):
        for i in range(k - 1):
            lo, hi = cuts[i - 1] if i else -np.inf, cuts[i + 1] if i < k - 2 else np.inf
            inside = p[(p > lo) & (p < hi)]
            for c in np.unique(np.quantile(inside, np.linspace(0.025, 0.975, 40))) if len(inside) else ():
                trial = np.concatenate([cuts[:i], [c], cuts[i + 1 :]])
                if (trial_score := score(trial)) > best:
                    best, cuts = trial_score, trial
    return [float(c) for c in cuts]


def map_at_k(y_true, y_pred, k: int) -> float:
    """Mean average precision at k: `y_true` one label or a collection of labels per row, `y_pred` a ranked list
    per row (extra items beyond k ignored, repeats counted once). Per row: the sum over the first k predictions
    of precision@i at each hit, divided by min(len(actual), k). scikit-learn has no map@k."""
    scores = []
    for actual, ranked in zip(y_true, y_pred, strict=True):
        actual = {actual} if isinstance(actual, (str, int, np.integer)) else set(actual)
        if not actual:
            scores.append(0.0)
            continue
        hits, total, seen = 0, 0.0, set()
        for i, p in enumerate(list(ranked)[:k]):
            if p in actual and p not in seen:
                hits += 1
                total += hits / (i + 1)
            seen.add(p)
        scores.append(total / min(len(actual), k))
    return float(np.mean(scores))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("rmse", rmse, False, ("regression",)),
        Metric("rmsle", rmsle, False, ("regression",), target="log1p"),
        Metric(
            "rmspe",
            lambda y_true, y_pred: rmspe(y_pred, y_true),
            False,
            ("regression",),
            target="log",
            shift=True,
            doc="rows whose true value is 0 do not count",
        ),
        Metric("mae", mae, False, ("regression",), loss="l1"),
        Metric("r2", r2, True, ("regression",)),
        Metric("smape", smape, False, ("regression",), target="log1p", loss="l1"),
        Metric("mape", mape, False, ("regression",), target="log", loss="l1"),
        Metric("logloss", binary_log_loss, False, ("binary", "multilabel"), loss="bce", submits="probability"),
        Metric("mlogloss", multiclass_log_loss, False, ("multiclass",), loss="ce", submits="probability"),
        Metric("auc", roc_auc, True, ("binary", "multiclass"), loss="bce", submits="probability"),
        Metric("gini", normalized_gini, True, ("binary",), loss="bce", submits="probability", doc="2 AUC - 1"),
        Metric("accuracy", label_accuracy, True, ("binary", "multiclass"), loss="ce", submits="label"),
        Metric("f1", f1, True, ("binary",), loss="bce", submits="label", threshold=True),
        Metric("f1_macro", f1_macro, True, ("multiclass",), loss="ce", submits="label"),
        Metric("f2_samples", f2_samples, True, ("multilabel",), loss="bce", submits="labels", threshold=True),
        Metric("f1_macro_tags", f1_macro_tags, True, ("multilabel",), loss="bce", submits="labels", threshold=True),
        Metric("mcc", mcc, True, ("binary",), loss="bce", submits="label", threshold=True),
        Metric(
            "qwk",
            quadratic_weighted_kappa,
            True,
            ("multiclass",),
            loss="ce",
            submits="label",
            ordinal=True,
            doc="ordinal labels",
        ),
        *(
            Metric(f"map@{k}", functools.partial(map_at_k, k=k), True, ("multiclass",), loss="ce", submits="ranked")
            for k in (3, 5, 7, 10)
        ),
    )
}
ALIASES = {
    "log_loss": "logloss",
    "binary_logloss": "logloss",
    "multi_logloss": "mlogloss",
    "roc_auc": "auc",
    "normalized_gini": "gini",
    "r2_score": "r2",
    "f2": "f2_samples",
    "kappa": "qwk",
    "map3": "map@3",
    "map5": "map@5",
}


def get_metric(name: str) -> Metric:
    """The metric registered as `name` (or an alias, case-insensitive); ValueError listing the known ones."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)} (aliases: {', '.join(ALIASES)})")
    return METRICS[key]


def defined_score(metric: Metric, y_true, y_pred) -> float | None:
    """The metric of these rows, or None where it has no value on them: auc (gini) of rows of one class, qwk where
    every label is one (a rare target's column, a cut that holds none of its positives)."""
    if metric.name in ("auc", "gini") and np.unique(np.asarray(y_true)).size < 2:
        return None
    score = float(metric.score(y_true, y_pred))
    return score if np.isfinite(score) else None
