"""The native argsort (compiler/codegen/sort.py) against llgrad's NumPy reference, bit for bit:
every dtype, both directions, ties, NaN, signed zeros, infinities, strided rows, host and
generic x86-64 code."""
import ctypes
import time

import numpy as np
import pytest
from llvmlite import ir

from llgrad.compiler.codegen import sort
from llgrad.compiler.primitives.reduce import _argsort_impl
from llgrad.runtime.llvm import compile_module, target

DTYPES = ["float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]
SIZES = [0, 1, 2, 3, 7, 16, 17, 100, 1000, 10000]
TARGETS = ["host", "generic"]

_SIGNATURE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                              ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_void_p)
_CANARY = -7  # written around what the function may touch, checked untouched afterwards


class Argsorts:
    """Every dtype's argsort, compiled in one module for one target."""

    def __init__(self, target_name):
        module = ir.Module()
        names = {d: sort.build_argsort(module, d).name for d in DTYPES}
        self.code = compile_module(module, target(target_name), pipeline="library")
        self.functions = {d: _SIGNATURE(self.code.address(name)) for d, name in names.items()}

    def __call__(self, keys, descending, out_stride=1):
        """argsort of the 1-D view `keys` (any stride), through an out row at `out_stride`."""
        n = len(keys)
        key_stride, rest = divmod(keys.strides[0], keys.itemsize)
        assert rest == 0
        out_rows = np.full((max(n, 1), out_stride), _CANARY, np.int64)
        out = out_rows[:, 0]
        workspace_size = sort.argsort_workspace_elements(n)
        workspace = np.full(workspace_size + 8, _CANARY, np.int64)
        self.functions[keys.dtype.name](keys.ctypes.data, n, key_stride, out.ctypes.data,
                                        out_stride, int(descending), workspace.ctypes.data)
        assert (out_rows[:, 1:] == _CANARY).all(), "wrote between out elements"
        assert (workspace[workspace_size:] == _CANARY).all(), "wrote past the workspace"
        return out[:n]


@pytest.fixture(scope="module", params=TARGETS)
def argsorts(request):
    return Argsorts(request.param)


@pytest.fixture(scope="module")
def host_argsorts():
    return Argsorts("host")


def _nan_variants(dtype):
    """NaNs of either sign and several payloads."""
    bits = {"float32": [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFFFFFFF],
            "float64": [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                        0xFFFFFFFFFFFFFFFF]}[dtype]
    return np.array(bits, dtype=np.uint32 if dtype == "float32" else np.uint64).view(dtype)


def rows(dtype, n, rng):
    """Test rows of `n` keys: many ties, the type's extremes, and for floats NaN, +-0, +-inf."""
    if dtype == "bool":
        return [rng.integers(0, 2, n).astype(bool), np.ones(n, bool)]
    if dtype.startswith("float"):
        small = rng.integers(-3, 4, n).astype(dtype)
        finfo = np.finfo(dtype)
        special = np.concatenate([_nan_variants(dtype), np.array(
            [0.0, -0.0, np.inf, -np.inf, 1.5, -1.5, finfo.max, -finfo.max, finfo.smallest_subnormal,
             -finfo.smallest_subnormal], dtype)])
        mixed = np.where(rng.random(n) < 0.5, rng.choice(special, n), small).astype(dtype)
        return [small, mixed, rng.standard_normal(n).astype(dtype)]
    info = np.iinfo(dtype)
    small = rng.integers(max(info.min, -3), 4, n).astype(dtype)
    extremes = np.array([info.min, info.min + 1, 0, 1, info.max - 1, info.max], dtype)
    extremes = rng.choice(extremes, n)
    full = rng.integers(info.min, info.max, n, endpoint=True, dtype=dtype)
    return [small, extremes, full]


def check(argsorts, keys, descending, **kwargs):
    got = argsorts(keys, descending, **kwargs)
    expected = _argsort_impl(np.ascontiguousarray(keys), 0, descending)
    assert got.dtype == expected.dtype == np.int64
    np.testing.assert_array_equal(got, expected, err_msg=f"{keys.dtype} n={len(keys)} "
                                                          f"descending={descending}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_numpy(argsorts, dtype):
    rng = np.random.default_rng(DTYPES.index(dtype))
    for n in SIZES:
        for keys in rows(dtype, n, rng):
            for descending in (False, True):
                check(argsorts, keys, descending)


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_rows(argsorts, dtype):
    rng = np.random.default_rng(100 + DTYPES.index(dtype))
    for n in (7, 100, 1000):
        keys = rows(dtype, 5 * n, rng)[0].reshape(n, 5)
        for descending in (False, True):
            check(argsorts, keys[:, 3], descending, out_stride=3)  # key stride 5
            check(argsorts, keys[::-1, 0], descending, out_stride=2)  # key stride -5


@pytest.mark.parametrize("dtype", DTYPES)
def test_ordered_and_reversed_rows(host_argsorts, dtype):
    """Rows already in order take a shortcut; reversed and sawtooth rows merge whole runs."""
    rng = np.random.default_rng(200 + DTYPES.index(dtype))
    for n in (2, 17, 1000):
        ordered = np.sort(rows(dtype, n, rng)[0], kind="stable")
        sawtooth = np.tile(ordered[: n // 4 + 1], 4)[:n]
        for keys in (ordered, ordered[::-1].copy(), sawtooth, np.zeros(n, dtype)):
            for descending in (False, True):
                check(host_argsorts, keys, descending)


def test_two_word_records_of_narrow_keys(monkeypatch):
    """Rows longer than 2**32 keep indices in a word of their own; force that layout."""
    monkeypatch.setattr(sort, "PACKED_MAX_N", 0)
    argsorts = Argsorts("host")
    rng = np.random.default_rng(300)
    for dtype in ("float32", "int32", "int16", "uint8", "bool"):
        for n in (1, 17, 1000):
            for keys in rows(dtype, n, rng):
                for descending in (False, True):
                    check(argsorts, keys, descending)


def test_definitions():
    module = ir.Module()
    fn = sort.build_argsort(module, "float32")
    assert fn.name == f"llgrad_argsort_f32_v{sort.VERSION}"
    assert sort.build_argsort(module, "float32") is fn  # defined once per module
    assert [str(a.type) for a in fn.args] == ["float*", "i64", "i64", "i64*", "i64", "i32",
                                              "i64*"]
    assert sort.argsort_workspace_elements(0) == 0
    assert sort.argsort_workspace_elements(10) >= 20


def test_speed_report(host_argsorts, capsys):
    """n = 1e6 random float32 against np.argsort(kind="stable"): reported, not asserted."""
    keys = np.random.default_rng(400).random(10 ** 6, dtype=np.float32)

    def best(run):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times)

    native = best(lambda: host_argsorts(keys, False))
    numpy = best(lambda: np.argsort(keys, kind="stable"))
    with capsys.disabled():
        print(f"\nargsort 1e6 float32: native {native * 1e3:.1f} ms, "
              f"NumPy stable {numpy * 1e3:.1f} ms ({numpy / native:.2f}x)")
