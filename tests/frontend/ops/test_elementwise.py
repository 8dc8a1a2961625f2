"""The elementwise rows of the op table (gradcheck, PyTorch parity of values, gradients and
grad_fn graphs on contiguous and non-contiguous inputs, second derivatives), property tests of
the binary ops over random broadcastable shapes, and create_graph node names."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import llgrad

from . import harness
from .harness import OpTests
from .op_table import FLOAT_DTYPES, Sample, ops_in


class TestElementwiseOps(OpTests):
    family = "elementwise"


# ---- binary ops over random broadcastable shapes ----------------------------------------------

BINARY = [o for o in ops_in("elementwise") if o.np_ref is not None]


def _sum_to(array, shape):
    """Sum a broadcast gradient back to an operand's shape."""
    lead = array.ndim - len(shape)
    array = array.sum(axis=tuple(range(lead))) if lead else array
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and array.shape[i] != 1)
    return array.sum(axis=axes, keepdims=True) if axes else array


def _check_against_numpy(op, x, y, dtype):
    """Values and gradients against the row's NumPy reference and hand-written VJP."""
    a = llgrad.tensor(x.astype(dtype), requires_grad=True)
    b = llgrad.tensor(y.astype(dtype), requires_grad=True)
    out = op(llgrad, a, b)
    expected = op.np_ref(x.astype(dtype), y.astype(dtype))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=rtol, atol=rtol)
    assert out.dtype.name == dtype and tuple(out.shape) == np.shape(expected)
    g = np.random.default_rng(0).standard_normal(np.shape(expected)).astype(dtype)
    out.backward(llgrad.tensor(g))
    xb, yb = np.broadcast_arrays(x.astype(np.float64), y.astype(np.float64))
    gx, gy = op.np_vjp(g.astype(np.float64), xb, yb, op.np_ref(xb, yb))
    np.testing.assert_allclose(a.grad.numpy(), _sum_to(np.asarray(gx), x.shape), rtol=rtol * 10,
                               atol=rtol * 10)
    np.testing.assert_allclose(b.grad.numpy(), _sum_to(np.asarray(gy), y.shape), rtol=rtol * 10,
                               atol=rtol * 10)


@pytest.mark.parametrize("op", BINARY, ids=[o.name for o in BINARY])
@settings(max_examples=12, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 32 - 1), dtype=st.sampled_from(FLOAT_DTYPES))
def test_binary_op_on_broadcast_shapes(op, shapes, seed, dtype):
    rng = np.random.default_rng(seed)
    dx, dy = op.domains
    x, y = dx(rng, shapes.input_shapes[0]), dy(rng, shapes.input_shapes[1])
    _check_against_numpy(op, x, y, dtype)
    try:
        import torch
    except ImportError:
        return
    harness.compare_with_torch(torch, op, Sample((x, y)), dtype)


# ---- create_graph: the derivative's own graph --------------------------------------------------

def test_derivative_of_cube_is_recorded_as_mul():
    """d(x**3)/dx with create_graph=True prints grad_fn=<MulBackward0>, as in PyTorch."""
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    (g,) = llgrad.autograd.grad((x ** 3).sum(), x, create_graph=True)
    assert repr(g) == "tensor([ 3., 12.], grad_fn=<MulBackward0>)"
    (h,) = llgrad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


CREATE_GRAPH = {
    "cube": lambda lib, x, y: x ** 3,
    "square": lambda lib, x, y: x * x,
    "exp": lambda lib, x, y: x.exp(),
    "log": lambda lib, x, y: (x * x + 1).log(),
    "sin": lambda lib, x, y: x.sin(),
    "sqrt": lambda lib, x, y: (x * x + 1).sqrt(),
    "div": lambda lib, x, y: x / (y * y + 1),
    "pow_tensor": lambda lib, x, y: (x * x + 1) ** y,
    "broadcast_mul": lambda lib, x, y: x * y.sum(0),
    "broadcast_add": lambda lib, x, y: x + y[:, :1],
    "sum_of_products": lambda lib, x, y: (x * y).sum(1),
    "mean": lambda lib, x, y: (x * y).mean(),
    "where": lambda lib, x, y: lib.where(x > 0, x * y, y),
    "relu": lambda lib, x, y: (x * y).relu(),
    "matmul": lambda lib, x, y: x @ y.t(),
}


@pytest.mark.parametrize("name", CREATE_GRAPH)
def test_create_graph_grad_fn_chain_matches_torch(name):
    """The first derivatives' graphs (names all the way down) and the second derivatives."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x0, y0 = rng.uniform(-2, 2, (2, 3)), rng.uniform(0.5, 2, (2, 3))
    results = []
    for lib in (llgrad, torch):
        x = lib.tensor(x0, requires_grad=True)
        y = lib.tensor(y0, requires_grad=True)
        out = CREATE_GRAPH[name](lib, x, y)
        grads = lib.autograd.grad(out.sum(), (x, y), create_graph=True, allow_unused=True)
        chains = [harness.graph(g.grad_fn) if g is not None else None for g in grads]
        differentiable = [g.sum() for g in grads if g is not None and g.requires_grad]
        second = lib.autograd.grad(sum(differentiable), (x, y), allow_unused=True) \
            if differentiable else ()
        results.append((chains, [harness.to_numpy(g) for g in grads if g is not None],
                        [None if s is None else harness.to_numpy(s) for s in second]))
    (chains, firsts, seconds), (t_chains, t_firsts, t_seconds) = results
    assert [c[0] if isinstance(c, tuple) else c for c in chains] == \
        [c[0] if isinstance(c, tuple) else c for c in t_chains], (chains, t_chains)
    for a, b in zip(firsts, t_firsts):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(seconds, t_seconds):
        if b is None:
            assert a is None or not a.any()
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_scalar_operand_edges_match_torch():
    """A Python scalar has an edge in `x + 2` (add.Tensor) but not in `2 - x` (rsub.Scalar)."""
    torch = pytest.importorskip("torch")
    exprs = ["x + 2", "2 + x", "x - 2", "2 - x", "x * 2", "2 * x", "x / 2", "2 / x", "x ** 2",
             "2 ** x", "x % 2", "lib.fmod(x, 2)", "lib.clamp(x, 0, 1)", "x.clamp_min(0.5)",
             "x.masked_fill(x > 0, 1.0)", "lib.where(x > 0, x, 0.0)", "lib.lerp(x, x * 2, 0.3)",
             "x.add(3, alpha=2)", "lib.rsub(x, 1.5)", "lib.div(x, 2, rounding_mode='floor')"]
    for expr in exprs:
        names = []
        for lib in (llgrad, torch):
            x = lib.tensor([0.25, 1.5], requires_grad=True)
            names.append(harness.graph(eval(expr, {"lib": lib, "x": x}).grad_fn))
        assert names[0] == names[1], (expr, names)


def test_integer_division_by_zero_raises_like_torch():
    x = llgrad.tensor([1, 2, 3])
    for fn in (lambda: x // 0, lambda: x % llgrad.tensor([1, 0, 1]),
               lambda: llgrad.div(x, 0, rounding_mode="trunc"), lambda: llgrad.fmod(x, 0)):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            fn()
    assert (x / 0).dtype is llgrad.float32  # true division goes to float: inf
    assert (x.float() // 0).isinf().all()


def test_bool_arithmetic_errors_match_torch():
    torch = pytest.importorskip("torch")
    for expr in ["-m", "m - m", "m - 1", "1 - m", "m.abs()", "m.floor()", "m // m", "m % m",
                 "m ** m", "m.clamp(0, 1)", "m.relu()", "m.argmax()", "m.sign()", "m + m",
                 "m * m", "m ** True", "m.clamp(0, 2)", "lib.maximum(m, m)", "~m", "m & True"]:
        outcomes = []
        for lib in (llgrad, torch):
            m = lib.tensor([True, False, True])
            try:
                r = eval(expr, {"lib": lib, "m": m})
                outcomes.append((str(r.dtype).split(".")[-1], r.tolist()))
            except (RuntimeError, TypeError) as error:
                outcomes.append(type(error).__name__)
        assert outcomes[0] == outcomes[1], (expr, outcomes)
