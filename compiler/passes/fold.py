"""Constant folding: a node whose inputs are all constants is evaluated now with its NumPy
reference, if the result is small (large results stay computed at run time rather than
bloating the compiled code)."""
import numpy as np

from ..ir import CONSTANT
from .rewrite import keep, rewrite

MAX_FOLDED_ELEMENTS = 4096


def constant_value(value):
    node = value.node
    if node is not None and node.prim is CONSTANT:
        return node.params["value"]
    return None


def constant_fold(graph):
    def visit(new_graph, node, inputs):
        if node.prim is CONSTANT or not inputs or node.prim.family == "control":
            return keep(new_graph, node, inputs)
        values = [constant_value(v) for v in inputs]
        if any(v is None for v in values) or _size(node) > MAX_FOLDED_ELEMENTS:
            return keep(new_graph, node, inputs)
        result = node.prim.impl(*values, **node.params)
        results = result if len(node.outputs) > 1 else (result,)
        return [new_graph.constant(np.array(r, dtype=v.dtype.np))
                for r, v in zip(results, node.outputs)]

    return rewrite(graph, visit)


def _size(node):
    return sum(int(np.prod(v.shape, dtype=np.int64)) for v in node.outputs)
