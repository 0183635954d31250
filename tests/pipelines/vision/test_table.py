"""The table beside the images (pipelines/vision/table.py): which columns are read and how, the stacked LightGBM
member on them and the probe's predictions, and the backtest's cut carrying the test's table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipelines.paths import Paths
from pipelines.runs import write_features_stamp
from pipelines.vision import table
from pipelines.vision.card import ImageCard, cut, read_card
from pipelines.vision.config import VisionConfig
from pipelines.vision.data import ImageData
from pipelines.vision.sample import write_competition


def _frames(n: int, n_test: int, rng) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(labelled images, test images: file and id; train.csv, test.csv) as SIIM-ISIC ships its table."""
    ids = [f"ISIC_{i:05d}" for i in range(n + n_test)]
    files = [f"jpeg/{'test' if i >= n else 'train'}/{x}.jpg" for i, x in enumerate(ids)]
    rows = pd.DataFrame(
        {
            "image_name": ids,
            "patient_id": [f"IP_{i % 40}" if i < n else f"IP_{900 + i % 5}" for i in range(n + n_test)],
            "sex": rng.choice(["male", "female", None], n + n_test),
            "age_approx": rng.integers(20, 80, n + n_test).astype(float),
            "seen": pd.date_range("2020-01-01", periods=n + n_test, freq="D").strftime("%Y-%m-%d"),
            "scanner": "A",
            "diagnosis": "nevus",
            "target": rng.integers(0, 2, n + n_test),
        }
    )
    images = pd.DataFrame({"file": files, "id": ids})
    return images[:n], images[n:], rows[:n], rows[n:].drop(columns=["diagnosis", "target"])


def test_the_columns_the_test_has_too_are_read_by_kind_and_the_rest_said(tmp_path):
    labelled, test, train_csv, test_csv = _frames(60, 20, np.random.default_rng(0))
    train_csv.to_csv(tmp_path / "train.csv", index=False)
    test_csv.to_csv(tmp_path / "test.csv", index=False)
    notes: list[str] = []
    others = ["patient_id", "sex", "age_approx", "seen", "scanner", "diagnosis"]
    found = table.beside(tmp_path, tmp_path / "train.csv", others, "image_name", labelled, test, set(), notes)
    # diagnosis: only in train; patient_id: the test's patients are others; scanner: one value
    assert list(found.frame.columns) == ["sex", "age_approx", "seen", "_file"] and found.categorical == ["sex"]
    assert any("diagnosis not in test.csv, never features" in n for n in notes)
    said = next(n for n in notes if "columns beside the images" in n)
    assert "3 columns beside the images (sex, age_approx, seen)" in said
    assert "patient_id (100% of the test's rows hold values" in said and "scanner (one value only)" in said
    by_file = found.frame.set_index("_file")
    first = by_file.loc[labelled.file.iloc[0]]
    assert first.age_approx == train_csv.age_approx.iloc[0] and first.seen == 18262  # days from 1970 to 2020
    codes = by_file.loc[test.file, "sex"]  # 1..2 for female/male (sorted), 0 for a blank
    expected = test_csv.sex.map({"female": 1, "male": 2}).fillna(0).to_numpy()
    assert (codes.to_numpy() == expected).all()

    # no .csv lists the test's ids with the columns: said, nothing read
    (tmp_path / "test.csv").unlink()
    notes = []
    assert table.beside(tmp_path, tmp_path / "train.csv", others, "image_name", labelled, test, set(), notes) is None
    assert "train.csv: its other columns (patient_id, sex, age_approx, seen, scanner, ...) are not used" in notes[0]


def test_what_the_test_cannot_say_and_rows_that_do_not_line_up_are_left_out_and_said(tmp_path):
    """The review's cases: a column test.csv names but leaves empty (a leak: the answer in train's rows), a saved
    index and a number unique to each row, a test table of a few test ids or with duplicated ids, and an id column
    named `file` beside a column named `id`."""
    rng = np.random.default_rng(0)
    labelled, test, train_csv, test_csv = _frames(60, 20, rng)
    train_csv = train_csv.assign(diagnosis=train_csv.target, serial=np.arange(80)[:60] * 7)
    test_csv = test_csv.assign(diagnosis=np.nan, serial=np.arange(60, 80) * 7)
    train_csv.to_csv(tmp_path / "train.csv")  # with pandas' index: a column "Unnamed: 0"
    pd.concat([test_csv, test_csv.head(2).assign(age_approx=999)]).to_csv(tmp_path / "test.csv")
    others = ["Unnamed: 0", "sex", "age_approx", "diagnosis", "serial"]
    notes: list[str] = []
    found = table.beside(tmp_path, tmp_path / "train.csv", others, "image_name", labelled, test, set(), notes)
    said = next(n for n in notes if "the table member's features" in n)
    assert "2 columns beside the images (sex, age_approx)" in said
    assert "diagnosis (empty in 100% of test.csv's rows, 0% of train.csv's: the test cannot say it)" in said
    assert "Unnamed: 0 (a row number" in said and "serial (a different whole number in every row" in said
    assert any("test.csv: 2 duplicated image_names, kept the first" in n for n in notes)
    assert (found.frame.age_approx < 999).all()

    few = test_csv.head(5)  # 5 of the 20 test images: not the test's table
    few.to_csv(tmp_path / "test.csv", index=False)
    notes = []
    assert table.beside(tmp_path, tmp_path / "train.csv", others, "image_name", labelled, test, set(), notes) is None
    test_csv.head(15).to_csv(tmp_path / "test.csv", index=False)  # 15 of 20: read, the others' columns missing
    notes = []
    found = table.beside(
        tmp_path, tmp_path / "train.csv", ["sex", "age_approx"], "image_name", labelled, test, set(), notes
    )
    assert any("test.csv has no row for 5 of the 20 test images" in n for n in notes)
    assert found.frame.age_approx.isna().sum() == 5

    # the id column named `file` and another named `id`, as the frames' own columns are named
    train_csv.rename(columns={"image_name": "file", "patient_id": "id"}).to_csv(tmp_path / "train.csv", index=False)
    test_csv.rename(columns={"image_name": "file", "patient_id": "id"}).to_csv(tmp_path / "test.csv", index=False)
    found = table.beside(
        tmp_path, tmp_path / "train.csv", ["id", "sex", "age_approx"], "file", labelled, test, set(), []
    )
    assert list(found.frame.columns) == ["sex", "age_approx", "_file"] and len(found.frame) == 80


def test_an_edited_table_retrains_the_member(tmp_path, monkeypatch, capsys):
    """test.csv's values changed: the features step's stamp changes with the table's digest, so the finished table
    member is not reused for the new values."""
    import pipelines
    from pipelines.__main__ import main

    monkeypatch.setenv("KAGGLE_COMPETITIONS", str(tmp_path / "ext"))
    monkeypatch.setenv("SUBMISSIONS", str(tmp_path / "subs"))
    monkeypatch.setattr(pipelines, "__path__", list(pipelines.__path__))
    src = write_competition("number", tmp_path / "src", n=60, n_test=15)
    assert main(["new", "paws", "--kind", "image", "--metric", "rmse"]) == 0
    data = ["--data", str(tmp_path / "data")]
    assert main(["download", "paws", "--src", str(src), *data]) == 0
    small = ["sizes=[32]", "probe_arch=efficientnet_lite0", "probe_size=64", "tta=0"]
    assert main(["features", "paws", *data, *small]) == 0
    stamp = (tmp_path / "data" / "paws" / "processed" / "features.json").read_text()
    raw = tmp_path / "data" / "paws" / "raw" / "test.csv"
    pd.read_csv(raw).assign(Age=10).to_csv(raw, index=False)
    assert main(["features", "paws", *data, *small]) == 0
    assert (tmp_path / "data" / "paws" / "processed" / "features.json").read_text() != stamp


def _data(tmp_path, n: int, y: np.ndarray, columns: dict, classes: list[str], **info) -> tuple[ImageData, Paths]:
    """An ImageData of `n` labelled and 50 test images with `columns` (n + 50 values each) beside them."""
    paths = Paths("dogs-vs-cats", tmp_path / "data", tmp_path / "subs")
    paths.processed.mkdir(parents=True)
    files = [f"train/{i}.jpg" for i in range(n)] + [f"test/{i}.jpg" for i in range(50)]
    items = pd.DataFrame({"file": files[:n], "label": [classes[int(v)] for v in y], "row": np.arange(n)})
    test = pd.DataFrame({"file": files[n:], "id": [str(i) for i in range(50)], "row": np.arange(50)})
    beside = table.Table(pd.DataFrame({"_file": files, **columns}), [], "train.csv and test.csv")
    described = table.write(beside, files[:n], files[n:], paths.processed)
    write_features_stamp(paths, VisionConfig(), n_labelled=n)
    full = {"classes": classes, "multi_label": False, "regression": False, "table": described, **info}
    return ImageData(items.assign(valid=False), test, full, paths.processed / "cache42"), paths


def test_the_stacked_member_reads_both_halves_of_the_signal_out_of_fold(tmp_path, capsys):
    """A target the image says one half of and the table the other: LightGBM on the table and the probe's
    out-of-fold predictions beats each alone, out of fold; the test is predicted; a second run reuses it."""
    rng = np.random.default_rng(0)
    n = 1200
    image, age = rng.normal(size=n + 50), rng.normal(size=n + 50)
    logit = 2 * image + 2 * age
    y = (rng.random(n + 50) < 1 / (1 + np.exp(-logit))).astype(int)
    p_image = 1 / (1 + np.exp(-2 * image))  # what a probe of the image alone could say
    probe = np.stack([1 - p_image, p_image], 1)
    data, paths = _data(tmp_path, n, y[:n], {"age": age}, ["0", "1"])
    cfg = VisionConfig(folds=5)
    folds = np.arange(n) % 5
    result = table.train_table(data, cfg, paths, tmp_path / "run" / "table", folds, (probe[:n], probe[n:]))
    oof = pd.read_feather(tmp_path / "run" / "table" / "oof.feather")["pred:1"].to_numpy()
    test = np.load(tmp_path / "run" / "table" / "test.npy")
    stacked, by_image = roc_auc_score(y[:n], oof), roc_auc_score(y[:n], p_image[:n])
    alone = table.train_table(data, cfg, paths, tmp_path / "run2" / "table", folds, None)
    by_table = roc_auc_score(y[:n], pd.read_feather(tmp_path / "run2" / "table" / "oof.feather")["pred:1"])
    assert stacked > by_image + 0.05 and stacked > by_table + 0.05, (stacked, by_image, by_table)
    assert result["stacked"] and not alone["stacked"] and result["columns"] == ["age", "probe_1"]
    assert test.shape == (50, 2) and np.allclose(test.sum(1), 1) and roc_auc_score(y[n:], test[:, 1]) > by_image - 0.1
    capsys.readouterr()
    assert table.train_table(data, cfg, paths, tmp_path / "run" / "table", folds, (probe[:n], probe[n:])) == result
    assert "table: already trained with this config" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["multiclass", "tags", "number"])
def test_each_task_gets_predictions_of_its_shape(tmp_path, kind):
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=n + 50)
    classes = {"multiclass": ["a", "b", "c"], "tags": ["a", "b"], "number": ["score"]}[kind]
    y = np.digitize(x[:n], [-0.5, 0.5]) if kind == "multiclass" else np.zeros(n, int)
    info = {"multi_label": kind == "tags", "regression": kind == "number"}
    if kind == "number":
        info["format"] = {"metric": "rmse"}
    data, paths = _data(tmp_path, n, y, {"x": x}, classes if kind != "number" else ["score"], **info)
    if kind == "tags":
        data.items["label"] = np.where(x[:n] > 0, "a b", "b")
    if kind == "number":
        data.items["label"] = (10 * x[:n] + 50).astype(str)
    probe = rng.random((n + 50, len(classes)))
    folds = np.arange(n) % 5
    stale = tmp_path / "t" / ("importance.csv" if kind == "tags" else "tags/0/importance.csv")
    stale.parent.mkdir(parents=True)
    stale.write_text("feature,gain_share\nx,1.0\n")  # another task's fit left here: not this one's
    table.train_table(data, VisionConfig(), paths, tmp_path / "t", folds, (probe[:n], probe[n:]))
    assert not stale.exists() and (tmp_path / "t" / "tags").is_dir() == (kind == "tags")
    oof = pd.read_feather(tmp_path / "t" / "oof.feather")[[f"pred:{c}" for c in classes]].to_numpy()
    test = np.load(tmp_path / "t" / "test.npy")
    assert oof.shape == (n, len(classes)) and test.shape == (50, len(classes))
    if kind == "multiclass":
        assert np.allclose(oof.sum(1), 1) and (oof.argmax(1) == y).mean() > 0.8
    if kind == "tags":  # one model a tag: "a" follows x, "b" is always there
        assert roc_auc_score(x[:n] > 0, oof[:, 0]) > 0.9 and oof[:, 1].min() > 0.5
    if kind == "number":  # on the numbers' scale
        assert np.sqrt(np.mean((oof[:, 0] - (10 * x[:n] + 50)) ** 2)) < 4


def test_the_backtest_cut_writes_the_held_rows_as_the_test_table(tmp_path):
    """Pawpularity's layout: the cut's test.csv lists the held images' ids (the cut's sample's) and the columns the
    competition's test.csv has, never the label."""
    src = write_competition("number", tmp_path / "src", n=120, n_test=30)
    labels = pd.read_csv(src / "train.csv")  # a column the test's table names and leaves empty: not filled in the cut
    labels.assign(Vet=labels.Pawpularity).to_csv(src / "train.csv", index=False)
    pd.read_csv(src / "test.csv").assign(Vet=np.nan).to_csv(src / "test.csv", index=False)
    answers = cut(ImageCard(slug="x", metric="rmse"), src, tmp_path / "cut", seed=0)
    held = pd.read_csv(tmp_path / "cut" / "test.csv")
    sample = pd.read_csv(tmp_path / "cut" / "sample_submission.csv")
    train = pd.read_csv(src / "train.csv").set_index("Id")
    assert list(held.columns) == ["Id", "Blur", "Age"] and held.Id.tolist() == sample.Id.tolist()
    assert (held.set_index("Id").Age == train.loc[held.Id, "Age"]).all()
    assert sorted(answers.Id) == sorted(held.Id)
    layout, _ = read_card(ImageCard(slug="x", metric="rmse"), tmp_path / "cut")
    assert layout.beside is not None and set(layout.beside.frame.columns) == {"_file", "Blur", "Age"}
    assert len(layout.train) == 120 - len(held)


def test_a_cut_of_nested_image_folders_keeps_the_test_folder_at_its_depth(tmp_path):
    """SIIM-ISIC ships jpeg/train/ and jpeg/test/: the cut's held images go to jpeg/test/, not into jpeg/ beside
    the training folder (which read every image as a training one and matched no label)."""
    src = write_competition("number", tmp_path / "src", n=120, n_test=30)
    (src / "jpeg").mkdir()
    for name in ("train", "test"):
        (src / name).rename(src / "jpeg" / name)
    layout, _ = read_card(ImageCard(slug="x", metric="rmse"), src)
    assert layout.test.file.iloc[0].startswith("jpeg/test/")
    assert (
        "120 labelled images in jpeg/train/ (" in layout.notes[0] and "30 test images in jpeg/test/;" in layout.notes[0]
    )
    answers = cut(ImageCard(slug="x", metric="rmse"), src, tmp_path / "cut", seed=0)
    held, _ = read_card(ImageCard(slug="x", metric="rmse"), tmp_path / "cut")
    assert len(held.train) == 120 - len(answers) and len(held.test) == len(answers)
    assert all(f.startswith("jpeg/test/") for f in held.test.file) and held.beside is not None


def test_groups_keep_a_patients_images_together_in_folds_holdout_and_cut(tmp_path):
    """SIIM-ISIC's patient_id as `groups=`: each patient's images in one fold, on one side of the net's holdout and
    of the backtest's cut (a patient's other lesions would otherwise score the models on what they saw)."""
    from pipelines.cv import assign_folds
    from pipelines.vision.card import CardError
    from pipelines.vision.data import split_valid

    src = write_competition("binary", tmp_path / "src", n=120, n_test=30)
    labels = pd.read_csv(src / "train.csv")
    patients = [f"p{i % 17}" if i % 30 else "" for i in range(len(labels))]  # a blank: that image alone
    labels.assign(patient=patients).to_csv(src / "train.csv", index=False)
    card = ImageCard(slug="x", metric="auc", groups="patient")
    layout, _ = read_card(card, src)
    assert any("train.csv:patient: 21 groups of images (groups=)" in n for n in layout.notes)  # 17 and 4 alone
    patient = layout.train.group
    valid = split_valid(layout.train, VisionConfig())
    assert 0.1 < valid.mean() < 0.35 and not set(patient[valid]) & set(patient[~valid])
    folds = assign_folds(pd.factorize(layout.train.label)[0], 5, 0, pd.factorize(patient)[0])
    assert (pd.Series(folds).groupby(patient.to_numpy()).nunique() == 1).all()
    few = np.arange(len(patient)) % 3  # 3 patients cannot fill 5 folds
    with pytest.raises(
        ValueError,
        match=r"the groups= column has 3 groups; keeping each whole in 5 parts needs 5 or more: set fewer folds=",
    ):
        assign_folds(pd.factorize(layout.train.label)[0], 5, 0, few)
    with pytest.raises(ValueError, match=r"needs 5 or more \(the holdout .*: set ARGS='folds=3 valid_pct=0.34'"):
        split_valid(layout.train.assign(group=[f"p{i % 3}" for i in range(len(patient))]), VisionConfig())
    answers = cut(card, src, tmp_path / "cut", seed=0)
    kept = pd.read_csv(tmp_path / "cut" / "train.csv")
    held = labels.assign(patient=patients).set_index("id").loc[answers.id]
    assert not set(held.patient.dropna()) & set(kept.patient.dropna()) and len(answers) > 10
    with pytest.raises(CardError, match=r"train.csv: no column 'patients' \(groups=\); it has has_cactus, patient"):
        read_card(ImageCard(slug="x", metric="auc", groups="patients"), src)
    sample = pd.read_csv(src / "sample_submission.csv")  # its column named otherwise: the label file's one other
    sample.rename(columns={"has_cactus": "prediction"}).to_csv(src / "sample_submission.csv", index=False)
    layout, _ = read_card(card, src)  # the groups= column is never taken for the label (the trial's owner)
    assert any(n.startswith("read from the files") and "train.csv:has_cactus" in n for n in layout.notes)
    folders = write_competition("folders", tmp_path / "folders", n=40, n_test=10)
    with pytest.raises(CardError, match="groups='patient' names a column of a label file"):
        read_card(ImageCard(slug="x", metric="accuracy", groups="patient"), folders)


def test_the_tests_table_is_the_one_holding_trains_columns_whatever_the_ids_suffix(tmp_path):
    """The trial's cases: a csv of every image's size beside test.csv (first in name order) is not the test's
    table; ids written `x.jpg` in the csvs where the images' ids are stems still line up; the groups= column is no
    feature."""
    src = write_competition("number", tmp_path / "src", n=60, n_test=15)
    train, test = pd.read_csv(src / "train.csv"), pd.read_csv(src / "test.csv")
    sizes = pd.concat([train.Id, test.Id]).to_frame().assign(width=32, height=32)
    sizes.to_csv(src / "image_meta.csv", index=False)
    train.assign(Id=train.Id + ".jpg", patient=[f"p{i % 7}" for i in range(60)]).to_csv(src / "train.csv", index=False)
    test.assign(Id=test.Id + ".jpg", patient=[f"p{i % 7}" for i in range(15)]).to_csv(src / "test.csv", index=False)
    layout, _ = read_card(ImageCard(slug="x", metric="rmse", groups="patient"), src)
    assert layout.beside.source == "train.csv and test.csv"
    by_file = layout.beside.frame.set_index("_file")
    expected = test.set_index("Id").Age.to_numpy()
    assert (by_file.loc[layout.test.file, "Age"].to_numpy() == expected).all()  # the sample's order, by stem
    assert list(layout.beside.frame.columns) == ["Blur", "Age", "_file"]  # patient: the groups, no feature


def test_a_column_holding_most_of_the_gain_is_warned_of_from_this_fits_models_only(tmp_path, capsys):
    """warn_dominant reads the importance.csv of the models it is given: a tag's folder left by an earlier run of
    another task (a multi-label one) in the same member folder is not read."""
    (tmp_path / "tags" / "0").mkdir(parents=True)
    pd.DataFrame({"feature": ["serial", "age"], "gain_share": [0.95, 0.05]}).to_csv(
        tmp_path / "tags" / "0" / "importance.csv", index=False
    )
    pd.DataFrame({"feature": ["age", "probe:1"], "gain_share": [0.85, 0.15]}).to_csv(
        tmp_path / "importance.csv", index=False
    )
    table.warn_dominant([tmp_path], {"age", "serial"})
    said = capsys.readouterr().out
    assert "warning: age holds 85% of the table member's gain" in said and "serial" not in said
    table.warn_dominant([tmp_path], {"serial"})  # a top feature not beside the images (as the probe's): no warning
    assert capsys.readouterr().out == ""
