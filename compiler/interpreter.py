"""The reference interpreter: runs a graph node by node with the NumPy reference kernels.

It is the oracle every other backend is checked against, and stays selectable with
`llgrad.compile(fn, backend="interp")`.
"""
from .primitive import numpy_result


def run(graph, inputs):
    """Evaluate `graph` on `inputs` (arrays or scalars, one per graph input); returns a list."""
    env = {}
    for value, array in zip(graph.inputs, inputs):
        env[value] = array
    for node in graph.nodes:
        args = [env[v] for v in node.inputs]
        result = node.prim.impl(*args, **node.params)
        if len(node.outputs) == 1:
            env[node.outputs[0]] = result
        else:
            for value, r in zip(node.outputs, result):
                env[value] = r
    return [numpy_result(env[v]) for v in graph.outputs]


class Interpreter:
    """A compiled-function backend that interprets the graph; the oracle for the LLVM backend."""

    name = "interp"

    def __init__(self, graph):
        self.graph = graph

    def __call__(self, inputs):
        return run(self.graph, inputs)
