"""Shared benchmark settings.

NumPy's OpenBLAS and PyTorch each keep a pool of worker threads that spin for a while after a
call; on this 2-core machine a pool that is still spinning slows the next library's benchmark.
Each benchmark therefore starts after a pause that lets the other pools go to sleep, and warms
up before measuring.
"""
import os
import time

import pytest


def bench_threads():
    """The thread count every framework gets: $LLGRAD_NUM_THREADS, else the usable cores."""
    value = os.environ.get("LLGRAD_NUM_THREADS")
    return int(value) if value else len(os.sched_getaffinity(0))


# JAX reads its thread count once, when it starts: set it before any benchmark imports jax.
os.environ.setdefault("XLA_FLAGS", (
    "--xla_cpu_multi_thread_eigen=" + ("true" if bench_threads() > 1 else "false")
    + f" intra_op_parallelism_threads={bench_threads()}"))

SETTLE_SECONDS = 1.0


@pytest.fixture(autouse=True)
def settle():
    time.sleep(SETTLE_SECONDS)
    yield


@pytest.fixture(autouse=True, scope="session")
def same_threads_everywhere():
    """llgrad, PyTorch (and, through XLA_FLAGS above, JAX) all use bench_threads() threads."""
    n = bench_threads()
    import llgrad

    llgrad.set_num_threads(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    yield n
