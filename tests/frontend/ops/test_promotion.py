"""Type promotion: the dtype (and values) of ops between tensors of every dtype, 0-d tensors and
Python scalars, against PyTorch's result_type and PyTorch's own results."""
import itertools

import numpy as np
import pytest

import llgrad

DTYPES = ("bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64")
SCALARS = (True, 2, 2.5)


def operand(lib, kind):
    """("nd", dtype) a 1-D tensor, ("0d", dtype) a 0-d tensor, ("py", value) a Python scalar."""
    form, what = kind
    if form == "py":
        return what
    values = [1, 2, 3] if form == "nd" else 3
    dtype = getattr(lib, what)
    return lib.tensor(values, dtype=dtype) if what != "bool" else lib.tensor(values) > 1


KINDS = ([("nd", d) for d in DTYPES] + [("0d", d) for d in DTYPES]
         + [("py", s) for s in SCALARS])
PAIRS = [(a, b) for a, b in itertools.product(KINDS, KINDS) if "py" not in (a[0], b[0])
         or a[0] != b[0]]


def kind_id(kind):
    return f"{kind[0]}-{kind[1]}"


def dtype_name(dtype):
    return str(dtype).replace("torch.", "").replace("llgrad.", "")


# ---- without torch: the rules written down -----------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    (("nd", "int32"), ("nd", "int64"), "int64"),
    (("nd", "int32"), ("0d", "int64"), "int32"),  # a 0-d tensor cannot raise a dimensioned one
    (("nd", "int32"), ("0d", "float64"), "float64"),  # ... except into a higher category
    (("nd", "uint8"), ("nd", "int8"), "int16"),
    (("nd", "bool"), ("py", 2), "int64"),
    (("nd", "int8"), ("py", 2), "int8"),  # a Python int keeps the tensor's integer type
    (("nd", "int8"), ("py", 2.5), "float32"),  # a Python float gives the default float
    (("nd", "float16"), ("py", 2.5), "float16"),
    (("0d", "int64"), ("py", 2.5), "float32"),
    (("0d", "float64"), ("nd", "float16"), "float16"),
    (("nd", "bool"), ("py", True), "bool"),
])
def test_result_type_rules(a, b, expected):
    assert dtype_name(llgrad.result_type(operand(llgrad, a), operand(llgrad, b))) == expected
    assert dtype_name((operand(llgrad, a) * operand(llgrad, b)).dtype) == expected


def test_promote_types_and_can_cast():
    assert llgrad.promote_types(llgrad.int32, llgrad.float16) is llgrad.float16
    assert llgrad.promote_types(llgrad.uint8, llgrad.int8) is llgrad.int16
    assert llgrad.can_cast(llgrad.int64, llgrad.float32)
    assert not llgrad.can_cast(llgrad.float32, llgrad.int64)
    assert not llgrad.can_cast(llgrad.int32, llgrad.bool)


def test_numpy_scalars_are_python_scalars():
    """A NumPy scalar (np.float64(2.0), a reduction of an array) is weak, as a Python number."""
    x = llgrad.ones(3)
    for scalar in (np.float64(2.0), np.float32(2.0), np.int64(2), np.bool_(True)):
        assert (x * scalar).dtype is llgrad.float32
        assert (scalar * x).dtype is llgrad.float32
        assert (x + scalar).dtype is llgrad.float32
    assert (llgrad.ones(3, dtype=llgrad.int32) + np.int64(1)).dtype is llgrad.int32


# ---- against torch -----------------------------------------------------------------------------

OPS = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "floordiv": lambda lib, a, b: a // b,
    "mod": lambda lib, a, b: a % b,
    "pow": lambda lib, a, b: a ** b,
    "eq": lambda lib, a, b: a == b,
    "lt": lambda lib, a, b: a < b,
    "bitwise_and": lambda lib, a, b: a & b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "where": lambda lib, a, b: lib.where(lib.tensor([True, False, True]), a, b),
    "add_fn": lambda lib, a, b: lib.add(a, b),
    "div_trunc": lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
    "clamp_min": lambda lib, a, b: lib.clamp(a, min=b),
}


def _outcome(lib, op, a, b):
    """(dtype name, values) of op(a, b), or the exception type it raised."""
    try:
        result = op(lib, operand(lib, a), operand(lib, b))
    except (RuntimeError, TypeError, ValueError) as error:
        return "error", type(error).__name__
    return dtype_name(result.dtype), np.asarray(result.numpy(), dtype=np.float64).tolist()


@pytest.mark.parametrize("op_name", OPS)
def test_op_result_dtype_matches_torch(op_name):
    torch = pytest.importorskip("torch")
    op = OPS[op_name]
    mismatches = []
    for a, b in PAIRS:
        expected = _outcome(torch, op, a, b)
        actual = _outcome(llgrad, op, a, b)
        if expected[0] == "error":
            if actual[0] != "error":
                mismatches.append((kind_id(a), kind_id(b), actual[0], "torch raises"))
            continue
        if actual[0] != expected[0] or not np.allclose(actual[1], expected[1], rtol=1e-3,
                                                       equal_nan=True):
            mismatches.append((kind_id(a), kind_id(b), actual, expected))
    assert not mismatches, "\n".join(map(str, mismatches))


def test_result_type_matches_torch():
    torch = pytest.importorskip("torch")
    mismatches = []
    for a, b in PAIRS:
        expected = dtype_name(torch.result_type(operand(torch, a), operand(torch, b)))
        actual = dtype_name(llgrad.result_type(operand(llgrad, a), operand(llgrad, b)))
        if actual != expected:
            mismatches.append((kind_id(a), kind_id(b), actual, expected))
    assert not mismatches, "\n".join(map(str, mismatches))


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("b", DTYPES)
def test_promote_types_matches_torch(a, b):
    torch = pytest.importorskip("torch")
    expected = torch.promote_types(getattr(torch, a), getattr(torch, b))
    assert dtype_name(llgrad.promote_types(getattr(llgrad, a), getattr(llgrad, b))) == \
        dtype_name(expected)
    assert llgrad.can_cast(getattr(llgrad, a), getattr(llgrad, b)) == \
        torch.can_cast(getattr(torch, a), getattr(torch, b))


def test_cat_and_stack_promote_like_torch():
    torch = pytest.importorskip("torch")
    for a, b in itertools.product(DTYPES, DTYPES):
        for fn in ("cat", "stack"):
            expected = getattr(torch, fn)([operand(torch, ("nd", a)), operand(torch, ("nd", b))])
            actual = getattr(llgrad, fn)([operand(llgrad, ("nd", a)), operand(llgrad, ("nd", b))])
            assert dtype_name(actual.dtype) == dtype_name(expected.dtype), (fn, a, b)
            np.testing.assert_array_equal(actual.numpy(), expected.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_and_reduction_result_dtypes_match_torch(dtype):
    torch = pytest.importorskip("torch")
    ops = {
        "neg": lambda lib, x: -x, "abs": lambda lib, x: x.abs(), "exp": lambda lib, x: x.exp(),
        "sqrt": lambda lib, x: x.sqrt(), "sigmoid": lambda lib, x: x.sigmoid(),
        "sum": lambda lib, x: x.sum(), "prod": lambda lib, x: x.prod(),
        "mean": lambda lib, x: x.mean(), "amax": lambda lib, x: x.amax(),
        "argmax": lambda lib, x: x.argmax(), "cumsum": lambda lib, x: x.cumsum(0),
        "sign": lambda lib, x: x.sign(), "floor": lambda lib, x: x.floor(),
        "round": lambda lib, x: x.round(), "clamp": lambda lib, x: x.clamp(0, 2),
        "clamp_float": lambda lib, x: x.clamp(0.5), "square": lambda lib, x: x.square(),
        "reciprocal": lambda lib, x: x.reciprocal(), "relu": lambda lib, x: x.relu(),
        "logical_not": lambda lib, x: x.logical_not(), "norm": lambda lib, x: x.norm(),
    }
    mismatches = []
    for name, op in ops.items():
        expected = _outcome(torch, lambda lib, a, b: op(lib, a), ("nd", dtype), ("py", 0))
        actual = _outcome(llgrad, lambda lib, a, b: op(lib, a), ("nd", dtype), ("py", 0))
        if expected[0] == "error":
            if actual[0] != "error":
                mismatches.append((name, actual[0], "torch raises"))
        elif actual[0] != expected[0] or not np.allclose(actual[1], expected[1], rtol=1e-3):
            mismatches.append((name, actual, expected))
    assert not mismatches, "\n".join(map(str, mismatches))
