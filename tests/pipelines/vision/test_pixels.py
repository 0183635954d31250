"""Images given as pixel values in a table (pipelines/vision/pixels.py): Digit Recognizer's layout, Kannada
MNIST's test ids, FER2013's one column of space-separated values, the features step's cache of them, the
backtest's cut of the table, and what the files cannot say."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from features.images import load_cache
from pipelines.download import DataSpec
from pipelines.paths import Paths
from pipelines.tabular.schema import Schema, describe
from pipelines.vision.card import CardError, ImageCard, cut, read_card, score, submission, task_for
from pipelines.vision.config import VisionConfig
from pipelines.vision.data import build_features
from pipelines.vision.sample import write_competition

DIGITS = ImageCard(slug="digit-recognizer", metric="accuracy")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return write_competition("pixels", tmp_path_factory.mktemp("pixels") / "raw", n=60, n_test=20)


def test_digit_recognizers_tables_read_as_images_their_test_rows_numbered_as_the_sample(digits, capsys):
    layout, fmt = read_card(DIGITS, digits)
    assert (fmt.id_col, fmt.columns, fmt.submits, fmt.numeric_labels) == ("ImageId", ("Label",), "label", True)
    assert layout.classes == [str(d) for d in range(10)] and len(layout.train) == 60
    assert layout.train.file.iloc[3] == "train.csv#3" and layout.test.file.iloc[0] == "test.csv#0"
    assert layout.test.id.tolist() == [str(i) for i in range(1, 21)] and layout.sample_matches
    assert [t.name for t in layout.tables] == ["train.csv", "test.csv"] and layout.tables[0].shape == (28, 28)
    assert layout.notes[0].startswith("read from the files: 60 labelled images in train.csv's rows (greyscale pixels)")
    assert "the first is 28x28 px" in layout.notes[0]
    assert (
        "test.csv has no id column: its rows numbered as the sample submission's 'ImageId'" in capsys.readouterr().out
    )


def test_the_features_step_caches_each_row_as_the_image_it_holds(digits, tmp_path):
    paths = Paths.for_comp("digits", tmp_path / "data", tmp_path / "subs")
    shutil.copytree(digits, paths.raw)
    build_features(
        task_for(DIGITS, "digits", DataSpec(slug="x", files={}), paths.raw),
        paths,
        VisionConfig(sizes=[28], cache_scale=1),
    )
    images, meta = load_cache(paths.processed / "cache28" / "labelled.npy")
    train = pd.read_csv(digits / "train.csv")
    first = train.filter(like="pixel").iloc[0].to_numpy().reshape(28, 28)
    assert images.shape == (60, 28, 28, 3) and meta["files"][0].endswith("train.csv#0")
    np.testing.assert_array_equal(images[0, :, :, 0], first)  # the row itself, grey in each channel
    np.testing.assert_array_equal(images[0, :, :, 2], first)
    test, _ = load_cache(paths.processed / "cache28" / "test.npy")
    last = pd.read_csv(digits / "test.csv").iloc[-1].to_numpy().reshape(28, 28)
    np.testing.assert_array_equal(test[-1, :, :, 1], last)


def test_the_backtest_cuts_the_training_table_into_a_test_table_laid_out_as_the_competitions(digits, tmp_path):
    hidden = cut(DIGITS, digits, tmp_path / "cut", seed=0)
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == ["sample_submission.csv", "test.csv", "train.csv"]
    test = pd.read_csv(tmp_path / "cut" / "test.csv")
    assert list(test.columns) == [f"pixel{i}" for i in range(784)] and len(test) == len(hidden) == 12
    assert len(pd.read_csv(tmp_path / "cut" / "train.csv")) == 48
    layout, fmt = read_card(DIGITS, tmp_path / "cut")
    assert layout.test.id.tolist() == hidden.ImageId.astype(str).tolist()
    probs = np.eye(10)[hidden.answer.astype(int)]
    sub = submission(fmt, layout.test, probs, layout, None, 0.0)
    assert score(DIGITS, sub, hidden) == 1.0 and sub.Label.dtype == np.int64


def _kannada(digits, dest):
    """Kannada MNIST: test.csv has an `id` column, the sample `id,label`."""
    dest.mkdir()
    shutil.copy(digits / "train.csv", dest / "train.csv")
    test = pd.read_csv(digits / "test.csv")
    test = pd.concat([pd.DataFrame({"id": np.arange(len(test))}), test], axis=1)
    test.to_csv(dest / "test.csv", index=False)
    pd.DataFrame({"id": test.id, "label": 0}).to_csv(dest / "sample_submission.csv", index=False)
    return dest


def test_a_test_table_with_ids_and_a_column_of_space_separated_pixels(digits, tmp_path):
    kannada = ImageCard(slug="x", metric="accuracy")
    layout, _ = read_card(kannada, _kannada(digits, tmp_path / "kannada"))
    assert layout.test.id.tolist() == [str(i) for i in range(20)] and len(layout.train) == 60
    hidden = cut(kannada, tmp_path / "kannada", tmp_path / "kannada_cut", seed=0)  # its cut's test has ids too
    assert pd.read_csv(tmp_path / "kannada_cut" / "test.csv").columns[:2].tolist() == ["id", "pixel0"]
    assert read_card(kannada, tmp_path / "kannada_cut")[0].test.id.tolist() == hidden.id.astype(str).tolist()
    fer = tmp_path / "fer"  # FER2013: `emotion`, and the pixels in one column, space-separated
    fer.mkdir()
    train = pd.read_csv(digits / "train.csv")
    spaced = lambda f: f.filter(like="pixel").astype(str).agg(" ".join, axis=1)  # noqa: E731
    pd.DataFrame({"emotion": train.label, "pixels": spaced(train)}).to_csv(fer / "train.csv", index=False)
    test = pd.read_csv(digits / "test.csv")
    pd.DataFrame({"id": range(20), "pixels": spaced(test)}).to_csv(fer / "test.csv", index=False)
    pd.DataFrame({"id": range(20), "emotion": 0}).to_csv(fer / "sample_submission.csv", index=False)
    layout, _ = read_card(ImageCard(slug="x", metric="accuracy"), fer)
    assert layout.tables[0].pixels == ("pixels",) and layout.tables[0].shape == (28, 28)
    assert len(layout.train) == 60 and len(layout.test) == 20 and layout.classes[0] == "0"
    paths = Paths.for_comp("fer", tmp_path / "data", tmp_path / "subs")
    shutil.copytree(fer, paths.raw)
    build_features(
        task_for(ImageCard(slug="x", metric="accuracy"), "fer", DataSpec(slug="x", files={}), paths.raw),
        paths,
        VisionConfig(sizes=[28], cache_scale=1),
    )
    images, _ = load_cache(paths.processed / "cache28" / "labelled.npy")
    np.testing.assert_array_equal(images[0, :, :, 0], train.filter(like="pixel").iloc[0].to_numpy().reshape(28, 28))


def test_what_a_table_of_pixels_cannot_say_is_named_with_the_fix(digits, tmp_path):
    odd = tmp_path / "odd"  # 70 pixels an image: 7x10, no square
    odd.mkdir()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 256, (30, 70)), columns=[f"pixel{i}" for i in range(70)])
    frame.assign(label=np.arange(30) % 2).to_csv(odd / "train.csv", index=False)
    frame.iloc[:10].to_csv(odd / "test.csv", index=False)
    pd.DataFrame({"ImageId": range(1, 11), "Label": 0}).to_csv(odd / "sample_submission.csv", index=False)
    with pytest.raises(CardError, match=r"test.csv: 70 pixels an image, no square: set shape=\(height, width\)"):
        read_card(DIGITS, odd)
    with pytest.raises(CardError, match=r"70 pixels an image, but shape=\(8, 8\) in the card holds 64"):
        read_card(ImageCard(slug="x", metric="accuracy", shape=(8, 8)), odd)
    layout, _ = read_card(ImageCard(slug="x", metric="accuracy", shape=(7, 10)), odd)
    assert layout.tables[0].shape == (7, 10) and len(layout.test) == 10
    bad = tmp_path / "bad"
    shutil.copytree(digits, bad)
    train = pd.read_csv(bad / "train.csv")
    train.loc[[4, 9], "pixel5"] = np.nan
    train.to_csv(bad / "train.csv", index=False)
    paths = Paths.for_comp("bad", tmp_path / "data", tmp_path / "subs")
    shutil.copytree(bad, paths.raw)
    task = task_for(DIGITS, "bad", DataSpec(slug="x", files={}), paths.raw)
    with pytest.raises(
        CardError, match=r"train.csv: rows #4, #9 \(lines 6, 11 of the file\) have missing or non-numeric pixel"
    ):
        build_features(task, paths, VisionConfig(sizes=[28], cache_scale=1))
    train.loc[[4, 9], "pixel5"] = 300
    train.to_csv(paths.raw / "train.csv", index=False)
    with pytest.raises(
        CardError,
        match=r"pixel values run from 0 to 300 \(rows #4, #9 \(lines 6, 11 of the file\)\); images are read as 0..255",
    ):
        build_features(
            task_for(DIGITS, "bad", DataSpec(slug="x", files={}), paths.raw),
            paths,
            VisionConfig(sizes=[28], cache_scale=1),
        )
    unnumbered = tmp_path / "unnumbered"
    shutil.copytree(digits, unnumbered)
    pd.DataFrame({"ImageId": range(5, 25), "Label": 0}).sample(frac=1, random_state=0).to_csv(
        unnumbered / "sample_submission.csv", index=False
    )
    with pytest.raises(
        CardError,
        match=r"test.csv: no id column 'ImageId'; its 20 rows are numbered as the sample submission's ids only where .*\(it lists 20 ids\)",
    ):
        read_card(DIGITS, unnumbered)


def test_the_tabular_kind_says_that_pixel_columns_could_be_read_as_images():
    schema = Schema(
        "ImageId",
        ["label"],
        None,
        "multiclass",
        list("0123456789"),
        None,
        None,
        [],
        [],
        [f"pixel{i}" for i in range(784)],
        {},
        [],
        {},
    )
    assert "pixels: 784 columns pixel0..pixel783 read as numbers" in describe(schema, "accuracy")
    few = Schema("id", ["y"], None, "regression", [], None, None, [], [], [f"pixel{i}" for i in range(10)], {}, [], {})
    assert "pixels:" not in describe(few, "rmse")


def test_what_the_review_found(digits, tmp_path):
    """Kannada MNIST's Dig-MNIST.csv beside train.csv; a blank cell among FER's first rows; a missing test table;
    shape= changed (the cache rebuilt); blank and NA labels; train with ids and test without (the cut numbers them)."""
    kannada = _kannada(digits, tmp_path / "kannada")
    shutil.copy(digits / "train.csv", kannada / "Dig-MNIST.csv")
    layout, _ = read_card(ImageCard(slug="x", metric="accuracy"), kannada)
    assert layout.tables[0].name == "train.csv"
    assert any("Dig-MNIST.csv: labelled too, not used" in n for n in layout.notes)

    fer = tmp_path / "fer"
    fer.mkdir()
    train = pd.read_csv(digits / "train.csv")
    spaced = train.filter(like="pixel").astype(str).agg(" ".join, axis=1)
    spaced.iloc[1] = ""
    pd.DataFrame({"emotion": train.label, "pixels": spaced}).to_csv(fer / "train.csv", index=False)
    pd.DataFrame({"pixels": spaced.iloc[2:12]}).to_csv(fer / "test.csv", index=False)
    pd.DataFrame({"ImageId": range(1, 11), "emotion": 0}).to_csv(fer / "sample_submission.csv", index=False)
    paths = Paths.for_comp("fer", tmp_path / "data", tmp_path / "subs")
    shutil.copytree(fer, paths.raw)
    task = task_for(ImageCard(slug="x", metric="accuracy"), "fer", DataSpec(slug="x", files={}), paths.raw)
    with pytest.raises(CardError, match=r"column 'pixels': rows #1 \(lines 3 of the file\) do not hold 784 values"):
        build_features(task, paths, VisionConfig(sizes=[28], cache_scale=1))
    (fer / "test.csv").unlink()
    with pytest.raises(
        CardError, match=r"lists 10 ids, but no table of test images was found .*test=\(\"test.csv\",\)"
    ):
        read_card(ImageCard(slug="x", metric="accuracy"), fer)
    with pytest.raises(ValueError, match=r"shape=28: an image's \(height, width\)"):
        ImageCard(slug="x", metric="accuracy", shape=28)

    blank = tmp_path / "blank"
    shutil.copytree(digits, blank)
    labels = pd.read_csv(blank / "train.csv", dtype={"label": str})
    labels.loc[[0, 1], "label"] = ["", "NA"]
    labels.to_csv(blank / "train.csv", index=False)
    layout, _ = read_card(DIGITS, blank)
    assert "" not in layout.classes and len(layout.train) == 58
    assert any("2 labelled images with a blank label (or n/a) left out" in n for n in layout.notes)
    numbers, _ = read_card(ImageCard(slug="x", metric="rmse", target="label"), blank)
    assert len(numbers.train) == 58 and numbers.regression  # NA is no label, as in a label file of image files

    wide = tmp_path / "wide"  # 28x28 read as 14x56: another image, another cache
    shutil.copytree(digits, wide)
    paths = Paths.for_comp("wide", tmp_path / "data", tmp_path / "subs")
    shutil.copytree(wide, paths.raw)
    caches = []
    for shape in ((28, 28), (14, 56)):
        card = ImageCard(slug="x", metric="accuracy", shape=shape)
        build_features(task_for(card, "wide", DataSpec(slug="x", files={}), paths.raw), paths, VisionConfig(sizes=[10]))
        caches.append(load_cache(paths.processed / "cache13" / "labelled.npy")[0].copy())  # 1.3 x 10 px: both shapes
    assert not np.array_equal(caches[0], caches[1])

    ids = tmp_path / "ids"  # train has the sample's id column, test does not: the cut numbers its rows 1..n
    shutil.copytree(digits, ids)
    train = pd.read_csv(ids / "train.csv")
    pd.concat([pd.DataFrame({"ImageId": np.arange(1000, 1060)}), train], axis=1).to_csv(ids / "train.csv", index=False)
    hidden = cut(DIGITS, ids, tmp_path / "ids_cut", seed=0)
    assert hidden.ImageId.tolist() == [str(i) for i in range(1, 13)]
    assert read_card(DIGITS, tmp_path / "ids_cut")[0].test.id.tolist() == hidden.ImageId.tolist()
    text = tmp_path / "text"  # a word among the numbers: its row named, not pandas' own error
    shutil.copytree(digits, text)
    train = pd.read_csv(text / "train.csv", dtype=str)
    train.loc[7, "pixel100"] = "abc"
    train.to_csv(text / "train.csv", index=False)
    paths = Paths.for_comp("text", tmp_path / "data", tmp_path / "subs")
    shutil.copytree(text, paths.raw)
    with pytest.raises(CardError, match=r"train.csv: rows #7 \(lines 9 of the file\) have missing or non-numeric"):
        build_features(
            task_for(DIGITS, "text", DataSpec(slug="x", files={}), paths.raw), paths, VisionConfig(sizes=[28])
        )
