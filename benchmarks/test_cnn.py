"""A small CNN's training step beside torch eager, torch.compile and JAX's jit, every framework
with the same number of threads (benchmarks/conftest.py).

The step: batch 64 of 1x28x28, Conv2d(1, C1, 3, padding=1) - ReLU - MaxPool2d(2) -
Conv2d(C1, C2, 3, padding=1) - ReLU - MaxPool2d(2) - Flatten - Linear(C2*7*7, 10),
cross-entropy, SGD with momentum. JAX runs the same model (NCHW, `lax.conv_general_dilated`,
`lax.reduce_window` max pooling) under jit(value_and_grad) with the update inside the jit.

Groups (compare within a group; the machine is shared and noisy, so quote ratios of medians):
- cnn-step-64x1x28x28-c16-c32, cnn-step-64x1x28x28-c32-c64. Target: llgrad no slower than the
  fastest peer. extra_info: GFLOP/s of the step's convolution and linear work (forward, input
  and weight gradients).

Run: python -m pytest benchmarks/test_cnn.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import llgrad

BATCH, SIZE, CLASSES = 64, 28, 10
CHANNELS = [(16, 32), (32, 64)]


def _group(channels):
    return f"cnn-step-{BATCH}x1x{SIZE}x{SIZE}-c{channels[0]}-c{channels[1]}"


def flops(channels):
    """Multiply-adds x 2 of the convolutions and the head: forward, weight gradient, and the
    input gradient of every layer but the first."""
    c1, c2 = channels
    conv1 = BATCH * SIZE * SIZE * c1 * 9
    conv2 = BATCH * (SIZE // 2) ** 2 * c2 * c1 * 9
    head = BATCH * c2 * (SIZE // 4) ** 2 * CLASSES
    return 2 * (2 * conv1 + 3 * conv2 + 3 * head)


def cnn_data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((BATCH, 1, SIZE, SIZE)).astype(np.float32),
            rng.integers(0, CLASSES, BATCH))


def cnn_step(lib, channels):
    """The training step, written once for llgrad and torch."""
    c1, c2 = channels
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(c2 * (SIZE // 4) ** 2, CLASSES))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def jax_cnn_step(channels):
    jax = pytest.importorskip("jax")
    jnp, lax = jax.numpy, jax.lax
    c1, c2 = channels
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    features = c2 * (SIZE // 4) ** 2
    params = [(jax.random.normal(keys[0], (c1, 1, 3, 3)) / 3.0, jnp.zeros(c1)),
              (jax.random.normal(keys[1], (c2, c1, 3, 3)) / np.sqrt(9 * c1), jnp.zeros(c2)),
              (jax.random.normal(keys[2], (CLASSES, features)) / np.sqrt(features),
               jnp.zeros(CLASSES))]
    momentum = jax.tree_util.tree_map(jnp.zeros_like, params)

    def conv(x, w, b):
        y = lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + b[None, :, None, None]

    def pool(x):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(params, x, y):
        h = pool(jax.nn.relu(conv(x, *params[0])))
        h = pool(jax.nn.relu(conv(h, *params[1])))
        logits = h.reshape(h.shape[0], -1) @ params[2][0].T + params[2][1]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(params, momentum, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        momentum = jax.tree_util.tree_map(lambda m, g: 0.9 * m + g, momentum, grads)
        params = jax.tree_util.tree_map(lambda p, m: p - 0.01 * m, params, momentum)
        return params, momentum, loss

    state = [params, momentum]

    def run(x, y):
        state[0], state[1], loss = step(state[0], state[1], x, y)
        return loss.block_until_ready()

    return run


CASES = [pytest.param(c, id=_group(c)) for c in CHANNELS]


@pytest.mark.parametrize("channels", CASES)
def test_cnn_llgrad_native(benchmark, channels):
    benchmark.group = _group(channels)
    x, y = cnn_data()
    step = llgrad.compile(cnn_step(llgrad, channels))
    x, y = llgrad.tensor(x), llgrad.tensor(y)
    step(x, y)
    assert np.isfinite(benchmark(step, x, y).item())
    assert step.stats["executions"]["llvm"] > 0 and step.stats["traces"] == 1
    benchmark.extra_info["GFLOP/s"] = round(flops(channels) / benchmark.stats.stats.median / 1e9,
                                            1)


def _torch(benchmark, channels, compiled=False):
    torch = pytest.importorskip("torch")
    benchmark.group = _group(channels)
    x, y = cnn_data()
    step = cnn_step(torch, channels)
    xt, yt = torch.tensor(x), torch.tensor(y)
    if compiled:
        step = torch.compile(step)
        try:
            step(xt, yt)
        except Exception as error:  # no C compiler for inductor, for instance
            pytest.skip(f"torch.compile unavailable here: {type(error).__name__}")
    step(xt, yt)
    assert np.isfinite(benchmark(step, xt, yt).item())
    benchmark.extra_info["GFLOP/s"] = round(flops(channels) / benchmark.stats.stats.median / 1e9,
                                            1)


@pytest.mark.parametrize("channels", CASES)
def test_cnn_torch_eager(benchmark, channels):
    _torch(benchmark, channels)


@pytest.mark.parametrize("channels", CASES)
def test_cnn_torch_compile(benchmark, channels):
    _torch(benchmark, channels, compiled=True)


@pytest.mark.parametrize("channels", CASES)
def test_cnn_jax_jit(benchmark, channels):
    benchmark.group = _group(channels)
    x, y = cnn_data()
    run = jax_cnn_step(channels)
    run(x, y)
    assert np.isfinite(float(benchmark(run, x, y)))
    benchmark.extra_info["GFLOP/s"] = round(flops(channels) / benchmark.stats.stats.median / 1e9,
                                            1)
