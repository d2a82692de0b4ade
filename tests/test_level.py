"""A part's make-up gain: the soft limiter's shape, which parts it touches, and the engine applying it."""

from __future__ import annotations

import numpy as np
import pytest

from jaxaccomp.streaming.level import KNEE, check_gains, linear_gains, raise_parts, soft_limit


def test_the_limiter_leaves_the_body_alone_and_never_reaches_full_scale():
    x = np.linspace(-4.0, 4.0, 80001, dtype=np.float32)
    y = soft_limit(x)
    body = np.abs(x) <= KNEE
    np.testing.assert_array_equal(y[body], x[body])
    assert np.all(np.abs(y) <= 1.0) and np.all(np.diff(y) >= 0)  # monotone, never past full scale
    assert np.all(np.sign(y) == np.sign(x))
    slope = np.diff(y) / np.diff(x)  # continuous in slope at the knee: no kink to hear
    near = np.abs(x[1:] - KNEE) < 1e-3
    np.testing.assert_allclose(slope[near], 1.0, atol=2e-2)


def test_only_raised_parts_are_scaled_and_limited():
    parts = np.array([[0.1, -0.2, 0.5], [0.1, -0.2, 0.5]], np.float32)
    gains = linear_gains({"bass": 20 * np.log10(2.0)}, ["bass", "drums"])
    np.testing.assert_allclose(gains, [2.0, 1.0], rtol=1e-6)
    out = raise_parts(parts, gains)
    np.testing.assert_allclose(out[0], soft_limit(parts[0] * 2.0))
    np.testing.assert_allclose(out[0, :2], [0.2, -0.4], rtol=1e-6)  # below the knee: exactly the gain
    assert 0.9 < out[0, 2] < 1.0  # 1.0 bent below full scale
    np.testing.assert_array_equal(out[1], parts[1])
    np.testing.assert_array_equal(parts[0], np.float32([0.1, -0.2, 0.5]))  # the input is not touched


@pytest.mark.parametrize("gains, message", [({"flute": 3.0}, "per stem .* got flute"),
                                            ({"bass": float("nan")}, "bass is not a finite")])
def test_bad_gains_are_one_line_errors(gains, message):
    with pytest.raises(ValueError, match=message):
        check_gains(gains)
