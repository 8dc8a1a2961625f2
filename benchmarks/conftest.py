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


# JAX reads its thread count once, when it starts; XLA ignores intra_op_parallelism_threads, so
# same_threads_everywhere starts it on bench_threads() cores (llgrad.bench.machine.start_jax).
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
    """llgrad, PyTorch and JAX all use bench_threads() threads."""
    n = bench_threads()
    import llgrad

    llgrad.set_num_threads(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:  # XLA sizes its CPU pool from the affinity when its client starts, not from XLA_FLAGS
        from llgrad.bench.machine import start_jax

        start_jax(n)
    except ImportError:
        pass
    yield n


@pytest.fixture(scope="session")
def machine_limits(same_threads_everywhere):
    """The machine's measured roofs at the benchmarks' thread count (llgrad.bench.machine:
    STREAM-style bandwidth from memory and the last-level cache, peak float32 GFLOP/s from
    NumPy's and llgrad's GEMM), measured once per session (~10 s)."""
    from llgrad.bench import machine

    return machine.measure_limits(same_threads_everywhere, "quick")["roofs"]


def report_share(benchmark, limits, gflop=None, gbytes=None):
    """Put llgrad's achieved rate beside the machine's limit in the benchmark's extra_info:
    GFLOP/s against peak float32 GFLOP/s, GB/s against memory bandwidth (counts per call)."""
    seconds = benchmark.stats.stats.median
    if gflop is not None:
        achieved = gflop / seconds
        benchmark.extra_info["GFLOP/s"] = round(achieved, 1)
        benchmark.extra_info["peak GFLOP/s"] = round(limits["peak_gflops"], 1)
        benchmark.extra_info["share of peak"] = round(achieved / limits["peak_gflops"], 3)
    if gbytes is not None:
        achieved = gbytes / seconds
        benchmark.extra_info["GB/s"] = round(achieved, 1)
        benchmark.extra_info["DRAM GB/s"] = round(limits["dram_gbs"], 1)
        benchmark.extra_info["share of bandwidth"] = round(achieved / limits["dram_gbs"], 3)
