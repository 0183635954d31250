"""The generic tabular kind: a card written by `make new`, everything else read from the files: schema
inference on small frames, and each kind of synthetic competition run new -> download -> all."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import pipelines
from models.metrics import get_metric
from pipelines.__main__ import main
from pipelines.tabular import Card
from pipelines.tabular.sample import KINDS, METRICS, write
from pipelines.tabular.schema import (
    ZONED,
    Schema,
    SchemaError,
    column_kind,
    date_format,
    describe,
    fold_groups,
    infer,
    infer_task,
    label_text,
    named,
    parse_dates,
    sort_classes,
)

FILES = {"train": "train.csv", "test": "test.csv", "sample": "sample_submission.csv"}


def test_schema_from_the_files_with_the_leak_and_the_text_named():
    train = pd.DataFrame(
        {
            "Id": range(1, 1301),
            "when": pd.date_range("2020-01-01", periods=1300).strftime("%Y-%m-%d"),
            "shop": np.arange(1300) % 7,
            "price": np.linspace(0, 1, 1300),
            "notes": [f"free text about house number {i}" for i in range(1300)],
            "y": np.arange(1300) % 3 * 1.5,
            "leak": np.arange(1300) % 3,
        }
    )
    test = train.drop(columns=["y", "leak"]).assign(Id=lambda f: f.Id + 5000)
    sample = test[["Id"]].assign(y=0.0)
    s = infer(Card(slug="x", metric="rmse"), train, test, sample, FILES)
    assert (s.id, s.targets, s.task, s.date) == ("Id", ["y"], "regression", "when")
    assert s.categories == [] and s.numbers == ["shop", "price"]  # ordered: an unseen value keeps its place
    assert "free text" in s.texts["notes"] and "only in train.csv" in s.dropped["leak"] and s.only_in_train == ["leak"]
    said = describe(s, "rmse")
    assert "free text: notes (free text (1,300 distinct" in said
    assert "\n0 categories: none\n2 numbers: shop, price (a code among them" in said  # each column's kind, named
    assert named([f"c{i}" for i in range(32)]).endswith("c29, ... (2 more)")
    card = Card(slug="x", metric="rmse", drop=("price",), series="shop", id="Id")
    s = infer(card, train, test, sample, FILES)
    assert "price" not in s.numbers and s.dropped["price"] == "dropped by the card" and s.series == ["shop"]
    assert s.categories == ["shop"]  # a series key is a category whatever its type


def test_a_task_the_metric_does_not_score_is_refused_before_any_training():
    """task= naming what the metric does not score (mcc of three classes) is refused when the files are read, with
    the metrics that do score it; it had trained every member, then failed on the score."""
    train = pd.DataFrame({"id": range(60), "x": np.arange(60) % 7, "y": np.arange(60) % 3})
    test = train.drop(columns="y").assign(id=lambda f: f.id + 100)
    sample = test[["id"]].assign(y=0)
    with pytest.raises(
        SchemaError,
        match=r"metric 'mcc' scores binary competitions, but train.csv's target reads as multiclass \(task= in the "
        r"card\); set metric= to one for multiclass \(mlogloss, auc, accuracy, f1_macro, qwk, map@3",
    ):
        infer(Card(slug="x", metric="mcc", task="multiclass"), train, test, sample, FILES)


def test_numbers_named_as_ids_whose_values_repeat_are_categories():
    # a ratings table (MovieLens): each user and film a code to embed, not a quantity; a unique one stays a number
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            "id": range(300),
            "userId": rng.integers(1, 40, 300),
            "movie_id": rng.integers(1, 90, 300) * 7,
            "ticketID": np.arange(300) + 10,  # unique: no code to learn from
            "rating": rng.integers(1, 6, 300) / 1.0,
        }
    )
    test = train.drop(columns="rating").assign(id=lambda f: f.id + 1000)
    sample = test[["id"]].assign(rating=3.0)
    s = infer(Card(slug="x", metric="rmse"), train, test, sample, FILES)
    assert s.categories == ["userId", "movie_id"] and s.codes == ["userId", "movie_id"] and s.numbers == ["ticketID"]
    assert "ids read as codes (categories: each value an embedding, not a quantity): userId, movie_id (named" in (
        describe(s, "rmse")
    )
    # Book-Crossing's User-ID, and userid or ITEMID whatever their case, are names of ids too
    names = {"userId": "User-ID", "movie_id": "ITEMID"}
    s = infer(Card(slug="x", metric="rmse"), train.rename(columns=names), test.rename(columns=names), sample, FILES)
    assert s.codes == ["User-ID", "ITEMID"]
    # Amazon's: reviewerID named as an id (2 rows a value in train; half the test's new: near-unique text otherwise),
    # asin named by the card
    amazon = train.assign(reviewerID="A" + (train.id % 150).astype(str), asin="B0" + train.movie_id.astype(str))
    reviewers = np.where(np.arange(300) < 150, amazon.reviewerID, "N" + pd.Series(range(300)).astype(str))
    amazon_test = amazon.drop(columns="rating").assign(reviewerID=reviewers)
    assert column_kind(pd.concat([amazon.reviewerID, amazon_test.reviewerID]))[0] == "text"
    s = infer(Card(slug="x", metric="rmse", codes="asin"), amazon, amazon_test, sample, FILES)
    assert s.codes == ["userId", "movie_id", "reviewerID", "asin"] and s.texts == {}
    assert "reviewerID" in s.categories
    with pytest.raises(SchemaError, match="card: codes= names 'asn', not a column of both"):
        infer(Card(slug="x", metric="rmse", codes="asn"), amazon, amazon_test, sample, FILES)
    # a time index named as an id (Optiver's date_id), new in the test: a number; an id of one row a value too
    later = amazon_test.assign(userId=amazon_test.userId + 1000)
    once = amazon.assign(movie_id=np.arange(300) // 2 * 7)  # 2 rows a value: a code; one row a value is not
    s = infer(Card(slug="x", metric="rmse"), once.assign(userId=np.arange(300)), later, sample, FILES)
    assert s.codes == ["movie_id", "reviewerID"] and "userId" in s.numbers
    s = infer(Card(slug="x", metric="rmse"), once, later, sample, FILES)
    assert s.codes == ["movie_id", "reviewerID"] and "userId" in s.numbers  # every test user is new


def test_the_dot_members_pair_is_the_cards_or_the_two_ids_of_the_most_values(capsys):
    from types import SimpleNamespace

    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import dot_pair
    from pipelines.tabular.steps import collab_columns

    rng = np.random.default_rng(0)
    rows = pd.DataFrame(
        {
            "user_id": rng.integers(0, 90, 2000),
            "item_id": rng.integers(0, 250, 2000),
            "shop_id": rng.integers(0, 120, 2000),
        }
    )
    rows["ISBN"] = "B" + rows.item_id.astype(str)
    rows["genre"] = "g" + (rows.item_id % 9).astype(str)  # 9 values: not an id
    three = Schema("id", ["y"], None, "regression", [], None, None, [], ["user_id", "item_id", "shop_id"], [])
    three.codes = ["user_id", "item_id", "shop_id"]
    assert dot_pair(Card(slug="x", metric="rmse"), three, rows, rows) == ["item_id", "shop_id"]
    assert "pair): item_id x shop_id (the two ids of the most values; the card's codes= names others)" in (
        capsys.readouterr().out
    )
    card = Card(slug="x", metric="rmse", codes=("user_id", "item_id"))
    assert dot_pair(card, three, rows, rows) == ["user_id", "item_id"]
    assert "pair): user_id x item_id (the card's codes=, its first two)" in capsys.readouterr().out
    card = Card(slug="x", metric="rmse", codes=("user_id",))  # one named: the other of the most values
    assert dot_pair(card, three, rows, rows) == ["user_id", "item_id"]
    assert "(the card's codes=, and the other id of the most values)" in capsys.readouterr().out
    # train reads the pair the features step chose, not the first two codes
    proc = SimpleNamespace(
        categorify=SimpleNamespace(cardinality=lambda: {"user_id": 91, "item_id": 251, "shop_id": 121})
    )
    chosen = replace(three, pair=["item_id", "shop_id"])
    assert collab_columns(get_metric("rmse"), chosen, proc, TabularConfig()) == (["item_id", "shop_id"], "")
    assert "built by older code" in collab_columns(get_metric("rmse"), three, proc, TabularConfig())[1]
    # Book-Crossing: User-ID is read as an id; ISBN, a category of many values that repeat, is named as the other
    one = Schema("id", ["y"], None, "regression", [], None, None, [], ["User-ID", "genre", "ISBN"], [])
    one.codes = ["User-ID"]
    assert dot_pair(Card(slug="x", metric="rmse"), one, rows.rename(columns={"user_id": "User-ID"}), rows) == []
    out = capsys.readouterr().out
    assert "one id read as a code (User-ID); ISBN may be the other (a category" in out
    assert "the card's codes=('User-ID', 'ISBN') pairs them for the dot member" in out


def test_a_unix_time_named_as_the_date_is_read_as_dates():
    """The card's date= names seconds (or milliseconds) since 1970, by their size: a date of that format; a column
    of such numbers date= does not name stays a number, and date= on words is refused."""
    train = pd.DataFrame({"id": range(50), "timestamp": 1_500_000_000 + np.arange(50) * 86400, "y": np.arange(50.0)})
    test = train.drop(columns="y").assign(id=lambda f: f.id + 100)
    sample = test[["id"]].assign(y=0.0)
    s = infer(Card(slug="x", metric="rmse", date="timestamp"), train, test, sample, FILES)
    assert (s.date, s.date_format) == ("timestamp", "unix seconds")
    assert parse_dates(train.timestamp, s.date_format)[0] == pd.Timestamp("2017-07-14 02:40:00")
    assert "date 'timestamp' (unix seconds since 1970)" in describe(s, "rmse")
    ms = infer(Card(slug="x", metric="rmse", date="timestamp"), *(f.assign(timestamp=f.timestamp * 1000) for f in (train, test)), sample, FILES)  # fmt: skip
    assert ms.date_format == "unix milliseconds"
    assert infer(Card(slug="x", metric="rmse"), train, test, sample, FILES).date is None  # a number, unnamed
    words = train.assign(timestamp="soon")
    with pytest.raises(SchemaError, match="is not in one date format of .*; leave date= out, or name another"):
        infer(Card(slug="x", metric="rmse", date="timestamp"), words, test.assign(timestamp="soon"), sample, FILES)


def test_one_submission_column_per_class_finds_the_label_column():
    train = pd.DataFrame({"id": range(6), "f": range(6), "kind": ["a", "b", "c", "a", "b", "c"]})
    test = train[["id", "f"]]
    sample = pd.DataFrame({"id": range(6), "a": 0.3, "b": 0.3, "c": 0.4})
    s = infer(Card(slug="x", metric="mlogloss"), train, test, sample, FILES)
    assert (s.label, s.task, s.classes, s.targets) == ("kind", "multiclass", ["a", "b", "c"], ["a", "b", "c"])
    with pytest.raises(SchemaError, match="train.csv: has no column 'a' of sample_submission.csv .*set target="):
        infer(Card(slug="x", metric="mlogloss"), train.drop(columns="kind"), test, sample, FILES)


def test_task_and_column_kinds():
    assert infer_task("auc", pd.Series([0, 1, 1])) == "binary"
    assert infer_task("accuracy", pd.Series(["a", "b", "c"])) == "multiclass"
    assert infer_task("rmsle", pd.Series([0, 1])) == "regression"
    assert infer_task("f2_samples", pd.Series(["a b", "c"])) == "multilabel"
    with pytest.raises(SchemaError, match="scores binary competitions, but the target 'y' has 3"):
        infer_task("f1", pd.Series([1, 2, 3], name="y"))
    assert column_kind(pd.Series([1.5, 2.5, None]))[0] == "number"
    assert column_kind(pd.Series(["2013-01-01", "2013-01-02"]))[0] == "date"
    assert column_kind(pd.Series([5, 5, 5])) == ("drop", "one value only")
    charges = pd.Series([f"{v:.2f}" for v in np.linspace(18, 8000, 300)] + [" "] * 5)  # Telco's TotalCharges
    assert column_kind(charges)[0] == "number"
    names = pd.Series([f"Name {i}" for i in range(150)] + [None] * 50)  # a name a row, short: near-unique
    assert column_kind(names) == (
        "text",
        "near-unique text (150 distinct values in 150 rows, 7 characters on average)",
    )
    assert column_kind(pd.Series([f"deck {i % 60}" for i in range(200)]))[0] == "category"  # 30%: repeats
    train = pd.DataFrame({"Id": range(150), "Name": names[:150], "y": np.arange(150) % 2})
    test, sample = train[["Id", "Name"]], train[["Id"]].assign(y=0)
    assert "near-unique text" in infer(Card(slug="x", metric="auc"), train, test, sample, FILES).texts["Name"]
    assert infer(Card(slug="x", metric="auc", categories="Name"), train, test, sample, FILES).categories == ["Name"]
    train["Kind"] = np.where(np.arange(150) % 2, "a b", "b c")  # two values: a category, unless the card says text
    s = infer(Card(slug="x", metric="auc", text="Kind"), train, test.assign(Kind="a"), sample, FILES)
    assert s.texts["Kind"] == "free text by the card's text=" and "Kind" not in s.categories
    s = infer(Card(slug="x", metric="auc", text="Kind"), train, test.assign(Kind=None), sample, FILES)
    assert "Kind" not in s.texts and s.dropped["Kind"] == "empty in test.csv"  # text= or not
    with pytest.raises(ValueError, match=r"text= and categories= both name \['Name'\]: a column is one of the two"):
        Card(slug="x", metric="auc", text="Name", categories=("Name",))
    with pytest.raises(SchemaError, match="card: text= names 'Note', not a column of both train.csv and test.csv$"):
        infer(Card(slug="x", metric="auc", text="Note"), train, test, sample, FILES)
    with pytest.raises(SchemaError, match=r"text= names 'name', not a column of both .* \(did you mean 'Name'\?\)"):
        infer(Card(slug="x", metric="auc", text="name"), train, test, sample, FILES)
    for key in ("Id", "y"):  # in both files, or the target: the message says which it is
        with pytest.raises(SchemaError, match=f"categories= names '{key}', the id, a target or a dropped column"):
            infer(Card(slug="x", metric="auc", categories=key), train, test, sample, FILES)
    # a Digit Recognizer trial: drop= of no column passed without a word; target= and id= under the sample's
    # case (Label, ImageID) were refused naming no column, and id= sent to the card a test with no id at all
    with pytest.raises(
        SchemaError, match=r"^card: drop= names 'Nmae', no column of train.csv or test.csv \(did you mean 'Name'\?\)$"
    ):
        infer(Card(slug="x", metric="auc", drop=("Nmae",)), train, test, sample, FILES)
    kept = infer(Card(slug="x", metric="auc", drop=("y2",)), train.assign(y2=1), test, sample, FILES)
    assert kept.dropped["y2"] == "dropped by the card"  # a column of train alone
    with pytest.raises(SchemaError) as refused:
        infer(Card(slug="x", metric="auc", target=("Y",)), train, test, sample, FILES)
    assert str(refused.value) == (
        "train.csv: no target column 'Y' (did you mean 'y'?): set target= in the card to the column to learn "
        "(train's columns not in test.csv: ['y', 'Kind'])"
    )
    with pytest.raises(
        SchemaError,
        match=r"^sample_submission.csv: no id column 'ID' \(has \['Id', 'y'\]\); its id column is 'Id': leave id= out",
    ):
        infer(Card(slug="x", metric="auc", id="ID"), train, test.drop(columns="Id"), sample, FILES)


def test_a_bad_card_names_its_line(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "ext" / "bad_card"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        'from pipelines.tabular import Card\n\nCARD = Card(\n    slug="x",\n    metric="rmsee",\n)\n'
    )
    monkeypatch.setenv("KAGGLE_COMPETITIONS", str(tmp_path / "ext"))
    monkeypatch.setattr(pipelines, "__path__", list(pipelines.__path__))
    # the value's own line (Python names the Card( line, 3; a Digit Recognizer trial looked for the metric there)
    with pytest.raises(SystemExit, match=r"bad_card/__init__.py:5: ValueError: unknown metric 'rmsee'; known: rmse"):
        main(["features", "bad-card"])
    # an import the package's code no longer has (a name removed from the project): named too, and the runs
    # listing of the other competitions still works, the broken one said
    (pkg / "__init__.py").write_text("from pipelines.rossmann.features import GONE\n")
    with pytest.raises(SystemExit, match=r"bad_card/__init__.py:1: ImportError: cannot import name 'GONE'"):
        main(["features", "bad-card"])
    # a misspelt line: at its own line (Python names the Card( line), the nearest line of a card, and every one
    (pkg / "__init__.py").write_text(
        'from pipelines.tabular import Card\n\nCARD = Card(\n    slug="x",\n    metric="rmse",\n    seires=("a",),\n)\n'
    )
    with pytest.raises(
        SystemExit,
        match=r"__init__.py:6: seires= is no line of a Card \(did you mean series=\?\); its lines: slug, metric, id",
    ):
        main(["features", "bad-card"])
    from pipelines import tracking

    (tmp_path / "data" / "bad-card" / "runs" / "r").mkdir(parents=True)
    (tmp_path / "data" / "bad-card" / "runs" / "r" / "result.json").write_text('{"valid_rmse": 1.0}')
    capsys.readouterr()
    assert len(tracking.runs_table(tmp_path / "data")) == 1
    assert "warning: bad-card's runs listed without its package's headline" in capsys.readouterr().err


def own_competitions(tmp_path, monkeypatch):
    """$KAGGLE_COMPETITIONS (cards written there) and $SUBMISSIONS in tmp_path; returns the competitions folder."""
    monkeypatch.setenv("KAGGLE_COMPETITIONS", str(tmp_path / "ext"))
    monkeypatch.setenv("SUBMISSIONS", str(tmp_path / "subs"))
    monkeypatch.setattr(pipelines, "__path__", list(pipelines.__path__))
    return tmp_path / "ext"


def run_chain(comp: str, src, tmp_path, capsys, rounds: int, *settings: str) -> str:
    """download (from src), features, train and predict through the CLI; their printed output."""
    data, small = ["--data", str(tmp_path / "data")], [f"gbdt_rounds={rounds}", *settings]
    for step in (
        ["download", comp, "--src", str(src)],
        ["features", comp],
        ["train", comp, *small],
        ["predict", comp, *small],
    ):
        assert main([*step, *data]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_runs_new_download_all_to_a_valid_submission(tmp_path, monkeypatch, kind, capsys):
    """A synthetic competition of each kind: `new` writes the card, then download, features, train and predict
    from the files alone; the out-of-fold score beats the trivial one, the leak column is never a feature."""
    comp, ext = f"synthetic-{kind}", own_competitions(tmp_path, monkeypatch)
    src = write(kind, tmp_path / "src", n=1500)
    assert main(["new", comp, "--metric", METRICS[kind]]) == 0
    subs, opts = tmp_path / "subs", f"KAGGLE_COMPETITIONS={ext} SUBMISSIONS={tmp_path / 'subs'}"  # as set: said
    assert f"make all COMP={comp} {opts}        # train, predict: {subs}/{comp}/default.csv" in capsys.readouterr().out
    assert (ext / comp.replace("-", "_") / "__init__.py").read_text().count("\n") <= 24  # a card of a few lines
    out = run_chain(comp, src, tmp_path, capsys, rounds=300)
    assert "leak (only in train.csv: never a feature" in out or kind == "forecast"
    result = json.loads((tmp_path / "data" / comp / "runs" / "default" / "result.json").read_text())
    score = result[f"oof_{METRICS[kind]}"]
    assert sum(result["weights"].values()) == pytest.approx(1, abs=1e-5)  # each rounded to 6 places
    from models.device import pick_device

    assert result["device"] == pick_device("auto").type  # the network's, which `make runs` shows
    if kind == "forecast":  # no free text: no linear member
        assert set(result["members"]) == {"gbdt", "net"} and "linear: not trained, no free text" in out
    else:  # the notes are free text: the linear member reads their TF-IDF
        assert set(result["members"]) == {"gbdt", "net", "linear"} and "linear strength (folds)" in out
    gbdt = {"forecast": "l1", "binary": "binary_logloss"}.get(kind, "multi_logloss")  # smape: absolute error
    losses = {"forecast": "mean absolute error of log1p(sales)"}.get(kind, "mean log loss of the classes")
    assert f"losses: the network's valid_loss and LightGBM's valid {gbdt} are the {losses} on held rows" in out
    assert f"the headline is {METRICS[kind]} of the predictions as submitted" in out
    bound = {"forecast": ("<", 25.0), "binary": (">", 0.8), "multiclass": (">", 0.6), "classes": ("<", 0.9)}[kind]
    assert score < bound[1] if bound[0] == "<" else score > bound[1], (kind, score)
    # oof.feather: the headline's predictions as submitted, whose metric is the headline; each member's beside them
    from pipelines.tabular.blend import score_or_none
    from pipelines.tabular.schema import truth

    schema = Schema.read(tmp_path / "data" / comp / "processed")
    oof = pd.read_feather(tmp_path / "data" / comp / "runs" / "default" / "oof.feather")
    probs = [f"pred:{c}" for c in schema.classes]
    wide = bool(probs) and probs[0] in oof  # a probability a class
    scored = oof[probs[0] if wide else "pred"].notna().to_numpy()
    pred = oof.loc[scored, probs].to_numpy() if wide else oof.pred[scored].to_numpy()
    if kind == "multiclass":  # accuracy: the classes as submitted
        pred = np.array([[str(c) for c in schema.classes].index(p) for p in pred])
    assert score_or_none(get_metric(METRICS[kind]), truth(schema, oof)[scored], pred) == score
    assert (kind == "forecast") == (scored.sum() < len(oof))  # a time holdout scores its own rows; k-fold every row
    assert {schema.target_column, "fold"} <= set(oof.columns) and (schema.id in oof) == (
        kind != "forecast"
    )  # train's ids
    assert any(c == "gbdt" or c.startswith("gbdt:") for c in oof.columns), list(oof.columns)
    sub = pd.read_csv(tmp_path / "subs" / comp / "default.csv")
    sample = pd.read_csv(src / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sub.iloc[:, 0].tolist() == sample.iloc[:, 0].tolist()
    if kind == "forecast":  # the refit's epochs where the holdout network's loss was lowest
        assert result["validation"]["kind"] == "time" and result["validation"]["horizon_days"] == 30
        assert 3 <= result["net_epochs"]["refit"] <= 100 and "network epochs (refit)" in out
    else:  # a small table: two folds' networks watched, every fold's epochs chosen on another fold's held loss
        assert result["validation"]["kind"] == "kfold" and "net epochs [" in out and "fold 0's for the others" in out
        assert len(result["net_epochs"]) == 5 and all(3 <= e <= 28 for e in result["net_epochs"].values())


@pytest.mark.slow
def test_make_new_then_make_all_and_backtest(tmp_path):
    from makes import make as run_make

    src = write("binary", tmp_path / "src", n=1200)
    args = ["COMP=my-comp", f"DATA={tmp_path / 'data'}", f"SUBMISSIONS={tmp_path / 'subs'}"]

    def make(*a):
        return run_make(*a, *args, env={"KAGGLE_COMPETITIONS": str(tmp_path / "ext")}).stdout

    assert "the card of my-comp (tabular, auc)" in make("new", "METRIC=auc")
    make("download", f"SRC={src}")
    out = make("all", "ARGS=gbdt_rounds=200 net_epochs=8")  # the network's rule: 72 epochs a fold here
    assert "auc " in out and (tmp_path / "subs" / "my-comp" / "default.csv").is_file()
    table = make("backtest", "WINDOWS=cut0")  # the run's settings: 8 epochs, 200 rounds
    assert "backtest of my-comp run default (auc, higher is better" in table
    assert "peer lightgbm-defaults" in table  # the baseline to beat, on the same cut
    runs = make("runs")  # the backtest beside the run's figure, made with its settings and code: not stale
    assert re.search(
        r"oof_auc +0\.\d+ +5 folds, out of fold \(\d+ rows\) +cut0 0\.\d{5} +gbdt_rounds=200 net_epochs=8$", runs, re.M
    ), runs
    assert "stale" not in runs
    # another run's backtest on the same cut: the peer (LightGBM alone) is the first one's, read back
    other = make("backtest", "WINDOWS=cut0", "RUN=more", "ARGS=members=[gbdt] gbdt_rounds=50")
    assert re.search(r"backtest cut0: train peer-lightgbm-defaults-\w+\nrun: already trained with this config", other)
    (peer,) = (tmp_path / "data" / "my-comp" / "backtest").rglob("runs/peer-lightgbm-defaults-*")
    assert list(json.loads((peer / "result.json").read_text())["members"]) == ["gbdt"]  # LightGBM alone


def test_dates_labels_and_classes_read_as_written():
    assert date_format(pd.Series(["31/01/2013", "01/02/2013"])) == "%d/%m/%Y"  # one format for the column
    assert date_format(pd.Series(["01/31/2013", "02/01/2013"])) == "%m/%d/%Y"
    assert date_format(pd.Series(["2011-01-20 00:00:00", "2011-01-20 01:00:00"])) == "%Y-%m-%d %H:%M:%S"
    assert date_format(pd.Series(["1-2", "10-12"])) is None and date_format(pd.Series(["a", "b"])) is None
    assert date_format(pd.Series(["2017-06", "2016-11"])) == "%Y-%m"  # Elo's first_active_month
    assert date_format(pd.Series(["2009-06-15 17:26:21.0000001"])) == "%Y-%m-%d %H:%M:%S.%f"  # NYC Taxi's key


def test_a_time_with_its_zone_is_read_as_its_clock_showed_it():
    """NYC Taxi Fare's "2009-06-15 17:26:21 UTC", ISO's "Z" and offsets (mixed in one column, which pandas refuses
    whole): dates, their zones dropped; a zone after no time is not a date."""
    taxi = pd.Series(["2009-06-15 17:26:21 UTC", "2010-01-05 07:00:01 UTC", None], index=[7, 3, 5])
    assert date_format(taxi) == "%Y-%m-%d %H:%M:%S" + ZONED
    assert parse_dates(taxi, date_format(taxi))[:2].tolist() == [pd.Timestamp("2009-06-15 17:26:21"), pd.Timestamp("2010-01-05 07:00:01")]  # fmt: skip
    iso = pd.Series(["2016-07-01T05:00:00.5+02:00", "2016-12-01T05:00:00.25+01:00", "2016-12-02T06:30:00.0Z"])
    assert date_format(iso) == "%Y-%m-%dT%H:%M:%S.%f" + ZONED
    assert parse_dates(iso, date_format(iso)).dt.hour.tolist() == [5, 5, 6]
    assert parse_dates(pd.Series(["2016-07-01 05:00:00 UTC", "soon"]), "%Y-%m-%d %H:%M:%S" + ZONED, errors="coerce").isna().tolist() == [False, True]  # fmt: skip
    assert date_format(pd.Series(["2016-07-01 UTC", "2016-07-02 UTC"])) is None  # no time: not a zone's
    mixed = pd.Series(["2016-07-01 05:00:00", "2016-07-01 06:00:00 UTC"] * 3)  # whichever the sample holds
    assert date_format(mixed) == "%Y-%m-%d %H:%M:%S" + ZONED and parse_dates(mixed, date_format(mixed)).notna().all()
    assert date_format(pd.Series(["room 12:00 UTC"])) is None


def test_a_zoned_date_gives_its_hours_and_a_second_one_its_days(tmp_path, capsys):
    """NYC Taxi Fare's pickup_datetime ("... UTC") is the date, with its hour of day; it was read as free text."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import build_features

    raw = tmp_path / "data" / "t" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 300
    when = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, n), unit="min")
    frame = pd.DataFrame(
        {
            "key": range(n),
            "pickup_datetime": when.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "booked": (when - pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "passengers": rng.integers(1, 5, n),
        }
    )
    frame.iloc[:200].assign(fare=rng.random(200) * 20).to_csv(raw / "train.csv", index=False)
    frame.iloc[200:].to_csv(raw / "test.csv", index=False)
    frame.iloc[200:][["key"]].assign(fare=11.35).to_csv(raw / "sample_submission.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    build_features(Card(slug="t", metric="rmse"), Paths.for_comp("t", tmp_path / "data"), TabularConfig())
    out = capsys.readouterr().out
    assert "date 'pickup_datetime'; other dates as their days since 1970: ['booked']" in out and "free text" not in out
    processed = pd.read_feather(raw.parent / "processed" / "train.feather")
    hour = next(c for c in processed.columns if c.endswith("Hour"))
    assert np.corrcoef(processed[hour].to_numpy(), when[:200].hour)[0, 1] > 0.9999  # normalised hours
    days = (when[:200] - pd.Timedelta(days=2) - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    assert np.corrcoef(processed.booked.to_numpy(), days)[0, 1] > 0.9999  # normalised days
    assert label_text(pd.Series([4.0, None, 2.0])).tolist()[::2] == ["4", "2"]
    assert sort_classes([1, 10, 2]) == [1, 2, 10] and sort_classes(["b", "a"]) == ["a", "b"]


def test_an_id_that_is_the_date_keeps_its_ids_as_written(tmp_path, capsys):
    """NYC Taxi's key (2015-01-27 13:08:24.0000002) is the date too: its parts are features, and the processed ids,
    which the submission writes and the sample's must equal, stay as written (a parsed one printed otherwise)."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import build_features

    raw = tmp_path / "data" / "t" / "raw"
    raw.mkdir(parents=True)
    when = pd.Timestamp("2012-01-01") + pd.to_timedelta(np.arange(300) * 7919, unit="min")
    frame = pd.DataFrame({"key": when.strftime("%Y-%m-%d %H:%M:%S.000000") + (np.arange(300) % 9).astype(str)})
    frame["x"] = np.arange(300) % 7
    frame.iloc[::3].to_csv(raw / "test.csv", index=False)
    frame.drop(index=frame.index[::3]).assign(fare=np.arange(200.0)).to_csv(raw / "train.csv", index=False)
    frame.iloc[::3][["key"]].assign(fare=11.35).to_csv(raw / "sample_submission.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    build_features(Card(slug="t", metric="rmse"), Paths.for_comp("t", tmp_path / "data"), TabularConfig())
    assert "date 'key'" in capsys.readouterr().out
    processed = raw.parent / "processed"
    assert pd.read_feather(processed / "test.feather").key.tolist() == frame.key.iloc[::3].tolist()
    train = pd.read_feather(processed / "train.feather")
    assert train.key.tolist() == frame.key.drop(index=frame.index[::3]).tolist()
    assert "_id_as_written" not in train.columns and {"keyHour", "keyYear"} <= set(train.columns)


def test_rows_trains_on_the_latest_whole_days_or_a_random_sample(tmp_path, capsys, monkeypatch):
    """rows=N for a table too large to train on whole: the latest days (whole) where the test comes after train,
    else N rows at random (fold_seed); every test row kept. train.csv is read in chunks keeping only the rows either
    rule could choose: the same rows as read whole (a card with features= reads so), whatever the chunks' size."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig, rows
    from pipelines.tabular.features import build_features

    rng = np.random.default_rng(0)
    days = pd.Timestamp("2015-01-01") + pd.to_timedelta(np.repeat(np.arange(33), 10), unit="D")  # 10 rows a day
    frame = pd.DataFrame({"id": range(330), "date": days.strftime("%Y-%m-%d"), "x": rng.random(330)})
    later = (frame.iloc[:300], frame.iloc[300:])  # the test's three days after train's thirty
    mixed = (frame[frame.id % 11 > 0], frame[frame.id % 11 == 0])  # the test's days among train's
    monkeypatch.setattr(rows, "MANY_ROWS", 250)
    cfg = TabularConfig(rows=95, fold_seed=3)
    for name, (train, test), want in (
        ("later", later, "90 of train's 300 labelled rows, the latest, whole days from 2015-01-22"),
        ("mixed", mixed, "95 of train's 300 labelled rows, a random sample (fold_seed 3)"),
    ):
        raw = tmp_path / name / "d" / "raw"
        raw.mkdir(parents=True)
        train.assign(y=rng.random(300)).to_csv(raw / "train.csv", index=False)
        test.to_csv(raw / "test.csv", index=False)
        test[["id"]].assign(y=0.0).to_csv(raw / "sample_submission.csv", index=False)
        (raw / "SOURCE.json").write_text("{}")
        paths = Paths.for_comp("d", raw.parent.parent)
        build_features(Card(slug="d", metric="rmse"), paths, TabularConfig())
        assert "300 labelled rows: every member fits each fold on all of them" in capsys.readouterr().out
        build_features(Card(slug="d", metric="rmse", features=lambda tr, te, raw: (tr, te)), paths, cfg)
        assert f"rows=95: {want}; every test row" in capsys.readouterr().out
        whole = pd.read_feather(raw.parent / "processed" / "train.feather")
        assert len(pd.read_feather(raw.parent / "processed" / "test.feather")) == len(test)
        if name == "later":  # nine whole days (95 rows would cut the tenth), the last of train's
            assert sorted(whole.id) == list(range(210, 300))
        else:
            assert len(whole) == 95 and set(whole.id) <= set(train.id)
        for block in (rows.BLOCK, 1000, 200):  # one block, 12 of about 25 rows, 57 of about 5 (40 bytes a row)
            monkeypatch.setattr(rows, "BLOCK", block)
            build_features(Card(slug="d", metric="rmse"), paths, cfg)
            out = capsys.readouterr().out
            kept = int(re.search(r"rows=95: train.csv read in pieces, (\d+) of its 300 labelled rows kept", out)[1])
            assert 95 < kept < 300 and f"rows=95: {want}; every test row" in out
            chunked = pd.read_feather(raw.parent / "processed" / "train.feather")
            pd.testing.assert_frame_equal(chunked, whole)


def test_rows_in_pieces_ranks_labelled_rows_and_refuses_a_date_it_could_not_rank(tmp_path, monkeypatch, capsys):
    """Read in pieces, rows= trains on the rows a whole read would: the labelled ones (a blank target is no row to
    draw or rank), at random or the latest days; a date column of few days (a snapshot) keeps N+1 rows, not all;
    a date the first rows read in another format (01/02 as 2 January where later rows say 13/01) is refused with
    the fix, not cut by the wrong days."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig, rows
    from pipelines.tabular.features import build_features

    rng = np.random.default_rng(0)
    days = pd.date_range("2015-01-01", periods=40).repeat(10)
    frame = pd.DataFrame(
        {"id": range(400), "date": days.strftime("%Y-%m-%d"), "x": rng.random(400), "y": rng.random(400)}
    )
    frame["snapshot"] = "2016-01-31"  # a test column of dates too, of one day

    def built(name, train, test, cfg, hook=None):
        raw = tmp_path / name / "d" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        train.to_csv(raw / "train.csv", index=False)
        test.drop(columns="y").to_csv(raw / "test.csv", index=False)
        test[["id"]].assign(y=0.0).to_csv(raw / "sample_submission.csv", index=False)
        (raw / "SOURCE.json").write_text("{}")
        card = Card(slug="d", metric="rmse", features=hook)
        build_features(card, Paths.for_comp("d", raw.parent.parent), cfg)
        return sorted(pd.read_feather(raw.parent / "processed" / "train.feather").id)

    mixed = frame[frame.id % 11 > 0].assign(y=lambda f: f.y.where(f.id % 3 > 0))  # a third without a target
    later = frame.iloc[:360].assign(y=lambda f: f.y.where(f.id < 260))  # train.csv's last ten days without one
    whole = lambda tr, te, raw: (tr, te)  # noqa: E731 (a card with features= reads train.csv whole)
    for name, train, test, cfg in (
        ("mixed", mixed, frame[frame.id % 11 == 0], TabularConfig(rows=60, fold_seed=3)),
        ("later", later, frame.iloc[360:], TabularConfig(rows=100)),
    ):
        want = built(name + "-whole", train, test, cfg, whole)
        assert len(want) == cfg.rows and (name == "mixed" or want == list(range(160, 260)))
        for block in (rows.BLOCK, 2000):
            monkeypatch.setattr(rows, "BLOCK", block)
            assert built(name, train, test, cfg) == want
    capsys.readouterr()
    built("snapshot", frame.iloc[:360], frame.iloc[360:], TabularConfig(rows=50, horizon=1))
    kept = int(re.search(r"read in pieces, (\d+) of its 360 labelled rows kept", capsys.readouterr().out)[1])
    assert kept <= 50 + 51 + 51  # the draws', the date's and the snapshot's; its whole day would be all 360
    monkeypatch.setattr(rows, "HEAD", 50)  # days 1..5 of January: 01/02/2015 reads as 2 January too
    dayfirst = frame.assign(date=days.strftime("%d/%m/%Y"))
    with pytest.raises(SchemaError, match=r"rows=50: the latest days of 'date' \(%d/%m/%Y\) cannot be told.*kfold"):
        built("dayfirst", dayfirst.iloc[:360], dayfirst.iloc[360:], TabularConfig(rows=50, horizon=1))


def test_rows_leaves_out_rows_without_a_date_and_counts_the_rest(capsys):
    """The latest whole days of rows that have a date: a blank date is never among the latest, and does not move
    where the cut falls (np.sort puts NaT last)."""
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.rows import fewer_rows

    days = [*np.repeat(pd.date_range("2020-01-01", periods=3), 4), pd.NaT, pd.NaT, pd.NaT]
    train = pd.DataFrame({"d": days, "y": range(15)})
    schema = Schema.__new__(Schema)
    schema.date = "d"
    test = pd.DataFrame({"d": [pd.Timestamp("2020-01-05")]})
    for rows, kept in ((8, [4, 5, 6, 7, 8, 9, 10, 11]), (4, [8, 9, 10, 11])):
        out, extra = fewer_rows(schema, train, np.zeros(15, bool), test, TabularConfig(rows=rows))
        assert out.y.tolist() == kept and len(extra) == len(kept)
        assert "(3 rows without a date left out)" in capsys.readouterr().out


def test_dates_beside_the_date_are_numbers_of_days_not_dropped(tmp_path, capsys):
    """Airbnb's date_account_created beside date_first_booking (blank for most), Elo's first_active_month
    (2017-06): the date's parts come from one date; the others were dropped as 'a second date column'."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import build_features

    raw = tmp_path / "data" / "d" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 300
    created = pd.Timestamp("2014-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    booked = created + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    frame = pd.DataFrame(
        {
            "id": range(n),
            "first_active_month": created.strftime("%Y-%m"),  # first, yet a month: not the date
            "created": created.strftime("%Y-%m-%d"),
            "booked": np.where(rng.random(n) < 0.6, "", booked.strftime("%Y-%m-%d")),
        }
    )
    frame.iloc[:200].assign(y=rng.integers(0, 2, 200)).to_csv(raw / "train.csv", index=False)
    frame.iloc[200:].to_csv(raw / "test.csv", index=False)
    frame.iloc[200:][["id"]].assign(y=0.5).to_csv(raw / "sample_submission.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    build_features(Card(slug="d", metric="auc"), Paths.for_comp("d", tmp_path / "data"), TabularConfig())
    assert (
        "date 'created'; other dates as their days since 1970: ['first_active_month', 'booked']"
        in capsys.readouterr().out
    )
    processed = pd.read_feather(raw.parent / "processed" / "train.feather")
    days = (booked[:200] - pd.Timestamp("1970-01-01")).days.to_numpy()
    known = frame.booked.iloc[:200].ne("").to_numpy()
    assert np.corrcoef(processed.booked.to_numpy()[known], days[known])[0, 1] > 0.9999  # normalised days
    assert ((processed["booked_na"] == 2) == ~known).all()  # Categorify: False 1, True 2


def test_a_blank_the_card_fills_means_its_value_and_the_others_are_named_with_the_fix(tmp_path, capsys, caplog):
    """House Prices: a blank GarageArea is a house with no garage (fill= 0, in train and test alike, no `_na` flag);
    a blank only the test has gets train's median, and the warning names the card line that says otherwise."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import build_features

    raw = tmp_path / "data" / "h" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "Id": range(n),
            "GarageArea": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(200, 800, n)),
            "BsmtSF": rng.uniform(100, 900, n),
            "Zone": rng.choice(["RL", "RM"], n),
        }
    )
    frame.loc[250, "BsmtSF"] = np.nan  # a test row's blank; train has none
    frame.iloc[:200].assign(SalePrice=rng.uniform(1e5, 3e5, 200)).to_csv(raw / "train.csv", index=False)
    frame.iloc[200:].to_csv(raw / "test.csv", index=False)
    frame.iloc[200:][["Id"]].assign(SalePrice=1.0).to_csv(raw / "sample_submission.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    paths = Paths.for_comp("h", tmp_path / "data")
    build_features(Card(slug="h", metric="rmsle", fill={"GarageArea": 0}), paths, TabularConfig())
    train, test = (pd.read_feather(raw.parent / "processed" / f"{s}.feather") for s in ("train", "test"))
    assert "GarageArea_na" not in train.columns and "BsmtSF_na" not in train.columns
    blank = frame.GarageArea.isna().to_numpy()
    # normalised: a filled blank is the value 0's, below every garage's
    assert train.GarageArea[blank[:200]].nunique() == 1 and test.GarageArea[blank[200:]].nunique() == 1
    assert train.GarageArea[blank[:200]].iloc[0] < train.GarageArea[~blank[:200]].min()
    assert test.GarageArea[blank[200:]].iloc[0] == train.GarageArea[blank[:200]].iloc[0]
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "{'BsmtSF': 1} in columns with none in train" in warned and "fill={'BsmtSF': 0}" in warned
    for fill, why in (
        ({"Zone": 0}, "fill= names 'Zone', a category: its blank is a class of its own"),
        ({"garagearea": 0}, "fill= names 'garagearea', not a column of both train.csv and test.csv (did you mean 'GarageArea'?)"),
    ):  # fmt: skip
        with pytest.raises(SchemaError, match=re.escape(why)):
            build_features(Card(slug="h", metric="rmsle", fill=fill), paths, TabularConfig())
    with pytest.raises(ValueError, match=re.escape("fill={'GarageArea': '0'}: a number for each column")):
        Card(slug="h", metric="rmsle", fill={"GarageArea": "0"})


@pytest.mark.parametrize(
    ("metric", "task", "honest", "pred"),
    [
        ("rmsle", "regression", np.array([1.5, 2.5]), {"pred": [1.5, None, 2.5]}),  # the target's units
        ("auc", "binary", np.array([0.2, 0.9]), {"pred": [0.2, None, 0.9]}),  # P(the later class)
        ("f1", "binary", np.array([0, 1]), {"pred": ["no", None, "yes"]}),  # the class at the chosen threshold
        ("qwk", "multiclass", np.array([2, 0]), {"pred": ["hi", None, "lo"]}),  # an ordinal number cut into classes
        ("mlogloss", "multiclass", np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]), {"pred:mid": [0.2, None, 0.3]}),
        ("map@3", "multiclass", np.array([[2, 1, 3], [0, 2, 1]]), {"pred": ["hi mid top", None, "lo hi mid"]}),
    ],
)
def test_oof_feather_holds_the_headlines_predictions_as_submitted_and_each_members(metric, task, honest, pred):
    """Every form a submission takes, on the scored rows (0 and 2 here; 1 is a time holdout's fit row: blank)."""
    from pipelines.tabular.steps import oof_table

    classes = {"binary": ["no", "yes"], "multiclass": ["lo", "mid", "hi"]}.get(task, [])
    classes += ["top"] if metric == "map@3" else []  # each row's top 3 of 4, ranked, as submitted
    schema = Schema("Id", ["y"], None, task, classes, None, None, [], [], ["x"])
    frame = pd.DataFrame({"Id": [7, 8, 9], "y": ["a", "b", "c"]})
    member = np.arange(3.0) if np.ndim(honest) == 1 or metric.startswith("map") else np.ones((3, 3))
    table = oof_table(
        schema, get_metric(metric), frame, np.array([0, -1, 1]), np.array([True, False, True]), honest, {"gbdt": member}
    )
    assert table.Id.tolist() == [7, 8, 9] and table.y.tolist() == ["a", "b", "c"] and table.fold.tolist() == [0, -1, 1]
    for column, values in pred.items():
        got = table[column].tolist()
        assert [None if pd.isna(v) else v for v in got] == values, (column, got)
    assert "gbdt" in table or "gbdt:lo" in table  # each member's, on the scale it learns


def frames(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    train = pd.DataFrame({"id": [f"{i:06d}" for i in range(n)], "leak": x > 0, "x": x, "z": rng.normal(size=n)})
    return rng, x, train


def quirky(kind: str):
    """(card lines, train, test, sample) of the review's cases."""
    rng, x, train = frames()
    test = train[["id", "x", "z"]].iloc[:200].assign(id=[f"{i:06d}" for i in range(900, 1100)])
    if kind == "renamed":  # the card's target= differs from the sample's column name
        train["loss"] = 3 * x + rng.normal(size=len(x))
        return 'target="loss",', train, test, test[["id"]].assign(Predicted=0.0)
    if kind == "empty_in_test":
        train["y"] = (x + rng.normal(size=len(x)) > 0).astype(int)
        return "", train, test.assign(z=np.nan), test[["id"]].assign(y=0.5)
    if kind == "two_columns":  # binary log loss with one column per class (id,no,yes)
        train["answer"] = np.where(x + rng.normal(size=len(x)) > 0, "yes", "no")
        return "", train, test, test[["id"]].assign(no=0.5, yes=0.5)
    if kind == "positive":  # text labels, the scored class the earlier one (Attrited of Attrited/Existing)
        train["y"] = np.where(x + rng.normal(size=len(x)) > 0, "Existing", "Attrited")
        return 'positive="Attrited",', train, test, test[["id"]].assign(y=0.5)
    if kind == "map3":
        train["y"] = np.digitize(x, [-1, 0, 1]).astype(float)
        train.loc[::50, "y"] = np.nan  # an integer class read as floats
        return "", train, test, test[["id"]].assign(y="0 1 2")
    if kind == "ordinal":  # five ordered classes 1..5
        train["y"] = 1 + np.digitize(x + rng.normal(0, 0.4, len(x)), [-1.2, -0.4, 0.4, 1.2])
        return "", train, test, test[["id"]].assign(y=1)
    if kind == "f1":  # imbalanced: the threshold chosen out of fold, not 0.5
        train["y"] = (x + rng.normal(size=len(x)) > 1.3).astype(int)
        return "", train, test, test[["id"]].assign(y=0)
    if kind == "no_id":  # Digit Recognizer: no id in test, the sample's ImageId 1..n; train's label, its Label
        train = train.drop(columns=["id", "leak"]).assign(label=np.digitize(x, [-0.5, 0.5]))
        return "", train, test.drop(columns="id"), pd.DataFrame({"ImageId": np.arange(1, 201), "Label": 0})
    if kind == "prefixed":  # Cirrhosis (Playground S3E26): train's Status C/CL/D, the sample's Status_C, ...
        train["Status"] = np.array(["C", "CL", "D"])[np.digitize(x, [-0.5, 0.5])]
        return "", train, test, test[["id"]].assign(Status_C=0.4, Status_CL=0.2, Status_D=0.4)
    if kind == "id_second":  # the sample's id is its second column (Prudential's Response,Id): the one test.csv has
        train["y"] = (x + rng.normal(size=len(x)) > 0).astype(int)
        return "", train, test, test[["id"]].assign(y=0.5)[["y", "id"]]
    if kind == "id_case":  # the sample's ID, train's and test's id
        train["y"] = (x + rng.normal(size=len(x)) > 0).astype(int)
        return "", train, test, test[["id"]].rename(columns={"id": "ID"}).assign(y=0.5)
    if kind == "hourly":  # the id is the timestamp (Bike Sharing)
        stamps = pd.date_range("2012-01-01", periods=800, freq="h")
        train = pd.DataFrame({"datetime": stamps[:600].strftime("%Y-%m-%d %H:%M:%S")})
        train["count"] = 100 + 50 * np.sin(stamps[:600].hour / 24 * 2 * np.pi) + rng.normal(0, 5, 600)
        test = pd.DataFrame({"datetime": stamps[650:].strftime("%Y-%m-%d %H:%M:%S")})
        return "", train, test, test[["datetime"]].assign(count=0)
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind, metric, check",
    [
        ("renamed", "rmse", lambda sub, r: list(sub.columns) == ["id", "Predicted"]),
        ("renamed", "r2", lambda sub, r: r["score"] > 0.8),  # Mercedes-Benz's metric: higher is better
        ("id_case", "gini", lambda sub, r: 0.4 < r["score"] < 1 and sub.y.between(0, 1).all()),  # Porto Seguro's
        ("empty_in_test", "auc", lambda sub, r: r["dropped"]["z"] == "empty in test.csv"),
        ("two_columns", "logloss", lambda sub, r: r["score"] < 0.6 and (sub.no + sub.yes).round(6).eq(1).all()),
        (
            "map3",
            "map@3",
            lambda sub, r: (
                sub.y.str.split().map(len).eq(3).all() and set(sub.y.iloc[0].split()) <= {"0", "1", "2", "3"}
            ),
        ),
        ("f1", "f1", lambda sub, r: r["threshold"] < 0.45 and r["score"] > 0.5),
        (  # the probability of Attrited, which falls with x
            "positive",
            "auc",
            lambda sub, r: (
                r["classes"] == ["Existing", "Attrited"]
                and r["score"] > 0.7
                and np.corrcoef(sub.y, frames()[1][:200])[0, 1] < -0.5
            ),
        ),
        ("hourly", "rmsle", lambda sub, r: r["score"] < 0.15 and "datetimeHour" in r["numbers"]),
        (  # PetFinder's AdoptionSpeed: ordered classes learned as a number, cut where out of fold chose
            "ordinal",
            "qwk",
            lambda sub, r: (
                len(r["cuts"]) == 4
                and r["cuts"] == sorted(r["cuts"])
                and set(sub.y) <= {1, 2, 3, 4, 5}
                and r["score"] > 0.7
            ),
        ),
        ("no_id", "accuracy", lambda sub, r: sub.ImageId.tolist() == list(range(1, 201)) and r["score"] > 0.8),
        ("id_case", "auc", lambda sub, r: list(sub.columns) == ["ID", "y"] and r["score"] > 0.7),
        ("id_second", "auc", lambda sub, r: list(sub.columns) == ["y", "id"] and r["score"] > 0.7),
        (
            "prefixed",
            "mlogloss",
            lambda sub, r: r["classes"] == ["C", "CL", "D"] and r["score"] < 0.6 and sub.Status_D.iloc[:50].std() > 0.1,
        ),
    ],
)
def test_the_reviews_competitions(tmp_path, monkeypatch, kind, metric, check, capsys):
    """Ids with leading zeros kept, target= written under the sample's name, a column empty in test dropped,
    one column per class of a binary target, map@3's ranked labels (integer classes read as floats written as
    integers), f1's threshold chosen out of fold, and an id that is the timestamp (hours as features)."""
    lines, train, test, sample = quirky(kind)
    src = tmp_path / "src"
    src.mkdir()
    for name, frame in (("train", train), ("test", test), ("sample_submission", sample)):
        frame.to_csv(src / f"{name}.csv", index=False)
    name = re.sub(r"\W", "_", f"q_{kind}_{metric}")  # a package of its own: one kind under two metrics
    pkg = tmp_path / "ext" / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        f'from pipelines.tabular import Card\n\nCARD = Card(slug="q", metric="{metric}", {lines})\n'
    )
    comp = name.replace("_", "-")
    own_competitions(tmp_path, monkeypatch)
    # 8 epochs a fold: the cases are the files' quirks; the network's epoch rule (72 a fold here, two folds watched
    # besides: 336 epochs in all) has tests of its own
    run_chain(comp, src, tmp_path, capsys, 200, "net_epochs=8")
    sub = pd.read_csv(tmp_path / "subs" / comp / "default.csv", dtype={"id": str, "ID": str})
    if "id" in sub or "ID" in sub:
        assert sub.get("id", sub.get("ID")).iloc[0] == "000900"  # the zeros of the id kept
    folder = tmp_path / "data" / comp
    result = json.loads((folder / "runs" / "default" / "result.json").read_text())
    schema = json.loads((folder / "processed" / "schema.json").read_text())
    info = {
        **schema,
        "score": result[f"oof_{get_metric(metric).name}"],
        **{k: result.get(k) for k in ("threshold", "cuts")},
    }
    procs = json.loads((folder / "processed" / "procs.json").read_text())
    info["numbers"] = procs.get("cont_names", [])
    assert check(sub, info), (kind, info["score"], info.get("threshold"))


def test_a_test_without_ids_is_numbered_as_the_sample_and_so_is_its_backtest_cut(tmp_path, capsys):
    """Digit Recognizer: test.csv has no id; the sample's ImageId runs 1..n in order, so the test's rows are those
    ids, said; the backtest's cut numbers its hidden rows from 1 too, with no id column in its test, and its
    answers under the sample's name (Label), not train's (label). Ids that do not run in order are not guessed."""
    from pipelines.tabular.backtest import cut
    from pipelines.tabular.schema import align_ids

    _, train, test, sample = quirky("no_id")
    _, numbered = align_ids("ImageId", train, test, sample, FILES)
    assert numbered.columns[0] == "ImageId" and numbered.ImageId.tolist() == list(range(1, 201))
    assert "numbered as sample_submission.csv's 'ImageId' (1..200, in order)" in capsys.readouterr().out
    assert "ImageId" not in align_ids("ImageId", train, test, sample.iloc[::-1], FILES)[1]
    raw, dest = tmp_path / "raw", tmp_path / "cut"
    raw.mkdir()
    for name, frame in (("train", train), ("test", test), ("sample_submission", sample)):
        frame.to_csv(raw / f"{name}.csv", index=False)
    hidden = cut(Card(slug="d", metric="accuracy"), raw, dest, 0)
    assert list(hidden.columns) == ["ImageId", "Label"] and hidden.ImageId.iloc[0] == 1
    assert "ImageId" not in pd.read_csv(dest / "test.csv", nrows=0).columns
    assert pd.read_csv(dest / "sample_submission.csv").ImageId.tolist() == hidden.ImageId.tolist()
    # 784 pixel columns: the cut's numbering warned (pandas' PerformanceWarning, a fragmented frame) on every backtest
    wide = pd.DataFrame(np.zeros((len(train), 150), np.int64), columns=[f"p{i}" for i in range(150)])
    for name, frame in (("train", train), ("test", test)):
        pd.concat([frame.reset_index(drop=True), wide.iloc[: len(frame)]], axis=1).to_csv(
            raw / f"{name}.csv", index=False
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        assert cut(Card(slug="d", metric="accuracy"), raw, tmp_path / "wide", 0).ImageId.iloc[0] == 1


def test_kfold_and_the_backtest_keep_each_day_whole_where_test_days_interleave(tmp_path):
    """Bike Sharing: train days 1-19 of each month, test days 20-end, hourly. Hours of one day are alike, so a
    random hour in another fold than its neighbours flatters the out-of-fold score: each day is in one fold (and
    one backtest side), stratified for classification; with no date, each series the card names. Only where the
    test's days are none of train's."""
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.backtest import cut
    from pipelines.tabular.validation import assign, choose_validation

    stamps = pd.date_range("2011-01-01", "2011-06-30 23:00", freq="h")
    frame = pd.DataFrame({"datetime": stamps.strftime("%Y-%m-%d %H:%M:%S"), "x": np.arange(len(stamps)) % 24})
    frame["count"] = frame.x * 3 + stamps.month
    train, test = frame[stamps.day < 20], frame[stamps.day >= 20].drop(columns="count")
    sample = test[["datetime"]].assign(count=0)
    schema = infer(Card(slug="b", metric="rmsle"), train, test, sample, FILES)
    parsed = [f.assign(datetime=pd.to_datetime(f.datetime)) for f in (train, test)]
    validation = choose_validation(schema, *parsed, TabularConfig())
    assert validation["kind"] == "kfold" and "each day in one fold" in validation["why"]
    days = parsed[0].datetime.dt.date
    for s in (schema, replace(schema, task="binary", classes=[0, 1], targets=["odd"])):
        folds = assign(s, parsed[0].assign(odd=parsed[0].x % 2), validation, TabularConfig())
        assert pd.Series(folds).groupby(days.to_numpy()).nunique().eq(1).all() and set(folds) == set(range(5))
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, f in (("train", train), ("test", test), ("sample_submission", sample)):
        f.to_csv(raw / f"{name}.csv", index=False)
    hidden = cut(Card(slug="b", metric="rmsle"), raw, tmp_path / "cut", 0)
    kept = pd.read_csv(tmp_path / "cut" / "train.csv").datetime.str[:10]
    assert not set(kept) & set(hidden.datetime.str[:10]) and 0.1 < len(hidden) / len(train) < 0.3
    series = replace(schema, date=None, date_format=None, series=["x"])
    assert pd.Series(fold_groups(series, train, "series")).groupby(train.x.to_numpy()).nunique().eq(1).all()
    # a test drawn from train's own days (Taxi Fare) or hours: plain k-fold, said so
    shared = [f.assign(datetime=pd.to_datetime(f.datetime)) for f in (frame.iloc[::2], frame.iloc[1::2])]
    validation = choose_validation(schema, *shared, TabularConfig())
    assert validation["group"] == "" and "one fold" not in validation["why"]
    undated = train.assign(datetime=train.datetime.where(stamps[stamps.day < 20].hour != 5))  # a row a day: no date
    groups = fold_groups(schema, undated, "day")
    assert len(set(groups[undated.datetime.isna().to_numpy()])) == undated.datetime.isna().sum()  # one group each


def test_files_as_kaggle_writes_them_read_into_features(tmp_path, monkeypatch, capsys):
    """Numbers written as text with a blank among them (Telco's TotalCharges) are numbers; a column name LightGBM
    refuses (`Air temperature [K]`) is renamed, said; a column in train and an extra table (Walmart's IsHoliday)
    kept once; a numeric id stays a number (a feature function or a table joins on it as read), an id with
    leading zeros text."""
    from pipelines.paths import Paths
    from pipelines.tabular.features import build_features, read_csv

    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    charges = [f"{v:.2f}" if i % 50 else " " for i, v in enumerate(np.abs(x) * 100)]
    train = pd.DataFrame({"id": range(n), "Air temperature [K]": x, "TotalCharges": charges, "store": np.arange(n) % 4})
    train = train.assign(IsHoliday=np.arange(n) % 7 == 0, y=(x > 0).astype(int))
    raw = tmp_path / "data" / "w" / "raw"
    raw.mkdir(parents=True)
    train.iloc[:300].to_csv(raw / "train.csv", index=False)
    train.iloc[300:].drop(columns="y").to_csv(raw / "test.csv", index=False)
    train.iloc[300:][["id"]].assign(y=0.5).to_csv(raw / "sample_submission.csv", index=False)
    pd.DataFrame({"store": range(4), "size": [1, 2, 3, 4], "IsHoliday": False}).to_csv(raw / "stores.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    card = Card(slug="w", metric="auc", tables={"stores.csv": ("store",)})
    from pipelines.tabular import TabularConfig

    build_features(card, Paths.for_comp("w", tmp_path / "data"), TabularConfig())
    out = capsys.readouterr().out
    assert "TotalCharges: numbers written as text; 8 values not numbers read as missing" in out
    assert "{'Air temperature [K]': 'Air temperature _K_'}" in out and "['IsHoliday'] also in train.csv" in out
    schema = json.loads((raw.parent / "processed" / "schema.json").read_text())
    assert {"Air temperature _K_", "TotalCharges", "size"} <= set(schema["numbers"])
    assert "IsHoliday" in schema["categories"] and "IsHoliday_y" not in schema["categories"]
    assert pd.api.types.is_integer_dtype(read_csv(raw / "test.csv", "", ("ID",)).id)  # matched in any case
    (tmp_path / "z.csv").write_text("id,x\n0012,1\n0340,2\n")
    assert read_csv(tmp_path / "z.csv", "", ("id",)).id.tolist() == ["0012", "0340"]


def test_a_table_of_several_rows_a_key_joins_as_one_row_a_key(tmp_path, capsys):
    """Home Credit's bureau.csv: several past credits an applicant, none for some. It joined as a refusal ("rows
    share a key"); now as each applicant's count of rows and their numbers', dates' and categories' summaries,
    the table's own row id left out, an applicant without rows counted 0."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import build_features, join_tables

    raw = tmp_path / "data" / "hc" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    apps = pd.DataFrame({"SK_ID_CURR": range(100, 160), "income": rng.normal(size=60)})
    owners = np.repeat(np.arange(100, 150), rng.integers(1, 5, 50))  # 150..159: no bureau row
    bureau = pd.DataFrame(
        {
            "SK_ID_BUREAU": np.arange(len(owners)) + 5000,
            "SK_ID_CURR": owners,
            "debt": [f"{v:.1f}" if i % 9 else "" for i, v in enumerate(rng.lognormal(size=len(owners)))],
            "status": rng.choice(["Active", "Closed"], len(owners)),
            "opened": rng.choice(["2019-03-01", "2020-07-15", "2021-01-31"], len(owners)),
            "note": [f"free words number {i}" for i in range(len(owners))],
            "income": rng.normal(size=len(owners)),  # a name train has too: its summaries are columns of their own
        }
    )
    bureau.to_csv(raw / "bureau.csv", index=False)
    apps.iloc[:40].assign(TARGET=rng.integers(0, 2, 40)).to_csv(raw / "train.csv", index=False)
    apps.iloc[40:].to_csv(raw / "test.csv", index=False)
    apps.iloc[40:][["SK_ID_CURR"]].assign(TARGET=0.5).to_csv(raw / "sample_submission.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    card = Card(slug="hc", metric="auc", tables={"bureau.csv": "SK_ID_CURR"})
    train, test = join_tables(card, raw, apps.iloc[:40], apps.iloc[40:], {"SK_ID_CURR", "TARGET"})
    out = capsys.readouterr().out
    assert f"bureau.csv: {len(bureau):,} rows, 50 keys ['SK_ID_CURR']: joined as one row a key" in out
    assert "left out: SK_ID_BUREAU (a row id), note (text)" in out
    assert len(train) == 40 and len(test) == 20
    counts = bureau.SK_ID_CURR.value_counts()
    assert test.bureau_rows.tolist() == [counts.get(i, 0) for i in test.SK_ID_CURR]  # 150..159: 0
    debt = pd.to_numeric(bureau.debt).groupby(bureau.SK_ID_CURR).sum()  # "" is missing
    assert np.allclose(train.bureau_debt_sum, debt.reindex(train.SK_ID_CURR).to_numpy())
    assert set(train.bureau_opened_last.dropna()) <= {17956.0, 18458.0, 18658.0}  # days since 1970
    assert np.allclose(train["bureau_status=Active"] + train["bureau_status=Closed"], 1)
    assert not [c for c in train.columns if "SK_ID_BUREAU" in c or "note" in c]
    assert np.allclose(train.bureau_income_max, bureau.groupby("SK_ID_CURR").income.max().reindex(train.SK_ID_CURR))

    build_features(card, Paths.for_comp("hc", tmp_path / "data"), TabularConfig())
    schema = json.loads((raw.parent / "processed" / "schema.json").read_text())
    added = {"bureau_rows", "bureau_debt_mean", "bureau_opened_first", "bureau_status_distinct"}
    assert added <= set(schema["numbers"])

    # bureau_balance.csv: each credit's months, keyed by bureau.csv's own id; it folds into bureau.csv first
    months = np.repeat(bureau.SK_ID_BUREAU.to_numpy()[::2], 3)  # every other credit: 3 months; the others none
    balance = pd.DataFrame(
        {"SK_ID_BUREAU": months, "late": rng.integers(0, 3, len(months)), "city_id": rng.integers(0, 9, len(months))}
    )
    balance.to_csv(raw / "bureau_balance.csv", index=False)
    nested = replace(card, tables={"bureau.csv": ("SK_ID_CURR",), "bureau_balance.csv": ("SK_ID_BUREAU",)})
    train, _ = join_tables(nested, raw, apps.iloc[:40], apps.iloc[40:], {"SK_ID_CURR", "TARGET"})
    assert "join bureau_balance.csv onto bureau.csv: " in capsys.readouterr().out  # the credits without months
    late = balance.groupby("SK_ID_BUREAU").late.sum().reindex(bureau.SK_ID_BUREAU, fill_value=np.nan)
    per_credit = bureau.assign(late=late.to_numpy(), months=np.where(late.notna(), 3, 0))
    expected = per_credit.groupby("SK_ID_CURR")[["late", "months"]].mean().reindex(train.SK_ID_CURR)
    assert np.allclose(train.bureau_bureau_balance_late_sum_mean, expected.late, equal_nan=True)
    assert np.allclose(train.bureau_bureau_balance_rows_mean, expected.months)  # a credit without months: 0
    assert "bureau_bureau_balance_city_id_distinct_mean" in train  # a code's distinct count: a number one up
    # previous.csv (one row a SK_ID_PREV) with two tables of months keyed by it, each holding SK_ID_PREV too
    prev = pd.DataFrame({"SK_ID_PREV": range(900, 960), "SK_ID_CURR": np.arange(100, 160) // 2 * 2, "amt": 1.0})
    prev.to_csv(raw / "previous.csv", index=False)
    for name in ("pos.csv", "inst.csv"):
        pd.DataFrame({"SK_ID_PREV": np.repeat(prev.SK_ID_PREV, 2), "paid": rng.normal(size=120)}).to_csv(
            raw / name, index=False
        )
    three = {"previous.csv": ("SK_ID_CURR",), "pos.csv": ("SK_ID_PREV",), "inst.csv": ("SK_ID_PREV",)}
    train, _ = join_tables(replace(card, tables=three), raw, apps.iloc[:40], apps.iloc[40:], set())
    assert {"previous_pos_paid_mean_mean", "previous_inst_paid_max_min"} <= set(train.columns)  # onto previous.csv
    with pytest.raises(
        ValueError, match=r"joins bureau_balance.csv on \['late'\]: .*no other table of the card has them"
    ):
        join_tables(replace(nested, tables={"bureau_balance.csv": ("late",)}), raw, apps, apps, set())
    pd.DataFrame({"SK_ID_BUREAU": [1], "x": [2]}).to_csv(raw / "a.csv", index=False)
    pd.DataFrame({"SK_ID_BUREAU": [1], "x": [2]}).to_csv(raw / "b.csv", index=False)
    with pytest.raises(ValueError, match=r"keys \['a.csv', 'b.csv'\] by each other's columns: none joins onto train"):
        join_tables(replace(nested, tables={"a.csv": ("x",), "b.csv": ("SK_ID_BUREAU",)}), raw, apps, apps, set())


def test_tables_keyed_as_kaggle_writes_them_join_and_their_ids_and_codes_are_read_as_such(tmp_path, capsys):
    """Trial 49's edge cases: ids written 000123 in every file, a child's keys 007 onto train's integer store, a
    table of one row a key but for blank keys, a row id with blanks, a unique number that is no id, an id-named
    code (Elo's city_id) and a card's categories= naming a summarised table's column, a level named 'distinct'."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import build_features, join_tables, read_csv

    raw = tmp_path / "data" / "e" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    ids = [f"{i:06d}" for i in range(1, 61)]
    frame = pd.DataFrame({"id": ids, "store": np.arange(60) % 5 + 1, "x": rng.normal(size=60)})
    frame.iloc[:40].assign(y=rng.integers(0, 2, 40)).to_csv(raw / "train.csv", index=False)
    frame.iloc[40:].to_csv(raw / "test.csv", index=False)
    frame.iloc[40:][["id"]].assign(y=0.5).to_csv(raw / "sample_submission.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    n = 300
    tx = pd.DataFrame(
        {
            "id": rng.choice(ids, n),
            "tx_id": [np.nan if i % 50 == 0 else 9000 + i for i in range(n)],  # a row id with blanks (floats)
            "amount_cents": 1000 + np.arange(n) * 7,  # unique in every row, and no id
            "city_id": rng.integers(1, 4, n),  # an id-named code
            "mcc": rng.integers(100, 103, n),  # a code the card names a category
            "kind": rng.choice(["distinct", "other"], n),
        }
    )
    tx.to_csv(raw / "tx.csv", index=False)
    stores = pd.DataFrame({"store": ["001", "002", "003", "004", "005", None, None], "size": range(7)})
    stores.to_csv(raw / "stores.csv", index=False)
    card = Card(slug="e", metric="auc", categories=("mcc",), tables={"tx.csv": "id", "stores.csv": "store"})
    train = read_csv(raw / "train.csv", "", ("id",))
    test = read_csv(raw / "test.csv", "", ("id",))
    joined, _ = join_tables(card, raw, train, test, {"id", "y"})
    out = capsys.readouterr().out
    assert "left out: tx_id (a row id)" in out and "stores.csv: 2 of 7 rows have no store: left out" in out
    assert joined["size"].tolist() == (train.store - 1).tolist()  # one row a store, its keys 001 read as 1
    counts = tx.id.value_counts()
    assert joined.tx_rows.tolist() == [counts.get(i, 0) for i in train.id]  # 000123 in both files
    assert "tx_amount_cents_mean" in joined and "tx_city_id=2" in joined and "tx_mcc=101" in joined
    assert "tx_city_id_mean" not in joined and "tx_mcc_mean" not in joined and "tx_kind=distinct" in joined
    assert not [c for c in joined.columns if c.startswith("tx_tx_id")]
    build_features(card, Paths.for_comp("e", tmp_path / "data"), TabularConfig())  # categories= names mcc: no error
    dropped = replace(card, drop=("kind",))  # drop= a summarised table's column: left out of the summary
    build_features(dropped, Paths.for_comp("e", tmp_path / "data"), TabularConfig())
    built = pd.read_feather(tmp_path / "data" / "e" / "processed" / "train.feather").columns
    assert "tx_kind=distinct" not in built and "tx_amount_cents_mean" in built
    mixed = pd.DataFrame({"id": ["000123", "200000"], "store": 1, "x": 0.0})  # zero-padded only where short
    pd.DataFrame({"id": [200000, 200000], "z": [3, 4]}).to_csv(raw / "long.csv", index=False)
    joined, _ = join_tables(replace(card, tables={"long.csv": "id"}), raw, mixed, mixed, set())
    assert joined.long_rows.tolist() == [0, 2] and joined.long_z_sum.tolist()[1] == 7
    pd.DataFrame({"id": [1, 2], "z": [3, 4]}).to_csv(raw / "numbers.csv", index=False)
    with pytest.raises(
        ValueError, match=r"the key 'id' is written otherwise in numbers.csv than in train.csv .*same way"
    ):
        join_tables(replace(card, tables={"numbers.csv": "id"}), raw, train, test, set())


def test_a_time_cut_cuts_an_event_table_that_ends_where_train_ends_by_its_own_date(tmp_path, capsys):
    """A summarised event table (several rows a card, a time of day) known for train's days only: the cut hides
    the last days of train, and their events must go too, as the real test's are unknown, whether the table's
    date is named as train's or has its own name; a table that runs past train's end (the test's days' weather)
    is carried whole. Trial 49b: timestamps were read with train's format (all NaT) or ran past train's last
    midnight, and both tables were carried whole."""
    from pipelines.tabular.backtest import carry

    days = pd.date_range("2020-01-01 09:30", "2020-03-31 21:41", freq="D")
    for name in ("Date", "purchase_date"):
        events = pd.DataFrame({"card": np.arange(len(days)) % 7, name: days.strftime("%Y-%m-%d %H:%M:%S")})
        events.to_csv(tmp_path / "events.csv", index=False)
        for f in ("cut.csv", "whole.csv"):
            (tmp_path / f).unlink(missing_ok=True)
        carry(
            tmp_path / "events.csv",
            tmp_path / "cut.csv",
            "Date",
            "%Y-%m-%d",
            pd.Timestamp("2020-03-31"),
            pd.Timestamp("2020-03-01"),
        )
        assert pd.read_csv(tmp_path / "cut.csv")[name].max() == "2020-03-01 09:30:00", name
        assert (
            f"events.csv: cut where the cut's train ends (2020-03-01, by {name}): 61 of 91 rows"
            in capsys.readouterr().out
        )
        carry(
            tmp_path / "events.csv",
            tmp_path / "whole.csv",
            "Date",
            "%Y-%m-%d",
            pd.Timestamp("2020-02-10"),
            pd.Timestamp("2020-01-20"),
        )
        assert len(pd.read_csv(tmp_path / "whole.csv")) == len(days)  # it runs past train's end: the test has it
    # MovieLens's tags.csv beside ratings.csv, both by the card's date=: unix seconds, read as train's are
    tags = pd.DataFrame({"tag": "funny", "timestamp": (days.normalize() - pd.Timestamp(0)) // pd.Timedelta("1s")})
    tags.to_csv(tmp_path / "tags.csv", index=False)
    args = ("timestamp", "unix seconds", pd.Timestamp("2020-03-31"), pd.Timestamp("2020-03-01"))
    carry(tmp_path / "tags.csv", tmp_path / "tags-cut.csv", *args)
    assert (
        "tags.csv: cut where the cut's train ends (2020-03-01, by timestamp): 61 of 91 rows" in capsys.readouterr().out
    )
    # a column of train's date name, blank, or of no one format: copied whole, or cut by pandas' guess, as before
    for name, dates, rows in (("blank", [None] * 4, 4), ("mixed", ["2020-02-28", "2020-02-29 10:00:00", "2020-03-02", "2020-03-03"], 2)):  # fmt: skip
        pd.DataFrame({"Date": dates, "x": range(4)}).to_csv(tmp_path / f"{name}.csv", index=False)
        carry(tmp_path / f"{name}.csv", tmp_path / f"{name}-cut.csv", "Date", "%Y-%m-%d", *args[2:])
        assert len(pd.read_csv(tmp_path / f"{name}-cut.csv")) == rows, name


def test_a_summary_no_test_row_has_is_empty_in_the_test_rows_count_too():
    """Trial 49b: transactions.csv keyed by (store, date), train's days only: its summaries were empty in the test
    and dropped, but its _rows was 0 in every test row (a value no train row has) and stayed a feature."""
    from pipelines.tabular.features import joined_onto

    table = pd.DataFrame({"store": [1, 2], "tx_rows": [3, 4], "tx_n_mean": [0.5, 0.7]})
    test = pd.DataFrame({"store": [3, 4]})
    assert joined_onto(test, "test.csv", table, "tx.csv", ["store"]).tx_rows.isna().all()
    some = joined_onto(pd.DataFrame({"store": [1, 3]}), "test.csv", table, "tx.csv", ["store"])
    assert some.tx_rows.tolist() == [3, 0]  # a key without rows has none


def test_numbers_on_every_date_are_named_as_the_keys_of_series():
    """Store Item Demand's store 1..10 and item 1..50, read as numbers: the network scored SMAPE 29.18 on the
    holdout (12.20 with the card's series=, which makes them categories); the features step names them."""
    from pipelines.tabular.schema import series_keys

    days = np.repeat(pd.date_range("2017-01-01", periods=30).strftime("%Y-%m-%d"), 9)
    train = pd.DataFrame(
        {
            "date": days,
            "store": np.tile(np.repeat([1, 2, 3], 3), 30),
            "item": np.tile([1, 2, 3], 90),
            "season": np.repeat(np.arange(30) // 10, 9),  # one value a date: no series
            "price": np.round(np.linspace(1, 9, 270), 2),  # not whole numbers
            "sold": np.arange(270) % 17,  # whole, but a different set each date
            "open": np.arange(270) % 2,  # a 0/1 flag, both on every date
            "promo": np.arange(270) % 4,  # every value on every date, but the store and item tell the rows apart
            "hour": np.tile(np.arange(9), 30),  # a part of the time: never a key
        }
    )
    numbers = ["store", "item", "season", "price", "sold", "open", "promo", "hour"]
    schema = Schema("id", ["y"], None, "regression", [], "date", "%Y-%m-%d", [], [], numbers)
    assert series_keys(schema, train) == ["store", "item"]
    assert series_keys(schema, train.assign(item=1)) == []  # store alone: three rows a store and date, no key
    assert series_keys(replace(schema, series=["store", "item"]), train) == []  # the card says so already
    assert series_keys(replace(schema, date=None), train) == []  # no date: no series to tell


def test_what_no_model_could_apply_to_the_test_is_not_a_feature():
    """Tabular Playground Jan 2022 with train April-December 2018 and the test in 2019: the year has one value in
    the rows that fit, the test's months and weeks none there; the network pinned every test row to one value."""
    from pipelines.tabular.features import unlearnable

    fit = pd.DataFrame({"Year": 2018, "Month": [4, 5, 6, 7], "Day": [1, 2, 3, 4], "store": ["a", "b", "a", "b"]})
    test = pd.DataFrame({"Year": 2019, "Month": [1, 1, 2, 4], "Day": [1, 2, 9, 4], "store": ["c", "c", "c", "a"]})
    out = unlearnable(fit, test, ["Month", "Day", "store"], ["Year"], keep=["store"])
    assert set(out) == {"Year", "Month"} and "75% of the test's rows" in out["Month"]


@pytest.mark.slow
def test_a_member_whose_test_predictions_collapse_to_one_value_is_left_out(tmp_path, monkeypatch, capsys):
    """A network whose test rows all get one value (inputs outside what it learned) while its out-of-fold
    predictions vary: warned, left out of the submission's blend (its figure alone still reported)."""
    from pipelines.tabular import net

    fit_predict = net.fit_predict

    def collapsing(proc, fit, y, evals, *args, **kwargs):
        preds, tables, watched = fit_predict(proc, fit, y, evals, *args, **kwargs)
        return [*preds[:-1], np.full_like(preds[-1], preds[-1].mean())], tables, watched  # the last: the test

    monkeypatch.setattr(net, "fit_predict", collapsing)
    own_competitions(tmp_path, monkeypatch)
    assert main(["new", "synthetic-binary", "--metric", "auc"]) == 0
    out = run_chain("synthetic-binary", write("binary", tmp_path / "src", n=800), tmp_path, capsys, rounds=100)
    assert "warning: net's test predictions are one value" in out
    result = json.loads((tmp_path / "data" / "synthetic-binary" / "runs" / "default" / "result.json").read_text())
    assert list(result["weights"]) == ["gbdt", "linear"] and set(result["members"]) == {"gbdt", "net", "linear"}
    sub = pd.read_csv(tmp_path / "subs" / "synthetic-binary" / "default.csv")
    assert sub.target.nunique() > 10


def test_an_id_the_sample_joins_from_columns_is_built_and_so_is_its_backtest_cut(tmp_path, capsys):
    """Walmart: the sample's Id is Store_Dept_Date (1_1_2012-11-02), a column of neither train nor test: built
    from those columns for both, said; the backtest cut's answers carry it, its files stay as Kaggle's are."""
    from pipelines.tabular.backtest import cut
    from pipelines.tabular.schema import align_ids

    weeks = pd.date_range("2012-01-06", periods=40, freq="7D").strftime("%Y-%m-%d")
    grid = pd.MultiIndex.from_product([[1, 2], [1, 3], weeks], names=["Store", "Dept", "Date"]).to_frame(index=False)
    grid["Weekly_Sales"] = grid.Store * 100.0 + grid.Dept
    train, test = grid[grid.Date < "2012-09-01"], grid[grid.Date >= "2012-09-01"].drop(columns="Weekly_Sales")
    ids = test.Store.astype(str) + "_" + test.Dept.astype(str) + "_" + test.Date
    sample = pd.DataFrame({"Id": ids.iloc[::-1].to_numpy(), "Weekly_Sales": 0})  # any order
    built_train, built_test = align_ids("Id", train, test, sample, FILES)
    assert built_test.Id.tolist() == ids.tolist() and built_train.Id.iloc[0] == "1_1_2012-01-06"
    assert "'Id' built as Store_Dept_Date of each row" in capsys.readouterr().out
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, f in (("train", train), ("test", test), ("sample_submission", sample)):
        f.to_csv(raw / f"{name}.csv", index=False)
    hidden = cut(Card(slug="w", metric="mae"), raw, tmp_path / "cut", 0)
    assert hidden.columns.tolist() == ["Id", "Weekly_Sales"] and hidden.Id.str.count("_").eq(2).all()
    assert "Id" not in pd.read_csv(tmp_path / "cut" / "train.csv", nrows=0).columns


def test_several_target_columns_are_read_and_a_card_that_names_fewer_is_refused():
    """A sample with several value columns of train (Tabular Playground Jul 2021's three targets): each is a target;
    a card naming one of them (its predictions would go under the first) or more targets than the sample has
    columns is refused, and so are targets of different tasks or classes."""
    train = pd.DataFrame({"id": range(6), "f": range(6), "a": range(6), "b": range(6)})
    sample = pd.DataFrame({"id": range(3), "a": 0.0, "b": 0.0})
    schema = infer(Card(slug="x", metric="rmse"), train, train[["id", "f"]], sample, FILES)
    assert schema.targets == ["a", "b"] and schema.several and schema.of("b").targets == ["b"]
    assert not schema.of("b").several and "a" not in schema.numbers and "b" not in schema.dropped
    reordered = infer(
        Card(slug="x", metric="rmse", target=("B", "a")),
        train.rename(columns={"b": "B"}),
        train[["id", "f"]],
        sample,
        FILES,
    )
    assert reordered.targets == ["a", "B"]  # paired with the sample's columns by name, not by place
    from pipelines.runs import RunDir
    from pipelines.tabular.steps import target_dir

    for names in (["NO2_(ppm)", "NO2 _ppm_"], ["EC1", "ec1"]):  # one folder name (or one, blind to case): numbered
        clash = replace(schema, targets=names)
        folders = [target_dir(RunDir(Path("r")), t, clash).path.name for t in names]
        assert folders[0].startswith("0-") and folders[1].startswith("1-"), folders
    assert target_dir(RunDir(Path("r")), "b", schema).path == Path("r/targets/b")
    with pytest.raises(SchemaError, match=r"target=\('b',\): sample_submission.csv has 2 value columns .*leave target"):
        infer(Card(slug="x", metric="rmse", target="b"), train, train[["id", "f"]], sample, FILES)
    with pytest.raises(SchemaError, match=r"target=\('a', 'b'\): 2 targets for the 1 value columns"):
        infer(Card(slug="x", metric="rmse", target=("a", "b")), train, train[["id", "f"]], sample[["id", "a"]], FILES)
    binary = train.assign(a=[0, 1] * 3, b=["n", "y"] * 3)
    with pytest.raises(SchemaError, match=r"targets 'a' and 'b' hold other classes"):
        infer(Card(slug="x", metric="auc"), binary, train[["id", "f"]], sample, FILES)
    with pytest.raises(SchemaError, match=r"targets 'a' and 'b' hold other classes"):
        infer(Card(slug="x", metric="auc"), binary.assign(b="n"), train[["id", "f"]], sample, FILES)
    # one target of one value (a rare MoA label): the others say the task and classes, it submits a constant
    rare = infer(Card(slug="x", metric="auc"), binary.assign(a=0, b=[0, 1] * 3), train[["id", "f"]], sample, FILES)
    assert rare.task == "binary" and rare.classes == ["0", "1"] and rare.targets == ["a", "b"]
    with pytest.raises(SchemaError, match=r"every target \['a', 'b'\] holds one value .*'a': one value \(0\)"):
        infer(Card(slug="x", metric="auc"), binary.assign(a=0, b=0), train[["id", "f"]], sample, FILES)


def test_a_target_of_one_value_submits_a_constant_and_auc_leaves_it_unscored():
    """Of several targets, one with one value in its n labelled rows is predicted as that value (regression) or
    its class at (n + 1/K) / (n + 1), never 1 (f1 keeps a target of ones class 1); auc and qwk, which have no value
    on rows of one class, leave it out of the mean, as the backtest's score does; a column-wise log loss counts it."""
    from pipelines.tabular.backtest import score
    from pipelines.tabular.blend import choose_blend, score_or_none
    from pipelines.tabular.members import constant_member
    from pipelines.tabular.steps import mean_over_targets
    from pipelines.tabular.validation import stratum

    ok = np.array([True, True, True, False])
    schema = Schema("id", ["a"], None, "binary", [0, 1], None, None, [], [], [])
    rows, test = constant_member("binary", 2, np.zeros(4), ok, 2)
    assert rows.shape == (4,) and test.tolist() == [pytest.approx(0.5 / 4)] * 2  # 3 rows of class 0: P(1) 1/8
    _, test = constant_member("multiclass", 3, np.full(4, 2.0), ok, 2)
    assert test.shape == (2, 3) and test.sum(1) == pytest.approx([1, 1]) and test[0, 2] == pytest.approx(10 / 12)
    _, test = constant_member("regression", 1, np.full(4, 1.5), ok, 3)
    assert test.tolist() == [1.5] * 3
    auc, logloss, f1 = get_metric("auc"), get_metric("logloss"), get_metric("f1")
    assert score_or_none(auc, np.zeros(3), np.full(3, 0.1)) is None
    assert score_or_none(get_metric("qwk"), np.ones(3), np.ones(3)) is None  # kappa of one label: no value
    rows, _ = constant_member("binary", 2, np.ones(4), ok, 2)  # every row class 1: f1's threshold keeps it class 1
    _, chosen, labels = choose_blend({"constant": rows}, np.ones(4), ok, np.ones(4), np.arange(4) % 2, f1, schema)
    assert chosen["threshold"] == 0.5 and labels.tolist() == [1, 1, 1, 1]
    assert score_or_none(logloss, np.zeros(3), np.full(3, 0.1)) == pytest.approx(-np.log(0.9), abs=1e-6)
    member = {"members": {"gbdt": 0.8, "net": 0.6}}
    results = {"a": {"oof_auc": 0.8, **member}, "b": {"oof_auc": None, "members": {"constant": None}}}
    common = {"validation": {}, "scored_rows": 4, "scored_on": "", "refit": False, "adjusted": False, "weights": {}}
    merged = mean_over_targets(auc, {t: {**r, **common, "rounds": {}} for t, r in results.items()})
    assert merged["oof_auc"] == 0.8 and merged["members"] == {"gbdt": 0.8, "net": 0.6}
    hidden = pd.DataFrame({"id": [1, 2, 3, 4], "a": [0, 1, 1, 0], "b": 0})
    sub = pd.DataFrame({"id": [1, 2, 3, 4], "a": [0.1, 0.9, 0.8, 0.3], "b": 0.01})
    assert score(Card(slug="x", metric="auc"), sub, hidden) == 1.0
    with pytest.raises(ValueError, match=r"auc has no value on the cut.s hidden rows of \[.b.\]"):
        score(Card(slug="x", metric="auc"), sub[["id", "b"]], hidden[["id", "b"]])
    frame = pd.DataFrame({"a": [0, 1] * 10, "b": [0] * 18 + [1] * 2, "c": 0})
    assert stratum(replace(schema, targets=["a", "b", "c"]), frame) == "b"  # the rarest class: b's two 1s


def test_the_positive_class_is_the_later_one_unless_the_card_names_it_and_the_backtest_scores_the_same():
    """A binary target's class 1 (what a probability column holds, what f1 scores) is the later class (1, Yes,
    True), or the card's positive=; the backtest numbers text labels the same way (auc, logloss and f1 read them
    as numbers and failed on No/Yes)."""
    from pipelines.tabular.backtest import score

    train = pd.DataFrame({"id": range(6), "f": range(6), "y": ["No", "Yes"] * 3})
    sample = pd.DataFrame({"id": range(3), "y": 0.5})
    assert infer(Card(slug="x", metric="auc"), train, train[["id", "f"]], sample, FILES).classes == ["No", "Yes"]
    named = Card(slug="x", metric="auc", positive="No")
    assert infer(named, train, train[["id", "f"]], sample, FILES).classes == ["Yes", "No"]
    said = describe(infer(named, train, train[["id", "f"]], sample, FILES), "auc", "No")
    assert "binary: class 1 is 'No' (of 'Yes', 'No'): its probability is submitted (the card's positive=)" in said
    churn = train.assign(y=["Attrited", "Existing"] * 3)
    said = describe(infer(Card(slug="x", metric="auc"), churn, train[["id", "f"]], sample, FILES), "auc")
    assert "class 1 is 'Existing'" in said and "warning: the labels do not say which class Kaggle scores" in said
    assert "set positive='Attrited' in the card if it is that one" in said
    with pytest.raises(SchemaError, match=r"positive='Maybe' is not a class of the target"):
        infer(Card(slug="x", metric="auc", positive="Maybe"), train, train[["id", "f"]], sample, FILES)
    with pytest.raises(SchemaError, match=r"positive='No' .* this is a regression target: leave positive= out"):
        infer(Card(slug="x", metric="rmse", positive="No"), train.assign(y=1.0), train[["id", "f"]], sample, FILES)
    hidden = pd.DataFrame({"id": [1, 2, 3, 4], "y": ["No", "Yes", "Yes", "No"]})
    p_yes = pd.DataFrame({"id": [1, 2, 3, 4], "y": [0.1, 0.9, 0.8, 0.3]})
    labels = pd.DataFrame({"id": [1, 2, 3, 4], "y": ["No", "Yes", "No", "No"]})
    assert score(Card(slug="x", metric="auc"), p_yes, hidden) == 1.0
    assert score(named, p_yes, hidden) == 0.0  # the same column read as P(No)
    assert score(Card(slug="x", metric="logloss"), p_yes, hidden) == pytest.approx(-np.log([0.9, 0.9, 0.8, 0.7]).mean())
    assert score(Card(slug="x", metric="f1"), labels, hidden) == pytest.approx(2 / 3)  # Yes: 1 of 2 found, 1 of 1 right
    assert score(Card(slug="x", metric="f1", positive="No"), labels, hidden) == pytest.approx(0.8)
    assert score(Card(slug="x", metric="f1"), labels.assign(y=[0, 1, 0, 0]), hidden.assign(y=[0, 1, 1, 0])) == 2 / 3
    coded = hidden.assign(y=[1, 2, 2, 1])  # a binary target written 1/2: numbered as training numbers it
    assert score(Card(slug="x", metric="logloss"), p_yes, coded) == pytest.approx(-np.log([0.9, 0.9, 0.8, 0.7]).mean())


def competition(src, frames: dict, card: str, tmp_path, monkeypatch, comp: str) -> None:
    """The CSVs of `frames` in `src` and the card `card` (its Card(...) arguments) as competition `comp`."""
    src.mkdir(parents=True)
    for name, frame in frames.items():
        frame.to_csv(src / f"{name}.csv", index=False)
    pkg = tmp_path / "ext" / comp.replace("-", "_")
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(f"from pipelines.tabular import Card\n\nCARD = Card({card})\n")
    own_competitions(tmp_path, monkeypatch)


def ratings(n_users=80, n_items=120, n=6000, seed=0):
    """A MovieLens-like table: each rating a user's and a film's biases plus their tastes' dot product (rank 3)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"userId": rng.integers(1, n_users + 1, n), "movieId": rng.integers(1, n_items + 1, n) * 3})
    frame = frame.drop_duplicates().reset_index(drop=True)
    u, m = frame.userId.to_numpy() - 1, frame.movieId.to_numpy() // 3 - 1
    taste = (rng.normal(0, 0.7, (n_users, 3))[u] * rng.normal(0, 0.7, (n_items, 3))[m]).sum(1)
    value = 3 + rng.normal(0, 0.5, n_users)[u] + rng.normal(0, 0.5, n_items)[m] + taste + rng.normal(0, 0.3, len(u))
    rating = np.clip(value, 0.5, 5).round(1)
    return frame.assign(rating=rating, when=rng.integers(0, 10**6, len(frame)), genre_id=m % 4)  # genre: no signal


def ratings_chain(comp: str, files: dict, card: str, tmp_path, monkeypatch, capsys, settings: list[str]) -> str:
    """A competition of `files` and `card` through download, features, train and predict with `settings`; the
    printed output."""
    competition(tmp_path / "src", files, card, tmp_path, monkeypatch, comp)
    data = ["--data", str(tmp_path / "data")]
    assert main(["download", comp, "--src", str(tmp_path / "src"), *data]) == 0
    for step in ("features", "train", "predict"):
        assert main([step, comp, *settings, *data]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.slow
def test_a_ratings_table_trains_the_collaborative_filtering_member(tmp_path, monkeypatch, capsys):
    """userId, movieId and genre_id are codes: the dot member (fast.ai's dot product and biases) reads the two of
    the most values, scores below LightGBM out of fold on tastes that are a dot product, and takes weight in the
    blend. A table without two such ids, or whose test users are new, does not train it (said), and members that
    would train nothing there are refused."""
    frame = ratings()
    train, held = frame.iloc[:-500], frame.iloc[-500:]
    test = held.drop(columns="rating").assign(id=np.arange(len(held)))
    files = {"train": train, "test": test, "sample_submission": test[["id"]].assign(rating=3.0)}
    settings = ["members=[gbdt,dot]", "gbdt_rounds=300", "dot_bs=64"]
    out = ratings_chain("ratings", files, 'slug="r", metric="rmse"', tmp_path, monkeypatch, capsys, settings)
    data = ["--data", str(tmp_path / "data")]
    assert "ids read as codes (categories: each value an embedding, not a quantity): userId, movieId, genre_id" in out
    assert "user and item (the dot member's pair): userId x movieId (the two ids of the most values" in out
    assert "dot fold 0: " in out and "userId x movieId, 5 epochs of batch 64" in out
    result = json.loads((tmp_path / "data" / "ratings" / "runs" / "default" / "result.json").read_text())
    assert result["members"]["dot"] < 0.9 * result["members"]["gbdt"], result["members"]
    assert result["weights"]["dot"] > 0.5 and result["oof_rmse"] <= result["members"]["dot"] + 1e-3, result
    submitted = pd.read_csv(tmp_path / "subs" / "ratings" / "default.csv").merge(held.assign(id=test.id), on="id")
    error = np.sqrt(((submitted.rating_x - submitted.rating_y) ** 2).mean())
    assert error < 1.1 * result["oof_rmse"], (error, result["oof_rmse"])  # the test's rows as the folds'
    no_ids = {
        **files,
        "train": train.rename(columns={"movieId": "film", "genre_id": "genre"}),
        "test": test.rename(columns={"movieId": "film", "genre_id": "genre"}),
    }
    competition(tmp_path / "src2", no_ids, 'slug="s", metric="rmse"', tmp_path, monkeypatch, "no-ids")
    assert main(["download", "no-ids", "--src", str(tmp_path / "src2"), *data]) == 0
    assert main(["features", "no-ids", *data]) == 0
    capsys.readouterr()
    assert main(["train", "no-ids", "members=[linear,dot]", *data]) == 1
    err = capsys.readouterr().err
    assert "members=[linear,dot] trains nothing here: the linear member trains where the table has free text" in err
    assert "; the dot member needs two ids read as codes (a ratings table's userId and movieId" in err
    # cold start: most test rows' users are new. userId is then no code; named by the card, it is one the features
    # step drops (its test values unknown to the fit), and the dot member has no pair: not trained, no error
    new_users = test.assign(userId=np.where(np.arange(len(test)) % 4, test.userId + 1000, test.userId))
    cold = {**no_ids, "train": no_ids["train"].rename(columns={"film": "movieId"}), "test": new_users}
    cold["test"] = cold["test"].rename(columns={"genre_id": "genre"})
    for comp, card in (("cold", 'slug="c", metric="rmse"'), ("cold-card", 'slug="d", metric="rmse", codes="userId"')):
        competition(tmp_path / comp, cold, card, tmp_path, monkeypatch, comp)
        assert main(["download", comp, "--src", str(tmp_path / comp), *data]) == 0
        assert main(["features", comp, *data]) == 0
        assert main(["train", comp, "members=[gbdt,dot]", "gbdt_rounds=50", *data]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "dot: not trained: it needs two ids read as codes" in out
        assert ("not a feature: userId (75% of the test's rows" in out) == (comp == "cold-card"), out


@pytest.mark.slow
def test_the_collaborative_filtering_member_learns_a_binary_target_on_a_time_holdout(tmp_path, monkeypatch, capsys):
    """Whether a user liked a film (AUC), the test's hours after train's (unix seconds, the card's date=): the dot
    member's logit through a sigmoid, fitted before the holdout, then refitted on every row for the test."""
    frame = ratings(seed=1)
    hours = 1_577_836_800 + 3600 * np.arange(len(frame))  # unix seconds from 2020-01-01, named by the card's date=
    frame = frame.assign(ts=hours, liked=(frame.rating >= 3.5).astype(int)).drop(columns=["rating", "when"])
    train, held = frame.iloc[:-480], frame.iloc[-480:]  # 20 days
    test = held.drop(columns="liked").assign(id=np.arange(len(held)))
    files = {"train": train, "test": test, "sample_submission": test[["id"]].assign(liked=0.5)}
    settings = ["members=[gbdt,dot]", "gbdt_rounds=200", "dot_bs=64"]
    out = ratings_chain("liked", files, 'slug="l", metric="auc", date="ts"', tmp_path, monkeypatch, capsys, settings)
    assert "date 'ts' (unix seconds since 1970)" in out
    assert "validation: time" in out and "dot holdout: " in out and "dot refit: " in out
    result = json.loads((tmp_path / "data" / "liked" / "runs" / "default" / "result.json").read_text())
    assert result["members"]["dot"] > max(0.75, result["members"]["gbdt"]), result["members"]
    submitted = pd.read_csv(tmp_path / "subs" / "liked" / "default.csv")
    assert submitted.liked.between(0, 1).all() and submitted.liked.nunique() > 100
    assert roc_auc_score(held.liked, submitted.liked) > 0.75
    alone = pd.read_csv(tmp_path / "data" / "liked" / "runs" / "default" / "member_submissions" / "dot.csv")
    assert roc_auc_score(held.liked, alone.liked) > 0.8  # the refit's predictions of the test, the dot's own


@pytest.mark.slow
def test_extra_train_rows_join_every_fit_and_no_score(tmp_path, monkeypatch, capsys):
    """A Playground competition's original dataset (extra_train=("original.csv",), no id column, a column train
    lacks): its rows are in every fold's fitting rows and never scored; the backtest's cut carries the file. An
    original without the target, or a competition validated on time, is refused."""
    rng, x, train = frames(600)
    train["y"] = 3 * x + rng.normal(size=len(x))
    x2 = rng.normal(size=400)
    original = pd.DataFrame({"x": x2, "z": rng.normal(size=400), "y": 3 * x2 + rng.normal(size=400), "extra": 1})
    test = train[["id", "x", "z"]].iloc[:200].assign(id=[f"{i:06d}" for i in range(900, 1100)])
    files = {"train": train, "test": test, "sample_submission": test[["id"]].assign(y=0.0), "original": original}
    card = 'slug="p", metric="rmse", extra_train="original.csv"'
    competition(tmp_path / "src", files, card, tmp_path, monkeypatch, "playground")
    out = run_chain("playground", tmp_path / "src", tmp_path, capsys, 100, "net_epochs=8")  # the rule's: 72 a fold
    said = "400 rows for every fit, never scored; without ['leak'] (missing there); ['extra'] not in train.csv, unused"
    said += "; ids original.csv:0..original.csv:399 of their own"  # train's ids are text (000900): the file's row
    assert f"extra_train original.csv: {said}" in out
    assert "net fold 0: 880 rows" in out  # 4 folds of train's 600 rows, and the 400 extra
    folder = tmp_path / "data" / "playground"
    processed = pd.read_feather(folder / "processed" / "train.feather")
    assert (
        len(processed) == 1000 and (processed._fold == -1).sum() == 400 and set(processed._fold) == {-1, 0, 1, 2, 3, 4}
    )
    result = json.loads((folder / "runs" / "default" / "result.json").read_text())
    assert result["scored_rows"] == 600 and result["oof_rmse"] < 1.3, result["oof_rmse"]
    data = ["--data", str(tmp_path / "data")]
    assert main(["backtest", "playground", "gbdt_rounds=100", "net_epochs=8", "--windows", "cut0", *data]) == 0
    assert "extra_train original.csv: 400 rows" in capsys.readouterr().out  # the cut's features read it too
    for name, frame, why in (
        ("no-target", original.drop(columns="y"), r"extra_train=\('original.csv',\): no row of them has the target \['y'\]"),
        ("on-time", original, r"extra rows join k-fold's fits; this competition validates on time"),
    ):  # fmt: skip
        dated = {**files, "original": frame}
        if name == "on-time":
            days = pd.date_range("2020-01-01", periods=800).strftime("%Y-%m-%d")
            dated = {**dated, "train": train.assign(day=days[:600]), "test": test.assign(day=days[600:])}
        competition(tmp_path / name, dated, card, tmp_path, monkeypatch, name)
        assert main(["download", name, "--src", str(tmp_path / name), *data]) == 0
        capsys.readouterr()
        assert main(["features", name, *data]) == 1
        assert re.search(why, capsys.readouterr().err), name


@pytest.mark.slow
def test_targets_in_a_table_of_their_own_train_submit_and_backtest(tmp_path, monkeypatch, capsys):
    """Mechanisms of Action's shape: train_features.csv, its targets in train_targets_scored.csv (joined by the card's
    tables=), test_features.csv; make all submits every target, and the backtest's cut joins the table to find the
    targets and their answers (it said 'set target=' and failed)."""
    rng = np.random.default_rng(0)
    n = 700
    x = rng.normal(size=(n, 3))
    frame = pd.DataFrame({"sig_id": [f"id_{i:05d}" for i in range(n)], **{f"g-{j}": x[:, j] for j in range(3)}})
    answers = frame[["sig_id"]].assign(
        a=(x[:, 0] + rng.normal(size=n) > 1).astype(int), b=(x[:, 1] + rng.normal(size=n) > 0.5).astype(int), c=0
    )  # c: a label no training row has (MoA's rarest), a constant
    answers.loc[:49, "b"] = np.nan  # b unknown in 50 rows: a, c still learn from them
    files = {
        "train_features": frame.iloc[:500],
        "train_targets_scored": answers.iloc[:500],
        "test_features": frame.iloc[500:],
        "sample_submission": frame[["sig_id"]].iloc[500:].assign(a=0.5, b=0.5, c=0.5),
    }
    card = (
        'slug="lish-moa", metric="logloss", tables={"train_targets_scored.csv": ("sig_id",)}, '
        'files={"train": "train_features.csv", "test": "test_features.csv"}'
    )
    competition(tmp_path / "src", files, card, tmp_path, monkeypatch, "moa")
    out = run_chain("moa", tmp_path / "src", tmp_path, capsys, 100, "net_epochs=8")  # the rule's: 72 a fold
    assert "no test row is in it (a table of train's rows only)" in out and "the mean over 3 of the 3 targets" in out
    assert "c: one value in every labelled row: submitted as a constant" in out
    each = json.loads((tmp_path / "data" / "moa" / "runs" / "default" / "result.json").read_text())["targets"]
    assert [r["scored_rows"] for r in each.values()] == [500, 450, 500]
    sub = pd.read_csv(tmp_path / "subs" / "moa" / "default.csv")
    assert list(sub.columns) == ["sig_id", "a", "b", "c"] and sub[["a", "b"]].stack().between(0, 1).all()
    assert sub.c.tolist() == [pytest.approx(0.5 / 501)] * 200  # 500 rows of class 0
    alone = pd.read_csv(tmp_path / "data" / "moa" / "runs" / "default" / "member_submissions" / "gbdt.csv")
    assert alone.c.equals(sub.c) and not alone.a.equals(sub.a)  # each member's submission: the constant beside
    data = ["--data", str(tmp_path / "data")]
    assert main(["backtest", "moa", "gbdt_rounds=100", "net_epochs=8", "--windows", "cut0", *data]) == 0
    table = pd.read_csv(tmp_path / "data" / "moa" / "backtest" / "default.csv")
    scored = table.set_index("member").backtest
    assert scored["submission"] < 0.4, scored  # log loss over the three columns; a constant 0.5 scores 0.69


def test_extra_rows_get_ids_of_their_own_and_train_csv_alone_says_the_classes(tmp_path, capsys):
    """Two original files without ids: each row an id below zero, none shared; an original whose labels are not
    train's classes (Yes/No where train.csv has 0/1) is refused naming the file; a feature function that drops the
    marker of the extra rows is named."""
    from pipelines.paths import Paths
    from pipelines.tabular.features import EXTRA, check_extra_labels, with_extra_rows

    paths = Paths.for_comp("p", tmp_path / "data")
    paths.raw.mkdir(parents=True)
    pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}).to_csv(paths.raw / "a.csv", index=False)
    pd.DataFrame({"x": [3.0], "y": [1], "id": [0]}).to_csv(paths.raw / "b.csv", index=False)
    train = pd.DataFrame({"id": [0, 1, 2], "x": [0.0, 1.0, 2.0], "y": [0, 1, 0]})
    card = Card(slug="p", metric="auc", extra_train=("a.csv", "b.csv"))
    both = with_extra_rows(card, paths, train, "id")
    assert both.id.tolist() == [0, 1, 2, -1, -2, -3] and both[EXTRA].tolist() == [False] * 3 + [True] * 3
    texts = with_extra_rows(card, paths, train.assign(id=["a", "b", "c"]), "id")
    assert texts.id.tolist()[3:] == ["a.csv:0", "a.csv:1", "b.csv:0"]
    assert "id" not in with_extra_rows(card, paths, train.drop(columns="id"), "id")  # Digit Recognizer's train
    schema = infer(card, train, train[["id", "x"]], train[["id"]].assign(y=0.5), FILES)
    check_extra_labels(card, schema, both[both[EXTRA]])
    with pytest.raises(SchemaError, match=r"extra_train=\('a.csv', 'b.csv'\): y holds \['No', 'Yes'\], not among"):
        check_extra_labels(card, schema, pd.DataFrame({"y": ["No", "Yes"]}))


def several(n: int = 900, seed: int = 0):
    """Tabular Playground Jul 2021's shape: three positive targets (RMSLE), each a function of other features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 300, 3))
    frame = pd.DataFrame({"id": np.arange(n + 300), "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2]})
    gases = {"target_a": np.exp(x[:, 0]), "target_b": 2 + x[:, 1] ** 2, "target_c": np.exp(0.5 * x[:, 2] - x[:, 0])}
    train = frame.iloc[:n].assign(**{k: v[:n] * rng.lognormal(0, 0.05, n) for k, v in gases.items()})
    test = frame.iloc[n:]
    return train, test, test[["id"]].assign(target_a=1.0, target_b=1.0, target_c=1.0)


@pytest.mark.slow
def test_several_targets_train_one_set_of_models_each_and_submit_every_column(tmp_path, monkeypatch, capsys):
    """Each target its own LightGBM and network (runs/RUN/targets/<target>/), the headline the mean of the targets'
    out-of-fold RMSLE (Kaggle's column-wise metric), every column of the sample written; an interrupted run
    reuses the targets it finished; the backtest scores the mean over the columns too."""
    from pipelines.tabular.backtest import score

    train, test, sample = several()
    train.loc[::3, "target_c"] = np.nan  # a third of the rows lack one target: it trains and scores on the rest
    src = tmp_path / "src"
    src.mkdir()
    for name, frame in (("train", train), ("test", test), ("sample_submission", sample)):
        frame.to_csv(src / f"{name}.csv", index=False)
    pkg = tmp_path / "ext" / "gases"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('from pipelines.tabular import Card\n\nCARD = Card(slug="g", metric="rmsle")\n')
    own_competitions(tmp_path, monkeypatch)
    out = run_chain("gases", src, tmp_path, capsys, 150, "net_epochs=8")  # the rule's: 72 a fold
    run_dir = tmp_path / "data" / "gases" / "runs" / "default"
    result = json.loads((run_dir / "result.json").read_text())
    each = {t: json.loads((run_dir / "targets" / t / "result.json").read_text()) for t in sample.columns[1:]}
    assert list(result["targets"]) == ["target_a", "target_b", "target_c"]
    assert result["oof_rmsle"] == pytest.approx(np.mean([r["oof_rmsle"] for r in each.values()]), abs=1e-6)
    assert all(r["oof_rmsle"] < 0.3 for r in each.values()), {t: r["oof_rmsle"] for t, r in each.items()}
    assert "rmsle" in out and "the mean over 3 of the 3 targets" in out
    assert "rows lacking some targets (target_c 300 blank): each target trains and is scored on its own" in out
    assert [r["scored_rows"] for r in each.values()] == [900, 900, 600]
    processed = pd.read_feather(tmp_path / "data" / "gases" / "processed" / "train.feather")
    c_fits = int(((processed._fold != 0) & processed.target_c.notna()).sum())  # c's rows outside fold 0
    assert f"net fold 0: {c_fits} rows" in out and "net fold 0: 720 rows" in out and c_fits < 720
    sub = pd.read_csv(tmp_path / "subs" / "gases" / "default.csv")
    assert list(sub.columns) == list(sample.columns) and sub.id.tolist() == sample.id.tolist()
    truth = np.exp(test.x0.to_numpy())  # the columns are not swapped: target_a follows exp(x0)
    assert np.corrcoef(sub.target_a, truth)[0, 1] > 0.9 and np.corrcoef(sub.target_b, truth)[0, 1] < 0.5
    members = sorted(p.name for p in (run_dir / "member_submissions").glob("*.csv"))
    assert members == ["gbdt.csv", "net.csv"]
    from pipelines import tracking
    from pipelines.paths import Paths

    page = tracking.report(Paths.for_comp("gases", tmp_path / "data"), "default").read_text()
    assert all(f"gain share): targets/{t}" in page.replace("&#x27;", "'") for t in sample.columns[1:])
    assert list(pd.read_csv(run_dir / "member_submissions" / "net.csv").columns) == list(sample.columns)
    # interrupted after two targets: those are reused, the third trains again, the same submission
    (run_dir / "result.json").unlink()
    (run_dir / "targets" / "target_c" / "result.json").unlink()
    capsys.readouterr()
    assert main(["train", "gases", "gbdt_rounds=150", "--data", str(tmp_path / "data")]) == 0
    again = capsys.readouterr().out
    assert "target target_a: already trained" in again and "target target_c: already trained" not in again
    assert json.loads((run_dir / "result.json").read_text())["oof_rmsle"] == result["oof_rmsle"]
    # the backtest's score: the mean over the columns
    answers = sample.assign(target_a=1.0, target_b=2.0, target_c=4.0)
    guess = sample.assign(target_a=1.0, target_b=2.0, target_c=1.0)
    rmsle_c = abs(np.log1p(1.0) - np.log1p(4.0))  # every row off by the same: the column's RMSLE
    assert score(Card(slug="g", metric="rmsle"), guess, answers) == pytest.approx(rmsle_c / 3)
    answers.loc[::2, "target_b"] = np.nan  # hidden rows lacking a target: that column scores the others
    assert score(Card(slug="g", metric="rmsle"), guess.assign(target_b=9.0), answers) == pytest.approx(
        (abs(np.log1p(9.0) - np.log1p(2.0)) + rmsle_c) / 3
    )


def test_the_blend_is_chosen_on_other_rows_than_it_is_scored_on():
    """choose_blend: weights on the members' predictions, chosen on every group but the one they predict; a
    member of noise gets (almost) no weight, and the honest predictions differ from the in-sample blend's."""
    from pipelines.ensemble import blend, fit_weights
    from pipelines.tabular.blend import choose_blend
    from pipelines.tabular.schema import Schema

    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    preds = {"good": y + rng.normal(0, 0.3, 2000), "noise": rng.normal(size=2000)}
    groups = np.arange(2000) % 4
    schema = Schema("id", ["y"], None, "regression", [], None, None, [], [], [])
    weights, chosen, honest = choose_blend(preds, y, np.ones(2000, bool), y, groups, get_metric("rmse"), schema)
    assert weights["good"] > 0.9 and chosen == {"threshold": 0.5, "log_shift": 0.0}
    for g in range(4):  # each group's blend: weights fitted without that group's rows
        rows = groups == g
        w = fit_weights({n: p[~rows] for n, p in preds.items()}, lambda p, t=y[~rows]: float(np.mean((p - t) ** 2)))
        assert np.allclose(honest[rows], blend({n: p[rows] for n, p in preds.items()}, w))


def test_rmspe_shifts_log_predictions_down_by_an_amount_chosen_out_of_fold():
    """A log model predicts the median; RMSPE wants exp(-1.5 s2) of it (models.metrics.rmspe_log_shift): the shift
    is chosen on the other groups' residuals and lowers the RMSPE of rows it did not see."""
    from pipelines.tabular.blend import choose_blend
    from pipelines.tabular.schema import Schema
    from pipelines.tabular.submission import submission_form

    rng = np.random.default_rng(0)
    level = rng.normal(8, 1, 4000)
    y_log = level + rng.normal(0, 0.3, 4000)  # log sales around the model's median
    preds, groups = {"m": level + rng.normal(0, 0.02, 4000)}, np.arange(4000) % 4
    schema = Schema("id", ["y"], None, "regression", [], None, None, [], [], [])
    rmspe = get_metric("rmspe")
    _, chosen, honest = choose_blend(preds, y_log, np.ones(4000, bool), np.exp(y_log), groups, rmspe, schema)
    assert chosen["log_shift"] == pytest.approx(-1.5 * 0.3**2, rel=0.1)
    unshifted = rmspe.score(np.exp(y_log), submission_form(rmspe, schema, preds["m"]))
    assert rmspe.score(np.exp(y_log), honest) < unshifted - 0.02
    assert not np.allclose(honest, submission_form(rmspe, schema, preds["m"], chosen))  # per group, not all


def test_the_networks_batch_and_epochs_follow_the_rows():
    from pipelines.tabular.net import batches

    assert batches(1168, 0, 0) == (64, 28) and batches(730_000, 0, 0) == (512, 4)
    assert batches(100, 0, 0) == (64, 100) and batches(1168, 128, 3) == (128, 3) and batches(40, 0, 0)[0] == 40


def test_each_folds_network_trains_the_epochs_the_other_folds_watched_network_chose(tmp_path, capsys):
    """fit_net in k-fold on uneven folds: folds 0 and 1's networks (the rule's epochs, their own) watch their held
    rows; fold 0 trains the epochs fold 1's loss chose, the others fold 0's, each capped by its own rule; the
    epochs reported are those trained, the embedding tables LightGBM reads are each fold's final network's, and a
    second call in the same run folder trains nothing and returns the same."""
    from features import TabularProcessor
    from pipelines.runs import RunDir
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.members import FEWEST_EPOCHS, fit_net
    from pipelines.tabular.net import batches

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.integers(0, 5, 240), "b": rng.normal(size=240)})
    y = (frame.a * 0.5 + frame.b + rng.normal(size=240)).to_numpy()
    proc = TabularProcessor(["a"], ["b"]).fit(frame)
    done, test = proc.transform(frame), proc.transform(frame[:40])
    folds, ok = np.repeat([0, 1, 2, 3, 4], [30, 30, 60, 60, 60]), np.ones(240, bool)
    schema, metric = Schema("id", ["y"], None, "regression", [], None, None, [], [], []), get_metric("rmse")
    cfg = TabularConfig(net_bs=16, gbdt_embeddings=["a"], gbdt_embedding_dims=0, net_layers=[16], net_ps=[0.0])
    rules = [batches(int((folds != k).sum()), 16, 0)[1] for k in range(5)]
    assert rules == [39, 39, 46, 46, 46]  # uneven folds: rules of their own

    def run():
        rd = RunDir(tmp_path / "r")
        rd.start({"run": "t"})
        return fit_net(done, test, y, ok, folds, {"kind": "kfold"}, schema, metric, proc, cfg, rd), rd

    (oof, test_raw, tables, epochs), rd = run()
    watched = {k: np.load(rd.parts / f"net-fold-{k}.npz")["watched"] for k in (0, 1)}
    lowest = {k: max(FEWEST_EPOCHS, int(np.argmin(w)) + 1) for k, w in watched.items()}
    assert epochs == {0: min(39, lowest[1]), **{k: min(rules[k], lowest[0]) for k in (1, 2, 3, 4)}}
    for k, e in epochs.items():
        final = rd.parts / (f"net-fold-{k}.npz" if e == rules[k] else f"net-fold-{k}-{e}-epochs.npz")
        with np.load(final) as saved:
            assert np.array_equal(saved["table:a"], tables[k]["a"]), k  # the final network's, not the watcher's
    assert len(watched[0]) == 39 and "net epochs [" in capsys.readouterr().out
    assert any(e < rules[k] for k, e in epochs.items()), epochs  # a network trained fewer epochs than its rule
    (oof2, test2, tables2, epochs2), _ = run()
    assert "trained already, read back" in capsys.readouterr().out
    assert epochs2 == epochs and np.array_equal(oof2, oof) and np.array_equal(test2, test_raw)


def test_a_small_tables_network_trains_the_epochs_another_folds_held_loss_chose():
    """k-fold: the first two folds' networks watch their held rows; every fold but the first trains as many epochs
    as the first's loss was lowest after, the first as the second's (never its own rows'), at least 3, at most
    the rule's."""
    from pipelines.tabular.members import chosen_epochs

    overfit = np.array([0.9, 0.7, 0.6, 0.65, 0.8, 1.0, 1.2, 1.3, 1.4, 1.5])  # lowest after epoch 3
    later = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0])  # after epoch 5
    assert chosen_epochs(overfit, later, [10] * 5) == [5, 3, 3, 3, 3]
    assert chosen_epochs(later, overfit, [10, 10, 4]) == [3, 5, 4]  # at most the fold's own rule
    steady = np.linspace(1, 0.5, 10)  # lowest at the end: the rule's epochs stay
    assert chosen_epochs(steady, steady, [10] * 5) == [10] * 5
    assert chosen_epochs(np.array([0.5, 0.6, 0.7, 0.8]), steady, [10, 10]) == [10, 3]  # never fewer than 3
    assert chosen_epochs(np.array([0.9, np.nan, 0.5]), np.full(3, np.nan), [10] * 3) == [10, 3, 3]  # NaN: no choice


def test_the_autogluon_bench_names_what_it_needs(tmp_path, monkeypatch):
    """`make bench COMP=<a tabular card>` runs the AutoGluon peer from its own venv: without it, the command that
    makes it; a metric the peer does not cover, named."""
    from pipelines import bench
    from pipelines.tabular import bench as tabular_bench

    ext = own_competitions(tmp_path, monkeypatch)
    for name, metric in (("reg_card", "rmsle"), ("tags_card", "f2_samples")):
        (ext / name).mkdir(parents=True)
        (ext / name / "__init__.py").write_text(
            f'from pipelines.tabular import Card\n\nCARD = Card(slug="x", metric="{metric}")\n'
        )
    monkeypatch.setattr(tabular_bench, "AUTOGLUON_PYTHON", tmp_path / "absent" / "python")
    with pytest.raises(SystemExit, match="absent/python not found: make autogluon-env"):
        bench.main(["reg-card"])
    with pytest.raises(SystemExit, match="the AutoGluon peer covers rmse, rmsle, .* not f2_samples"):
        bench.main(["tags-card"])


def test_the_autogluon_peers_predictions_take_the_samples_form():
    """The peer writes the id and its numbers, labels or class probabilities (as AutoGluon names the classes);
    the bench puts them in the sample's rows and columns, as the card's own submission is."""
    from models.metrics import get_metric
    from pipelines.tabular.bench import peer_args, peer_submission
    from pipelines.tabular.schema import Schema

    def schema(task, classes, targets=("target",), label=None):
        return Schema("Id", list(targets), label, task, classes, None, None, [], [], [])

    sample = pd.DataFrame({"Id": [3, 1, 2], "target": [0, 0, 0]})
    binary, auc = schema("binary", [0, 1]), get_metric("auc")
    peer = pd.DataFrame({"Id": [1, 2, 3], "0": [0.9, 0.4, 0.2], "1": [0.1, 0.6, 0.8]})
    assert peer_submission(auc, binary, sample, peer).target.tolist() == [0.8, 0.1, 0.6]  # P(1), sample's order
    assert peer_args(auc, binary) == ["--label=target", "--problem-type=binary", "--metric=roc_auc", "--proba"]
    labels = pd.DataFrame({"Id": [1, 2, 3], "label": ["b", "a", "b"]})
    multi = schema("multiclass", ["a", "b"])
    assert peer_submission(get_metric("accuracy"), multi, sample, labels).target.tolist() == ["b", "b", "a"]
    otto = schema("multiclass", ["Class_1", "Class_2"], targets=("Class_1", "Class_2"), label="target")
    wide = pd.DataFrame({"Id": [3, 1, 2], "Class_1": [1.0, 1.0, 1.0], "Class_2": [0.0, 0.0, 0.0]})
    peer = pd.DataFrame({"Id": [1, 2, 3], "Class_2": [0.7, 0.2, 0.5], "Class_1": [0.3, 0.8, 0.5]})
    sub = peer_submission(get_metric("mlogloss"), otto, wide, peer)
    assert sub.columns.tolist() == ["Id", "Class_1", "Class_2"] and sub.Class_2.tolist() == [0.5, 0.7, 0.2]
    assert "--label=target" in peer_args(get_metric("mlogloss"), otto)
    with pytest.raises(SystemExit, match="not multilabel"):
        peer_args(get_metric("f2_samples"), schema("multilabel", ["a", "b"]))
    in_order = pd.DataFrame({"0": [0.9, 0.4, 0.2], "1": [0.1, 0.6, 0.8]})  # a test with no id: its rows in order
    numbered = peer_submission(auc, binary, sample, in_order)
    assert numbered.Id.tolist() == [3, 1, 2] and numbered.target.tolist() == [0.1, 0.6, 0.8]


HOOKED_CARD = '''import pandas as pd

from pipelines.tabular import Card


def festival(train, test, raw):
    """The competition's own calendar.csv joined on the date: a file no card line knows."""
    calendar = pd.read_csv(raw / "calendar.csv")
    return train.merge(calendar, on="date", how="left"), test.merge(calendar, on="date", how="left")


CARD = Card(slug="f", metric="smape", series=("store", "item"), categories=("festival",), features=festival)
'''


def test_a_cards_feature_function_reads_its_own_files_and_the_backtest_cut_carries_them(tmp_path, monkeypatch, capsys):
    """features= runs on the joined frames with the raw folder at hand; what it adds is read like any column
    (categories= makes a 0/1 flag a category); the backtest's cut keeps the competition's other files."""
    from pipelines.registry import find
    from pipelines.tabular.backtest import cut

    src = write("forecast", tmp_path / "src")
    days = pd.date_range("2016-01-01", "2018-01-30")  # through the test's days: the cut keeps it whole
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "festival": (days.day == 1).astype(int)}).to_csv(
        src / "calendar.csv", index=False
    )
    known = pd.date_range("2016-01-01", "2017-12-31")  # train's days only: the cut ends it where its train ends
    pd.DataFrame({"date": known.strftime("%Y-%m-%d"), "visits": 1}).to_csv(src / "visits.csv", index=False)
    ext = own_competitions(tmp_path, monkeypatch)
    (ext / "hooked").mkdir(parents=True)
    (ext / "hooked" / "__init__.py").write_text(HOOKED_CARD)
    data = ["--data", str(tmp_path / "data")]
    assert main(["download", "hooked", "--src", str(src), *data]) == 0
    assert main(["features", "hooked", *data]) == 0
    assert "features=pipelines.hooked.festival: festival (" in capsys.readouterr().out
    processed = tmp_path / "data" / "hooked" / "processed"
    schema = json.loads((processed / "schema.json").read_text())
    assert "festival" in schema["categories"] and "festival" in pd.read_feather(processed / "train.feather")
    raw, dest = tmp_path / "data" / "hooked" / "raw", tmp_path / "cut"
    dest.mkdir()
    cut(find("hooked").CARD, raw, dest, 0)
    assert (dest / "calendar.csv").read_bytes() == (src / "calendar.csv").read_bytes()
    kept_days = pd.read_csv(dest / "train.csv").date.max()
    assert kept_days == "2017-12-01" and pd.read_csv(dest / "visits.csv").date.max() == kept_days  # 30 days cut


def test_a_feature_function_that_breaks_the_contract_is_named(capsys):
    from pipelines.tabular.features import own_features

    train, test = pd.DataFrame({"x": [1, 2, 3]}), pd.DataFrame({"x": [4, 5]})

    def drops_rows(tr, te, raw):
        return tr, te.iloc[:1]

    with pytest.raises(ValueError, match=r"features=.*drops_rows returned 1 test rows of 2: every test row needs"):
        own_features(Card(slug="x", metric="rmse", features=drops_rows), train, test, None)
    with pytest.raises(TypeError, match=r"features=.*<lambda> returned DataFrame: it must return \(train, test\)"):
        own_features(Card(slug="x", metric="rmse", features=lambda tr, te, raw: tr), train, test, None)

    def in_place(tr, te, raw):
        tr["f"], te["f"] = 1, 2
        return tr, te

    own_features(Card(slug="x", metric="rmse", features=in_place), train.copy(), test.copy(), None)
    assert "in_place: f (" in capsys.readouterr().out  # the column it added, though added in place
    appends = Card(slug="x", metric="rmse", features=lambda tr, te, raw: (pd.concat([tr, tr]), te))
    own_features(appends, train, test, None)  # an original dataset appended: scored as train's; said
    assert "returned 3 train rows more than it was given: they are scored out of fold" in capsys.readouterr().out
    with pytest.raises(ValueError, match="features='add' is not a function"):
        Card(slug="x", metric="rmse", features="add")
    _, train, test, sample = quirky("renamed")
    with pytest.raises(SchemaError, match="card: categories= names 'nope', not a column of both"):
        infer(Card(slug="x", metric="rmse", target="loss", categories="nope"), train, test, sample, FILES)


def test_a_cards_defaults_change_the_settings_and_an_unknown_key_is_named():
    from pipelines.tabular import competition

    config = competition(Card(slug="x", metric="rmse", defaults={"gbdt_lr": 0.1, "folds": 3}), "pipelines.x")["Config"]
    assert (config().gbdt_lr, config().folds, config().gbdt_leaves) == (0.1, 3, 31)
    with pytest.raises(ValueError, match=r"defaults= names \['gbdt_rate'\], not settings of TabularConfig"):
        competition(Card(slug="x", metric="rmse", defaults={"gbdt_rate": 0.1}), "pipelines.x")


def test_gbdt_seeds_average_one_model_per_seed(tmp_path, capsys):
    """gbdt_seeds=2: each LightGBM model of the time validation is two (seeds 0 and 1), its predictions their mean:
    the same as the two one-seed runs averaged."""
    from models import gbdt
    from pipelines.runs import RunDir
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.members import fit_gbdt

    rng = np.random.default_rng(0)
    x = rng.normal(size=(900, 3)).astype(np.float32)
    y = x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.3, 900)
    folds = np.repeat([-1, 1, 0], 300)
    ok, validation = np.ones(900, bool), {"kind": "time"}
    params = gbdt.GBDTParams(rounds=60, lr=0.1, leaves=7, min_leaf=5, early_stopping=10)

    def run(seeds: int, seed: int = 0):
        refit = TabularConfig().refit
        rd = RunDir(tmp_path / f"s{seeds}-{seed}")
        rd.start({"run": "test"})  # the run's identity: what its parts are kept for
        out = fit_gbdt(
            x,
            x[:50],
            y,
            ok,
            folds,
            validation,
            replace(params, seed=seed),
            ["a", "b", "c"],
            rd,
            seeds=seeds,
            refit=refit,
        )
        return out, rd.path

    (oof, test_raw, rounds), folder = run(2)
    direct = gbdt.fit(x[folds == -1], y[folds == -1], params, ["a", "b", "c"], valid=(x[folds == 1], y[folds == 1]))
    (one, _, one_rounds), _ = run(1)
    assert one_rounds["holdout"] == [gbdt.best_rounds(direct)]  # one seed: LightGBM's own early stopping
    # the holdout scored by a fit of those rounds on the rows before it, the refit's rounds where one watching the
    # holdout stops early: both of one fit (gbdt.fit's at_least), the same as the two fits
    before, held = folds != 0, folds == 0
    scorer = gbdt.fit(x[before], y[before], params, ["a", "b", "c"], rounds=one_rounds["holdout"][0])
    assert np.array_equal(one[held], gbdt.predict(scorer, x[held]))
    watcher = gbdt.fit(x[before], y[before], params, ["a", "b", "c"], valid=(x[held], y[held]))
    assert one_rounds["refit"] == [gbdt.best_rounds(watcher)]
    singles = [run(1, seed)[0] for seed in (0, 1)]
    assert (
        len(rounds["holdout"]) == len(rounds["refit"]) == 2 and (folder / "parts" / "gbdt-holdout-seed-1.npz").is_file()
    )
    assert [r["refit"] for _, _, r in singles] == [[r] for r in rounds["refit"]]
    assert np.allclose(oof[folds == 0], np.mean([s[0][folds == 0] for s in singles], axis=0))
    assert np.allclose(test_raw, np.mean([s[1] for s in singles], axis=0))
    # the same run again: every booster read back from parts/ (as an interrupted run resumes), the same predictions;
    # a damaged part trained again
    (folder / "parts" / "gbdt-refit-seed-1.txt").write_text("tree\nnot a model")
    (again, test_again, rounds_again), _ = run(2)
    out = capsys.readouterr().out
    assert "gbdt holdout seed 0: trained already, read back" in out
    assert "gbdt-refit-seed-1.txt: cannot be read back" in out and "gbdt refit seed 1: round" in out
    assert np.array_equal(again, oof, equal_nan=True) and np.array_equal(test_again, test_raw)
    assert rounds_again == rounds
    importance = pd.read_csv(folder / "importance.csv")  # the refit's two models: a carries most of y, c nothing
    assert importance.feature.tolist()[:2] == ["a", "b"] and importance.gain_share.sum() == pytest.approx(1)


def test_net_exclude_leaves_a_column_out_of_the_network_and_names_an_unknown_one(monkeypatch):
    from features import TabularProcessor
    from pipelines.tabular import TabularConfig, net
    from pipelines.tabular.net import fit_predict

    widths = []  # the number of continuous inputs of each network built
    model = net.TabularModel
    monkeypatch.setattr(net, "TabularModel", lambda embs, n_cont, *a: widths.append(n_cont) or model(embs, n_cont, *a))

    frame = pd.DataFrame({"a": ["x", "y"] * 20, "b": np.arange(40.0), "c": np.arange(40.0) ** 0.5})
    proc = TabularProcessor(["a"], ["b", "c"]).fit(frame)
    done, y = proc.transform(frame), np.arange(40.0)
    args = (proc, done, y, [done], "regression", 1, "mse")
    with pytest.raises(ValueError, match=r"net_exclude=\['d'\]: \['d'\] not a processed column \(they are a, b, c"):
        fit_predict(*args, TabularConfig(net_exclude=["d"], net_epochs=1), "net")
    (pred,), _, _ = fit_predict(*args, TabularConfig(net_exclude=["c"], net_epochs=1, net_bs=8), "net")
    assert pred.shape == (40,) and np.isfinite(pred).all() and widths == [1]  # b only


def test_lightgbm_reads_the_embeddings_of_the_network_fitted_on_its_rows(tmp_path, monkeypatch, capsys):
    """gbdt_embeddings=[store]: the network trains first and each LightGBM model reads the store embedding of the
    network fitted on its own rows (the holdout's, the refit's), as its top principal components."""
    from features import TabularProcessor
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.net import fit_predict

    frame = pd.DataFrame({"a": ["x", "y", "z"] * 20, "b": np.arange(60.0)})
    proc = TabularProcessor(["a"], ["b"]).fit(frame)
    done = proc.transform(frame)
    args = (proc, done, np.arange(60.0), [done], "regression", 1, "mse")
    cfg = TabularConfig(net_epochs=1, net_bs=8, gbdt_embeddings=["a"], gbdt_embedding_dims=2)
    _, tables, _ = fit_predict(*args, cfg, "net")
    assert tables["a"].shape == (proc.categorify.cardinality()["a"], 2)
    with pytest.raises(ValueError, match=r"gbdt_embeddings=\['b'\]: \['b'\] not a category the network embeds"):
        fit_predict(*args, TabularConfig(net_epochs=1, gbdt_embeddings=["b"]), "net")

    comp = "embedded"
    ext = own_competitions(tmp_path, monkeypatch)
    (ext / comp).mkdir(parents=True)
    (ext / comp / "__init__.py").write_text(
        'from pipelines.tabular import Card\n\nCARD = Card(slug="e", metric="smape", series=("store", "item"))\n'
    )
    src, data = write("forecast", tmp_path / "src"), ["--data", str(tmp_path / "data")]
    settings = ["gbdt_rounds=50", 'gbdt_embeddings=["store"]', "gbdt_embedding_dims=2", "net_epochs=1"]
    for step in (["download", comp, "--src", str(src)], ["features", comp], ["train", comp, *settings]):
        assert main([*step, *data]) == 0, capsys.readouterr().err
    run = tmp_path / "data" / comp / "runs" / "default"
    for model in ("gbdt-rounds.txt", "gbdt-refit.txt"):
        assert "store_emb0 store_emb1" in (run / "parts" / model).read_text()
    assert json.loads((run / "result.json").read_text())["oof_smape"] < 25
    capsys.readouterr()
    assert main(["train", comp, *settings, 'members=["gbdt"]', "--run", "alone", *data]) != 0
    assert "LightGBM reads the network's embeddings, so both must train" in capsys.readouterr().err


def test_the_lightgbm_defaults_peer_is_one_plain_lightgbm_whatever_the_card_sets():
    from dataclasses import replace as change

    from pipelines.config import check
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.backtest import LIGHTGBM_DEFAULTS

    cfg = TabularConfig(gbdt_embeddings=["store"], gbdt_seeds=3, gbdt_lr=0.01)
    peer = check(change(cfg, **LIGHTGBM_DEFAULTS), "peer")
    assert (peer.members, peer.gbdt_embeddings, peer.gbdt_seeds, peer.gbdt_lr) == (["gbdt"], [], 1, 0.1)
    assert cfg.gbdt_categorical and not peer.gbdt_categorical  # LightGBM reads a matrix's codes as numbers


def test_a_peer_leaves_the_settings_of_the_members_it_does_not_train_at_their_defaults():
    """The backtest's peer run is named by its settings: those of members it does not train are reset, so that
    runs that differ only there share it; its own members, the ensemble's and the shared settings stay."""
    from dataclasses import replace as change

    from pipelines.backtest import peer_run, untrained_at_defaults
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.backtest import LIGHTGBM_DEFAULTS
    from pipelines.vision.backtest import PEERS
    from pipelines.vision.config import VisionConfig

    run = TabularConfig(net_epochs=9, dot_lr=0.1, folds=7, seed=3)
    peer = untrained_at_defaults(change(run, **LIGHTGBM_DEFAULTS))
    assert (peer.members, peer.gbdt_rounds, peer.folds, peer.seed) == (["gbdt"], 100, 7, 3)
    assert (peer.net_epochs, peer.dot_lr) == (TabularConfig().net_epochs, TabularConfig().dot_lr)
    other = untrained_at_defaults(change(run, net_epochs=20, **LIGHTGBM_DEFAULTS))
    assert peer_run("p", other) == peer_run("p", peer) != peer_run("p", change(peer, seed=4))
    image = untrained_at_defaults(change(VisionConfig(lr=0.1), **PEERS["probe-lite0"]))
    assert (image.members, image.thresholds, image.clip, image.ordinal) == (["probe"], "global", 0.0, False)
    assert image.lr == VisionConfig().lr and image.probe_arch == "efficientnet_lite0"


def test_rossmann_is_a_card_with_its_own_feature_function(tmp_path, capsys):
    """pipelines/rossmann on the embedded Rossmann sample, as every card runs: the store, weather, trend and event
    columns, the store levels, the card's categories and drops, the closure factors' line, the package's settings
    as the card's defaults."""
    from pipelines.registry import load

    data = ["--data", str(tmp_path / "data")]
    assert main(["sample", "rossmann", *data]) == 0 and main(["features", "rossmann", *data]) == 0
    out = capsys.readouterr().out
    assert "features=pipelines.rossmann.features.card_features: StoreType," in out
    # 17 open days next to a long closure in the sample, under the 30 a factor needs: offsets of 0, line printed
    assert "adjust=pipelines.rossmann.features.closure_adjust: offsets on 0 of 27,339 labelled rows" in out
    schema = json.loads((tmp_path / "data" / "rossmann" / "processed" / "schema.json").read_text())
    assert {"DayOfWeek", "Promo_fw", "StateHoliday", "Events", "Store"} <= set(schema["categories"])
    assert {"StoreLevel", "Mean_TemperatureC", "trend_DE", "AfterPromo"} <= set(schema["numbers"])
    assert "Customers" in schema["only_in_train"] and schema["dropped"]["PromoDay"] == "dropped by the card"
    config = load("rossmann").Config()
    assert (config.net_layers, config.gbdt_seeds, config.gbdt_embeddings, config.net_exclude) == (
        [1000, 500],
        2,
        ["Store"],
        ["StoreDowLevel"],
    )


def test_each_folds_lightgbm_reads_the_embeddings_of_that_folds_network(tmp_path, monkeypatch, capsys):
    """k-fold with gbdt_embeddings: every fold's LightGBM model holds the embedding columns, from its own fold's
    network (the tables differ from fold to fold)."""
    comp = "folded"
    ext = own_competitions(tmp_path, monkeypatch)
    (ext / comp).mkdir(parents=True)
    (ext / comp / "__init__.py").write_text(
        'from pipelines.tabular import Card\n\nCARD = Card(slug="f", metric="auc")\n'
    )
    src, data = write("binary", tmp_path / "src", n=600), ["--data", str(tmp_path / "data")]
    settings = ["gbdt_rounds=30", 'gbdt_embeddings=["colour"]', "gbdt_embedding_dims=0", "net_epochs=1", "folds=3"]
    for step in (["download", comp, "--src", str(src)], ["features", comp, "folds=3"], ["train", comp, *settings]):
        assert main([*step, *data]) == 0, capsys.readouterr().err
    run = tmp_path / "data" / comp / "runs" / "default"
    models = [(run / "parts" / f"gbdt-fold-{k}.txt").read_text() for k in range(3)]
    assert all("colour_emb0" in m for m in models)
    tables = [m.split("feature_infos=")[1].split("\n")[0].split()[-1] for m in models]  # the last embedding column
    assert len(set(tables)) == 3  # three networks, three tables


ADJUSTED_CARD = '''import numpy as np

from pipelines.tabular import Card


def lift(fit, rows):
    """+0.5 on store 1's rows, fitted on rows that never include the ones it is given."""
    if "sales" in rows.columns:  # labelled rows: the holdout, fitted on the days before it
        assert fit.date.max() < rows.date.min(), "adjust= saw the rows it offsets"
    return np.where(rows.store == 1, 0.5, 0.0)


CARD = Card(slug="f", metric="rmse", series=("store", "item"), adjust=lift)
'''


def test_a_cards_adjust_offsets_the_scored_and_the_test_predictions(tmp_path, monkeypatch, capsys):
    """adjust= gives each holdout row an offset fitted on the rows before it (0 on rows never scored) and each
    test row one fitted on every labelled row; the submission is the blend plus the offset."""
    from models.metrics import from_target

    src = write("forecast", tmp_path / "src")
    sample = pd.read_csv(src / "sample_submission.csv")  # in another order than test.csv: offsets follow the ids
    sample.sample(frac=1, random_state=0).to_csv(src / "sample_submission.csv", index=False)
    ext = own_competitions(tmp_path, monkeypatch)
    (ext / "adj").mkdir(parents=True)
    (ext / "adj" / "__init__.py").write_text(ADJUSTED_CARD)
    data = ["--data", str(tmp_path / "data")]
    for step in (["download", "adj", "--src", str(src)], ["features", "adj"], ["train", "adj", "gbdt_rounds=20"]):
        assert main([*step, *data, *(["members=[gbdt]"] if step[0] == "train" else [])]) == 0, capsys.readouterr().err
    assert main(["predict", "adj", *data, "gbdt_rounds=20", "members=[gbdt]"]) == 0
    out = capsys.readouterr().out
    assert (
        "adjust=pipelines.adj.lift: offsets on 120 of 8,772 labelled rows (+0.500..+0.500) and 120 of 360 test" in out
    )
    processed, run = tmp_path / "data" / "adj" / "processed", tmp_path / "data" / "adj" / "runs" / "default"
    train = pd.read_feather(processed / "train.feather")
    raw_train = pd.read_csv(src / "train.csv")
    assert np.array_equal(train._adjust != 0, (train._fold == 0) & (raw_train.store == 1))
    result = json.loads((run / "result.json").read_text())
    assert result["adjusted"] is True
    raw_test = pd.read_csv(src / "test.csv")
    blend = np.load(run / "test_raw.npy") + np.where(raw_test.store == 1, 0.5, 0.0) + result["log_shift"]
    expected = pd.Series(from_target(get_metric("rmse"), blend), index=raw_test.id)
    sub = pd.read_csv(tmp_path / "subs" / "adj" / "default.csv")
    assert sub.id.tolist() != raw_test.id.tolist()
    assert np.allclose(sub.sales, expected.loc[sub.id].to_numpy())


def test_an_adjust_that_breaks_the_contract_is_named():
    from pipelines.tabular.features import adjustments

    schema = type("S", (), {"task": "regression", "several": False, "targets": ["y"]})()
    train, test = pd.DataFrame({"x": [1.0, 2, 3, 4]}), pd.DataFrame({"x": [5.0, 6]})
    with pytest.raises(SchemaError, match=r"adjust=.*<lambda>: one offset a row for 2 targets; leave adjust= out"):
        several = type("S", (), {"task": "regression", "several": True, "targets": ["y", "z"]})()
        adjustments(Card(slug="x", metric="rmse", adjust=lambda fit, rows: 0), several, train, test, [], {})
    folds, kfold = np.array([0, 1, 0, 1]), {"kind": "kfold"}
    short = Card(slug="x", metric="rmse", adjust=lambda fit, rows: np.zeros(1))
    with pytest.raises(
        ValueError, match=r"adjust=.*<lambda> returned shape \(1,\): it must return one finite offset for"
    ):
        adjustments(short, schema, train, test, folds, kfold)
    nan = Card(slug="x", metric="rmse", adjust=lambda fit, rows: np.full(len(rows), np.nan))
    with pytest.raises(ValueError, match=r"returned shape \(2,\) with values that are not finite"):
        adjustments(nan, schema, train, test, folds, kfold)
    calls = []

    def disjoint(fit, rows):
        calls.append((set(fit.index), set(rows.index)))
        return np.zeros(len(rows))

    adjustments(Card(slug="x", metric="rmse", adjust=disjoint), schema, train, test, folds, kfold)
    assert len(calls) == 3 and not calls[0][0] & calls[0][1] and not calls[1][0] & calls[1][1]  # each fold on the other
    assert calls[2][0] == set(train.index)  # the test's: fitted on every labelled row
    binary = type("S", (), {"task": "binary", "several": False})()
    with pytest.raises(SchemaError, match="offsets of the predictions are for regression; this task is binary"):
        adjustments(nan, binary, train, test, folds, kfold)
    with pytest.raises(ValueError, match="adjust=3 is not a function"):
        Card(slug="x", metric="rmse", adjust=3)


def test_watching_the_held_out_loss_changes_nothing_the_network_learns(tmp_path):
    """The network's per-epoch loss on the rows it predicts is recorded (metrics.csv) without moving the training's
    random stream: the predictions equal an unwatched run's to the bit."""
    from features import TabularProcessor
    from pipelines.tabular import TabularConfig, net

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.integers(0, 5, 400), "b": rng.normal(size=400)})
    y = (frame.a * 0.5 + frame.b).to_numpy()
    proc = TabularProcessor(["a"], ["b"]).fit(frame[:300])
    done = proc.transform(frame)
    fit, held, cfg = done[:300], done[300:], TabularConfig(net_epochs=3)
    plain, _, none = net.fit_predict(proc, fit, y[:300], [held], "regression", 1, "l2", cfg, "plain")
    watched, _, losses = net.fit_predict(
        proc, fit, y[:300], [held], "regression", 1, "l2", cfg, "watched", record=tmp_path, valid=(held, y[300:])
    )
    assert np.array_equal(plain[0], watched[0])
    recorded = pd.read_csv(tmp_path / "metrics.csv").valid_loss.dropna().to_numpy()
    assert len(recorded) == 3 and np.allclose(losses, recorded, rtol=1e-4) and len(none) == 0


def test_net_seeds_average_one_network_per_seed(tmp_path):
    """net_seeds=2: each network of the time validation is two (seeds 0 and 1), its predictions their mean: the same
    as the two one-seed runs averaged; LightGBM reads the first seed's embeddings; each seed's epochs recorded."""
    from features import TabularProcessor
    from pipelines.runs import RunDir
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.members import fit_net

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.integers(0, 5, 450), "b": rng.normal(size=450)})
    y = (frame.a * 0.5 + frame.b).to_numpy()
    proc = TabularProcessor(["a"], ["b"]).fit(frame[:300])
    done, test = proc.transform(frame), proc.transform(frame[:40])
    folds, ok = np.repeat([-1, 1, 0], 150), np.ones(450, bool)
    schema, metric = Schema("id", ["y"], None, "regression", [], None, None, [], [], []), get_metric("rmse")

    def run(seeds: int, seed: int = 0):
        cfg = TabularConfig(net_seeds=seeds, seed=seed, net_epochs=2, gbdt_embeddings=["a"], gbdt_embedding_dims=0)
        rd = RunDir(tmp_path / f"s{seeds}-{seed}")
        rd.start({"run": "test"})
        return fit_net(done, test, y, ok, folds, {"kind": "time"}, schema, metric, proc, cfg, rd), rd.path

    (oof, test_raw, tables, epochs), folder = run(2)
    assert epochs == {"refit": 2}  # the setting's: the refit's epochs are chosen only where the rule's are
    singles = [run(1, seed)[0] for seed in (0, 1)]
    held = folds == 0
    assert np.allclose(oof[held], np.mean([s[0][held] for s in singles], axis=0))
    assert np.allclose(test_raw, np.mean([s[1] for s in singles], axis=0))
    assert not np.allclose(singles[0][1], singles[1][1])  # the seeds' networks differ, so the mean means something
    assert np.array_equal(tables["refit"]["a"], singles[0][2]["refit"]["a"])
    assert (folder / "net-holdout-seed-1" / "metrics.csv").is_file() and (folder / "net-refit-seed-0").is_dir()


@pytest.mark.slow
def test_kill_9_then_the_same_train_resumes_after_its_finished_parts(tmp_path, monkeypatch):
    """A run killed after its first networks resumes with them (parts/: each network's predictions, each booster)
    and ends where an uninterrupted run ends; the same run with one member's settings changed reads back the other
    members' parts (each made with the settings shared by every member and its own), and keeps only its own."""
    from resume import kill_after_checkpoint, run

    comp, _ = "resumed-forecast", own_competitions(tmp_path, monkeypatch)
    src, data = write("forecast", tmp_path / "src", n=1500), ["--data", str(tmp_path / "data")]
    for step in (["new", comp, "--metric", METRICS["forecast"]], ["download", comp, "--src", str(src), *data]):
        assert main(step) == 0
    assert main(["features", comp, *data]) == 0
    args = [comp, *data, "gbdt_rounds=100", "net_epochs=2", "net_seeds=2"]
    runs = tmp_path / "data" / comp / "runs"
    kill_after_checkpoint(["train", *args, "--run", "killed"], runs / "killed" / "parts" / "net-holdout-seed-1.npz")
    assert not (runs / "killed" / "result.json").exists()
    out = run(["train", *args, "--run", "killed"])
    assert "run: resuming" in out and "net holdout seed 0: trained already, read back" in out
    assert "net refit seed 0: trained already" not in out  # killed before it: trained now
    run(["train", *args, "--run", "straight"])
    results = [json.loads((runs / r / "result.json").read_text()) for r in ("killed", "straight")]
    for key in ("oof_smape", "members", "weights", "rounds"):
        assert results[0][key] == results[1][key], key
    assert np.array_equal(*(np.load(runs / r / "test_raw.npy") for r in ("killed", "straight")))
    kill_after_checkpoint(
        ["train", *args, "--run", "changed"], runs / "changed" / "parts" / "net-holdout-seed-0.npz.key"
    )
    other = [a if a != "gbdt_rounds=100" else "gbdt_rounds=90" for a in args]
    (runs / "changed" / "parts" / "net-stale.npz").write_bytes(b"a part no training of these settings makes")
    out = run(["train", *other, "--run", "changed"])  # LightGBM's settings changed: the network's parts read back
    assert "run: other settings than its last training's: the finished parts of net (their settings" in out
    assert "resuming" not in out
    assert "net holdout seed 0: trained already, read back" in out and "gbdt holdout: trained already" not in out
    out = run(["train", *other, "net_lr=0.005", "--run", "changed", "--retrain"])  # the network's: LightGBM's read
    assert "gbdt holdout: trained already, read back" in out and "gbdt refit: trained already, read back" in out
    assert "net holdout seed 0: trained already" not in out
    kept = {p.name for p in (runs / "changed" / "parts").glob("*") if p.suffix != ".key"}
    assert "net-stale.npz" not in kept and "net-holdout-seed-1.npz" in kept, kept  # only this training's parts


def test_each_members_parts_are_keyed_by_the_settings_it_reads(monkeypatch):
    """A setting of one member changes that member's identity alone (its parts are trained again, the others' read
    back); where LightGBM reads the network's embeddings, each holds the other's settings."""
    from pipelines import config as configlib
    from pipelines.tabular import TabularConfig, steps

    monkeypatch.setattr(
        steps, "run_identity", lambda cfg, paths, members: configlib.result_settings(cfg, members=members)
    )
    base = steps.member_identities(TabularConfig(), None)

    def changed(**settings) -> set[str]:
        new = steps.member_identities(TabularConfig(**settings), None)
        return {m for m in base if new[m] != base[m]}

    assert changed(gbdt_lr=0.1) == {"gbdt"} and changed(net_lr=0.1) == {"net"} and changed(dot_lr=0.1) == {"dot"}
    assert changed(members=["gbdt"]) == set() and changed(linear_without_text=True) == {"linear"}
    assert changed(seed=1) == changed(refit=False) == {"gbdt", "net", "linear", "dot"}
    assert changed(gbdt_embeddings=["store"]) == {"gbdt", "net"}  # the network keeps the tables LightGBM reads
    assert changed(gbdt_embedding_dims=4) == {"gbdt", "net"}
    linked = steps.member_identities(TabularConfig(gbdt_embeddings=["store"], net_lr=0.1), None)
    assert linked["gbdt"] != steps.member_identities(TabularConfig(gbdt_embeddings=["store"]), None)["gbdt"]


def test_the_backtest_runs_two_cuts_unless_more_are_named(tmp_path):
    """cut0 and cut1 by default; cut2..cut5 (other seeded fifths, or spans further back) when named."""
    from pipelines.backtest import Backtest
    from pipelines.tabular.backtest import tabular_backtest

    spec = tabular_backtest(Card(slug="x", metric="rmse"))
    assert spec.chosen() == ["cut0", "cut1"] and spec.chosen(["cut2", "cut5"]) == ["cut2", "cut5"]
    assert list(spec.windows) == [f"cut{k}" for k in range(6)]
    assert Backtest({"a": 0, "b": 1}, None, None, "rmse", "id").chosen() == ["a", "b"]  # no default: every one
    from pipelines.tabular.backtest import cut

    raw = write("forecast", tmp_path / "raw", n=300)
    with pytest.raises(
        ValueError, match=r"backtest window cut900: 901 spans of \d+ days back .* leave no training day"
    ):
        cut(Card(slug="x", metric="smape", series=("store", "item")), raw, tmp_path / "cut", 900)


def test_lightgbm_splits_the_category_columns_as_categories():
    """gbdt.fit(categorical=...): a category whose codes' order says nothing (the target high on codes 0, 2, 4)
    is one split as a category; a threshold on its codes cannot find it in one split; the model file says which."""
    from models import gbdt

    rng = np.random.default_rng(0)
    code = rng.integers(0, 6, 600).astype(np.float32)
    y = np.where(code % 2 == 0, 1.0, 0.0) + rng.normal(0, 0.05, 600)
    x = np.stack([code, rng.normal(size=600).astype(np.float32)], axis=1)
    params = gbdt.GBDTParams(rounds=1, lr=1.0, leaves=2, min_leaf=5, subsample=1.0, colsample=1.0)
    as_category = gbdt.fit(x, y, params, ["c", "z"], categorical=("c", "other"))
    as_numbers = gbdt.fit(x, y, params, ["c", "z"])
    errors = [np.sqrt(np.mean((gbdt.predict(b, x) - y) ** 2)) for b in (as_category, as_numbers)]
    assert errors[0] < 0.1 < errors[1]
    assert "num_cat=1" in as_category.model_to_string() and "num_cat=0" in as_numbers.model_to_string()


def test_text_grades_need_their_order_and_a_sample_whose_id_is_second_scores():
    """qwk's grades written as text have no order the files say: refused, naming the card's classes= line, which
    orders them (a class the line lacks is named); the backtest's score finds the id of a sample written
    Response,Id (it merged on Response)."""
    from pipelines.tabular.backtest import score

    train = pd.DataFrame({"id": range(6), "f": range(6), "y": ["low", "mid", "high"] * 2})
    sample = pd.DataFrame({"id": range(3), "y": "low"})
    with pytest.raises(
        SchemaError, match=r"'y' of train.csv's \['high', 'low', 'mid'\] are not numbers: .* classes=\('high'"
    ):
        infer(Card(slug="x", metric="qwk"), train, train[["id", "f"]], sample, FILES)
    ordered = infer(
        Card(slug="x", metric="qwk", classes=("low", "mid", "high")), train, train[["id", "f"]], sample, FILES
    )
    assert ordered.classes == ["low", "mid", "high"]
    with pytest.raises(SchemaError, match=r"classes=\('low', 'mid'\) lacks \['high'\]"):
        infer(Card(slug="x", metric="qwk", classes=("low", "mid")), train, train[["id", "f"]], sample, FILES)
    with pytest.raises(ValueError, match="the last class is the scored one"):
        Card(slug="x", metric="auc", classes=("a", "b"), positive="a")
    hidden = pd.DataFrame({"Id": [1, 2, 3], "Response": [1, 2, 3]})
    sub = pd.DataFrame({"Response": [1, 2, 3], "Id": [1, 2, 3]})
    assert score(Card(slug="x", metric="qwk"), sub, hidden) == 1.0
    from pipelines.tabular.schema import sample_id

    assert sample_id(Card(slug="x", metric="qwk"), ["Response", "Id"], ["Id", "f"]) == "Id"
    assert sample_id(Card(slug="x", metric="qwk"), ["ID", "f"], ["id", "f"]) == "ID"  # a case apart: align_ids
    # the backtest numbers text grades and a flipped binary target in the card's order, as training does
    grades = Card(slug="x", metric="qwk", classes=("low", "mid", "high"))
    hidden = pd.DataFrame({"id": [1, 2, 3, 4], "y": ["low", "mid", "high", "high"]})
    one_off = score(grades, hidden.assign(y=["low", "mid", "high", "mid"]), hidden)
    two_off = score(grades, hidden.assign(y=["low", "mid", "high", "low"]), hidden)
    assert one_off > two_off, (one_off, two_off)  # alphabetical order scored them alike
    flipped = Card(slug="x", metric="auc", classes=("Yes", "No"))  # P(No) submitted
    yes_no = pd.DataFrame({"id": [1, 2, 3, 4], "y": ["No", "Yes", "Yes", "No"]})
    assert score(flipped, yes_no.assign(y=[0.9, 0.1, 0.2, 0.8]), yes_no) == 1.0
    with pytest.raises(SchemaError, match=r"classes=\('a', 'b'\) orders a target's classes; this is regression"):
        infer(Card(slug="x", metric="rmse", classes=("a", "b")), train.assign(y=1.5), train[["id", "f"]], sample, FILES)


def test_a_target_known_in_no_row_of_a_fold_is_refused_by_name(tmp_path):
    """Of several targets, one known in a handful of rows may have none in some fold: LightGBM cannot validate on
    no rows, so the target is named with the fix (fewer folds); a multi-label table still meets the refusal that
    names the image kind, not a numpy error."""
    from pipelines.runs import RunDir
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.members import objective
    from pipelines.tabular.schema import targets, truth
    from pipelines.tabular.steps import train_target

    frame = pd.DataFrame({"y": [1.0, 2.0, np.nan, np.nan, np.nan, np.nan], "_fold": [0, 0, 1, 1, 2, 2]})
    schema = Schema("id", ["y"], None, "regression", [], None, None, [], [], [])
    with pytest.raises(SchemaError, match=r"y: no labelled row in fold \[1, 2\] \(2 labelled rows in all\)"):
        train_target(
            schema, get_metric("rmse"), frame, frame, {"kind": "kfold"}, None, TabularConfig(), RunDir(tmp_path)
        )
    tags = Schema("id", ["t"], None, "multilabel", ["a", "b"], None, None, [], [], [])
    labels = pd.DataFrame({"t": ["a", "a b", "b"]})
    assert targets(get_metric("f2_samples"), tags, labels)[0].shape == (3, 2) and truth(tags, labels).shape == (3, 2)
    with pytest.raises(SchemaError, match="a multi-label table is not handled by the tabular kind yet"):
        objective(get_metric("f2_samples"), tags, TabularConfig())


def test_ordinal_cuts_chosen_on_the_rows_beat_the_midpoints():
    """qwk's ordered classes learned as a number: the cuts chosen on the rows (in order) score better than the
    midpoints 0.5, 1.5, ... where the number is squeezed and shifted, as a regression towards the mean leaves it."""
    from models.metrics import best_cuts
    from pipelines.tabular.submission import submission_form

    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 2000)
    p = 0.6 * y + 0.8 + rng.normal(0, 0.3, 2000)
    qwk = get_metric("qwk")
    cuts = best_cuts(p, y, 5)
    midpoints = qwk.score(y, np.digitize(p, [0.5, 1.5, 2.5, 3.5]))
    assert cuts == sorted(cuts) and qwk.score(y, np.digitize(p, cuts)) > midpoints + 0.05, (cuts, midpoints)
    schema = Schema("id", ["y"], None, "multiclass", [1, 2, 3, 4, 5], None, None, [], [], [])
    assert submission_form(qwk, schema, np.array([-1.0, 9.0]), {"cuts": cuts}).tolist() == [0, 4]  # class indices


@pytest.mark.slow
def test_free_text_is_read_as_words_and_topics_and_its_signal_reaches_the_score(tmp_path, monkeypatch, capsys):
    """A pet's description decides its class (the words "friendly" and "sick"): read as its words' counts and
    TF-IDF components, the out-of-fold auc is high, as it is for the linear member alone (the TF-IDF kept in
    processed/text.npz); with text_words=0 text_dims=0 the column is no feature and the score is near chance. An
    id-like column of its own per row stays no feature."""
    rng = np.random.default_rng(0)
    n, filler = 900, "the a pet is very and with to of for home loves food play walk sleep".split()
    mood = rng.choice(["friendly", "sick", ""], n)
    text = [" ".join([*rng.choice(filler, rng.integers(4, 15)), m]).strip() for m in mood]
    frame = pd.DataFrame({"id": range(n), "age": rng.integers(1, 100, n), "Description": text})
    frame["ref"] = [f"R{i:07d}" for i in range(n)]
    frame["y"] = ((mood == "friendly") | ((mood == "") & (rng.random(n) < 0.5))).astype(int)
    train, test = frame[:600], frame[600:].drop(columns="y")
    files = {"train": train, "test": test, "sample_submission": test[["id"]].assign(y=0.5)}
    competition(tmp_path / "src", files, 'slug="pets", metric="auc"', tmp_path, monkeypatch, "pets")
    data, small = ["--data", str(tmp_path / "data")], ["gbdt_rounds=100"]
    assert main(["download", "pets", "--src", str(tmp_path / "src"), *data]) == 0
    scores = {}
    runs = {"text": ["members=[gbdt]"], "off": ["members=[gbdt]", "text_words=0", "text_dims=0"]}
    for run, off in (*runs.items(), ("linear", ["members=[linear]"])):
        for step in ("features", "train"):
            assert main([step, "pets", *data, "--run", run, *small, *off]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        result = json.loads((tmp_path / "data" / "pets" / "runs" / run / "result.json").read_text())
        scores[run] = result["oof_auc"]
        assert (tmp_path / "data" / "pets" / "processed" / "text.npz").is_file() == (run != "off")
        if run == "linear":  # the TF-IDF's every word, beside the one-hot age bins
            assert list(result["weights"]) == ["linear"] and "of the free text's TF-IDF)" in out
            assert result["linear_strength"]["folds"][1] == result["linear_strength"]["folds"][2]  # fold 0's choice
            continue
        assert "not a feature: ref (near-unique text" in out
        if run == "text":
            assert "no word of it occurs in two rows (an id, a code of its own per row)" in out
            assert "free text: Description (free text (" in out
            assert "Description: free text as Description_chars, Description_words, 18 words' counts (" in out
            assert "Description_svd0..31, the top components of the TF-IDF of" in out
        else:
            assert "not a feature: Description (free text (" in out and "text_dims=0 and text_words=0)" in out
    assert scores["text"] > 0.8 and scores["linear"] > 0.8 and scores["off"] < 0.65, scores
    # no free text: the linear member alone is refused unless asked for on the one-hot columns
    off = ["text_words=0", "text_dims=0"]
    assert main(["features", "pets", *data, "--run", "one-hot", *off]) == 0
    assert main(["train", "pets", *data, "--run", "one-hot", *off, "members=[linear]"]) == 1
    assert "the linear member trains where the table has free text" in capsys.readouterr().err
    assert main(["train", "pets", *data, "--run", "one-hot", *off, "members=[linear]", "linear_without_text=true"]) == 0
    result = json.loads((tmp_path / "data" / "pets" / "runs" / "one-hot" / "result.json").read_text())
    assert list(result["weights"]) == ["linear"]
    assert re.search(
        r"linear: \d+ columns \(\d+ one-hot of the categories and the numbers' bins\)\n", capsys.readouterr().out
    )


def test_a_sentinel_number_is_read_as_missing_and_said(tmp_path, capsys):
    """Home Credit's DAYS_EMPLOYED is 365243 for the unemployed and pensioners: as a number it squashes the others
    in the network's normalisation (a generated HC-like set: the net's test AUC 0.615 -> 0.700). It is read as
    missing, said, and flagged by FillMissing's `_na`; in a summarised table it leaves the means and each key gets
    its share of them (trial 50: 365243 in DAYS_LAST_DUE is a loan still active, and their count mattered); as_is=
    keeps a column and its summaries, not another column whose name begins with it."""
    from pipelines.paths import Paths
    from pipelines.tabular import TabularConfig
    from pipelines.tabular.features import build_features

    raw = tmp_path / "data" / "hc" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 600
    days = np.where(rng.random(n) < 0.2, 365243, -rng.integers(100, 15000, n))
    apps = pd.DataFrame({"SK_ID_CURR": range(n), "DAYS_EMPLOYED": days, "income": rng.normal(size=n)})
    apps.iloc[:400].assign(TARGET=rng.integers(0, 2, 400)).to_csv(raw / "train.csv", index=False)
    apps.iloc[400:].to_csv(raw / "test.csv", index=False)
    apps.iloc[400:][["SK_ID_CURR"]].assign(TARGET=0.5).to_csv(raw / "sample_submission.csv", index=False)
    prev = pd.DataFrame({"SK_ID_CURR": np.repeat(np.arange(n), 2), "DAYS_FIRST_DRAWING": -rng.integers(1, 3000, 2 * n)})
    prev.loc[::3, "DAYS_FIRST_DRAWING"] = 365243
    prev["DAYS_FIRST_DRAWING_1ST"] = prev.DAYS_FIRST_DRAWING
    prev.to_csv(raw / "previous.csv", index=False)
    (raw / "SOURCE.json").write_text("{}")
    paths = Paths.for_comp("hc", tmp_path / "data")
    card = Card(slug="hc", metric="auc", tables={"previous.csv": "SK_ID_CURR"})
    build_features(card, paths, TabularConfig())
    out = capsys.readouterr().out
    share = (apps.DAYS_EMPLOYED[:400] == 365243).mean()
    assert f"DAYS_EMPLOYED: 365243 in {share:.1%} of the rows, far past the others (-14" in out
    assert "previous.csv: DAYS_FIRST_DRAWING: 365243 in 33.3% of the rows" in out
    train = pd.read_feather(paths.processed / "train.feather")
    procs = json.loads((paths.processed / "procs.json").read_text())
    employed = (apps.DAYS_EMPLOYED[:400] == 365243).to_numpy()
    assert (train.DAYS_EMPLOYED_na.to_numpy() == np.where(employed, 2, 1)).all()  # Categorify's codes of False/True
    mean = procs["fill_missing"]["medians"]["DAYS_EMPLOYED"]
    assert mean == pytest.approx(apps.DAYS_EMPLOYED[:400][~employed].median())
    first = prev.DAYS_FIRST_DRAWING.where(prev.DAYS_FIRST_DRAWING != 365243).groupby(prev.SK_ID_CURR).mean()
    normalize = procs["normalize"]
    mu, sd = (
        normalize["means"]["previous_DAYS_FIRST_DRAWING_mean"],
        normalize["stds"]["previous_DAYS_FIRST_DRAWING_mean"],
    )
    assert np.allclose(train.previous_DAYS_FIRST_DRAWING_mean * sd + mu, first[:400].fillna(first[:400].median()))
    held = (prev.DAYS_FIRST_DRAWING == 365243).groupby(prev.SK_ID_CURR).mean()[:400]  # each key's share of them
    mu, sd = (
        normalize["means"]["previous_DAYS_FIRST_DRAWING=365243"],
        normalize["stds"]["previous_DAYS_FIRST_DRAWING=365243"],
    )
    assert np.allclose(train["previous_DAYS_FIRST_DRAWING=365243"] * sd + mu, held, atol=1e-6)
    build_features(replace(card, as_is=("DAYS_EMPLOYED", "DAYS_FIRST_DRAWING")), paths, TabularConfig())
    out = capsys.readouterr().out
    assert "DAYS_EMPLOYED: 365243" not in out and "DAYS_FIRST_DRAWING: 365243" not in out
    assert "previous.csv: DAYS_FIRST_DRAWING_1ST: 365243 in 33.3% of the rows" in out  # named otherwise: read
    with pytest.raises(SchemaError, match=r"as_is= names \['DAYS_WORKED'\], not a column of train.csv or of a tables="):
        build_features(replace(card, as_is="DAYS_WORKED"), paths, TabularConfig())


def test_rows_reads_the_rows_it_keeps_as_the_whole_file_reads_them(tmp_path, monkeypatch, capsys):
    """rows= reads train.csv in pieces of text and types the rows kept once (pyarrow, then pandas): a blank, an NA,
    a quoted comma or line break, a quote inside a field (5'10"), an id's leading zeros, True/False and a BOM read as
    the whole file's read does, wherever the pieces are cut; a row short of fields, which pyarrow refuses, is read
    by pandas' chunks; a ragged row is a ValueError naming the file, as pandas' is."""
    from pipelines.tabular import rows
    from pipelines.tabular.features import read_csv

    path = tmp_path / "train.csv"
    test = pd.DataFrame({"id": ["006"]})

    def same(text: str, blocks=(rows.BLOCK, 16, 1)) -> None:  # rows.BLOCK as imported: one piece
        path.write_text(text, encoding="utf-8-sig")
        whole = read_csv(path, "fix", ("id",))
        for block in blocks:  # one piece; pieces cut inside quoted values and each row
            monkeypatch.setattr(rows, "BLOCK", block)
            kept = read_csv(path, "fix", ("id",), lambda p: rows.Rows(10**6, 0).kept(p, test, []))
            assert kept.pop(rows.DRAW).notna().all()
            pd.testing.assert_frame_equal(kept, whole)

    same(
        'id,a,b,c,d,e,a\r\n001,"x, y",,NA,True,1.5,q\r\n002,"two\nlines","",null,False,  7,r\r\n'
        '003,"quote ""in""",N/A,nan,True,1e3,s\r\n004,é,#N/A,-1.#IND,,-,t\r\n\r\n005,plain,0,NaN,False,0012,u\r\n'
    )
    assert pd.read_csv(path, dtype={"id": str}).id.tolist() == ["001", "002", "003", "004", "005"]
    same('id,height,note\n1,5\'10",a\n2,6,"b\nc"\n3,5\'2",d\n')  # a quote in a field opens no value
    assert "refused" not in capsys.readouterr().out  # cut where pyarrow reads every piece, pandas' not needed
    long = "".join(f'{i},"line one\nline {i}",{"x" * 50}\n' for i in range(30_000))  # pieces > pyarrow's 1 MB
    same("id,text,pad\n" + long, blocks=(64 << 20,))
    same("id,a,b\n1,2,3\n4,5\n6,7,8\n")  # a row short of a field: pandas fills it
    assert "pyarrow refused it in pieces" in capsys.readouterr().out
    path.write_text("id,a\n1,2\n3,4,5\n")
    monkeypatch.setattr(rows, "HEAD", 1)  # the ragged row past the rows that say which columns are dates
    for given in (None, lambda p: rows.Rows(10, 0).kept(p, test, [])):
        with pytest.raises(ValueError, match=r"(?s)train.csv: unreadable as CSV .*; fix"):
            read_csv(path, "fix", ("id",), given)
