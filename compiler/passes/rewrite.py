"""Rebuilding a graph node by node: the one mechanism every pass uses.

A pass gives `rewrite` a function that sees each node with its inputs already mapped into the new
graph, and returns the node's new outputs: the node copied unchanged (`keep`), or any other
values of the new graph (built by calling primitives on them).
"""
from ..ir import Graph


def keep(new_graph, node, inputs):
    """Copy `node` into the new graph with mapped inputs."""
    return new_graph.add_node(node.prim, inputs, node.params,
                              [v.aval for v in node.outputs]).outputs


def rewrite(graph, visit=keep, name=None):
    new = Graph(name or graph.name)
    mapping = {}
    for value in graph.inputs:
        mapping[value] = new.add_input(value.aval, value.name)
    for node in graph.nodes:
        inputs = [mapping[v] for v in node.inputs]
        outputs = visit(new, node, inputs)
        for old, replacement in zip(node.outputs, outputs):
            mapping[old] = replacement
    new.outputs = [mapping[v] for v in graph.outputs]
    return new
