"""Splitting a joint forward+backward graph into the two graphs a compiled function runs at
different times: the forward when it is called, the backward when autograd asks for it.

Nodes that depend on a cotangent input are backward nodes; the rest are forward. Forward values
the backward reads become residuals: extra forward outputs, saved between the two calls.
"""
from .ir import Graph
from .passes.rewrite import keep


def _depends_on(graph, sources):
    tainted = set(sources)
    for node in graph.nodes:
        if any(v in tainted for v in node.inputs):
            tainted.update(node.outputs)
    return tainted


def split_joint(joint, forward_outputs, cotangents, backward_outputs):
    """Returns (forward, backward).

    forward: joint's inputs except the cotangents -> forward_outputs + residuals.
    backward: residuals + cotangents -> backward_outputs (None entries become absent).
    """
    tainted = _depends_on(joint, cotangents)
    backward_nodes = [n for n in joint.nodes if any(v in tainted for v in n.outputs)]
    in_backward = set(backward_nodes)
    forward_nodes = [n for n in joint.nodes if n not in in_backward]
    residuals = []
    seen = set()
    for node in backward_nodes:
        for v in node.inputs:
            if v not in tainted and v not in seen:
                seen.add(v)
                residuals.append(v)
    for v in backward_outputs:
        if v is not None and v not in tainted and v not in seen:
            seen.add(v)  # a gradient that does not depend on the cotangent (rare: constants)
            residuals.append(v)
    cotangent_set = set(cotangents)
    forward = _copy_nodes(joint, [v for v in joint.inputs if v not in cotangent_set],
                          forward_nodes, list(forward_outputs) + residuals, "forward")
    backward = _copy_nodes(joint, residuals + list(cotangents), backward_nodes,
                           [v for v in backward_outputs if v is not None], "backward")
    return forward, backward


def _copy_nodes(joint, inputs, nodes, outputs, name):
    graph = Graph(name)
    mapping = {}
    for v in inputs:
        mapping[v] = graph.add_input(v.aval, v.name)
    for node in nodes:
        new_outputs = keep(graph, node, [mapping[v] for v in node.inputs])
        for old, new in zip(node.outputs, new_outputs):
            mapping[old] = new
    graph.outputs = [mapping[v] for v in outputs]
    return graph
