import numpy as np

from models.metrics import rmspe
from pipelines.rossmann.model import log_shift


def test_rmspe_shift_is_the_optimal_ratio_for_lognormal_residuals():
    rng = np.random.default_rng(0)
    mu = rng.normal(8.5, 0.5, 400_000)
    s2 = 0.1**2
    y = np.exp(mu + rng.normal(0, np.sqrt(s2), mu.size))  # the model knows mu; the rest is noise
    shift = log_shift(s2, enabled=True)
    assert shift == -1.5 * s2
    best = rmspe(np.exp(mu + shift), y)
    assert best < rmspe(np.exp(mu), y)  # better than the unshifted prediction
    for other in (-3 * s2, -0.75 * s2, 0.5 * s2):
        assert best <= rmspe(np.exp(mu + other), y)
    assert log_shift(s2, enabled=False) == 0.0
