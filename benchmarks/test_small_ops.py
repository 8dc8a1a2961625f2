"""Eager costs that were once timed assertions in the tests: printing a small tensor and
drawing a million random numbers, beside PyTorch where it has the same call.

Run: python -m pytest benchmarks/test_small_ops.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import llgrad
from llgrad import _printing
from llgrad import random as llgrad_random

SMALL = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)


@pytest.mark.benchmark(group="repr-3x4-float32")
def test_repr_small_llgrad(benchmark):
    text = benchmark(_printing.tensor_repr, SMALL, "float32")
    assert text.startswith("tensor([[")


@pytest.mark.benchmark(group="repr-3x4-float32")
def test_repr_small_torch(benchmark):
    torch = pytest.importorskip("torch")
    t = torch.tensor(SMALL)
    benchmark(repr, t)


@pytest.mark.benchmark(group="million-uniform-and-normal-draws")
def test_million_draws_llgrad(benchmark):
    g = llgrad_random.Generator(0)

    def draws():
        g.uniform((1_000_000,))
        g.normal((1_000_000,))

    benchmark(draws)


@pytest.mark.benchmark(group="million-uniform-and-normal-draws")
def test_million_draws_torch(benchmark):
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)

    def draws():
        torch.rand(1_000_000, generator=g)
        torch.randn(1_000_000, generator=g)

    benchmark(draws)
