"""The `llgrad bench` suite under pytest-benchmark: the same case table (llgrad.bench.cases),
one benchmark per case, size and framework, grouped by case. `python -m llgrad bench` runs
the frameworks interleaved in rounds and holds them against the machine's measured limits; this
file gives the cases pytest-benchmark's own machinery (--benchmark-compare, histograms, ...).

Every framework gets the same thread count (conftest.py). llgrad's entries carry GFLOP/s and
GB/s from the flops and bytes counted in its compiled graph, and must have run natively.

Run: python -m pytest benchmarks/test_suite.py --benchmark-only --benchmark-group-by=group
     (-k 'softmax and llgrad', for instance)
"""
import pytest

from llgrad.bench import cases, work

SELECTED = cases.select("default")


def _libs(framework):
    libs = {"numpy": pytest.importorskip("numpy")}
    if framework.startswith("torch"):
        libs["torch"] = pytest.importorskip("torch")
    if framework == "jax":
        libs["jax"] = pytest.importorskip("jax")
    return libs


@pytest.mark.parametrize("framework", cases.FRAMEWORKS)
@pytest.mark.parametrize("case, size", SELECTED, ids=[c.ident(s) for c, s in SELECTED])
def test_case(benchmark, case, size, framework):
    benchmark.group = case.ident(size)
    params = case.sizes[size]
    built = case.builders[framework](params, case.data(params), _libs(framework))
    run, compiled = built if framework == "llgrad" else (built, None)
    if run is None:
        pytest.skip(f"{framework} has no fair implementation of {case.name} here")
    try:
        run()  # compiles (llgrad, jit, torch.compile)
    except Exception as error:  # torch.compile without a C compiler, for instance
        if framework == "llgrad":
            raise
        pytest.skip(f"{framework} cannot run {case.name} here: {type(error).__name__}")
    benchmark(run)
    if compiled is not None:
        work.ran_natively(compiled)
        counted = work.count(compiled)
        seconds = benchmark.stats.stats.median
        benchmark.extra_info["GFLOP/s"] = round(counted["flops"] / seconds / 1e9, 2)
        benchmark.extra_info["GB/s"] = round(counted["bytes"] / seconds / 1e9, 2)
