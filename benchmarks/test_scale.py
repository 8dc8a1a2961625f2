"""Medium and large steps and the fused row kernels, beside torch eager, torch.compile and JAX's
jit, every framework with the same number of threads (benchmarks/conftest.py).

Groups (compare within a group, ratios of medians; the machine is shared):
- mlp-sgd-128x784-512-512-10, mlp-adam-128x784-512-512-10,
  mlp-sgd-512x1024-2048-2048-10, mlp-adam-512x1024-2048-2048-10: training steps with
  cross-entropy; target: llgrad no slower than the fastest peer. extra_info: GFLOP/s from the
  graph's flops beside the measured peak (conftest.machine_limits).
- mlp-adam-32x64-128-128-10: the small step with Adam (SGD: test_native.py); target 2x JAX.
- layer-norm-fwd-bwd-2048x1024, softmax-fwd-bwd-2048x1024: target 1.2x the fastest peer.
  extra_info: GB/s of the bytes the step must move (inputs read once, outputs written once),
  beside the measured memory bandwidth.

Run: python -m pytest benchmarks/test_scale.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import llgrad

from conftest import report_share
from llgrad.bench import cases as bench_cases
from test_native import mlp_data, mlp_step

MEDIUM = ((784, 512, 512, 10), 128)
LARGE = ((1024, 2048, 2048, 10), 512)
SMALL = ((64, 128, 128, 10), 32)


def _llgrad(benchmark, shape, optimizer, limits):
    (sizes, batch) = shape
    x, y = mlp_data(sizes, batch)
    step = llgrad.compile(mlp_step(llgrad, sizes, optimizer))
    x, y = llgrad.tensor(x), llgrad.tensor(y)
    step(x, y)
    assert np.isfinite(benchmark(step, x, y).item())
    assert step.stats["executions"]["llvm"] > 0 and step.stats["traces"] <= 2
    flops = sum(k.flops for spec in step.specializations
                for k in spec.executable.step.program.kernels) / len(step.specializations)
    report_share(benchmark, limits, gflop=flops / 1e9)


def _torch(benchmark, shape, optimizer, compiled=False):
    torch = pytest.importorskip("torch")
    (sizes, batch) = shape
    x, y = mlp_data(sizes, batch)
    step = mlp_step(torch, sizes, optimizer)
    xt, yt = torch.tensor(x), torch.tensor(y)
    if compiled:
        step = torch.compile(step)
        try:
            step(xt, yt)
        except Exception as error:  # no C compiler for inductor, for instance
            pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
    assert np.isfinite(benchmark(step, xt, yt).item())


def _jax(benchmark, shape, optimizer):
    """JAX's jit of the same step: llgrad bench's definition (PyTorch's SGD and Adam updates)."""
    jax = pytest.importorskip("jax")
    (sizes, batch) = shape
    x, y = mlp_data(sizes, batch)
    run = bench_cases.jax_mlp_runner(jax, sizes, optimizer, x, y)
    assert np.isfinite(float(benchmark(run)))


CASES = [("mlp-sgd-128x784-512-512-10", MEDIUM, "sgd"),
         ("mlp-adam-128x784-512-512-10", MEDIUM, "adam"),
         ("mlp-sgd-512x1024-2048-2048-10", LARGE, "sgd"),
         ("mlp-adam-512x1024-2048-2048-10", LARGE, "adam"),
         ("mlp-adam-32x64-128-128-10", SMALL, "adam")]


def _parametrized(framework):
    return pytest.mark.parametrize(
        "group, shape, optimizer", [pytest.param(g, s, o, id=g) for g, s, o in CASES])


@_parametrized("llgrad")
def test_mlp_llgrad_native(benchmark, group, shape, optimizer, machine_limits):
    benchmark.group = group
    _llgrad(benchmark, shape, optimizer, machine_limits)


@_parametrized("jax")
def test_mlp_jax_jit(benchmark, group, shape, optimizer):
    benchmark.group = group
    _jax(benchmark, shape, optimizer)


@_parametrized("torch")
def test_mlp_torch_eager(benchmark, group, shape, optimizer):
    benchmark.group = group
    _torch(benchmark, shape, optimizer)


@_parametrized("torch.compile")
def test_mlp_torch_compile(benchmark, group, shape, optimizer):
    benchmark.group = group
    _torch(benchmark, shape, optimizer, compiled=True)


# ---- row kernels: layer norm and softmax, forward and backward ------------------------------

ROWS, COLS = 2048, 1024


def row_data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((ROWS, COLS)).astype(np.float32),
            rng.standard_normal((ROWS, COLS)).astype(np.float32))


# Bytes a fused forward+backward must move: x and the incoming gradient read, y and dx written
# (layer norm's weight and bias, and their gradients, are a few KB).
ROW_BYTES = 4 * ROWS * COLS * 4


def _llgrad_rows(benchmark, kind, limits):
    X, G = row_data()
    x = llgrad.tensor(X, requires_grad=True)
    g = llgrad.tensor(G)
    w = llgrad.ones(COLS, requires_grad=True)
    b = llgrad.zeros(COLS, requires_grad=True)

    @llgrad.compile
    def step(x, g):
        x.grad = w.grad = b.grad = None
        if kind == "layer_norm":
            y = llgrad.nn.functional.layer_norm(x, (COLS,), w, b)
        else:
            y = x.softmax(-1)
        y.backward(g)
        return y.detach()

    step(x, g)
    benchmark(step, x, g)
    assert step.stats["executions"]["llvm"] > 0
    report_share(benchmark, limits, gbytes=ROW_BYTES / 1e9)


def _torch_rows(benchmark, kind, compiled=False):
    torch = pytest.importorskip("torch")
    X, G = row_data()
    x = torch.tensor(X, requires_grad=True)
    g = torch.tensor(G)
    w = torch.ones(COLS, requires_grad=True)
    b = torch.zeros(COLS, requires_grad=True)

    def step(x, g):
        x.grad = w.grad = b.grad = None
        if kind == "layer_norm":
            y = torch.nn.functional.layer_norm(x, (COLS,), w, b)
        else:
            y = x.softmax(-1)
        y.backward(g)
        return y.detach()

    if compiled:
        step = torch.compile(step)
        try:
            step(x, g)
        except Exception as error:
            pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
    benchmark(step, x, g)
    benchmark.extra_info["GB/s"] = round(ROW_BYTES / benchmark.stats.stats.median / 1e9, 1)


def _jax_rows(benchmark, kind):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    X, G = row_data()

    def layer_norm(x, w, b):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / jnp.sqrt(var + 1e-5) * w + b

    if kind == "layer_norm":
        def f(x, g, w, b):
            y, vjp = jax.vjp(layer_norm, x, w, b)
            return y, vjp(g)
    else:
        def f(x, g, w, b):
            y, vjp = jax.vjp(lambda x: jax.nn.softmax(x, -1), x)
            return y, vjp(g)

    f = jax.jit(f)
    args = (jnp.asarray(X), jnp.asarray(G), jnp.ones(COLS), jnp.zeros(COLS))
    benchmark(lambda: jax.block_until_ready(f(*args)))
    benchmark.extra_info["GB/s"] = round(ROW_BYTES / benchmark.stats.stats.median / 1e9, 1)


ROW_KINDS = [pytest.param("layer_norm", id="layer-norm-fwd-bwd-2048x1024"),
             pytest.param("softmax", id="softmax-fwd-bwd-2048x1024")]


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_rows_llgrad_native(benchmark, kind, machine_limits):
    benchmark.group = f"{kind}-fwd-bwd-2048x1024"
    _llgrad_rows(benchmark, kind, machine_limits)


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_rows_torch_eager(benchmark, kind):
    benchmark.group = f"{kind}-fwd-bwd-2048x1024"
    _torch_rows(benchmark, kind)


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_rows_torch_compile(benchmark, kind):
    benchmark.group = f"{kind}-fwd-bwd-2048x1024"
    _torch_rows(benchmark, kind, compiled=True)


@pytest.mark.parametrize("kind", ROW_KINDS)
def test_rows_jax_jit(benchmark, kind):
    benchmark.group = f"{kind}-fwd-bwd-2048x1024"
    _jax_rows(benchmark, kind)
