"""The compiler's autodiff pass: gradients of graphs built directly from primitives, checked
against finite differences and against the eager engine."""
import numpy as np
import pytest

from llgrad.compiler import dtypes
from llgrad.compiler import primitives as P
from llgrad.compiler.autodiff import vjp
from llgrad.compiler.interpreter import run
from llgrad.compiler.ir import Graph
from llgrad.compiler.primitive import Aval
from llgrad.compiler.verify import verify_graph

F64 = dtypes.float64


def build(fn, *shapes):
    """A graph computing sum(fn(*inputs)) and its gradient with respect to every input."""
    g = Graph()
    xs = [g.add_input(Aval(s, F64)) for s in shapes]
    out = P.reduce_sum(fn(*xs), axes=None, keepdims=False)
    seed = g.constant(np.array(1.0))
    grads = vjp(g, [out], [seed], xs)
    g.outputs = [out] + grads
    verify_graph(g)
    return g


def numeric_grad(fn, arrays, i, eps=1e-6):
    grad = np.zeros_like(arrays[i])
    for k in np.ndindex(arrays[i].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[i][k] += eps
        minus[i][k] -= eps
        grad[k] = (np.sum(fn(*plus)) - np.sum(fn(*minus))) / (2 * eps)
    return grad


CASES = [
    ("mul_broadcast", lambda a, b: a * b, [(3, 4), (4,)]),
    ("div", lambda a, b: a / (b * b + 1), [(2, 3), (2, 3)]),
    ("exp_log", lambda a: P.log(P.exp(a) + 1), [(5,)]),
    ("tanh_sigmoid", lambda a, b: P.tanh(a) * P.sigmoid(b), [(3,), (1,)]),
    ("matmul", lambda a, b: P.matmul(a, b), [(3, 4), (4, 2)]),
    ("batched_matmul", lambda a, b: P.matmul(a, b), [(2, 3, 4), (4, 5)]),
    ("matmul_add", lambda bias, a, b: P.matmul_add(bias, a, b), [(2,), (3, 4), (4, 2)]),
    ("reduce_max", lambda a: P.reduce_max(a, axes=(1,), keepdims=False), [(3, 4)]),
    ("permute_reshape", lambda a: P.reshape(P.permute(a, perm=(1, 0)), shape=(12,)) * 3, [(3, 4)]),
    ("slice_pad", lambda a: P.pad(P.slice_(a, starts=(1,), stops=(6,), steps=(2,)),
                                  config=((1, 2, 1),)), [(7,)]),
    ("concat", lambda a, b: P.concat(a, b, axis=0) ** 2, [(2, 3), (1, 3)]),
    ("where", lambda a, b: P.where(P.gt(a, 0), a * b, b), [(4,), (4,)]),
    ("erf", lambda a: P.erf(a), [(4,)]),
    ("sqrt_rsqrt", lambda a: P.sqrt(a * a + 1) + P.rsqrt(a * a + 2), [(3,)]),
]


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_autodiff_matches_finite_differences(name, fn, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    graph = build(fn, *shapes)
    outputs = run(graph, arrays)
    for i in range(len(arrays)):
        np.testing.assert_allclose(outputs[1 + i], numeric_grad(fn, arrays, i), rtol=1e-5,
                                   atol=1e-7)


def test_unrelated_inputs_get_no_gradient():
    g = Graph()
    x, y = g.add_input(Aval((2,), F64)), g.add_input(Aval((2,), F64))
    out = P.reduce_sum(x * 2, axes=None, keepdims=False)
    grads = vjp(g, [out], [g.constant(np.array(1.0))], [x, y])
    assert grads[1] is None and grads[0] is not None


def test_stop_gradient_cuts_the_path():
    g = Graph()
    x = g.add_input(Aval((2,), F64))
    out = P.reduce_sum(P.stop_gradient(x) * x, axes=None, keepdims=False)
    (gx,) = vjp(g, [out], [g.constant(np.array(1.0))], [x])
    g.outputs = [gx]
    (value,) = run(g, [np.array([3.0, 4.0])])
    np.testing.assert_allclose(value, [3.0, 4.0])  # only the second factor is differentiated


def test_cotangents_of_broadcast_inputs_are_summed_back():
    g = Graph()
    x, b = g.add_input(Aval((3, 2), F64)), g.add_input(Aval((1, 2), F64))
    out = P.reduce_sum(x + b, axes=None, keepdims=False)
    _, gb = vjp(g, [out], [g.constant(np.array(1.0))], [x, b])
    assert gb.shape == (1, 2)
    g.outputs = [gb]
    np.testing.assert_allclose(run(g, [np.zeros((3, 2)), np.zeros((1, 2))])[0], [[3.0, 3.0]])
