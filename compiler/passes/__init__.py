"""Graph-to-graph passes, and the pipeline that runs them in order (each one verifiable)."""
from .cse import cse
from .dce import dce
from .fold import constant_fold
from .rewrite import keep, rewrite
from .simplify import simplify, strip_autodiff_markers

# The optimization pipeline, in order. Each entry is (name, pass); `run_pipeline` can verify
# the graph between passes and report node counts, so a pass that breaks a graph is named.
PIPELINE = (
    ("strip_autodiff_markers", strip_autodiff_markers),
    ("simplify", simplify),
    ("constant_fold", constant_fold),
    ("cse", cse),
    ("simplify_again", simplify),
    ("dce", dce),
)


def run_pipeline(graph, verify=False, log=None, start=0):
    """Run the pipeline from its `start`-th pass (the compiled-function front end runs the
    first, which strips the autodiff markers, on its own: the kernel cache keys that graph)."""
    from ..verify import verify_graph

    if verify:
        verify_graph(graph)
    for name, pass_fn in PIPELINE[start:]:
        before = len(graph.nodes)
        graph = pass_fn(graph)
        if verify:
            verify_graph(graph, after=name)
        if log is not None:
            log.append((name, before, len(graph.nodes)))
    return graph
