"""Dead-code elimination: drop nodes none of whose outputs reaches a graph output.
Every primitive is pure, so liveness is the whole story."""
from .rewrite import rewrite


def live_nodes(graph):
    live = set()
    needed = set(graph.outputs)
    for node in reversed(graph.nodes):
        if any(v in needed for v in node.outputs):
            live.add(node)
            needed.update(node.inputs)
    return live


def dce(graph):
    live = live_nodes(graph)
    new = rewrite(graph, _keep_if(live))
    return new


def _keep_if(live):
    from .rewrite import keep

    def visit(new_graph, node, inputs):
        if node in live:
            return keep(new_graph, node, inputs)
        return [None] * len(node.outputs)

    return visit
