"""The metrics registry: each metric against scikit-learn where it has one and hand-computed cases where it has
not, and what each metric asks of a model (target, loss) and of a submission."""

import numpy as np
import pytest
import sklearn.metrics as skm

from models.metrics import METRICS, TASKS, from_target, get_metric, to_target

RNG = np.random.default_rng(0)
Y_REG = RNG.gamma(2.0, 50.0, 200)
P_REG = Y_REG * RNG.lognormal(0, 0.2, 200)
Y_BIN = RNG.random(200) < 0.4
P_BIN = np.clip(Y_BIN * 0.4 + RNG.random(200) * 0.6, 0, 1)
Y_CLS = RNG.integers(0, 4, 200)
P_CLS = RNG.dirichlet(np.ones(4), 200)


@pytest.mark.parametrize(
    "name, y, p, reference",
    [
        ("rmse", Y_REG, P_REG, lambda y, p: np.sqrt(skm.mean_squared_error(y, p))),
        ("rmsle", Y_REG, P_REG, lambda y, p: np.sqrt(np.mean((np.log1p(p) - np.log1p(y)) ** 2))),
        ("rmspe", Y_REG, P_REG, lambda y, p: np.sqrt(np.mean(((y - p) / y) ** 2))),
        ("mae", Y_REG, P_REG, skm.mean_absolute_error),
        ("mape", Y_REG, P_REG, lambda y, p: np.mean(np.abs(y - p) / y)),
        ("logloss", Y_BIN, P_BIN, lambda y, p: skm.log_loss(y, p)),
        ("mlogloss", Y_CLS, P_CLS, lambda y, p: skm.log_loss(y, p, labels=range(4))),
        ("auc", Y_BIN, P_BIN, skm.roc_auc_score),
        ("gini", Y_BIN, P_BIN, lambda y, p: 2 * skm.roc_auc_score(y, p) - 1),
        ("r2", Y_REG, P_REG, skm.r2_score),
        ("auc", Y_CLS, P_CLS, lambda y, p: skm.roc_auc_score(y, p, multi_class="ovr")),
        ("accuracy", Y_CLS, P_CLS.argmax(1), skm.accuracy_score),
        ("f1", Y_BIN, P_BIN > 0.5, skm.f1_score),
        ("f1_macro", Y_CLS, P_CLS.argmax(1), lambda y, p: skm.f1_score(y, p, average="macro")),
        ("mcc", Y_BIN, P_BIN > 0.5, skm.matthews_corrcoef),
        ("qwk", Y_CLS, P_CLS.argmax(1), lambda y, p: skm.cohen_kappa_score(y, p, weights="quadratic")),
        (
            "f1_macro_tags",
            RNG.random((100, 5)) < 0.3,
            RNG.random((100, 5)) < 0.4,
            lambda y, p: skm.f1_score(y, p, average="macro", zero_division=0),
        ),
        (
            "f2_samples",
            RNG.random((100, 5)) < 0.3,
            RNG.random((100, 5)) < 0.4,
            lambda y, p: skm.fbeta_score(y, p, beta=2, average="samples", zero_division=0),
        ),
    ],
)
def test_metric_equals_its_reference(name, y, p, reference):
    assert get_metric(name).score(y, p) == pytest.approx(reference(y, p), rel=1e-9)


def test_hand_computed_cases():
    # SMAPE (Kaggle: 100/n sum 2|F-A|/(|A|+|F|), 0/0 counted 0): 2*10/210, 0, 2*50/50
    assert get_metric("smape").score([100, 0, 50], [110, 0, 0]) == pytest.approx(100 * (20 / 210 + 0 + 2) / 3)
    # map@3, Kaggle's worked cases: the right answer 1st, 2nd, 3rd or absent; two right answers
    m = get_metric("map@3")
    assert m.score([1, 1, 1, 1], [[1, 2, 3], [2, 1, 3], [2, 3, 1], [4, 5, 6]]) == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    assert m.score([{1, 2}], [[1, 3, 2]]) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert m.score([1], [[1, 1, 1]]) == 1.0  # a repeated prediction counts once
    assert get_metric("map@5").score(["cat"], [["dog", "cow", "hen", "pig", "cat", "cat"]]) == pytest.approx(1 / 5)
    # MCC: tp=2 tn=2 fp=0 fn=1 -> 4 / sqrt(2*3*2*3)
    assert get_metric("mcc").score([1, 1, 1, 0, 0], [1, 1, 0, 0, 0]) == pytest.approx(4 / 6)
    # binary log loss clipped at 1e-15 as Kaggle does: a certain, wrong answer costs -log(1e-15), not infinity
    assert get_metric("logloss").score([1, 0], [0.0, 0.0]) == pytest.approx(-np.log(1e-15) / 2)
    assert get_metric("auc").score([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    with pytest.raises(ValueError):  # Kaggle refuses negative predictions for RMSLE
        get_metric("rmsle").score([1.0, 2.0], [-1.0, 2.0])


def test_each_metric_says_what_it_asks_of_a_model_and_a_submission():
    for m in METRICS.values():
        assert set(m.tasks) <= set(TASKS) and m.tasks, m.name
        assert not m.threshold or m.submits in ("label", "labels"), m.name
        if "regression" in m.tasks and m.name != "qwk":
            assert m.submits == "number" and m.loss in ("mse", "l1")
        if m.submits == "probability":
            assert m.loss in ("bce", "ce")
    assert (get_metric("rmsle").target, get_metric("rmspe").target, get_metric("rmse").target) == (
        "log1p",
        "log",
        "raw",
    )
    assert get_metric("mlogloss").loss == "ce" and get_metric("logloss").loss == "bce"
    assert get_metric("f2_samples").submits == "labels" and get_metric("f2_samples").threshold
    assert get_metric("rmse").better(0.1, 0.2) and get_metric("auc").better(0.9, 0.8)


def test_targets_round_trip_and_refuse_what_their_log_cannot_take():
    y = np.array([0.0, 1.0, 250.0])
    for name in ("rmse", "rmsle", "smape"):
        m = get_metric(name)
        assert from_target(m, to_target(m, y)) == pytest.approx(y)
    assert from_target(get_metric("rmsle"), [-3.0])[0] == 0  # never a negative forecast from log1p
    with pytest.raises(ValueError, match="a log1p target needs y >= 0"):
        to_target(get_metric("rmsle"), [-1.0])
    with pytest.raises(ValueError, match="a log target needs y > 0"):
        to_target(get_metric("rmspe"), y)


def test_names_aliases_and_an_unknown_metric():
    assert get_metric("RMSLE") is get_metric("rmsle") and get_metric("f2") is get_metric("f2_samples")
    assert get_metric("roc_auc") is get_metric("auc")
    assert get_metric("normalized_gini") is get_metric("gini") and get_metric("r2_score") is get_metric("r2")
    with pytest.raises(ValueError, match="unknown metric 'pinball'; known: rmse, rmsle"):
        get_metric("pinball")


def test_quadratic_weighted_kappa_is_sklearns():
    """qwk, written with numpy for speed, equals sklearn's cohen_kappa_score(weights="quadratic") on random labels
    (numbers, text, labels one side lacks), and is undefined (nan) as sklearn's is where both hold one label."""
    import warnings

    rng = np.random.default_rng(0)
    qwk = get_metric("qwk").score
    for _ in range(300):
        n, k = rng.integers(2, 40), rng.integers(2, 6)
        a, b = rng.integers(0, k, n), rng.integers(0, k, n) + rng.integers(0, 2)
        assert qwk(a, b) == pytest.approx(skm.cohen_kappa_score(a, b, weights="quadratic"), abs=1e-12)
    text = (["low", "mid", "high", "mid"], ["low", "high", "high", "mid"])
    assert qwk(*text) == pytest.approx(skm.cohen_kappa_score(*text, weights="quadratic"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(qwk([1, 1], [1, 1])) and np.isnan(skm.cohen_kappa_score([1, 1], [1, 1], weights="quadratic"))
    with pytest.raises(ValueError, match="a label is missing"):
        qwk(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) against predictions of shape \(2,\)"):
        qwk([1, 2, 3], [1, 2])
    from models.metrics import quadratic_weighted_kappa

    a, b = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    assert quadratic_weighted_kappa(a, b, k=5) == pytest.approx(qwk(a, b))  # class indices 0..k-1, none sorted


def test_f1_and_mcc_are_sklearns():
    """f1 and mcc, written with numpy for speed (the threshold search scores hundreds of cuts), equal sklearn's
    f1_score and matthews_corrcoef on random 0/1 labels (ints, floats, bools; one class or none predicted), 0 where
    sklearn's are; labels other than 0/1 are refused, naming one."""
    import warnings

    rng = np.random.default_rng(0)
    f1, mcc = get_metric("f1").score, get_metric("mcc").score
    for _ in range(100):
        n = rng.integers(1, 30)
        a, b = rng.random(n) < rng.random(), rng.random(n) < rng.random()  # some all one class
        for y, p in ((a, b), (a.astype(int), b.astype(float)), (a.astype(float), b)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sklearn's zero_division and constant-input warnings
                assert f1(y, p) == pytest.approx(skm.f1_score(y, p), abs=1e-12)
                assert mcc(y, p) == pytest.approx(skm.matthews_corrcoef(y, p), abs=1e-12)
    with pytest.raises(ValueError, match="binary labels must be 0 or 1 .* found 2"):
        f1([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError, match="binary predictions must be 0 or 1 .* found 'no'"):
        mcc([0, 1], ["no", "yes"])
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) against predictions of shape \(2,\)"):
        f1([0, 1, 1], [0, 1])
