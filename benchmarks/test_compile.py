"""llgrad.compile (reference-interpreter back end) beside eager llgrad and torch eager on the
training step of test_eager.py. The interpreter runs the same NumPy kernels as eager; the
difference is the Python autograd bookkeeping the compiled step no longer does.

Run: python -m pytest benchmarks/test_compile.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import llgrad

from test_eager import mlp_step_factory

GROUP = "compiled-mlp-step-128x784-512-512-10"


@pytest.mark.benchmark(group=GROUP, warmup=True, warmup_iterations=20)
def test_mlp_step_llgrad_compiled_interp(benchmark):
    step = llgrad.compile(mlp_step_factory(llgrad), backend="interp")
    for _ in range(3):
        step()
    assert np.isfinite(benchmark(step).item())
    assert step.stats["traces"] == 1


@pytest.mark.benchmark(group=GROUP, warmup=True, warmup_iterations=20)
def test_mlp_step_llgrad_eager(benchmark):
    step = mlp_step_factory(llgrad)
    for _ in range(3):
        step()
    assert np.isfinite(benchmark(step).item())


def small_step_factory(lib, compiled=False):
    """A small MLP (64-128-10, batch 32: the demo's), where per-op overhead dominates."""
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = lib.from_numpy(rng.standard_normal((32, 64)).astype(np.float32))
    y = lib.from_numpy(rng.integers(0, 10, 32))

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return llgrad.compile(step) if compiled else step


SMALL = "small-mlp-step-32x64-128-10"


@pytest.mark.benchmark(group=SMALL, warmup=True, warmup_iterations=50)
def test_small_step_llgrad_compiled_interp(benchmark):
    step = small_step_factory(llgrad, compiled=True)
    assert np.isfinite(benchmark(step).item())


@pytest.mark.benchmark(group=SMALL, warmup=True, warmup_iterations=50)
def test_small_step_llgrad_eager(benchmark):
    assert np.isfinite(benchmark(small_step_factory(llgrad)).item())


@pytest.mark.benchmark(group=SMALL, warmup=True, warmup_iterations=50)
def test_small_step_torch_eager(benchmark):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(2)
    assert np.isfinite(benchmark(small_step_factory(torch)).item())
