"""llgrad.finfo / llgrad.iinfo and the numeric constants, against PyTorch."""
import math

import pytest

import llgrad

FLOATS = ("float16", "float32", "float64")
INTS = ("uint8", "int8", "int16", "int32", "int64")


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = llgrad.finfo(getattr(llgrad, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
        assert type(getattr(ours, attr)) is type(getattr(theirs, attr)), attr
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)


def test_finfo_defaults_to_the_default_float_type():
    assert llgrad.finfo().dtype == "float32"
    llgrad.set_default_dtype(llgrad.float64)
    try:
        assert llgrad.finfo().eps == llgrad.finfo(llgrad.float64).eps
    finally:
        llgrad.set_default_dtype(llgrad.float32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = llgrad.iinfo(getattr(llgrad, name)), torch.iinfo(getattr(torch, name))
    for attr in ("bits", "max", "min", "dtype"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert repr(ours) == repr(theirs)


def test_wrong_kinds_raise_as_torch():
    torch = pytest.importorskip("torch")
    for lib in (llgrad, torch):
        with pytest.raises(TypeError, match="requires a floating point input type"):
            lib.finfo(lib.int32)
        with pytest.raises(TypeError, match="requires an integer input type"):
            lib.iinfo(lib.float32)
        with pytest.raises(TypeError, match="bool is not supported by torch.iinfo"):
            lib.iinfo(lib.bool)


def test_constants():
    assert llgrad.inf == math.inf and math.isnan(llgrad.nan)
    assert llgrad.pi == math.pi and llgrad.e == math.e and llgrad.newaxis is None
    x = llgrad.arange(3.0)
    assert x[llgrad.newaxis].shape == (1, 3)
    assert (x.clamp(max=llgrad.inf) == x).all()
