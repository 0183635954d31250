"""The table beside the images: the columns a competition ships with its images (PetFinder's twelve photo flags,
SIIM-ISIC's age, sex and body site), and the `table` member that reads them.

What is read (`beside`, from card.read_card): the label file's other columns that the test's own table holds too
(another .csv keyed by the test images' ids: PetFinder's and SIIM-ISIC's `test.csv`). A column only in the label
file (SIIM-ISIC's `diagnosis`, known after the biopsy) is never a feature. Each column's kind is the tabular
kind's (`schema.column_kind`): a number, a category (codes of the labelled rows' values) or a date (its days since
1970). Left out, each said: a column the test's table leaves empty, a row number (`Unnamed: 0`, or a different
whole number in every row), near-unique text, a column of one value, and a category whose values most test rows
never have in the labelled rows (SIIM-ISIC's `patient_id`: the test's patients are others).

The member (`train_table`): LightGBM (models/gbdt.py) on those columns and the probe's out-of-fold predictions
(stacking: the image's evidence and the table's meet in one model; a blend of two models that each see one of
them adds them only partly). It is k-fold on the probe's folds, each fold's rows scored at the rounds the other
folds chose (the tabular kind's `fit_gbdt`); the test is predicted by the folds' average from the probe's test
predictions. The blend (choices.py) then weighs it beside the probe and the net, out of fold.

The probe's out-of-fold predictions of the rows a fold fits on came from probes that saw that fold's images,
through their weights: a small optimism of the stacked member's out-of-fold figure that `make backtest` (a cut
no model saw) does not have.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from features.dates import days_since_1970
from features.images import IMAGE_SUFFIXES
from features.io import read_feather, write_feather, write_npy
from features.procs import Categorify
from models import gbdt
from models.metrics import from_target, get_metric, to_target
from pipelines.paths import Paths
from pipelines.runs import RunDir, run_identity
from pipelines.tabular.features import LIGHTGBM_REFUSES, file_digest, unlearnable
from pipelines.tabular.members import fit_gbdt
from pipelines.tabular.schema import column_kind, parse_dates
from pipelines.vision.config import VisionConfig
from pipelines.vision.layouts import first_few

FILE = "table.feather"  # in processed/: `_file`, `_split` (labelled, test) and the features
ROW_NUMBER = re.compile(r"Unnamed: \d+")  # pandas' name for a column without a header: a file's saved index
SUFFIX = re.compile("(" + "|".join(re.escape(s) for s in IMAGE_SUFFIXES) + ")$", re.IGNORECASE)


@dataclass
class Table:
    """The features beside the images: `frame` holds `_file` and one column a feature, for the labelled and the test
    images; `categorical` names those holding category codes; `source` the two files they came from, `test_file`
    the test's table (the backtest's cut writes its own)."""

    frame: pd.DataFrame
    categorical: list[str] = field(default_factory=list)
    source: str = ""
    test_file: str = ""

    @property
    def columns(self) -> list[str]:
        """The columns read, as the files name them."""
        return [c for c in self.frame.columns if c != "_file"]


def key(ids: pd.Series) -> pd.Series:
    """Ids in one form whichever file writes them: text, stripped, an image suffix dropped (`ISIC_1.jpg` is
    `ISIC_1`, as the sample may write it)."""
    return ids.astype(str).str.strip().str.replace(SUFFIX, "", regex=True)


def _read(path: Path, id_col: str, notes: list[str] | None) -> pd.DataFrame:
    """A table's rows, its id read as text (`007` kept) in `key`'s form; of an id written twice, the first (said in
    `notes`: the label file's are said where its labels are read)."""
    header = pd.read_csv(path, nrows=0).columns
    frame = pd.read_csv(path, dtype={c: str for c in header if c.strip() == id_col}).rename(columns=str.strip)
    frame[id_col] = key(frame[id_col])
    twice = frame[id_col].duplicated()
    if twice.any() and notes is not None:
        notes.append(
            f"{path.name}: {int(twice.sum())} duplicated {id_col}s, kept the first ({first_few(frame[id_col][twice])})"
        )
    return frame[~twice]


def _test_table(raw: Path, id_col: str, skip: set, test_ids: set[str], wanted) -> Path | None:
    """The test's own table (SIIM-ISIC's test.csv): of the .csv files listing half the test images' ids or more (in
    `key`'s form; not the label file nor the sample), the one holding most of the `wanted` columns (the label
    file's), a test*.csv first of equals; None where none holds one of them (a table of every image's size)."""
    best, rank = None, (0, False)
    for path in sorted(raw.glob("*.csv")):
        header = [c.strip() for c in pd.read_csv(path, nrows=0).columns]
        if path in skip or id_col not in header or len(header) < 2 or not test_ids:
            continue
        ids = set(key(pd.read_csv(path, usecols=lambda c: c.strip() == id_col, dtype=str).iloc[:, 0]))
        here = (len(set(header) & set(wanted) - {id_col}), path.name.lower().startswith("test"))
        if len(test_ids & ids) >= len(test_ids) / 2 and here[0] and here > rank:
            best, rank = path, here
    return best


def _left_out(c: str, train: pd.Series, test: pd.Series, what: tuple[str, str]) -> str:
    """Why column `c` cannot be a feature, or "": what the test's rows leave empty, a row number, a name kept."""
    empty_train, empty_test = train.isna().mean(), test.isna().mean()
    if empty_test - empty_train > 0.5:
        return (
            f"empty in {empty_test:.0%} of {what[1]}'s rows, {empty_train:.0%} of {what[0]}'s: the test cannot say it"
        )
    if ROW_NUMBER.fullmatch(c):
        return "a row number (pandas' name for a file's unnamed index)"
    both = pd.concat([train, test], ignore_index=True).dropna()
    numbers = pd.to_numeric(both, errors="coerce")
    whole = numbers.notna().all() and (numbers % 1 == 0).all()
    if whole and len(both) > 1 and both.is_unique:
        return "a different whole number in every row: an id or a row number"
    if c in ("_file", "_split"):
        return f"{c} is the name {FILE} keeps for itself: rename the column"
    return ""


def beside(
    raw: Path,
    labels: Path,
    others: list[str],
    id_col: str,
    labelled: pd.DataFrame,
    test: pd.DataFrame,
    skip: set,
    notes: list[str],
) -> Table | None:
    """The Table of the label file's `others` (its columns other than the id and the label) that the test's table
    holds too; `labelled` and `test` hold each image's `file` and `id`. None (said) where there are none."""
    if not others:
        return None
    test_ids = key(test.id)
    test_path = _test_table(raw, id_col, {labels, *skip}, set(test_ids), others)
    if test_path is None:
        notes.append(
            f"{labels.name}: its other columns ({first_few(others)}) are not used: no other .csv lists the test "
            f"images' {id_col!r} with them"
        )
        return None
    by_id = _read(labels, id_col, None).set_index(id_col)
    test_by_id = _read(test_path, id_col, notes).set_index(id_col)
    only = [c for c in others if c not in test_by_id.columns]
    if only:
        notes.append(
            f"{labels.name}: {first_few(only)} not in {test_path.name}, never features (the test cannot say them: "
            f"as a diagnosis known after the fact, they may leak the answer)"
        )
    absent = ~test_ids.isin(test_by_id.index)
    if absent.any():
        notes.append(
            f"{test_path.name} has no row for {int(absent.sum()):,} of the {len(test_ids):,} test images "
            f"({first_few(test_ids[absent])}): their columns are missing"
        )
    shared = [c for c in others if c in test_by_id.columns]
    # aligned by id, image by image (not merged: the id or a column may be named as the frames' own `file`, `id`)
    train_rows = by_id[shared].reindex(key(labelled.id).to_numpy()).reset_index(drop=True)
    test_rows = test_by_id[shared].reindex(test_ids.to_numpy()).reset_index(drop=True)
    what = (labels.name, test_path.name)
    left_out, numbers, cats, dates = {}, [], [], {}
    for c in shared:
        kind, why = column_kind(pd.concat([train_rows[c], test_rows[c]], ignore_index=True))
        reason = _left_out(c, train_rows[c], test_rows[c], what) or (why if kind in ("drop", "text") else "")
        if reason:
            left_out[c] = reason
        elif kind == "date":
            dates[c] = why  # its format
        else:
            (cats if kind == "category" else numbers).append(c)
    left_out |= unlearnable(train_rows, test_rows, cats, [])
    cats = [c for c in cats if c not in left_out]
    used = [c for c in shared if c not in left_out]
    said = "; left out: " + ", ".join(f"{c} ({why})" for c, why in left_out.items()) if left_out else ""
    if not used:
        notes.append(f"{labels.name} and {test_path.name}: no column beside the images to use{said}")
        return None
    coder = Categorify().fit(train_rows, cats)

    def features(rows: pd.DataFrame, files: pd.Series) -> pd.DataFrame:
        out = coder.transform(rows[used])
        for c in numbers:
            out[c] = pd.to_numeric(rows[c], errors="coerce")
        for c, fmt in dates.items():
            out[c] = days_since_1970(parse_dates(rows[c], fmt, errors="coerce"))
        return out.astype(np.float32).assign(_file=files.to_numpy())

    frame = pd.concat([features(train_rows, labelled.file), features(test_rows, test.file)], ignore_index=True)
    source = f"{labels.name} and {test_path.name}"
    notes.append(
        f"{source}: {len(used)} columns beside the images ({first_few(used)}), the table member's features "
        f"(LightGBM on them and the probe's predictions; a default member){said}"
    )
    return Table(frame, cats, source, test_path.name)


def write(table: Table, labelled_files: list[str], test_files: list[str], processed: Path) -> dict:
    """processed/table.feather of the images the features step kept (in their order); its description for
    layout.json, with the file's digest (the features' identity: a table edited retrains what read it)."""
    by_file = table.frame.drop_duplicates("_file").set_index("_file")
    frame = pd.concat(
        [
            by_file.loc[labelled_files].reset_index().assign(_split="labelled"),
            by_file.loc[test_files].reset_index().assign(_split="test"),
        ],
        ignore_index=True,
    )
    write_feather(frame, processed / FILE)
    digest = file_digest(processed / FILE)
    return {"columns": table.columns, "categorical": table.categorical, "source": table.source, "digest": digest}


def read(processed: Path, info: dict, labelled: pd.Series, test: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The features of the `labelled` and the `test` images' files, in their order (n, features) each."""
    frame = read_feather(processed / FILE)
    rows = lambda split, files: frame[frame._split == split].set_index("_file").loc[files.to_numpy(), info["columns"]]
    return rows("labelled", labelled).to_numpy(np.float32), rows("test", test).to_numpy(np.float32)


def _stacked(probe: np.ndarray, data, classes: list[str]) -> tuple[np.ndarray, list[str]]:
    """The probe's predictions as columns: P(the last class) of two, each class's of more, or the number on the
    training scale."""
    if data.regression:
        return to_target(get_metric(data.metric), probe[:, :1]), [f"probe_{classes[0]}"]
    keep = [len(classes) - 1] if len(classes) == 2 and not data.multi_label else list(range(len(classes)))
    return probe[:, keep], [f"probe_{classes[k]}" for k in keep]


def warn_dominant(folders: list[Path], beside: set[str], share: float = 0.8) -> None:
    """A warning where one column beside the images holds `share` of a model's gain (each folder's importance.csv:
    the model's, or each tag's): a column that decides alone is more often a leak (a value known after the fact, the
    rows' order) than a finding."""
    for path in (f / "importance.csv" for f in folders):
        top = pd.read_csv(path).iloc[0]
        if top.feature in beside and top.gain_share >= share:
            print(
                f"warning: {top.feature} holds {top.gain_share:.0%} of the table member's gain ({path}): make sure the "
                f"test's rows know it as train's do (not a value known after the fact, nor the rows' order)"
            )


def train_table(data, cfg: VisionConfig, paths: Paths, folder: Path, folds: np.ndarray, probe: tuple | None) -> dict:
    """The table member in runs/RUN/table/ (as the probe's: oof.feather over `folds`, test.npy, result.json):
    LightGBM on the columns beside the images and `probe`'s (out-of-fold, test) predictions where the probe trained;
    reused when finished with the same settings (the probe's too, when stacked)."""
    rd = RunDir(folder)
    identity = run_identity(cfg, paths, ("probe", "table") if probe else ("table",), stacked=probe is not None)
    done = rd.reuse_or_start(identity, "table")
    if done is not None:
        return done
    # what a fit of another task left here (tags' folders, or one model's importance) is not this fit's
    if data.multi_label:
        (folder / "importance.csv").unlink(missing_ok=True)
    else:
        shutil.rmtree(folder / "tags", ignore_errors=True)
    t0 = time.perf_counter()
    labelled, classes = data.frame("labelled"), data.classes
    info = data.info["table"]
    x, x_test = read(paths.processed, info, labelled.file, data.test.file)
    names = list(info["columns"])
    if probe is not None:
        (oof_probe, names_probe), (test_probe, _) = _stacked(probe[0], data, classes), _stacked(probe[1], data, classes)
        x, x_test, names = np.hstack([x, oof_probe]), np.hstack([x_test, test_probe]), names + names_probe
    x, x_test = x.astype(np.float32), x_test.astype(np.float32)
    cats = tuple(info["categorical"])
    # LightGBM refuses [ ] { } : , " in feature names: each becomes _, and a name twice gets its position
    safe = [LIGHTGBM_REFUSES.sub("_", n) for n in names]
    safe = [f"{n}_{i}" if safe.count(n) > 1 else n for i, n in enumerate(safe)]
    cats, names = tuple(safe[names.index(c)] for c in cats), safe
    y = data.targets(labelled).numpy()
    params = gbdt.GBDTParams(
        rounds=cfg.table_rounds,
        lr=cfg.table_lr,
        leaves=cfg.table_leaves,
        min_leaf=min(cfg.table_min_leaf, max(2, len(x) // 25)),  # 100 images: folds of 80 could split nothing
        colsample=0.8,
        subsample=0.8,
        seed=cfg.seed,
    )
    ok, kfold = np.ones(len(x), bool), {"kind": "kfold"}

    def fit(target: np.ndarray, objective: str, where: RunDir, num_class: int = 1):
        p = replace(params, objective=objective, num_class=num_class)
        return fit_gbdt(x, x_test, target, ok, folds, kfold, p, names, where, categorical=cats)[:2]

    importance_dirs = [folder]  # the folders the fits write their importance.csv in
    if data.regression:
        oof, test = fit(y[:, 0], "regression", rd)
        metric = get_metric(data.metric)
        oof, test = from_target(metric, oof)[:, None], from_target(metric, test)[:, None]
    elif data.multi_label:  # one binary model a tag, each in a folder of its own
        pairs, importance_dirs = [], [folder / "tags" / str(t) for t in range(len(classes))]
        for t, tag in enumerate(classes):
            sub = RunDir(importance_dirs[t])
            sub.reuse_or_start({**identity, "tag": tag}, f"table, tag {tag}")  # its parts: the folds' boosters
            pairs.append(fit(y[:, t], "binary", sub))
        oof, test = np.stack([p[0] for p in pairs], 1), np.stack([p[1] for p in pairs], 1)
    elif len(classes) == 2:
        oof, test = fit(y, "binary", rd)
        oof, test = np.stack([1 - oof, oof], 1), np.stack([1 - test, test], 1)
    else:
        oof, test = fit(y, "multiclass", rd, len(classes))
    # the columns beside the images, not the probe's
    warn_dominant(importance_dirs, set(names[: len(info["columns"])]))
    frame = pd.DataFrame({"file": labelled.file.to_numpy(), "label": labelled.label.to_numpy(), "fold": folds})
    frame = pd.concat([frame, pd.DataFrame(oof, columns=[f"pred:{c}" for c in classes])], axis=1)
    write_feather(frame, folder / "oof.feather")
    write_npy(test, folder / "test.npy")
    result = {
        "columns": names,
        "stacked": probe is not None,
        "folds": cfg.folds,
        "fit_seconds": round(time.perf_counter() - t0, 1),
    }
    rd.finish(result)
    print(
        f"table: {cfg.folds}-fold LightGBM on {len(info['columns'])} columns beside the images"
        f"{' and the probe' if probe is not None else ''}, {result['fit_seconds']:.0f} s"
    )
    return result
