"""Reverse-mode autodiff over the graph IR: the compiler's own backward pass.

`vjp` walks the nodes between the differentiated inputs and the outputs in reverse and applies
each primitive's VJP rules (the same rules eager backward uses) to graph values, which appends
the backward nodes to the graph: forward and backward become one joint graph.
"""
from .ir import CUSTOM_VJP, Value
from .primitive import vjp_cotangents
from .primitives import cast, sum_to


def vjp(graph, outputs, cotangents, wrt):
    """Append nodes computing the cotangents of `wrt` given `cotangents` for `outputs`.

    Returns one Value per entry of `wrt`, or None where no path connects it to the outputs.
    """
    nodes = list(graph.nodes)  # the backward nodes appended below are not revisited
    depends = values_depending_on(nodes, wrt)
    cts = {}
    for out, ct in zip(outputs, cotangents):
        _accumulate(cts, out, ct)
    for node in reversed(nodes):
        out_cts = [cts.get(v) for v in node.outputs]
        if all(c is None for c in out_cts):
            continue
        needed = [isinstance(v, Value) and v in depends for v in node.inputs]
        if not any(needed) or node.prim.vjp is None and node.prim is not CUSTOM_VJP:
            continue
        for value, ct in zip(node.inputs, _node_cotangents(node, out_cts, needed)):
            if ct is not None:
                _accumulate(cts, value, fit_cotangent(ct, value))
    return [cts.get(w) for w in wrt]


def values_depending_on(nodes, wrt):
    """Values with a differentiable path from some value of `wrt`."""
    depends = set(wrt)
    for node in nodes:
        differentiable = node.prim.vjp is not None or node.prim is CUSTOM_VJP
        if differentiable and any(v in depends for v in node.inputs):
            # Integer and boolean values carry no gradient (x.long().float() cuts the path).
            depends.update(v for v in node.outputs if v.dtype.is_floating_point)
    return depends


def _node_cotangents(node, out_cts, needed):
    if node.prim is CUSTOM_VJP:
        return _custom_vjp_cotangents(node, out_cts, needed)
    g = out_cts[0] if len(node.outputs) == 1 else tuple(out_cts)
    out = node.outputs[0] if len(node.outputs) == 1 else node.outputs
    return vjp_cotangents(node.prim.vjp, g, out, node.inputs, node.params, needed)


def _custom_vjp_cotangents(node, out_cts, needed):
    params = node.params
    n = params["n_inputs"]
    inputs = node.inputs[:n]
    inner = node.inputs[n:]
    g = out_cts[0] if params["n_outputs"] == 1 else tuple(out_cts)
    out = inner[0] if params["n_outputs"] == 1 else tuple(inner)
    cts = vjp_cotangents(params["rule"], g, out, inputs, params["params"], needed[:n])
    # The region's inside is never differentiated: its outputs get no cotangent of their own.
    return tuple(cts) + (None,) * len(inner)


def fit_cotangent(ct, value):
    """Sum a broadcast cotangent down to the value's shape and cast it to its dtype."""
    if tuple(ct.shape) != tuple(value.shape):
        ct = sum_to(ct, value.shape)
    if ct.dtype is not value.dtype:
        ct = cast(ct, dtype=value.dtype)
    return ct


def _accumulate(cts, value, ct):
    previous = cts.get(value)
    cts[value] = ct if previous is None else previous + ct
