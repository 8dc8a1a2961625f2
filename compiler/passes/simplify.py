"""Algebraic simplification: identities (x+0, x*1, x/1, --x), no-op movements (reshape or
broadcast to the same shape, identity permutation, cast to the same dtype), chains (reshape of
reshape, permute of permute, the transpose of a product as the product of transposes),
broadcasts of scalars feeding elementwise ops, and the autodiff markers (stop_gradient,
custom_vjp) once differentiation is done."""
import numpy as np

from ..ir import CUSTOM_VJP
from ..primitive import REGISTRY
from .fold import constant_value
from .rewrite import keep, rewrite

P = REGISTRY


def _is_scalar_constant(value, number):
    """A constant whose every element equals `number` (a scalar, or one broadcast and folded)."""
    c = constant_value(value)
    return c is not None and c.size >= 1 and bool(np.all(c == number))


def _is_additive_identity(value, out):
    c = constant_value(value)
    if c is None or c.size < 1 or not bool(np.all(c == 0)):
        return False
    return not out.dtype.is_floating_point or bool(np.all(np.signbit(c)))


def _same_aval(a, b):
    return a.shape == b.shape and a.dtype is b.dtype


def _simplify_node(new_graph, node, inputs, sole_use):
    """Replacement outputs for `node`, or None to keep it. `sole_use(value)`: the old graph's
    `value` feeds this node only (so rewriting its producer duplicates nothing)."""
    name = node.prim.name
    out = node.outputs[0] if node.outputs else None
    marker = _strip_marker(node, inputs)
    if marker is not None:
        return marker
    if name in ("reshape", "broadcast_to") and tuple(inputs[0].shape) == tuple(out.shape):
        return [inputs[0]]
    if name == "cast" and inputs[0].dtype is node.params["dtype"]:
        return [inputs[0]]
    if name == "permute":
        return _simplify_permute(node, inputs, sole_use(node.inputs[0]))
    if name == "reshape" and inputs[0].node is not None and inputs[0].node.prim.name == "reshape":
        return [P["reshape"](inputs[0].node.inputs[0], shape=node.params["shape"])]
    if name == "neg" and inputs[0].node is not None and inputs[0].node.prim.name == "neg":
        return [inputs[0].node.inputs[0]]
    if name in ("add", "sub", "mul", "div"):
        return _simplify_arith(name, inputs, out)
    if name == "pow":
        return _simplify_pow(inputs, out)
    return None


def _simplify_pow(inputs, out):
    """x**1 is x and x**2 is x*x (NumPy computes both exactly so; the product is cheaper)."""
    x, y = inputs
    if not _same_aval(x, out):
        return None
    if _is_scalar_constant(y, 1):
        return [x]
    if _is_scalar_constant(y, 2):
        return [x * x]
    return None


def _simplify_permute(node, inputs, sole_use):
    perm = node.params["perm"]
    x = inputs[0]
    if perm == tuple(range(len(perm))):
        return [x]
    inner = x.node
    if sole_use and inner is not None and inner.prim.name == "matmul" and _swaps_last_two(perm):
        # (A @ B)^T = B^T @ A^T: the product comes out in the layout wanted, with no strided
        # transposed result (a weight's gradient, transposed back from weight.t()'s).
        a, b = inner.inputs
        return [P["matmul"](P["permute"](b, perm=perm), P["permute"](a, perm=perm))]
    if inner is not None and inner.prim.name == "permute":
        first = inner.params["perm"]
        composed = tuple(first[p] for p in perm)
        if composed == tuple(range(len(composed))):
            return [inner.inputs[0]]
        return [P["permute"](inner.inputs[0], perm=composed)]
    return None


def _swaps_last_two(perm):
    n = len(perm)
    return n >= 2 and perm == tuple(range(n - 2)) + (n - 1, n - 2)


def _unbroadcast_scalar(value):
    """A broadcast of a 0-d value feeding an elementwise op can be the 0-d value itself."""
    node = value.node
    if node is not None and node.prim.name == "broadcast_to" and node.inputs[0].shape == ():
        return node.inputs[0]
    return value


def _simplify_arith(name, inputs, out):
    x, y = inputs
    # x - 0 and x + (-0.0) are x exactly; x + 0.0 is not (-0.0 + 0.0 is +0.0) for floats.
    if name == "sub" and _is_scalar_constant(y, 0) and _same_aval(x, out):
        return [x]
    if name == "add" and _is_additive_identity(y, out) and _same_aval(x, out):
        return [x]
    if name == "add" and _is_additive_identity(x, out) and _same_aval(y, out):
        return [y]
    if name in ("mul", "div") and _is_scalar_constant(y, 1) and _same_aval(x, out):
        return [x]
    if name == "mul" and _is_scalar_constant(x, 1) and _same_aval(y, out):
        return [y]
    sx, sy = _unbroadcast_scalar(x), _unbroadcast_scalar(y)
    if (sx is not x or sy is not y):
        result = P[name](sx, sy)
        if tuple(result.shape) == tuple(out.shape):
            return [result]
        return [P["broadcast_to"](result, shape=tuple(out.shape))]
    return None


def simplify(graph):
    uses = {}
    for node in graph.nodes:
        for v in node.inputs:
            uses[v] = uses.get(v, 0) + 1
    outputs = set(graph.outputs)

    def sole_use(value):
        return uses.get(value) == 1 and value not in outputs

    def visit(new_graph, node, inputs):
        replacement = _simplify_node(new_graph, node, inputs, sole_use)
        return replacement if replacement is not None else keep(new_graph, node, inputs)

    return rewrite(graph, visit)


def _strip_marker(node, inputs):
    """custom_vjp and stop_gradient only steer differentiation: afterwards they are identities."""
    if node.prim is CUSTOM_VJP:
        return list(inputs[node.params["n_inputs"]:])
    if node.prim.name == "stop_gradient":
        return [inputs[0]]
    return None


def strip_autodiff_markers(graph):
    """Only the custom_vjp and stop_gradient rewrites: what must go before execution."""

    def visit(new_graph, node, inputs):
        marker = _strip_marker(node, inputs)
        return marker if marker is not None else keep(new_graph, node, inputs)

    return rewrite(graph, visit)
