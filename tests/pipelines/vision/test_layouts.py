"""Each competition's file layout -> labelled items, test items and classes; submissions in Kaggle's format."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from pipelines.dog_breed import CARD as DOG_BREED
from pipelines.dogs_vs_cats import CARD as DOGS_VS_CATS
from pipelines.planet import CARD as PLANET
from pipelines.vision.card import read_card, submission


def _img(path, colour=(10, 20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), colour).save(path)


def test_redux_layout(tmp_path):
    for name in ("cat.0.jpg", "cat.1.jpg", "dog.0.jpg", "notes.jpg"):
        _img(tmp_path / "train" / name)
    for i in (2, 10, 1):
        _img(tmp_path / "test1" / f"{i}.jpg")
    layout, fmt = read_card(DOGS_VS_CATS, tmp_path)
    assert layout.classes == ["cat", "dog"]
    assert sorted(layout.train.label) == ["cat", "cat", "dog"]
    assert list(layout.test.id) == ["1", "2", "10"]  # numeric order, like the sample submission
    assert any("notes.jpg" in n for n in layout.notes)
    sub = submission(fmt, layout.test, np.array([[0.0, 1.0], [0.3, 0.7], [1.0, 0.0]]), layout, None, 0.01)
    assert list(sub.columns) == ["id", "label"] and sub.id.tolist() == ["1", "2", "10"]
    assert sub.label.tolist() == [0.99, 0.7, 0.01]  # P(dog), clipped


def test_folder_per_class_layout_keeps_its_validation_folder(tmp_path):
    for split, n in (("train", 3), ("valid", 1)):
        for cls in ("cats", "dogs"):
            for i in range(n):
                _img(tmp_path / split / cls / f"{cls}.{i}.jpg")
    _img(tmp_path / "test1" / "1.jpg")
    layout, _ = read_card(DOGS_VS_CATS, tmp_path)
    assert layout.classes == ["cats", "dogs"] and len(layout.train) == 8
    assert layout.train.valid.sum() == 2 and layout.train.file.str.startswith("valid/").sum() == 2


def test_dog_breed_drops_missing_images_and_unknown_breeds_and_keeps_every_column(tmp_path):
    _img(tmp_path / "train" / "a.jpg")
    _img(tmp_path / "train" / "b.jpg")
    _img(tmp_path / "train" / "z.jpg")
    _img(tmp_path / "test" / "t1.jpg")
    _img(tmp_path / "test" / "t2.jpg")
    pd.DataFrame(
        {"id": ["a", "b", "gone1", "gone2", "z"], "breed": ["beagle", "basset", "beagle", "pug", "mystery"]}
    ).to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame({"id": ["t2", "t1"], "basset": 0.3, "beagle": 0.3, "pug": 0.4}).to_csv(
        tmp_path / "sample_submission.csv", index=False
    )
    layout, fmt = read_card(DOG_BREED, tmp_path)
    assert layout.classes == ["basset", "beagle", "pug"]  # the sample's order, pug included though unseen
    assert sorted(layout.train.file) == ["train/a.jpg", "train/b.jpg"]
    notes = " | ".join(layout.notes)
    assert "2 of 5 labelled images" in notes and "gone1" in notes and "mystery" in notes and "pug" in notes
    assert list(layout.test.id) == ["t2", "t1"]  # sample order
    sub = submission(fmt, layout.test, np.array([[1.0, 1.0, 2.0], [0.2, 0.3, 0.5]]), layout, None, 0.0)
    assert list(sub.columns) == ["id", "basset", "beagle", "pug"]
    assert np.allclose(sub[["basset", "beagle", "pug"]].sum(axis=1), 1)


def test_planet_tags_missing_rows_and_sample_order(tmp_path):
    _img(tmp_path / "train-jpg" / "train_0.jpg")
    _img(tmp_path / "train-jpg" / "train_1.jpg")
    pd.DataFrame(
        {"image_name": ["train_0", "train_1", "train_7"], "tags": ["haze primary", "clear primary water", "clear"]}
    ).to_csv(tmp_path / "train_v2.csv", index=False)
    layout, _ = read_card(PLANET, tmp_path)
    assert layout.multi_label and layout.classes == ["clear", "haze", "primary", "water"]
    assert len(layout.train) == 2 and "train_7" in layout.notes[1]
    assert layout.test.empty  # the course sample has no test chips
    _img(tmp_path / "test-jpg" / "test_0.jpg")
    _img(tmp_path / "test-jpg-additional" / "file_0.jpg")
    pd.DataFrame({"image_name": ["file_0", "test_0"], "tags": "clear"}).to_csv(
        tmp_path / "sample_submission_v2.csv", index=False
    )
    layout, fmt = read_card(PLANET, tmp_path)
    assert list(layout.test.id) == ["file_0", "test_0"]
    probs = np.array([[0.9, 0.1, 0.6, 0.05], [0.1, 0.1, 0.1, 0.15]])
    sub = submission(fmt, layout.test, probs, layout, np.array([0.5, 0.5, 0.5, 0.5]), 0.0)
    assert sub.tags.tolist() == ["clear primary", "water"]  # at least the most likely tag


def test_sample_submission_naming_absent_test_images_is_reported_not_fatal(tmp_path):
    _img(tmp_path / "train" / "cat.0.jpg")
    _img(tmp_path / "train" / "dog.0.jpg")
    _img(tmp_path / "test1" / "1.jpg")
    pd.DataFrame({"id": [1, 2], "label": 0.5}).to_csv(tmp_path / "sample_submission.csv", index=False)
    layout, _ = read_card(DOGS_VS_CATS, tmp_path)
    assert not layout.sample_matches and list(layout.test.id) == ["1"]
    assert "lists 1 of 2 ids with no test image (2)" in layout.notes[-1]
