import math

import pytest

from models.schedules import cos_anneal, one_cycle, one_cycle_momentum, sgdr, sgdr_epochs, triangular


def test_cos_anneal_endpoints_and_midpoint():
    assert cos_anneal(1.0, 0.0, 0.0) == 1.0
    assert cos_anneal(1.0, 0.0, 1.0) == pytest.approx(0.0)
    assert cos_anneal(1.0, 0.0, 0.5) == pytest.approx(0.5)


def test_one_cycle_shape():
    f = one_cycle(pct_start=0.25, div=25, div_final=1e5)
    assert f(0.0) == pytest.approx(1 / 25)
    assert f(0.25) == pytest.approx(1.0)
    assert f(1.0) == pytest.approx(1e-5)
    values = [f(i / 100) for i in range(101)]
    peak = values.index(max(values))
    assert peak == 25
    assert all(a <= b for a, b in zip(values[:peak], values[1 : peak + 1], strict=True))
    assert all(a >= b for a, b in zip(values[peak:], values[peak + 1 :], strict=False))
    m = one_cycle_momentum(0.25, 0.95, 0.85)
    assert (m(0.0), m(0.25), m(1.0)) == pytest.approx((0.95, 0.85, 0.95))


def test_sgdr_restarts_at_cycle_boundaries():
    assert sgdr_epochs(3, 1, 2) == 7  # 1 + 2 + 4 epochs
    f = sgdr(3, 1, 2)
    for start in (0, 1 / 7, 3 / 7):  # each cycle starts at the peak
        assert f(start) == pytest.approx(1.0)
    assert f(1 / 7 - 1e-9) == pytest.approx(0.0, abs=1e-6)
    assert f(1 / 7 + 1 / 7) == pytest.approx(0.5)  # middle of the 2-epoch cycle
    assert f(1.0) == 0.0
    assert not math.isnan(f(0.999))


def test_triangular_is_linear_up_then_down():
    f = triangular(pct_start=0.25, start=0.2, end=0.1)
    assert (f(0.0), f(0.125), f(0.25), f(0.625), f(1.0)) == pytest.approx((0.2, 0.6, 1.0, 0.55, 0.1))
    assert f(1.5) == pytest.approx(0.1)  # clamped past the end
