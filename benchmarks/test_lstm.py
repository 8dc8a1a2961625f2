"""An LSTM training step beside torch eager, torch.compile and JAX's jit, every framework with
the same number of threads (benchmarks/conftest.py).

Group lstm-step-32x16-64-128: a one-layer LSTM (sequence 32, batch 16, input 64, hidden 128),
a linear head on the last step's output (10 classes), cross-entropy, plain SGD. llgrad compiles
the step (the 32 time steps unrolled into one graph, one native call); JAX runs the same model
as a `jax.lax.scan` under jit(value_and_grad) with the SGD update inside the jit. Target: llgrad
no slower than the fastest peer (compare medians; the machine is shared and noisy).
extra_info: GFLOP/s of the step's matmul work (forward, backward and weight gradients).

`lstm-compile` times llgrad's cold compile of that step (tracing, passes, lowering, LLVM) with
the kernel cache turned off, beside JAX's jit compile of its step.

Run: python -m pytest benchmarks/test_lstm.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import llgrad

SEQ, BATCH, INPUT, HIDDEN, CLASSES = 32, 16, 64, 128, 10
LR = 0.05
GROUP = f"lstm-step-{SEQ}x{BATCH}-{INPUT}-{HIDDEN}"
# Multiply-adds of the step's matmuls: input projection (forward, weight gradient, input
# gradient), the recurrent matmul (forward, hidden-state gradient, weight gradient), the head.
MACS = (3 * SEQ * BATCH * INPUT * 4 * HIDDEN + 3 * SEQ * BATCH * HIDDEN * 4 * HIDDEN
        + 3 * BATCH * HIDDEN * CLASSES)


def lstm_data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32),
            rng.integers(0, CLASSES, BATCH))


def lstm_step(lib):
    """The training step, written once for llgrad and torch."""
    lib.manual_seed(0)
    nn = lib.nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(INPUT, HIDDEN)
            self.head = nn.Linear(HIDDEN, CLASSES)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[-1])

    model = Model()
    opt = lib.optim.SGD(model.parameters(), lr=LR)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def jax_lstm_step():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    keys = jax.random.split(jax.random.PRNGKey(0), 6)
    bound = 1 / np.sqrt(HIDDEN)

    def uniform(key, shape):
        return jax.random.uniform(key, shape, minval=-bound, maxval=bound)

    params = {"w_ih": uniform(keys[0], (4 * HIDDEN, INPUT)),
              "w_hh": uniform(keys[1], (4 * HIDDEN, HIDDEN)),
              "b_ih": uniform(keys[2], (4 * HIDDEN,)), "b_hh": uniform(keys[3], (4 * HIDDEN,)),
              "w": uniform(keys[4], (CLASSES, HIDDEN)), "b": uniform(keys[5], (CLASSES,))}

    def loss_fn(p, x, y):
        xw = x @ p["w_ih"].T + p["b_ih"]

        def cell(carry, xw_t):
            h, c = carry
            gates = h @ p["w_hh"].T + p["b_hh"] + xw_t
            i, f, g, o = jnp.split(gates, 4, axis=1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros((BATCH, HIDDEN), jnp.float32)
        (h, _), _ = jax.lax.scan(cell, (zeros, zeros), xw)
        logp = jax.nn.log_softmax(h @ p["w"].T + p["b"])
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        return jax.tree_util.tree_map(lambda a, g: a - LR * g, p, grads), loss

    state = [params]

    def run(x, y):
        state[0], loss = step(state[0], x, y)
        return loss.block_until_ready()

    return run, step, params


def _gflops(benchmark):
    benchmark.extra_info["GFLOP/s"] = round(2 * MACS / benchmark.stats.stats.median / 1e9, 1)


def test_lstm_llgrad_native(benchmark):
    benchmark.group = GROUP
    x, y = lstm_data()
    step = llgrad.compile(lstm_step(llgrad))
    x, y = llgrad.tensor(x), llgrad.tensor(y)
    step(x, y)
    assert np.isfinite(benchmark(step, x, y).item())
    assert step.stats["executions"]["llvm"] > 0 and step.stats["traces"] == 1
    _gflops(benchmark)


def test_lstm_jax_jit(benchmark):
    benchmark.group = GROUP
    x, y = lstm_data()
    run, _, _ = jax_lstm_step()
    run(x, y)
    assert np.isfinite(float(benchmark(run, x, y)))
    _gflops(benchmark)


def _torch(benchmark, compiled):
    torch = pytest.importorskip("torch")
    benchmark.group = GROUP
    x, y = lstm_data()
    step = lstm_step(torch)
    xt, yt = torch.tensor(x), torch.tensor(y)
    if compiled:
        step = torch.compile(step)
        try:
            step(xt, yt)
        except Exception as error:  # no C compiler for inductor, for instance
            pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
    assert np.isfinite(benchmark(step, xt, yt).item())
    _gflops(benchmark)


def test_lstm_torch_eager(benchmark):
    _torch(benchmark, compiled=False)


def test_lstm_torch_compile(benchmark):
    _torch(benchmark, compiled=True)


# ---- cold compile ------------------------------------------------------------------------------

def test_lstm_compile_llgrad(benchmark, monkeypatch):
    """Trace, optimize, lower and compile the step and run it once, nothing cached: the disk
    cache off, the steps and shared routines (GEMM, math library) in memory cleared."""
    benchmark.group = "lstm-compile"
    from llgrad.runtime import native

    monkeypatch.setenv("LLGRAD_CACHE", "0")
    x, y = lstm_data()
    x, y = llgrad.tensor(x), llgrad.tensor(y)

    def compile_once():
        step = llgrad.compile(lstm_step(llgrad))
        step(x, y)
        return step

    step = benchmark.pedantic(compile_once, setup=native.clear_caches, rounds=3, iterations=1)
    assert step.stats["compiles"] == 1 and step.stats["executions"]["llvm"] == 1
    benchmark.extra_info["phases"] = {k: round(v, 3) for k, v in step.stats["time"].items()}


def test_lstm_compile_jax(benchmark):
    """JAX's trace, lowering and XLA compile of its step (its caches cleared each round)."""
    benchmark.group = "lstm-compile"
    jax = pytest.importorskip("jax")
    x, y = lstm_data()
    _, step, params = jax_lstm_step()

    def compile_once():
        step.lower(params, x, y).compile()

    benchmark.pedantic(compile_once, setup=jax.clear_caches, rounds=3, iterations=1)
