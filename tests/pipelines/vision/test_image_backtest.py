"""The image backtests' cuts on the embedded samples: a stratified fifth becomes the test set, laid out like the
competition's download, with answers that match the images; and the scores are Kaggle's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.vision import backtest as vbt


def same_image(a, b) -> bool:
    return a.read_bytes() == b.read_bytes()


def test_dogs_vs_cats_cut(tmp_path):
    from pipelines.dogs_vs_cats.layout import cut_dogs_vs_cats, read_dogs_vs_cats
    from pipelines.dogs_vs_cats.sample import generate

    raw, dest = tmp_path / "raw", tmp_path / "cut"
    generate(raw)
    before = read_dogs_vs_cats(raw).train
    hidden = cut_dogs_vs_cats(raw, dest, 0)
    after = read_dogs_vs_cats(dest)
    assert len(hidden) == round(0.2 * len(before)) and len(after.train) + len(hidden) == len(before)
    assert list(after.test.id.astype(int)) == list(hidden.id)  # the test set is the cut, in sample order
    assert hidden.label.mean() == pytest.approx((before.label == "dog").mean(), abs=0.02)  # stratified
    by_bytes = {(raw / f).read_bytes(): lab for f, lab in zip(before.file, before.label, strict=True)}
    for i, lab in zip(hidden.id, hidden.label, strict=True):
        assert by_bytes[(dest / "test1" / f"{i}.jpg").read_bytes()] == ("dog" if lab else "cat")
    kept = {(dest / f).read_bytes() for f in after.train.file}
    assert not kept & {(dest / "test1" / f"{i}.jpg").read_bytes() for i in hidden.id}  # no image on both sides
    assert list(pd.read_csv(dest / "sample_submission.csv").columns) == ["id", "label"]
    assert not (vbt.held_out(list(before.label), 0) ^ vbt.held_out(list(before.label), 0)).any()  # seeded


def test_planet_cut_and_f2(tmp_path):
    from pipelines.planet.layout import cut_planet, read_planet
    from pipelines.planet.sample import generate

    raw, dest = tmp_path / "raw", tmp_path / "cut"
    generate(raw)
    before = read_planet(raw).train
    hidden = cut_planet(raw, dest, 1)
    after = read_planet(dest)
    assert len(after.train) + len(hidden) == len(before) and len(after.test) == len(hidden)
    tags_before = {(raw / f).read_bytes(): t for f, t in zip(before.file, before.label, strict=True)}
    for name, tags in zip(hidden.image_name, hidden.tags, strict=True):
        assert tags_before[(dest / "test-jpg" / f"{name}.jpg").read_bytes()] == tags
    # Kaggle's F2: a perfect submission scores 1, one that adds a wrong tag to every image less
    assert vbt.sample_f2(hidden, hidden, "image_name", "tags") == 1.0
    noisy = hidden.assign(tags=hidden.tags + " zzz")
    assert 0.9 < vbt.sample_f2(noisy, hidden, "image_name", "tags") < 1.0


def test_dog_breed_cut_and_log_loss(tmp_path):
    from pipelines.dog_breed.layout import cut_dog_breed, read_dog_breed
    from pipelines.dog_breed.sample import generate

    raw, dest = tmp_path / "raw", tmp_path / "cut"
    generate(raw)
    layout = read_dog_breed(raw)
    hidden = cut_dog_breed(raw, dest, 0)
    after = read_dog_breed(dest)
    assert after.classes == layout.classes  # every breed column, seen in training or not
    assert set(after.test.id) == set(hidden.id) and not set(hidden.id) & {
        f.split("/")[-1][:-4] for f in after.train.file
    }
    uniform = pd.read_csv(dest / "sample_submission.csv")
    assert vbt.multiclass_log_loss(uniform, hidden, "id", "breed") == pytest.approx(np.log(len(layout.classes)))
