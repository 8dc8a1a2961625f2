"""The vectorized erf of the reference kernels against math.erf."""
import math

import numpy as np
import pytest

from llgrad.compiler.primitives.special import erf


def test_erf_matches_math_erf_to_1e_13_relative():
    xs = np.concatenate([np.linspace(-7, 7, 20001), np.geomspace(1e-300, 1e-2, 200),
                         -np.geomspace(1e-300, 1e-2, 200), [5.999999, 6.0, 6.000001]])
    ref = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(erf(xs), ref, rtol=1e-13, atol=0)


def test_erf_special_values_and_dtypes():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    out = erf(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(out[1]) and np.isnan(out[4])


@pytest.mark.parametrize("value", [0.5, np.float32(0.5), np.float64(-1.25)])
def test_erf_of_scalars(value):
    assert float(erf(value)) == pytest.approx(math.erf(float(value)), rel=1e-7)


def test_float32_results_round_like_math_erf():
    x = np.random.default_rng(0).standard_normal(10000).astype(np.float32)
    ref = np.array([math.erf(v) for v in x]).astype(np.float32)
    assert np.mean(erf(x) == ref) > 0.999
