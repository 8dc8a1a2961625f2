"""Each pass on small hand-built graphs: what it removes, and that results do not change."""
import numpy as np
import pytest

from llgrad.compiler import dtypes
from llgrad.compiler import primitives as P
from llgrad.compiler.interpreter import run
from llgrad.compiler.ir import Graph, custom_vjp
from llgrad.compiler.passes import PIPELINE, constant_fold, cse, dce, run_pipeline, simplify
from llgrad.compiler.primitive import Aval
from llgrad.compiler.verify import VerificationError, verify_graph

F32 = dtypes.float32


def graph_with_input(shape=(3,)):
    g = Graph()
    return g, g.add_input(Aval(shape, F32))


def prim_names(graph):
    return [n.prim.name for n in graph.nodes]


def same_results(before, after, inputs):
    for a, b in zip(run(before, inputs), run(after, inputs)):
        np.testing.assert_allclose(a, b)


def test_dce_drops_unused_nodes():
    g, x = graph_with_input()
    P.exp(x)  # dead
    g.outputs = [P.sin(x)]
    out = dce(g)
    assert prim_names(out) == ["sin"]
    verify_graph(out)


def test_cse_merges_identical_nodes():
    g, x = graph_with_input()
    a, b = P.exp(x), P.exp(x)
    g.outputs = [a + b]
    out = dce(cse(g))
    assert prim_names(out).count("exp") == 1
    same_results(g, out, [np.arange(3, dtype=np.float32)])


def test_cse_keeps_nodes_with_different_params():
    g, x = graph_with_input((2, 3))
    g.outputs = [P.reduce_sum(x, axes=(0,), keepdims=True),
                 P.reduce_sum(x, axes=(1,), keepdims=True)]
    assert prim_names(cse(g)).count("reduce_sum") == 2


def test_constant_folding_evaluates_small_constant_subgraphs():
    g, x = graph_with_input()
    c = P.exp(g.constant(np.float32(1.0))) * 2
    g.outputs = [x * c]
    out = dce(constant_fold(g))
    assert prim_names(out) == ["constant", "mul"]
    same_results(g, out, [np.ones(3, dtype=np.float32)])


def test_constant_folding_leaves_large_results_alone():
    g, x = graph_with_input((100, 100))
    big = P.broadcast_to(g.constant(np.float32(2.0)), shape=(100, 100))
    g.outputs = [x * P.exp(big)]
    assert "exp" in prim_names(dce(constant_fold(g)))


@pytest.mark.parametrize("build,expected", [
    (lambda x: x + 0.0, ["add"]),  # not an identity: -0.0 + 0.0 is +0.0
    (lambda x: x + (-0.0), []),
    (lambda x: x - 0.0, []),
    (lambda x: 1.0 * x, []),
    (lambda x: x / 1.0, []),
    (lambda x: -(-x), []),
    (lambda x: P.reshape(P.reshape(x, shape=(3, 1)), shape=(1, 3)), ["reshape"]),
    (lambda x: P.permute(P.permute(P.reshape(x, shape=(1, 3)), perm=(1, 0)), perm=(1, 0)),
     ["reshape"]),
    (lambda x: P.cast(x, dtype=F32), []),
    (lambda x: P.broadcast_to(x, shape=(3,)), []),
    (lambda x: P.stop_gradient(x), []),
    (lambda x: x ** 1.0, []),
    (lambda x: x ** 2.0, ["mul"]),
])
def test_simplify_identities(build, expected):
    g, x = graph_with_input()
    g.outputs = [build(x)]
    out = dce(simplify(dce(constant_fold(g))))
    assert [n for n in prim_names(out) if n != "constant"] == expected
    same_results(g, out, [np.array([1.0, -2.0, -0.0], dtype=np.float32)])
    np.testing.assert_array_equal(np.signbit(run(g, [np.array([-0.0] * 3, np.float32)])[0]),
                                  np.signbit(run(out, [np.array([-0.0] * 3, np.float32)])[0]))


def test_broadcast_of_a_scalar_feeding_elementwise_is_folded_away():
    g, x = graph_with_input((4, 5))
    s = g.add_input(Aval((), F32))
    g.outputs = [x * P.broadcast_to(s, shape=(4, 5))]
    out = dce(simplify(g))
    assert prim_names(out) == ["mul"]
    same_results(g, out, [np.ones((4, 5), np.float32), np.float32(3)])


def test_custom_vjp_is_inlined():
    g, x = graph_with_input()
    y = P.exp(x)
    (wrapped,) = custom_vjp([x], [y], rule=(lambda g_, out, x_: g_ * out,), params={})
    g.outputs = [wrapped]
    out = dce(simplify(g))
    assert prim_names(out) == ["exp"]


def test_pipeline_is_a_named_list_and_logs_node_counts():
    g, x = graph_with_input()
    g.outputs = [P.exp(x) + P.exp(x) + 0.0]
    log = []
    out = run_pipeline(g, verify=True, log=log)
    assert [name for name, _, _ in log] == [name for name, _ in PIPELINE]
    assert len(out.nodes) < len(g.nodes)


def test_verifier_catches_use_before_definition():
    g, x = graph_with_input()
    y = P.exp(x)
    g.nodes.reverse()
    g.nodes.append(P.sin(y).node)  # sin appended after its use is fine; now break order:
    g.nodes.insert(0, g.nodes.pop())
    g.outputs = [y]
    with pytest.raises(VerificationError, match="before it is defined"):
        verify_graph(g)


def test_verifier_catches_a_wrong_type():
    g, x = graph_with_input()
    y = P.exp(x)
    y.aval = Aval((4,), F32)
    g.outputs = [y]
    with pytest.raises(VerificationError, match="shape rule says"):
        verify_graph(g)


def test_verifier_catches_values_from_another_graph():
    g, x = graph_with_input()
    other, z = graph_with_input()
    g.outputs = [z]
    with pytest.raises(VerificationError, match="not defined"):
        verify_graph(g)


def test_transpose_of_a_product_becomes_a_product_of_transposes():
    g = Graph()
    a, b = g.add_input(Aval((3, 4), F32)), g.add_input(Aval((4, 5), F32))
    g.outputs = [P.permute(P.matmul(a, b), perm=(1, 0))]
    out = dce(simplify(g))
    assert [n.prim.name for n in out.nodes][-1] == "matmul"
    rng = np.random.default_rng(0)
    same_results(g, out, [rng.standard_normal((3, 4)).astype(np.float32),
                          rng.standard_normal((4, 5)).astype(np.float32)])


def test_transpose_of_a_shared_product_is_left_alone():
    g = Graph()
    a, b = g.add_input(Aval((3, 4), F32)), g.add_input(Aval((4, 5), F32))
    m = P.matmul(a, b)
    g.outputs = [P.permute(m, perm=(1, 0)), m]
    assert prim_names(dce(simplify(g))).count("matmul") == 1
