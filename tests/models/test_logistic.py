"""models/linear.py: the probe's logistic regression (torch L-BFGS, every tag or class at once) against
scikit-learn's, whose objective it minimises, in each case the probe meets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from models.linear import fit_logistic, predict_logistic


def _rows(n: int = 300, f: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, f))
    return x, x @ rng.standard_normal((f, 4)) + rng.standard_normal((n, 4))


@pytest.mark.parametrize("c", [0.01, 1.0])
def test_tags_match_scikit_learns_one_vs_rest_and_a_constant_tag_predicts_itself(c):
    x, score = _rows()
    y = (score > 0).astype(float)
    y[:, 2], y[:, 3] = 0, 1  # a tag no image has in this fold, one every image has
    model = fit_logistic(x, y, c, True, 4)
    ours = predict_logistic(model, x[:50])
    with pytest.warns(UserWarning, match="Label"):
        theirs = OneVsRestClassifier(LogisticRegression(C=c, max_iter=1000)).fit(x, y).predict_proba(x[:50])
    assert model.converged and np.abs(ours - theirs).max() < 5e-3  # within scikit-learn's tolerance (tol=1e-4)
    assert (ours[:, 2] == 0).all() and (ours[:, 3] == 1).all() and list(model.outputs) == [0, 1]
    for t in (0, 1):  # each tag's objective at least as low as scikit-learn's own fit of that tag reaches
        sk = LogisticRegression(C=c, max_iter=1000).fit(x, y[:, t])
        w, b = model.weight[:, t].double().numpy(), float(model.bias[t])
        assert _objective(x, y[:, t], w, b, c) <= _objective(x, y[:, t], sk.coef_[0], sk.intercept_[0], c) + 1e-4


def _objective(x, y, w, b, c) -> float:
    """scikit-learn's: C times the summed log loss plus half the squared weights."""
    z = x @ w + b
    return float(c * np.sum(np.logaddexp(0, z) - y * z) + 0.5 * w @ w)


@pytest.mark.parametrize("n_seen", [2, 3, 4])
def test_classes_match_scikit_learns_and_a_class_not_seen_gets_nothing(n_seen):
    """Two classes: one sigmoid, as scikit-learn's binary model (a softmax of two would halve the penalty)."""
    x, score = _rows(seed=1)
    y = np.argmax(score[:, :n_seen], 1)  # classes 0..n_seen-1 of 5
    model = fit_logistic(x, y, 0.1, False, 5)
    ours = predict_logistic(model, x[:50])
    theirs = LogisticRegression(C=0.1, max_iter=1000).fit(x, y).predict_proba(x[:50])
    assert model.kind == ("binary" if n_seen == 2 else "softmax") and ours.shape == (50, 5)
    assert np.abs(ours[:, :n_seen] - theirs).max() < 5e-3 and (ours[:, n_seen:] == 0).all()
    assert np.allclose(ours.sum(1), 1)


def test_one_class_seen_predicts_it_without_a_fit():
    x, _ = _rows(n=20)
    model = fit_logistic(x, np.full(20, 2), 0.1, False, 3)
    assert model.kind == "constant" and (predict_logistic(model, x) == [0, 0, 1]).all()


def test_a_fit_that_runs_out_of_iterations_says_so(monkeypatch, capsys):
    import models.linear as linear
    from pipelines.vision.probe import fit_predict

    x, score = _rows()
    assert fit_logistic(x, (score > 0).astype(float), 1.0, True, 4).converged
    monkeypatch.setattr(linear, "MAX_ITER", 2)
    assert not fit_logistic(x, (score > 0).astype(float), 1.0, True, 4).converged
    monkeypatch.setattr("pipelines.vision.probe.MAX_ITER", 2)
    fit_predict(x[None], (score > 0).astype(float), [x[None, :5]], True, 4, 1.0)
    assert "probe: the logistic regression stopped at 2 iterations before converging (C=1)" in capsys.readouterr().out


def test_the_probes_fit_predicts_as_the_scikit_learn_one_it_replaced():
    """pipelines.vision.probe.fit_predict (views standardised, each view's probabilities averaged, a class absent from
    the fitting images at 1e-6) against the bench's copy of the scikit-learn fit it replaced."""
    from pipelines.vision.bench import sklearn_fit_predict
    from pipelines.vision.probe import fit_predict

    rng = np.random.default_rng(2)
    x, score = _rows(n=240, seed=3)
    views = np.stack([x, x + 0.3 * rng.standard_normal(x.shape)])  # (views, n, F)
    y = np.array([0, 2, 3])[np.argmax(score[:, :3], 1)]  # classes 0, 2 and 3 of 5: 1 and 4 absent
    evals = [views[:, :40], views[:, 200:]]
    ours, theirs = fit_predict(views, y, evals, False, 5, 0.1), sklearn_fit_predict(views, y, evals, False, 5, 0.1)
    for a, b in zip(ours, theirs, strict=True):
        assert np.abs(a - b).max() < 2e-3 and np.allclose(a.sum(1), 1)
        assert np.allclose(a[:, [1, 4]], 1e-6 / (1 + 2e-6))
    tags = (score > 0.5).astype(float)
    ours, theirs = fit_predict(views, tags, evals, True, 4, 0.1), sklearn_fit_predict(views, tags, evals, True, 4, 0.1)
    assert max(np.abs(a - b).max() for a, b in zip(ours, theirs, strict=True)) < 2e-3
