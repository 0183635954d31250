"""The linear member (pipelines/tabular/linear.py, members.fit_linear): its one-hot rows, its models, and its
strength chosen on held rows it then does not score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from features import TabularProcessor
from pipelines.runs import RunDir
from pipelines.tabular import TabularConfig, linear
from pipelines.tabular.members import fit_linear


def processed(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"shop": rng.choice(["a", "b", "c"], n), "rooms": rng.integers(1, 4, n), "area": rng.lognormal(4, 1, n)}
    )
    proc = TabularProcessor(["shop"], ["rooms", "area"]).fit(frame)
    return frame, proc


def test_the_rows_are_one_hot_categories_values_and_quantile_bins():
    frame, proc = processed()
    test = frame[:20].assign(shop="z")  # a shop train never has
    x, x_test = linear.design(proc.transform(frame), proc.transform(test), proc)
    # shop: a, b, c (the code of #na# never occurs); rooms: 3 values, one column each; area: 10 bins
    assert x.shape == (300, 3 + 3 + 10) and x_test.shape == (20, 16) and x.dtype == np.float32
    assert (x.sum(axis=1) == 3).all()  # one column of each of the three
    assert (x_test[:, :3].sum(axis=1) == 0).all() and (x_test.sum(axis=1) == 2).all()  # the unseen shop: zeros
    shares = np.asarray(x[:, 6:].sum(axis=0)).ravel() / 300
    assert np.allclose(shares, 0.1, atol=0.01)  # quantile bins: a tenth of the rows each


def test_the_free_texts_tfidf_stands_in_for_the_numbers_made_of_it():
    frame, proc = processed(100)
    frame["text_svd0"] = np.random.default_rng(1).normal(size=100)
    proc = TabularProcessor(["shop"], ["rooms", "area", "text_svd0"]).fit(frame)
    done = proc.transform(frame)
    text = sp.random(130, 50, density=0.1, format="csr", dtype=np.float32, random_state=0)  # train's then the test's
    x, x_test = linear.design(done[:100], done[:30], proc, text, from_text=["text_svd0"])
    assert x.shape == (100, 16 + 50) and x_test.shape == (30, 66)
    assert (x[:, 16:] != text[:100]).nnz == 0 and (x_test[:, 16:] != text[100:]).nnz == 0
    assert linear.design(done, done[:30], proc)[0].shape == (100, 26)  # no text: its numbers binned as any


def test_the_encoders_fit_the_rows_given_and_the_bins_are_the_same_every_time():
    """A time validation's encoders fit the rows before the holdout (as the procs): a holdout value beyond them
    falls in the top bin, a category only the holdout has in none. Quantiles of every row, not a sample of
    200,000 (scikit-learn's default, unseeded): two builds of 250,000 rows are one."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"shop": np.repeat(["a", "b"], [80, 20]), "area": np.arange(100.0)})
    proc = TabularProcessor(["shop"], ["area"]).fit(frame[:80])
    done = proc.transform(frame)
    x, _ = linear.design(done, done[:1], proc, fit=np.arange(100) < 80)
    assert x.shape == (100, 1 + 10)  # shop a only; area's 10 bins of rows 0..79
    assert (x[80:, 0].toarray() == 0).all() and (x[80:, -1].toarray() == 1).all()  # b unseen; the top bin
    big = pd.DataFrame({"shop": "a", "area": rng.lognormal(4, 1, 250_000)})
    proc = TabularProcessor(["shop"], ["area"]).fit(big)
    done = proc.transform(big)
    first, second = (linear.design(done, done[:10], proc)[0] for _ in range(2))
    assert (first != second).nnz == 0


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_each_task_predicts_its_form(task):
    rng = np.random.default_rng(0)
    x = sp.csr_matrix(rng.random((200, 6)).astype(np.float32))
    y = {"regression": x[:, 0].toarray().ravel() * 3, "binary": (x[:, 0].toarray().ravel() > 0.5) * 1.0}.get(
        task,
        np.minimum(x[:, 0].toarray().ravel() * 4, 2).astype(int),  # classes 0..2 of 4: class 3 never occurs
    )
    out = linear.fit_predict(x, y, [x[:50], x[50:60]], task, 4 if task == "multiclass" else 1, 1.0)
    assert [o.shape[0] for o in out] == [50, 10]
    if task == "multiclass":
        assert out[0].shape == (50, 4) and np.allclose(out[0].sum(axis=1), 1)
        assert np.allclose(out[0][:, 3], 1 / 4 / 201)  # the class no row has: as if one more row were seen
        assert (out[0].argmax(axis=1) == y[:50]).mean() > 0.8
    elif task == "binary":
        assert out[0].ndim == 1 and ((out[0] > 0.5) == y[:50]).mean() > 0.8
    else:
        assert np.corrcoef(out[0], y[:50])[0, 1] > 0.9


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_rows_of_one_class_predict_it_smoothed(task):
    """A rare label's fold may hold one class (logistic regression refuses it): that class at (n + 1/k) / (n + 1)
    of n rows, the others 1/k / (n + 1), as members.constant_member's."""
    x = sp.csr_matrix(np.random.default_rng(0).random((40, 3)).astype(np.float32))
    out = linear.fit_predict(x, np.ones(40), [x[:5]], task, 3 if task == "multiclass" else 1, 1.0)[0]
    if task == "binary":
        assert np.allclose(out, (40 + 1 / 2) / 41)
    else:
        assert np.allclose(out, [[1 / 3 / 41, (40 + 1 / 3) / 41, 1 / 3 / 41]] * 5)


def mse(y, ok):
    return lambda p, rows: float(np.mean((p[ok[rows]] - y[rows][ok[rows]]) ** 2))


def test_each_fold_fits_the_strength_another_folds_held_rows_chose(tmp_path, capsys):
    """k-fold: folds 0 and 1 fit every strength; fold 0 is scored at the one fold 1's held loss chose, every other
    fold at fold 0's; the test is the folds' average; a second call in the same run folder fits nothing."""
    rng = np.random.default_rng(0)
    x = sp.csr_matrix(rng.normal(size=(250, 40)).astype(np.float32))
    y = x[:, :5].toarray().sum(axis=1) + rng.normal(size=250) * 2
    ok = np.ones(250, bool)
    ok[::25] = False  # unlabelled rows: fitted on by none, scored by none
    folds = np.repeat([0, 1, 2, 3, 4], 50)
    loss = mse(y, ok)

    def run():
        rd = RunDir(tmp_path / "r")
        rd.start({"run": "t"})
        return fit_linear(x, x[:30], y, ok, folds, {"kind": "kfold"}, "regression", 1, loss, TabularConfig(), rd)

    oof, test_raw, chosen = run()
    held = {}
    for k in (0, 1):
        rows = folds == k
        fits = {a: linear.fit_predict(x[(folds != k) & ok], y[(folds != k) & ok], [x[rows]], "regression", 1, a)[0]
                for a in linear.ALPHAS}  # fmt: skip
        held[k] = min(linear.ALPHAS, key=lambda a, rows=rows, fits=fits: loss(fits[a], rows))
    assert chosen == {"folds": [held[1], held[0], held[0], held[0], held[0]]}
    assert held[0] != held[1]  # so that a rule scoring a fold at its own choice fails here
    tests = []
    for k, a in enumerate(chosen["folds"]):
        fit = (folds != k) & ok
        expected = linear.fit_predict(x[fit], y[fit], [x[folds == k], x[:30]], "regression", 1, a)
        assert np.allclose(oof[folds == k], expected[0])
        tests.append(expected[1])
    assert np.isfinite(oof).all() and np.allclose(test_raw, np.mean(tests, axis=0))  # the folds' average
    assert "alpha of 1, 4, 16, 64" in capsys.readouterr().out
    oof2, test2, chosen2 = run()
    assert "trained already, read back" in capsys.readouterr().out
    assert chosen2 == chosen and np.array_equal(oof2, oof) and np.array_equal(test2, test_raw)


def test_a_time_holdout_is_scored_at_the_strength_the_days_before_it_chose(tmp_path, monkeypatch):
    """Time: the strength is chosen on the horizon before the holdout (fold 1) by models of the rows before it,
    then fitted on every row before the holdout to score it; the refit fits every labelled row at the one the
    holdout chooses once it is scored. Each model predicts its strength, and the losses make the horizon choose
    C 16 and the holdout C 0.25, so a choice made on the wrong rows shows."""
    calls = []

    def fake(x, y, evals, task, n_classes, strength):
        calls.append((x.shape[0], strength))
        return [np.full(e.shape[0], strength) for e in evals]

    monkeypatch.setattr(linear, "fit_predict", fake)
    folds = np.repeat([-1, 1, 0], [160, 40, 40])
    ok = np.ones(240, bool)
    ok[::40] = False  # never fitted on
    prefers = {1: 16.0, 0: 0.25}  # the strength each window's rows favour

    def loss(p, rows):
        window = int(folds[rows][0])
        return abs(np.log(p[0]) - np.log(prefers[window]))

    x, y = sp.csr_matrix(np.ones((240, 2), np.float32)), np.zeros(240)
    rd = RunDir(tmp_path / "r")
    rd.start({"run": "t"})
    oof, test_raw, chosen = fit_linear(
        x, x[:10], y, ok, folds, {"kind": "time"}, "binary", 1, loss, TabularConfig(refit=True), rd
    )
    assert chosen == {"holdout": 16.0, "refit": 0.25}
    assert (oof[folds == 0] == 16.0).all() and np.isnan(oof[folds != 0]).all() and (test_raw == 0.25).all()
    assert {(n, c) for n, c in calls} == {
        *((int((folds == -1).sum() - (ok[folds == -1] == 0).sum()), c) for c in linear.CS),  # the choice's
        *((int(((folds != 0) & ok).sum()), c) for c in linear.CS),  # the holdout's, each strength
        (int(ok.sum()), 0.25),  # the refit: every labelled row
    }
