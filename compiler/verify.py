"""The graph verifier: SSA, no dangling uses, and every node's type matching its shape rule."""
from .primitive import Aval


class VerificationError(AssertionError):
    pass


def verify_graph(graph, after=None):
    where = f" after pass {after}" if after else ""
    defined = set()
    for value in graph.inputs:
        _check(value.graph is graph, f"input %{value.name} belongs to another graph{where}")
        _check(value not in defined, f"input %{value.name} defined twice{where}")
        defined.add(value)
    for node in graph.nodes:
        for value in node.inputs:
            _check(value in defined, f"{node.prim.name} uses %{value.name} before it is defined "
                                     f"(or from outside the graph){where}")
        _check_types(node, where)
        for value in node.outputs:
            _check(value.node is node and value.graph is graph,
                   f"%{value.name} does not point back to its node{where}")
            _check(value not in defined, f"%{value.name} defined twice{where}")
            defined.add(value)
    for value in graph.outputs:
        _check(value in defined, f"output %{value.name} is not defined in the graph{where}")


def _check_types(node, where):
    expected = node.prim.abstract(*node.inputs, **node.params)
    expected = expected if isinstance(expected, tuple) else (expected,)
    _check(len(expected) == len(node.outputs), f"{node.prim.name}: wrong number of outputs{where}")
    for aval, value in zip(expected, node.outputs):
        aval = Aval(aval.shape, aval.dtype)
        _check(aval == value.aval, f"{node.prim.name}: output %{value.name} is {value.aval} but its "
                                   f"shape rule says {aval}{where}")


def _check(condition, message):
    if not condition:
        raise VerificationError(message)
