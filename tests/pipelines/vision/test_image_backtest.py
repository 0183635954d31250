"""The image backtests' cuts on the embedded samples: a stratified fifth becomes the test set, laid out like the
competition's download, with answers that match the images; and the scores are Kaggle's."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from pipelines.vision import backtest as vbt
from pipelines.vision import card
from pipelines.vision.card import read_card


def test_dogs_vs_cats_cut(tmp_path):
    """The labels are in the training file names: the hidden images are numbered (test1/1.jpg ...) so no name
    tells the answer, and the accuracy beside log loss scores them."""
    raw, dest, before, hidden, after = card_cut(tmp_path, "dogs-vs-cats", 0)
    before = before.train
    assert len(hidden) == round(0.2 * len(before)) and len(after.train) + len(hidden) == len(before)
    assert list(after.test.id) == [str(i) for i in range(1, len(hidden) + 1)] == list(hidden.id)  # in sample order
    assert hidden.positive.mean() == pytest.approx((before.label == "dog").mean(), abs=0.02)  # stratified
    by_bytes = {(raw / f).read_bytes(): lab for f, lab in zip(before.file, before.label, strict=True)}
    for i, lab in zip(hidden.id, hidden.answer, strict=True):
        assert by_bytes[(dest / "test1" / f"{i}.jpg").read_bytes()] == lab
    kept = {(dest / f).read_bytes() for f in after.train.file}
    assert not kept & {(dest / "test1" / f"{i}.jpg").read_bytes() for i in hidden.id}  # no image on both sides
    assert list(pd.read_csv(dest / "sample_submission.csv").columns) == ["id", "label"]
    assert not (vbt.held_out(list(before.label), 0) ^ vbt.held_out(list(before.label), 0)).any()  # seeded
    truth = pd.DataFrame({"id": hidden.id, "label": hidden.positive * 0.98 + 0.01})
    assert card.accuracy(truth, hidden) == 1 and card.accuracy(truth.assign(label=1 - truth.label), hidden) == 0


def card_cut(tmp_path, comp: str, seed: int):
    """A card competition's embedded sample and its backtest cut: (raw, dest, layout before, answers, after)."""
    package = importlib.import_module(f"pipelines.{comp.replace('-', '_')}")
    raw, dest = tmp_path / "raw", tmp_path / "cut"
    package.SPEC.make_sample(raw)
    before = read_card(package.CARD, raw)[0]
    hidden = card.cut(package.CARD, raw, dest, seed)
    return raw, dest, before, hidden, read_card(package.CARD, dest)[0]


def test_planet_cut_and_f2(tmp_path):
    from pipelines.planet import CARD

    raw, dest, before, hidden, after = card_cut(tmp_path, "planet", 1)
    before = before.train
    assert len(after.train) + len(hidden) == len(before) and len(after.test) == len(hidden)
    tags_before = {(raw / f).read_bytes(): t for f, t in zip(before.file, before.label, strict=True)}
    for name, tags in zip(hidden.image_name, hidden.answer, strict=True):
        assert tags_before[(dest / "test-jpg" / f"{name}.jpg").read_bytes()] == tags
    # Kaggle's F2: a perfect submission scores 1, one that adds a wrong tag to every image less
    perfect = hidden[["image_name"]].assign(tags=hidden.answer)
    assert card.score(CARD, perfect, hidden) == 1.0
    noisy = perfect.assign(tags=perfect.tags + " zzz")
    assert 0.9 < card.score(CARD, noisy, hidden) < 1.0


def test_dog_breed_cut_and_log_loss(tmp_path):
    from pipelines.dog_breed import CARD

    raw, dest, layout, hidden, after = card_cut(tmp_path, "dog-breed", 0)
    assert after.classes == layout.classes  # every breed column, seen in training or not
    assert set(after.test.id) == set(hidden.id) and not set(hidden.id) & {
        f.split("/")[-1][:-4] for f in after.train.file
    }
    uniform = pd.read_csv(dest / "sample_submission.csv")
    assert card.score(CARD, uniform, hidden) == pytest.approx(np.log(len(layout.classes)))


def test_more_classes_than_held_rows_cut_a_stratified_fold():
    """Dog Breed's sample: 91 breeds over 300 images, 60 to hold; the shuffle split refuses (test_size below the
    number of classes): one fold of the stratified k-fold, every breed of 5 images or more on both sides."""
    labels = [f"breed{i % 91}" for i in range(240)] + [f"breed{i % 10}" for i in range(60)]  # 10 of 8 or 9
    held = vbt.held_out(labels, 0)
    assert held.sum() == 60
    for breed in [f"breed{i}" for i in range(10)]:  # stratified: each common breed on both sides
        assert 0 < held[np.array(labels) == breed].sum() < 4
    assert vbt.held_out([f"breed{i % 91}" for i in range(300)], 0).sum() == 60  # none of 5: at random
