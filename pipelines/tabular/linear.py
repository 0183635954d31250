"""The linear member: a ridge regression, or a logistic regression for classes (scikit-learn), of one-hot columns:
each category's values, each number's quantile bins (a linear model of a raw number is one slope; of its bins, any
shape, and an outlier is one more row of its top bin), and the free text's TF-IDF (processed/text.npz: words, word
pairs, characters' n-grams). LightGBM and the network read a text as a few numbers (its 32 components, its 100
commonest words); this member reads every word of it. Its strength is chosen on held rows that it then does not
score (members.fit_linear)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.procs import TabularProcessor

BINS = 10  # a number's quantile bins; a number of this many values or fewer: one column a value
# The strengths tried: ridge's alpha (a penalty on the sum of squared weights), logistic regression's C (its
# inverse). House Prices' one-hot columns chose alpha 4-16, generated Mercari-like listings 8-64, Spooky-like
# sentences C 4
ALPHAS = (1.0, 4.0, 16.0, 64.0)
CS = (0.25, 1.0, 4.0, 16.0)
MAX_ITER = 1000  # logistic regression's L-BFGS iterations at most


def design(
    frame: pd.DataFrame, test: pd.DataFrame, proc: TabularProcessor, text=None, from_text=(), fit=None
) -> tuple[sp.csr_matrix, ...]:
    """(train's, the test's) rows as the member reads them: one-hot categories (the procs' codes) and numbers of
    BINS values or fewer, one-hot quantile bins of the other numbers, then the `text` TF-IDF (train's rows then the
    test's, or None) in place of the numbers `from_text` made of it (binned beside it, its 134 numbers were 134
    ones a row against the TF-IDF's unit length, and the model leaned on them). The encoders are fitted on train's
    rows `fit` (a time validation's: those before the holdout, as the procs are; None: every row), so the holdout
    meets what the models never saw as the test does. A value they never saw is a row of zeros in its columns."""
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder

    seen = frame if fit is None else frame[fit]
    read = [c for c in proc.cont_names if text is None or c not in set(from_text)]
    numbers = [c for c in read if seen[c].nunique() > BINS]
    values = [*proc.all_cat_names, *(c for c in read if c not in numbers)]
    parts = [[], []]
    if values:
        onehot = OneHotEncoder(handle_unknown="ignore", dtype=np.float32).fit(seen[values])
        for part, f in zip(parts, (frame, test), strict=True):
            part.append(onehot.transform(f[values]))
    if numbers:  # every row's quantiles (scikit-learn's default samples 200,000 rows unseeded: runs would differ)
        bins = KBinsDiscretizer(
            BINS, encode="onehot", strategy="quantile", quantile_method="averaged_inverted_cdf", subsample=None
        )
        with warnings.catch_warnings():  # a number tied at a few values has fewer bins than BINS: as meant
            warnings.filterwarnings("ignore", message="Bins whose width are too small")
            bins.fit(seen[numbers].to_numpy(np.float64))
        for part, f in zip(parts, (frame, test), strict=True):
            part.append(bins.transform(f[numbers].to_numpy(np.float64)).astype(np.float32))
    if text is not None:
        parts[0].append(text[: len(frame)])
        parts[1].append(text[len(frame) :])
    return tuple(sp.hstack(p, format="csr", dtype=np.float32) for p in parts)


def strengths(task: str) -> tuple[str, tuple[float, ...]]:
    """(the name of the strength, the values tried) of the model of `task`."""
    return ("alpha", ALPHAS) if task == "regression" else ("C", CS)


def fit_predict(x, y, evals: list, task: str, n_classes: int, strength: float) -> list[np.ndarray]:
    """The model of `task` (ridge of alpha `strength`, or logistic regression of C `strength`) fitted on rows `x`
    of target `y`, and its predictions for each matrix of `evals`: numbers, P(class 1) (binary), or the
    `n_classes` probabilities. Classes are smoothed as members.constant_member's are, as if one more row were
    seen, its class unknown: a class the rows lack is never 0 (a log loss of about log(n), not the clip's 34.5),
    and rows of one class (a rare label's fold), which logistic regression refuses, predict it at n + 1/k of n + 1."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        model = Ridge(alpha=strength).fit(x, y)
        return [model.predict(e) for e in evals]
    k, n, present = (n_classes if task == "multiclass" else 2), len(y), np.unique(y).astype(np.int64)
    model = None
    if len(present) > 1:
        model = LogisticRegression(C=strength, max_iter=MAX_ITER)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)  # said below, in a line of our own
            model.fit(x, y.astype(np.int64))
        if np.max(model.n_iter_) >= MAX_ITER:
            print(
                f"linear C={strength:g}: not converged in {MAX_ITER} iterations (its predictions are used as they are)"
            )
    out = []
    for e in evals:
        full = np.zeros((e.shape[0], k))
        full[:, present] = model.predict_proba(e) if model is not None else 1.0
        full = (n * full + 1 / k) / (n + 1)
        out.append(full[:, 1] if task == "binary" else full)
    return out
