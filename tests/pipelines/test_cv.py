"""Cross-validation: folds (every row in one fold, stratified), choices made out of fold, the threshold and
clip choices and the blend of image members scored that way."""

from __future__ import annotations

import numpy as np
import pytest

from models.metrics import best_thresholds, f2_score, shrunk_thresholds
from pipelines.cv import assign_folds, choose_out_of_fold
from pipelines.vision.choices import Scorer, clip, combine


def test_single_label_folds_are_a_partition_stratified_by_class():
    y = np.array([0] * 50 + [1] * 30 + [2] * 7)
    folds = assign_folds(y, 5, seed=0)
    assert sorted(np.unique(folds)) == [0, 1, 2, 3, 4] and len(folds) == len(y)  # each row in exactly one fold
    for c in (0, 1, 2):
        per_fold = np.bincount(folds[y == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1, (c, per_fold)  # each class spread evenly
    assert (assign_folds(y, 5, seed=0) == folds).all()  # seeded
    assert not (assign_folds(y, 5, seed=1) == folds).all()


def test_multi_label_folds_spread_every_rare_tag():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 6)) < [0.5, 0.3, 0.1, 0.05, 0.025, 0.9]).astype(int)
    folds = assign_folds(y, 5, seed=0)
    assert len(folds) == 200 and set(folds) == set(range(5))
    for tag in range(6):
        per_fold = np.bincount(folds[y[:, tag] == 1], minlength=5)
        assert per_fold.max() - per_fold.min() <= 2, (tag, per_fold)
    with pytest.raises(ValueError, match="folds=1"):
        assign_folds(y, 1)


def test_a_choice_scored_out_of_fold_does_not_flatter_noise():
    """Per-tag thresholds tuned on pure noise look good on the rows that chose them; out of fold they do not."""
    rng = np.random.default_rng(1)
    p, y = rng.random((300, 8)), (rng.random((300, 8)) < 0.2).astype(int)
    folds = assign_folds(y, 5)
    th, honest = choose_out_of_fold(
        lambda a, b: best_thresholds(a, b, per_tag=True), lambda a, b, t: f2_score(a, b, t), p, y, folds
    )
    in_sample = f2_score(p, y, th)
    assert honest < in_sample - 0.01
    # a choice that ignores the data is scored the same either way
    fixed, honest_fixed = choose_out_of_fold(lambda a, b: 0.3, lambda a, b, t: f2_score(a, b, t), p, y, folds)
    assert fixed == 0.3 and honest_fixed == pytest.approx(f2_score(p, y, 0.3), abs=0.02)


def test_shrunk_thresholds_keep_rare_tags_near_the_global_one():
    rng = np.random.default_rng(2)
    n = 400
    y = np.zeros((n, 2), int)
    y[:200, 0] = 1  # a common tag
    y[:3, 1] = 1  # a rare one
    p = np.clip(y * 0.5 + rng.random((n, 2)) * 0.5, 0, 1)
    glob = best_thresholds(p, y, per_tag=False)[0]
    own = best_thresholds(p, y, per_tag=True)
    th = shrunk_thresholds(p, y, prior=20)
    assert abs(th[1] - glob) <= abs(own[1] - glob) * 3 / 23 + 1e-9  # 3 positives: 3/23 of the way
    assert abs(th[0] - own[0]) <= abs(own[0] - glob) * 20 / 220 + 1e-9  # 200 positives: nearly its own


def test_clip_is_chosen_out_of_fold_and_renormalises():
    p = np.array([[0.999, 0.001], [0.5, 0.5]])
    assert np.allclose(clip(p, 0.01).sum(1), 1) and clip(p, 0.01)[0, 1] > 0.009
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    confident = np.where(rng.random(500) < 0.9, y, 1 - y)  # 10% confidently wrong: clipping pays
    probs = np.stack([1 - confident, confident], 1).astype(float) * 0.9999 + 0.00005
    out = combine({"m": probs}, y, assign_folds(y, 5), Scorer(multi_label=False))
    assert out["setting"] > 0 and out["oof_logloss"] < 1.0 and out["oof_accuracy"] == pytest.approx(0.9, abs=0.05)


def test_the_blend_leans_on_the_better_member_and_is_scored_out_of_fold():
    rng = np.random.default_rng(4)
    y = (rng.random((400, 5)) < 0.3).astype(int)
    good = np.clip(y * 0.6 + rng.random((400, 5)) * 0.4, 0, 1)
    noise = rng.random((400, 5))
    out = combine({"good": good, "noise": noise}, y, assign_folds(y, 5), Scorer(multi_label=True))
    assert out["weights"]["good"] > 0.8
    assert out["members"]["good"] > out["members"]["noise"]
    assert out["oof_f2"] <= out["oof_f2_in_sample"] + 1e-9 and out["threshold_mode"] in ("global", "per_tag")
    assert len(out["setting"]) == 5 and len(out["settings"]["noise"]) == 5
