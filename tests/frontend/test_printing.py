"""llgrad._printing must print tensors exactly like PyTorch (with "llgrad." for "torch.")."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402


def _import_printing():
    try:
        return importlib.import_module("llgrad._printing")
    except ImportError:
        # Fallback while the package (frontend/__init__.py) is not importable:
        # load frontend/_printing.py directly; it only depends on NumPy.
        path = Path(__file__).resolve().parents[2] / "frontend" / "_printing.py"
        spec = importlib.util.spec_from_file_location("_llgrad_printing_by_path", path)
        module = importlib.util.module_from_spec(spec)
        # dataclasses look the module up in sys.modules while it executes.
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module


printing = _import_printing()
tensor_repr = printing.tensor_repr

FLOAT_DTYPES = (np.float16, np.float32, np.float64)


@pytest.fixture(autouse=True)
def default_print_options():
    """Every test starts and ends with the default options in both libraries."""
    torch.set_printoptions(profile="default")
    printing.set_printoptions(profile="default")
    yield
    torch.set_printoptions(profile="default")
    printing.set_printoptions(profile="default")


def dtype_name(array: np.ndarray) -> str:
    return str(torch.from_numpy(np.ascontiguousarray(array)).dtype).removeprefix("torch.")


def as_torch(array: np.ndarray):
    # .copy(): torch.from_numpy rejects negative strides and we must not share memory.
    return torch.from_numpy(np.array(array, copy=True))


def expected(tensor) -> str:
    return repr(tensor).replace("torch.", "llgrad.")


def assert_same_repr(array: np.ndarray, suffixes=(), tensor=None):
    tensor = as_torch(array) if tensor is None else tensor
    assert tensor_repr(array, dtype_name(array), suffixes) == expected(tensor)


# ---------------------------------------------------------------------------
# Table of arrays
# ---------------------------------------------------------------------------

def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1234)

    def normal(shape, scale=1.0, dtype=np.float32):
        return (rng.standard_normal(shape) * scale).astype(dtype)

    cases = {
        "scalar_float": np.array(1.5, np.float32),
        "scalar_int_valued": np.array(2.0, np.float32),
        "scalar_negative_zero": np.array(-0.0, np.float32),
        "scalar_nan": np.array(np.nan, np.float32),
        "scalar_tiny": np.array(1e-7, np.float32),
        "scalar_float64": np.array(3.25, np.float64),
        "scalar_int": np.array(7, np.int64),
        "scalar_int32": np.array(-7, np.int32),
        "scalar_bool": np.array(True),
        "empty_1d": np.zeros((0,), np.float32),
        "empty_2d": np.zeros((0, 3), np.float32),
        "empty_3d_int": np.zeros((2, 0, 4), np.int64),
        "empty_1d_int": np.zeros((0,), np.int64),
        "empty_bool": np.zeros((0,), np.bool_),
        "empty_float64": np.zeros((0, 3), np.float64),
        "empty_float16": np.zeros((0,), np.float16),
        "vector_5": normal(5),
        "matrix_3x4": normal((3, 4)),
        "cube_2x3x4": normal((2, 3, 4)),
        "singleton_dims": normal((2, 1, 3, 1)),
        "five_dims": normal((2, 2, 1, 2, 3)),
        "tiny_values": normal((3, 4), 1e-5),
        "huge_values": normal((3, 4), 1e9),
        "wide_range": np.array([1e-3, 1.0, 2e3], np.float32),
        "ratio_just_1000": np.array([1.0, 1000.0], np.float32),
        "ratio_above_1000": np.array([1.0, 1000.5], np.float32),
        "max_at_1e8": np.array([1e8, 2e7], np.float64),
        "max_above_1e8": np.array([1.5e8, 2e7], np.float64),
        "min_at_1e-4": np.array([1e-4, 2e-4], np.float64),
        "integer_valued": np.array([1.0, 4.0, -3.0, 0.0], np.float32),
        "integer_valued_big": np.array([1.0, 12345678.0], np.float32),
        "integer_valued_sci": np.array([1.0, 1e10], np.float64),
        "rounds_up_to_more_digits": np.array([9.99999, 0.5], np.float64),
        "negative_zero_mix": np.array([-0.0, 0.0, 1.5], np.float32),
        "negative_zeros_only": np.array([-0.0, 0.0], np.float32),
        "nan_inf": np.array([np.nan, np.inf, -np.inf, 1.25], np.float32),
        "nan_inf_int_valued": np.array([np.nan, -np.inf, 3.0], np.float32),
        "nan_only": np.array([np.nan, np.nan], np.float64),
        "inf_sci": np.array([np.inf, 1e-6, 5.0], np.float32),
        "all_zero": np.zeros((2, 3), np.float32),
        "long_vector_wraps": normal(100),
        "long_vector_wide_values": normal(60, 1e5),
        "long_int_vector": np.arange(-40, 40, dtype=np.int64) ** 3,
        "wrap_matrix": normal((4, 30)),
        "wrap_cube": normal((2, 2, 25), 100),
        "summarized_vector": normal(2000),
        "summarized_matrix": normal((40, 50)),
        "summarized_rows_only": normal((1001, 1)),
        "summarized_cols_only": normal((2, 1000)),
        "summarized_cube": normal((12, 10, 10)),
        "summarized_with_hidden_outliers": np.concatenate(
            [np.ones(500), np.full(1000, 1e12), np.ones(500)]).astype(np.float32),
        "summarized_int": np.arange(2000, dtype=np.int64).reshape(20, 100),
        "summarized_bool": np.arange(1500) % 3 == 0,
        "float64_matrix": normal((3, 4), dtype=np.float64),
        "float64_precise": np.array([1 / 3, 2 / 3], np.float64),
        "float16_matrix": normal((3, 4), dtype=np.float16),
        "float16_large": np.array([60000.0, -0.001, 3.0], np.float16),
        "float16_summarized": normal(1200, 10, dtype=np.float16),
        "int32_matrix": rng.integers(-1000, 1000, (3, 4)).astype(np.int32),
        "int16_vector": rng.integers(-30000, 30000, 7).astype(np.int16),
        "int8_vector": np.array([-128, 0, 127], np.int8),
        "uint8_matrix": rng.integers(0, 256, (3, 5)).astype(np.uint8),
        "int64_large": np.array([2**62, -(2**63), 5], np.int64),
        "int64_matrix": rng.integers(-50, 50, (3, 4)),
        "bool_matrix": rng.random((3, 4)) > 0.5,
        "bool_all_true": np.ones(4, np.bool_),
        "non_contiguous_columns": normal((6, 8))[:, ::3],
        "non_contiguous_transpose": normal((3, 5)).T,
        "negative_strides": normal((4, 5))[::-1, ::-2],
        "broadcast_view": np.broadcast_to(np.arange(4.0, dtype=np.float32), (3, 4)),
    }
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
def test_repr_matches_torch(name):
    assert_same_repr(CASES[name])


@pytest.mark.parametrize("name", [n for n, a in CASES.items() if a.dtype.kind == "f"])
def test_requires_grad_suffix(name):
    array = CASES[name]
    assert_same_repr(array, ["requires_grad=True"], as_torch(array).requires_grad_())


@pytest.mark.parametrize("name", [n for n, a in CASES.items() if a.dtype.kind == "f"])
def test_grad_fn_suffix(name):
    array = CASES[name]
    tensor = as_torch(array).requires_grad_() * 1  # values unchanged, grad_fn=MulBackward0
    assert_same_repr(array, ["grad_fn=<MulBackward0>"], tensor)


@pytest.mark.parametrize("length", range(1, 30))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_suffix_moves_to_new_line_when_last_line_is_full(length, dtype):
    # Vectors of growing length put the last line at every possible fill level.
    array = (np.arange(length) * 1.5 + 1000.25).astype(dtype)
    tensor = as_torch(array).requires_grad_() * 1
    assert_same_repr(array, ["grad_fn=<MulBackward0>"], tensor)


def test_dtype_suffix_wraps_where_torch_measures_it():
    # "dtype=llgrad.float64" is one character longer than torch's spelling; the
    # line break must still be decided on torch's length.
    printing.set_printoptions(edgeitems=1, threshold=10)
    torch.set_printoptions(edgeitems=1, threshold=10)
    array = np.random.default_rng(3).standard_normal((3, 4))
    tensor = as_torch(array).requires_grad_() * 1
    assert_same_repr(array, ["grad_fn=<MulBackward0>"], tensor)
    assert expected(tensor).endswith("dtype=llgrad.float64, grad_fn=<MulBackward0>)")


def test_dtype_aliases_and_namespaced_names():
    array = np.array([1.5, 2.0])
    reference = expected(torch.from_numpy(array))
    for name in ("float64", "double", "torch.float64", "llgrad.float64"):
        assert tensor_repr(array, name) == reference


def test_default_float_dtype_can_be_float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for array in (np.array([1.5, 2.0]), np.array([1.5], np.float32),
                      np.zeros((0, 2)), np.zeros((0,), np.float32)):
            assert (tensor_repr(array, dtype_name(array), default_float_dtype="float64")
                    == expected(as_torch(array)))
    finally:
        torch.set_default_dtype(previous)


def test_is_default_dtype_overrides_the_rule():
    array = np.array([1.5, 2.0])
    assert tensor_repr(array, "float64", is_default_dtype=True) == "tensor([1.5000, 2.0000])"
    assert tensor_repr(array.astype(np.float32), "float32", is_default_dtype=False) == (
        "tensor([1.5000, 2.0000], dtype=llgrad.float32)")


def test_device_suffix_comes_before_dtype():
    text = tensor_repr(np.array([1.5]), "float64", ["device='meta'", "requires_grad=True"])
    assert text == "tensor([1.5000], device='meta', dtype=llgrad.float64, requires_grad=True)"


def test_indent_shifts_continuation_lines():
    array = np.arange(40.0, dtype=np.float32) + 0.5
    plain = tensor_repr(array, "float32").splitlines()
    shifted = tensor_repr(array, "float32", indent=4).splitlines()
    assert shifted[0].startswith("tensor([")
    assert all(line.startswith(" " * 12) for line in shifted[1:])
    assert len(shifted) >= len(plain)


def test_complex_is_rejected_clearly():
    with pytest.raises(NotImplementedError):
        tensor_repr(np.array([1j]), "complex128")


# ---------------------------------------------------------------------------
# Print options
# ---------------------------------------------------------------------------

OPTION_SETS = [
    dict(precision=2),
    dict(precision=0),
    dict(precision=8),
    dict(threshold=5),
    dict(threshold=0),
    dict(edgeitems=1, threshold=10),
    dict(edgeitems=0),
    dict(edgeitems=0, threshold=5),
    dict(linewidth=40),
    dict(linewidth=5),
    dict(linewidth=200),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(sci_mode=True, precision=2),
    dict(profile="short"),
    dict(profile="full"),
    dict(profile="short", precision=6),
    dict(profile="full", linewidth=60, sci_mode=False),
]

OPTION_CASES = ["scalar_float", "scalar_int", "empty_2d", "matrix_3x4", "cube_2x3x4",
                "tiny_values", "huge_values", "integer_valued", "nan_inf", "all_zero",
                "long_vector_wraps", "long_int_vector", "summarized_vector",
                "summarized_matrix", "summarized_cube", "summarized_bool", "bool_matrix",
                "float64_matrix", "float16_matrix", "int32_matrix"]


def _option_id(options: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in options.items())


@pytest.mark.parametrize("options", OPTION_SETS, ids=_option_id)
def test_set_printoptions_matches_torch(options):
    torch.set_printoptions(**options)
    printing.set_printoptions(**options)
    assert printing.get_printoptions() == torch._tensor_str.get_printoptions()
    for name in OPTION_CASES:
        array = CASES[name]
        assert tensor_repr(array, dtype_name(array)) == expected(as_torch(array)), name
        if array.dtype.kind == "f":
            tensor = as_torch(array).requires_grad_() * 1
            assert tensor_repr(array, dtype_name(array), ["grad_fn=<MulBackward0>"]) == (
                expected(tensor)), name


def test_get_printoptions_defaults_and_round_trip():
    assert printing.get_printoptions() == torch._tensor_str.get_printoptions()
    printing.set_printoptions(precision=3, threshold=20, edgeitems=2, linewidth=60, sci_mode=True)
    saved = printing.get_printoptions()
    printing.set_printoptions(profile="full")
    printing.set_printoptions(**saved)
    assert printing.get_printoptions() == saved
    torch.set_printoptions(**saved)
    assert torch._tensor_str.get_printoptions() == saved


def test_sci_mode_resets_when_omitted_like_torch():
    for module in (torch, printing):
        module.set_printoptions(sci_mode=True)
        module.set_printoptions(precision=5)
    assert printing.get_printoptions() == torch._tensor_str.get_printoptions()
    assert printing.get_printoptions()["sci_mode"] is None


def test_unknown_profile_is_ignored_like_torch():
    torch.set_printoptions(precision=6)
    printing.set_printoptions(precision=6)
    torch.set_printoptions(profile="nonsense")
    printing.set_printoptions(profile="nonsense")
    assert printing.get_printoptions() == torch._tensor_str.get_printoptions()


def test_printoptions_context_manager_restores():
    before = printing.get_printoptions()
    with printing.printoptions(precision=1, sci_mode=True):
        assert tensor_repr(np.array([1.25], np.float32), "float32") == "tensor([1.2e+00])"
    assert printing.get_printoptions() == before


# ---------------------------------------------------------------------------
# f-string formatting
# ---------------------------------------------------------------------------

SCALARS = [
    (1.0, np.float32), (1.5, np.float32), (0.1, np.float32), (-2.675, np.float64),
    (1e-7, np.float32), (1e20, np.float64), (np.nan, np.float32), (-np.inf, np.float64),
    (-0.0, np.float32), (0.1, np.float16), (3, np.int64), (-12, np.int32), (200, np.uint8),
    (True, np.bool_), (False, np.bool_),
]


@pytest.mark.parametrize("spec", ["", ".2f", ".4f", ".3e", ">12"])
@pytest.mark.parametrize("value,dtype", SCALARS)
def test_format_scalar_matches_torch(value, dtype, spec):
    array = np.array(value, dtype)
    reference = format(torch.from_numpy(array.copy()), spec)
    assert printing.format_scalar(array, dtype_name(array), spec) == reference
    # A Python number is first rounded to the tensor's dtype, as item() would be.
    assert printing.format_scalar(value, dtype_name(array), spec) == reference


def test_format_of_non_scalar_tensor():
    array = np.array([1.5, 2.5], np.float32)
    tensor = torch.from_numpy(array.copy())
    assert printing.format_scalar(array, "float32", "") == expected(tensor) == f"{tensor}"
    with pytest.raises(TypeError):
        format(tensor, ".2f")
    with pytest.raises(TypeError):
        printing.format_scalar(array, "float32", ".2f")


# ---------------------------------------------------------------------------
# Property-based comparisons
# ---------------------------------------------------------------------------

SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
LARGE_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=14)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])


@st.composite
def float_arrays(draw, shapes=SMALL_SHAPES):
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    width = np.dtype(dtype).itemsize * 8
    # Values span many magnitudes so every sci-mode/int-mode branch is reached.
    specials = [0.0, -0.0, 1e-5, 9.99995, 0.5, 1e8]
    elements = st.one_of(
        st.floats(width=width, allow_nan=True, allow_infinity=True),
        st.floats(-1e4, 1e4, width=width),
        st.integers(-1000, 1000).map(float),
        st.sampled_from([_round_to(dtype, v) for v in specials]),
    )
    array = draw(hnp.arrays(dtype, draw(shapes), elements=elements))
    scale = draw(st.sampled_from([1.0, 1e-6, 1e-3, 1e3, 1e9]))
    # Scale in float64 so float16 arrays overflow only where the values do.
    with np.errstate(over="ignore", invalid="ignore"):
        return (array.astype(np.float64) * scale).astype(dtype)


def _round_to(dtype, value: float) -> float:
    with np.errstate(over="ignore"):
        return float(dtype(value))


@st.composite
def exact_arrays(draw):
    dtype = draw(st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_]))
    return draw(hnp.arrays(dtype, draw(LARGE_SHAPES | SMALL_SHAPES)))


@PROPERTY_SETTINGS
@given(float_arrays())
def test_random_small_float_arrays(array):
    assert_same_repr(array)


@PROPERTY_SETTINGS
@given(float_arrays(LARGE_SHAPES))
def test_random_large_float_arrays(array):
    # Past 64 elements the formatter only inspects extreme values; past 1000
    # elements the tensor is summarized.
    assert_same_repr(array)


@PROPERTY_SETTINGS
@given(exact_arrays())
def test_random_int_and_bool_arrays(array):
    assert_same_repr(array)


@PROPERTY_SETTINGS
@given(float_arrays(LARGE_SHAPES | SMALL_SHAPES),
       st.lists(st.text("abcdefgh=<>", min_size=1, max_size=40), max_size=3))
def test_random_suffixes(array, suffixes):
    # Arbitrary suffix strings exercise the line-overflow rule; compare with
    # torch's own _add_suffixes applied to torch's rendering of the contents.
    tensor = as_torch(array)
    prefix = "tensor("
    contents = torch._tensor_str._tensor_str(tensor, len(prefix))
    reference = torch._tensor_str._add_suffixes(
        prefix + contents, torch_metadata_suffixes(tensor) + suffixes, len(prefix),
        force_newline=False).replace("torch.", "llgrad.")
    assert tensor_repr(array, dtype_name(array), suffixes) == reference


def torch_metadata_suffixes(tensor) -> list[str]:
    """The size=/dtype= items torch's _str_intern adds for a dense CPU tensor."""
    items = []
    dtype_item = "dtype=" + str(tensor.dtype)
    if tensor.numel() == 0:
        if tensor.dim() != 1:
            items.append(f"size={tuple(tensor.shape)}")
        if tensor.dtype != torch.get_default_dtype():
            items.append(dtype_item)
    elif tensor.dtype not in (torch.get_default_dtype(), torch.int64, torch.bool):
        items.append(dtype_item)
    return items


@PROPERTY_SETTINGS
@given(float_arrays(LARGE_SHAPES | SMALL_SHAPES),
       st.fixed_dictionaries({}, optional={
           "precision": st.integers(0, 8),
           "threshold": st.integers(0, 300),
           "edgeitems": st.integers(0, 4),
           "linewidth": st.integers(10, 160),
           "sci_mode": st.sampled_from([True, False]),
       }))
def test_random_print_options(array, options):
    torch.set_printoptions(**options)
    printing.set_printoptions(**options)
    try:
        assert_same_repr(array)
    finally:
        torch.set_printoptions(profile="default")
        printing.set_printoptions(profile="default")


@PROPERTY_SETTINGS
@given(st.floats(allow_nan=True, allow_infinity=True),
       st.sampled_from(["float16", "float32", "float64"]),
       st.sampled_from(["", ".2f", ".4f", ".1e", "g", "10.3f"]))
def test_random_format_scalar(value, name, spec):
    with np.errstate(over="ignore"):
        array = np.array(value, dtype=name)
    reference = format(torch.from_numpy(array.copy()), spec)
    assert printing.format_scalar(array, name, spec) == reference
