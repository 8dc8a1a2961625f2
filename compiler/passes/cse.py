"""Common-subexpression elimination: a node with the same primitive, inputs and parameters as
an earlier one reuses its outputs."""
import numpy as np

from .rewrite import keep, rewrite


def _param_key(value):
    if isinstance(value, float):
        return ("float", value.hex())  # 0.0 and -0.0 differ; a NaN equals itself
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return tuple(sorted((k, _param_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_param_key(v) for v in value)
    try:
        hash(value)
        return value
    except TypeError:
        return ("id", id(value))


def node_key(node, inputs):
    params = tuple(sorted((k, _param_key(v)) for k, v in node.params.items()))
    return (node.prim.name, tuple(id(v) for v in inputs), params)


def cse(graph):
    seen = {}

    def visit(new_graph, node, inputs):
        key = node_key(node, inputs)
        found = seen.get(key)
        if found is not None:
            return found
        outputs = keep(new_graph, node, inputs)
        seen[key] = outputs
        return outputs

    return rewrite(graph, visit)
