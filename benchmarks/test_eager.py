"""Eager llgrad beside torch eager and NumPy, in the same run.

(a) a 100-op scalar chain, forward and backward;
(b) one MLP training step: batch 128, 784-512-512-10, cross-entropy, SGD.

Run: python -m pytest benchmarks/test_eager.py --benchmark-only --benchmark-group-by=group
Compare medians within a group (same run, same machine load); the ratio is the figure.
"""
import numpy as np
import pytest

import llgrad

try:
    import torch
except ImportError:  # peers are optional
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")

CHAIN_REPEATS = 25  # 4 ops each: 100 ops


def scalar_chain(lib):
    x = lib.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(CHAIN_REPEATS):
        y = y * 1.001
        y = y + 0.01
        y = y.sin()
        y = y * y
    y.backward()
    return x.grad


@pytest.mark.benchmark(group="scalar-chain-100-ops", warmup=True, warmup_iterations=50)
def test_chain_llgrad(benchmark):
    grad = benchmark(scalar_chain, llgrad)
    assert np.isfinite(grad.item())


@needs_torch
@pytest.mark.benchmark(group="scalar-chain-100-ops", warmup=True, warmup_iterations=50)
def test_chain_torch(benchmark):
    torch.set_num_threads(2)
    grad = benchmark(scalar_chain, torch)
    assert np.isfinite(grad.item())


def numpy_chain():
    x = np.float32(0.5)
    values = []
    y = x
    for _ in range(CHAIN_REPEATS):
        values.append(y)
        a = y * np.float32(1.001)
        b = a + np.float32(0.01)
        c = np.sin(b)
        values.append((a, b, c))
        y = c * c
    g = np.float32(1.0)
    for i in range(CHAIN_REPEATS - 1, -1, -1):
        a, b, c = values[2 * i + 1]
        g = g * 2 * c * np.cos(b) * np.float32(1.001)
    return g


@pytest.mark.benchmark(group="scalar-chain-100-ops", warmup=True, warmup_iterations=50)
def test_chain_numpy(benchmark):
    assert np.isfinite(benchmark(numpy_chain))


# ---- MLP training step ----------------------------------------------------------------------

BATCH, SIZES = 128, (784, 512, 512, 10)


def mlp_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], BATCH)
    return x, y


def mlp_step_factory(lib):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]),
                          nn.ReLU(), nn.Linear(SIZES[2], SIZES[3]))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    x, y = mlp_data()
    x, y = lib.from_numpy(x), lib.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


@pytest.mark.benchmark(group="mlp-step-128x784-512-512-10", warmup=True, warmup_iterations=20)
def test_mlp_step_llgrad(benchmark):
    step = mlp_step_factory(llgrad)
    for _ in range(3):
        step()
    assert np.isfinite(benchmark(step).item())


@needs_torch
@pytest.mark.benchmark(group="mlp-step-128x784-512-512-10", warmup=True, warmup_iterations=20)
def test_mlp_step_torch(benchmark):
    torch.set_num_threads(2)
    step = mlp_step_factory(torch)
    for _ in range(3):
        step()
    assert np.isfinite(benchmark(step).item())


class NumpyMLP:
    """The same step written by hand in NumPy: the floor for an eager NumPy-based library."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.params = []
        for fan_in, fan_out in zip(SIZES, SIZES[1:]):
            bound = 1 / np.sqrt(fan_in)
            self.params.append([rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                                rng.uniform(-bound, bound, fan_out).astype(np.float32)])
        self.x, self.y = mlp_data()

    def step(self, lr=np.float32(0.01)):
        acts = [self.x]
        h = self.x
        for i, (w, b) in enumerate(self.params):
            h = h @ w.T + b
            if i < len(self.params) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        logits = acts[-1]
        shifted = logits - logits.max(1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
        loss = -log_probs[np.arange(BATCH), self.y].mean()
        g = np.exp(log_probs)
        g[np.arange(BATCH), self.y] -= 1
        g /= BATCH
        for i in range(len(self.params) - 1, -1, -1):
            w, b = self.params[i]
            gw, gb = g.T @ acts[i], g.sum(0)
            if i:
                g = (g @ w) * (acts[i] > 0)
            w -= lr * gw
            b -= lr * gb
        return loss


@pytest.mark.benchmark(group="mlp-step-128x784-512-512-10", warmup=True, warmup_iterations=20)
def test_mlp_step_numpy(benchmark):
    mlp = NumpyMLP()
    assert np.isfinite(benchmark(mlp.step))
