"""The native back end beside its peers: torch eager, torch.compile and JAX's jit, in the same
process when installed (each peer's benchmark is skipped when it is not).

Every framework gets the same number of threads (benchmarks/conftest.py: $LLGRAD_NUM_THREADS,
else the usable cores). Groups (compare within a group; the machine is shared and noisy, so quote
ratios of medians):
- small-mlp-step: batch 32, 64-128-128-10, cross-entropy, SGD with momentum (target: llgrad at
  least 2x faster than JAX's jit);
- tiny-call: `a + 1` on 4 floats (target: at most 3 us);
- gelu-fwd-bwd-4M: GELU and its gradient on 4M float32 (peers: JAX jit, torch.compile);
- cold-compile: tracing, optimizing and compiling the 784-512-512-10 training step (target:
  under 0.5 s), measured in a fresh process (every cache empty) and in a warm one.

Run: python -m pytest benchmarks/test_native.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import llgrad

from conftest import report_share
from llgrad.bench import cases as bench_cases

SIZES = (64, 128, 128, 10)
BATCH = 32


def mlp_data(sizes=SIZES, batch=BATCH, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, sizes[0])).astype(np.float32),
            rng.integers(0, sizes[-1], batch))


def mlp_step(lib, sizes=SIZES, optimizer="sgd"):
    """The MLP training step (cross-entropy, SGD with momentum or Adam) for llgrad or torch:
    llgrad bench's, so every MLP figure times the same step."""
    return bench_cases.mlp_step(lib, sizes, optimizer)


SMALL = "small-mlp-step-32x64-128-128-10"


@pytest.mark.benchmark(group=SMALL, warmup=True, warmup_iterations=100)
def test_small_step_llgrad_native(benchmark):
    x, y = mlp_data()
    step = llgrad.compile(mlp_step(llgrad))
    x, y = llgrad.tensor(x), llgrad.tensor(y)
    assert np.isfinite(benchmark(step, x, y).item())
    assert step.stats["executions"]["llvm"] > 0 and step.stats["traces"] == 1


@pytest.mark.benchmark(group=SMALL, warmup=True, warmup_iterations=100)
def test_small_step_jax_jit(benchmark):
    jax = pytest.importorskip("jax")
    x, y = mlp_data()
    run = bench_cases.jax_mlp_runner(jax, SIZES, "sgd", x, y)
    assert np.isfinite(float(benchmark(run)))


@pytest.mark.benchmark(group=SMALL, warmup=True, warmup_iterations=100)
def test_small_step_torch_eager(benchmark):
    torch = pytest.importorskip("torch")
    x, y = mlp_data()
    step = mlp_step(torch)
    assert np.isfinite(benchmark(step, torch.tensor(x), torch.tensor(y)).item())


@pytest.mark.benchmark(group=SMALL, warmup=True, warmup_iterations=100)
def test_small_step_torch_compile(benchmark):
    torch = pytest.importorskip("torch")
    x, y = mlp_data()
    step = torch.compile(mlp_step(torch))
    xt, yt = torch.tensor(x), torch.tensor(y)
    try:
        step(xt, yt)
    except Exception as error:  # no C compiler for inductor, for instance
        pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
    assert np.isfinite(benchmark(step, xt, yt).item())


TINY = "tiny-call-a-plus-1-on-4-floats"


@pytest.mark.benchmark(group=TINY, warmup=True, warmup_iterations=1000)
def test_tiny_call_llgrad_native(benchmark):
    f = llgrad.compile(lambda a: a + 1)
    a = llgrad.ones(4)
    benchmark(f, a)
    assert f.stats["executions"]["llvm"] > 0


@pytest.mark.benchmark(group=TINY, warmup=True, warmup_iterations=1000)
def test_tiny_call_jax_jit(benchmark):
    jax = pytest.importorskip("jax")
    f = jax.jit(lambda a: a + 1)
    a = jax.numpy.ones(4)
    benchmark(lambda: f(a).block_until_ready())


@pytest.mark.benchmark(group=TINY, warmup=True, warmup_iterations=1000)
def test_tiny_call_torch_compile(benchmark):
    torch = pytest.importorskip("torch")
    f = torch.compile(lambda a: a + 1)
    a = torch.ones(4)
    try:
        f(a)
    except Exception as error:
        pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
    benchmark(f, a)


GELU = "gelu-fwd-bwd-4M-float32"
N_GELU = 4 * 1024 * 1024


@pytest.mark.benchmark(group=GELU, warmup=True, warmup_iterations=5)
def test_gelu_llgrad_native(benchmark, machine_limits):
    x = llgrad.tensor(np.random.default_rng(0).standard_normal(N_GELU).astype(np.float32),
                      requires_grad=True)

    @llgrad.compile
    def gelu_grad(x):
        x.grad = None
        y = llgrad.nn.functional.gelu(x)
        y.sum().backward()
        return y.detach()

    benchmark(gelu_grad, x)
    assert gelu_grad.stats["executions"]["llvm"] > 0
    report_share(benchmark, machine_limits, gbytes=3 * 4 * N_GELU / 1e9)  # x in; y, grad out


@pytest.mark.benchmark(group=GELU, warmup=True, warmup_iterations=5)
def test_gelu_jax_jit(benchmark):
    jax = pytest.importorskip("jax")
    x = jax.numpy.asarray(np.random.default_rng(0).standard_normal(N_GELU).astype(np.float32))
    f = jax.jit(jax.value_and_grad(lambda x: jax.nn.gelu(x, approximate=False).sum()))
    benchmark(lambda: jax.block_until_ready(f(x)))


@pytest.mark.benchmark(group=GELU, warmup=True, warmup_iterations=5)
def test_gelu_torch_compile(benchmark):
    torch = pytest.importorskip("torch")
    x = torch.tensor(np.random.default_rng(0).standard_normal(N_GELU).astype(np.float32),
                     requires_grad=True)

    def gelu_grad(x):
        x.grad = None
        y = torch.nn.functional.gelu(x)
        y.sum().backward()
        return y.detach()

    f = torch.compile(gelu_grad)
    try:
        f(x)
    except Exception as error:
        pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
    benchmark(f, x)


COLD = "cold-compile-784-512-512-10"


def big_batch():
    rng = np.random.default_rng(0)
    return (llgrad.tensor(rng.standard_normal((128, 784)).astype(np.float32)),
            llgrad.tensor(rng.integers(0, 10, 128)))


def _compile_and_run(x, y):
    step = llgrad.compile(mlp_step(llgrad, (784, 512, 512, 10)))
    step(x, y)
    assert step.stats["compiles"] > 0
    return step


@pytest.mark.benchmark(group=COLD)
def test_cold_compile_empty_caches(benchmark, monkeypatch):
    """The first call of the step with nothing compiled yet (the shared GEMM included): trace,
    passes, lowering, LLVM, loading and one run. The disk cache is off: a step an earlier run
    stored would load instead (benchmarks/test_cache.py times that)."""
    from llgrad.runtime import native

    monkeypatch.setenv("LLGRAD_CACHE", "0")

    x, y = big_batch()
    benchmark.pedantic(_compile_and_run, args=(x, y), setup=native.clear_caches, rounds=3,
                       iterations=1)


@pytest.mark.benchmark(group=COLD)
def test_cold_compile_shared_routines_loaded(benchmark, monkeypatch):
    """A new compiled step in a process that already loaded the shared routines (disk cache
    off, as above)."""
    from llgrad.runtime import native

    monkeypatch.setenv("LLGRAD_CACHE", "0")
    x, y = big_batch()
    native.forget_steps()
    _compile_and_run(x, y)  # loads the shared routines
    # forget_steps: the step compiles again each round instead of sharing the last one's code
    benchmark.pedantic(_compile_and_run, args=(x, y), setup=native.forget_steps, rounds=3,
                       iterations=1)


STATE_SIZE = "call-cost-by-state-size-inference"


def _deep_model(n_layers):
    llgrad.manual_seed(0)
    nn = llgrad.nn
    return nn.Sequential(*[nn.Linear(1, 1) for _ in range(n_layers)])


def _inference_call(benchmark, n_layers):
    model = _deep_model(n_layers)
    assert len(list(model.parameters())) == 2 * n_layers
    compiled = llgrad.compile(model)
    x = llgrad.ones(1, 1)
    with llgrad.no_grad():
        for _ in range(3):
            compiled(x)
        benchmark(compiled, x)
    assert compiled.stats["executions"]["llvm"] > 0 and compiled.stats["traces"] == 1


@pytest.mark.benchmark(group=STATE_SIZE, warmup=True, warmup_iterations=1000)
def test_call_with_12_parameter_tensors(benchmark):
    """Guard cost must not grow with the state: a model of 12 parameter tensors and one of 320
    (1x1 layers, so compute is negligible next to the call) should cost nearly the same."""
    _inference_call(benchmark, 6)


@pytest.mark.benchmark(group=STATE_SIZE, warmup=True, warmup_iterations=1000)
def test_call_with_320_parameter_tensors(benchmark):
    _inference_call(benchmark, 160)
