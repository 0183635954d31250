"""The linear probe member on the embedded dogs-vs-cats sample: out of fold on every image, reused when only
other members' settings change, its features cached; and the image backtest end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

PROBE = {"members": ["probe"], "probe_arch": "efficientnet_lite0", "probe_size": 64, "tta": 1, "sizes": [64]}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from pipelines.registry import find

    dogs = find("dogs-vs-cats")  # a card package: its steps come from the registry
    SPEC, Config, build_features = (dogs.SPEC, dogs.Config, dogs.build_features)
    from pipelines.download import make_sample
    from pipelines.paths import Paths

    root = tmp_path_factory.mktemp("probe")
    paths = Paths.for_comp("dogs-vs-cats", root / "data", root / "subs")
    make_sample(SPEC, paths)
    build_features(paths, Config(**PROBE))
    return paths


def test_probe_is_out_of_fold_on_every_image_and_reused(sample, capsys):
    from pipelines.registry import find

    dogs = find("dogs-vs-cats")  # a card package: its steps come from the registry
    Config, train = (dogs.Config, dogs.train)

    first = train(sample, Config(**PROBE), "probe")
    out = capsys.readouterr().out
    assert "probe features (efficientnet_lite0 at 64px" in out and "out of fold" in out
    oof = pd.read_feather(sample.runs / "probe" / "probe" / "oof.feather")
    items = pd.read_feather(sample.processed / "items.feather")
    assert sorted(oof.file) == sorted(items.file)  # every labelled image once
    dogs = oof.groupby("fold").label.apply(lambda s: (s == "dog").sum())
    assert dogs.max() - dogs.min() <= 1  # stratified folds
    assert np.allclose(oof[["pred:cat", "pred:dog"]].to_numpy().sum(axis=1), 1)
    assert first["oof_accuracy"] >= 0.9 and first["oof_logloss"] < np.log(2)  # digit 0 vs 1 is easy
    assert first["scored_on"] == "all labelled images, out of fold"
    assert first["members"] == {"probe": first["oof_logloss"]}
    worst = pd.read_csv(sample.runs / "probe" / "top_losses.csv")  # the out-of-fold mistakes, worst first
    assert list(worst.columns[:3]) == ["file", "actual", "predicted"] and worst.loss.is_monotonic_decreasing

    # A setting of the net only: the probe is reused as it is.
    again = train(sample, Config(**PROBE, lr=5e-4), "probe")
    assert "probe: already trained" in capsys.readouterr().out and again["oof_logloss"] == first["oof_logloss"]
    # The probe's own setting: fitted again, on the cached features.
    refit = train(sample, Config(**PROBE, probe_c=1.0), "probe")
    out = capsys.readouterr().out
    assert "probe: already trained" not in out and "probe features (" not in out
    assert refit["oof_logloss"] != first["oof_logloss"]


def test_image_backtest_scores_the_cut_beside_the_out_of_fold_figure(sample):
    import pipelines.dogs_vs_cats as comp
    from pipelines import backtest

    table = backtest.run(comp, sample, comp.Config(**PROBE), "bt", ["cut0"])
    assert table.member.tolist() == ["probe", "submission", "peer probe-lite0"]  # the simplest probe beside it
    peer = table.set_index("member").loc["peer probe-lite0"]
    assert 0 < peer.backtest < np.log(2) and peer.train_s > 0
    row = table.set_index("member").loc["submission"]
    assert 0 < row.backtest < np.log(2) and row.accuracy >= 0.85  # the hidden fifth, scored as Kaggle would
    assert row.valid == pytest.approx(table.set_index("member").loc["probe"].valid)  # probe alone: same figure
    window = sample.comp_dir / "backtest" / "cut0"
    hidden = pd.read_csv(window / "dogs-vs-cats" / "hidden.csv")
    assert len(hidden) == 60 and not (window / "dogs-vs-cats" / "raw" / "hidden.csv").exists()


def test_features_rebuilt_at_another_cache_size_are_not_read_from_the_old_ones(tmp_path, capsys):
    """The probe's features (and the net's precomputed activations) are of the images the cache holds: rebuilt at
    another size (sizes=, cache_scale=), the cached features of the old images are not reused."""
    from pipelines.download import make_sample
    from pipelines.paths import Paths
    from pipelines.registry import find

    dogs = find("dogs-vs-cats")
    paths = Paths.for_comp("dogs-vs-cats", tmp_path / "data", tmp_path / "subs")
    make_sample(dogs.SPEC, paths)
    for scale, computed in ((1.3, True), (1.0, True)):  # the same size again reuses them: the test above
        cfg = dogs.Config(**{**PROBE, "sizes": [40]}, cache_scale=scale)  # 52 and 40 px: below the images' 56
        dogs.build_features(paths, cfg)
        dogs.train(paths, cfg, f"run{scale}{computed}")
        out = capsys.readouterr().out
        assert ("probe features (efficientnet_lite0 at 64px" in out) == computed, (scale, computed)
