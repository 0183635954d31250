"""Image competitions: the choices made on the members' predictions (blend weights, thresholds, the clip) and the
submission's honest score.

Every choice made on predictions (the blend's weights, planet's thresholds, the log-loss clip) is made by
`pipelines.cv.choose_out_of_fold`: chosen on all scored rows for the submission, and scored fold by fold with
the choice made on the other folds' rows only. That fold-by-fold figure is the headline (`oof_<metric>`),
since a figure scored on the rows that chose it overstates the hidden score (planet: 0.07 F2).

The rows scored: every labelled image (the probe's out-of-fold predictions) when the probe is the only
member; the holdout images when the net is in (it has predictions there only; the probe's there are out of
fold too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.metrics import (
    Metric,
    accuracy,
    best_cuts,
    best_thresholds,
    binary_log_losses,
    f2_score,
    get_metric,
    log_loss,
    shrunk_thresholds,
    to_target,
)
from pipelines.cv import choose_out_of_fold, out_of_fold
from pipelines.ensemble import blend, fit_weights

CLIPS = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 2e-2, 5e-2)  # log loss: [c, 1-c]; chosen out of fold


@dataclass(frozen=True)
class Scorer:
    """The competition's metric as Kaggle scores it, and the setting the submission needs to be scored:
    sample-averaged F2 at thresholds (multi-label), log loss of clipped probabilities (single-label), or the
    card's metric from models.metrics (`kaggle`: auc, accuracy, f1 at a threshold, map@k, ...)."""

    multi_label: bool
    thresholds: str = "auto"  # auto, per_tag, global (multi-label)
    clip: float = -1.0  # single-label; -1: chosen
    kaggle: str = ""  # the card's metric, when it is not log loss or sample F2 (which the two defaults score)
    ordinal: bool = False  # qwk: the expected class cut at thresholds chosen out of fold, not the likeliest class

    @property
    def other(self) -> Metric | None:
        """The card's metric when it is not one of the two the image competitions score natively."""
        m = get_metric(self.kaggle) if self.kaggle else None
        native = ("f2_samples",) if self.multi_label else ("logloss", "mlogloss")
        return None if m is None or m.name in native else m

    @property
    def regression(self) -> bool:
        """The card's metric scores numbers: the members' predictions (n, 1) are submitted as they are."""
        return self.other is not None and self.other.submits == "number"

    @property
    def cuts(self) -> bool:
        """Whether the setting is the cuts of the expected class (an ordinal metric, with `ordinal`)."""
        return self.ordinal and self.other is not None and self.other.ordinal

    @property
    def metric(self) -> str:
        return self.other.name if self.other else "f2" if self.multi_label else "logloss"

    @property
    def greater_is_better(self) -> bool:
        return self.other.greater_is_better if self.other else self.multi_label

    def form(self, p: np.ndarray, setting) -> np.ndarray:
        """What the card's metric scores of probabilities `p`: themselves, the top k classes, or labels (the
        expected class cut at the `setting`'s cuts, for an ordinal metric)."""
        m = self.other
        if self.cuts:
            return np.digitize(expected_class(p), setting)
        if m.submits == "number":
            return p[:, 0]
        if m.submits == "probability":
            return p
        if m.submits == "ranked":
            return np.argsort(-p, 1)[:, : int(m.name.partition("@")[2])]
        return (p[:, -1] > setting).astype(int) if setting > 0 else p.argmax(1)

    def labels(self, p: np.ndarray, setting) -> np.ndarray:
        """Each row's class index as the submission holds it (single-label): the form of a metric that scores labels
        (qwk's cut expected class, f1's threshold), else the likeliest class."""
        if self.other is not None and self.other.submits == "label":
            return np.asarray(self.form(p, setting))
        return p.argmax(1)

    def score(self, p: np.ndarray, y: np.ndarray, setting) -> float:
        if self.other is not None:
            return self.other.score(y, self.form(p, setting))
        if self.multi_label:
            return f2_score(p, y, setting)
        return log_loss(clip(p, setting), y)

    def chooser(self, mode: str):
        m = self.other
        if self.cuts:
            return lambda p, y: best_cuts(expected_class(p), y, p.shape[1])
        if m is not None:
            if m.threshold:  # f1, mcc: the threshold on P(the last class) that scores best
                return lambda p, y: max(
                    np.quantile(p[:, -1], np.linspace(0.02, 0.98, 49)), key=lambda t: m.score(y, p[:, -1] > t)
                )
            return lambda p, y: 0.0
        if self.multi_label:
            if mode == "global":
                return lambda p, y: best_thresholds(p, y, per_tag=False)
            return lambda p, y: shrunk_thresholds(p, y)
        if self.clip >= 0:
            return lambda p, y: self.clip
        return lambda p, y: min(CLIPS, key=lambda c: log_loss(clip(p, c), y))

    def blend_loss(self, y: np.ndarray):
        """A smooth loss for the blend's weights: binary (tags) or multi-class cross-entropy, or a number's squared
        (absolute, for mae, smape, mape) error on the metric's training scale (log1p for rmsle)."""
        if self.regression:
            m, target = self.other, to_target(self.other, y)
            power = 1 if m.loss == "l1" else 2
            return lambda p: float(np.mean(np.abs(to_target(m, p[:, 0]) - target) ** power))
        if self.multi_label:
            return lambda p: float(binary_log_losses(p, y).mean())
        return lambda p: log_loss(p, y)


def expected_class(p: np.ndarray) -> np.ndarray:
    """Each row's expected class index under its probabilities (rows x classes): a number an ordinal metric cuts."""
    return p @ np.arange(p.shape[1])


def clip(p: np.ndarray, c: float) -> np.ndarray:
    """Probabilities clipped to [c, 1 - c] and renormalised per row (what a clipped submission is scored as)."""
    if c <= 0:
        return p
    q = np.clip(p, c, 1 - c)
    return q / q.sum(1, keepdims=True)


def choose_blend(preds: dict[str, np.ndarray], y: np.ndarray, folds: np.ndarray, scorer: Scorer) -> tuple:
    """(weights, setting, out-of-fold score, threshold mode) of the members' blend: weights (fitted on the
    smooth loss) and then the threshold/clip setting on the blend, both chosen out of fold. Multi-label with
    thresholds=auto: global or shrunk per-tag thresholds, whichever scores better out of fold."""
    names = list(preds)
    stacked = np.stack([preds[n] for n in names], axis=1)  # rows first, so that folds index them

    def members(s: np.ndarray) -> dict[str, np.ndarray]:
        return {n: s[:, i] for i, n in enumerate(names)}

    best = None
    modes = ["global", "per_tag"] if scorer.multi_label and scorer.thresholds == "auto" else [scorer.thresholds]
    for mode in modes:

        def choose(s: np.ndarray, t: np.ndarray, mode=mode):
            weights = fit_weights(members(s), scorer.blend_loss(t))
            return weights, scorer.chooser(mode)(blend(members(s), weights), t)

        def score(s: np.ndarray, t: np.ndarray, chosen) -> float:
            return scorer.score(blend(members(s), chosen[0]), t, chosen[1])

        if scorer.other is None:  # log loss, sample F2: means over rows, so the folds' scores average
            chosen, honest = choose_out_of_fold(choose, score, stacked, y, folds)
        else:  # auc, f1, kappa...: each fold's predictions chosen on the others, scored once over every row
            chosen, honest = choose(stacked, y), pooled(choose, stacked, y, folds, scorer)
        if best is None or (honest > best[2] if scorer.greater_is_better else honest < best[2]):
            best = (*chosen, honest, mode)
    return best


def pooled(choose, stacked: np.ndarray, y: np.ndarray, folds: np.ndarray, scorer: Scorer) -> float:
    """The card's metric over every row of predictions whose blend and setting were chosen on the other folds."""

    def apply(rows: np.ndarray, chosen) -> np.ndarray:
        weights, setting = chosen
        return scorer.form(blend({n: stacked[rows][:, i] for i, n in enumerate(weights)}, weights), setting)

    return scorer.other.score(y, out_of_fold(lambda rows: choose(stacked[rows], y[rows]), apply, folds))


def combine(preds: dict[str, np.ndarray], y: np.ndarray, folds: np.ndarray, scorer: Scorer) -> dict:
    """Each member's honest score and setting, and the submission's: blend weights and setting chosen out of
    fold on these rows. `preds`: member -> probabilities on the same rows, `y` their targets."""
    out: dict = {"members": {}, "settings": {}}
    for name, p in preds.items():
        alone = choose_blend({name: p}, y, folds, scorer)
        out["members"][name] = round(alone[2], 5)
        out["settings"][name] = as_json(alone[1])
    weights, setting, honest, mode = choose_blend(preds, y, folds, scorer) if len(preds) > 1 else alone
    p = blend(preds, weights)
    out.update({"weights": weights, "setting": as_json(setting)})
    if scorer.multi_label:
        out["threshold_mode"] = mode
    out[f"oof_{scorer.metric}"] = round(honest, 5)
    out[f"oof_{scorer.metric}_in_sample"] = round(scorer.score(p, y, setting), 5)  # chosen and scored on the same
    if not (scorer.multi_label or scorer.regression):
        out["oof_accuracy"] = round(accuracy(p, y), 5)
    return out


def as_json(setting):
    return np.round(setting, 4).tolist() if isinstance(setting, np.ndarray) else setting
