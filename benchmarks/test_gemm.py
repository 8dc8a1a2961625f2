"""llgrad's native float32 GEMM (compiler/codegen/gemm.py) beside NumPy's matmul (OpenBLAS),
at the same thread count.

Targets, one thread: on square 256, 512 and 1024, llgrad's time at most NumPy's / 0.9 (ratio
NumPy time / llgrad time >= 0.9); `test_square_target` measures it, interleaved in one process
(ratio of medians: the machine may be shared and noisy), and fails below it. Two threads
(llgrad's pool and OpenBLAS both at 2): ratio >= 0.9 on square 512 and >= 1.0 on 1024 and
2048 (`test_square_target_threads`, wall-clock time). The small shapes are those of a
64-128-10 MLP training step at batch 32, forward and backward, transposed operands included;
the larger ones (`MLP_LARGE`: 784-512 and 512-512 layers at batch 128, 1024-2048 and
2048-2048 at batch 512, forward, forward with a transposed weight, and both backward
products) are reported at 1 and 2 threads. Those ratios are not asserted.

Per shape (group), three figures: `llgrad_call` through ctypes from Python (~2 us of argument
conversion at these sizes), `llgrad_native` per call from a native loop (what a compiled
training step pays), and `numpy` (np.matmul into a preallocated output). One-thread figures
are CPU times of the calling thread; with threads, wall-clock times of batches of calls, each
batch after a pause (OpenBLAS's workers spin ~0.1 s after a call and would slow llgrad's on
this 2-core machine) and retried when other processes took CPU time meanwhile.

OpenBLAS's thread count: threadpoolctl limits it when installed; otherwise the OpenBLAS that
NumPy loaded is found in this process's memory map and its own set-num-threads entry is called
(the environment variable would be too late: NumPy is imported before this file). llgrad's is
set with llgrad.set_num_threads (1 except in the threaded tests).

Run: python -m pytest benchmarks/test_gemm.py --benchmark-only --benchmark-group-by=group -s
"""
import contextlib
import ctypes
import os
import resource
import time

import numpy as np
import pytest
from llvmlite import ir

import llgrad
from llgrad.compiler.codegen import gemm
from llgrad.runtime import threadpool
from llgrad.runtime.llvm import compile_module, target

TARGET_RATIO = 0.9
THREADS = 2
THREAD_TARGETS = {512: 0.9, 1024: 1.0, 2048: 1.0}  # square size -> ratio with THREADS threads

P, I64, I32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32
_ARGS = (I64, I64, I64, P, I64, I64, P, I64, I64, P, I64, I32, P, I64, I64, I32, P, I64, P)

SQUARE = [(f"square-{n}", n, n, n, False, False) for n in (256, 512, 1024)]
# (name, M, N, K, A transposed, B transposed): A (M x K) @ B (K x N)
MLP = [
    ("fwd-32x64@64x128", 32, 128, 64, False, False),
    ("fwd-32x64@W.T-128x64", 32, 128, 64, False, True),
    ("fwd-32x128@128x128", 32, 128, 128, False, False),
    ("fwd-32x128@W.T-128x128", 32, 128, 128, False, True),
    ("fwd-32x128@128x10", 32, 10, 128, False, False),
    ("fwd-32x128@W.T-10x128", 32, 10, 128, False, True),
    ("bwd-128x32@32x64", 128, 64, 32, False, False),
    ("bwd-g.T-32x128@32x64", 128, 64, 32, True, False),
    ("bwd-32x10@10x128", 32, 128, 10, False, False),
    ("bwd-g.T-10x32@10x128", 10, 128, 32, True, False),
]


def _layer(batch, inputs, outputs):
    """A Linear layer's products: forward X @ W (and X @ W.T for a weight stored out x in),
    backward dX = dY @ W.T and dW = X.T @ dY."""
    tag = f"{batch}x{inputs}@{inputs}x{outputs}"
    return [(f"fwd-{tag}", batch, outputs, inputs, False, False),
            (f"fwd-W.T-{tag}", batch, outputs, inputs, False, True),
            (f"dX-{tag}", batch, inputs, outputs, False, True),
            (f"dW-{tag}", inputs, outputs, batch, True, False)]


MLP_LARGE = (_layer(32, 64, 128) + _layer(128, 784, 512) + _layer(128, 512, 512)
             + _layer(512, 1024, 2048) + _layer(512, 2048, 2048))


def _openblas_threads(count):
    """Limit NumPy's OpenBLAS to `count` threads; returns a function restoring the old count."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        limits = threadpool_limits(limits=count, user_api="blas")
        return limits.restore_original_limits
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    for path in paths:
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    getter.restype = ctypes.c_int
                    old = getter()
                    setter(count)
                    return lambda: setter(old)
    raise RuntimeError("cannot set OpenBLAS's thread count: install threadpoolctl")


@contextlib.contextmanager
def threads(count):
    """OpenBLAS and llgrad on `count` threads."""
    restore = _openblas_threads(count)
    before = llgrad.get_num_threads()
    llgrad.set_num_threads(count)
    try:
        yield
    finally:
        llgrad.set_num_threads(before)
        restore()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with threads(1):
        yield


class Native:
    """The float32 GEMM for the host, and a native loop calling it `reps` times."""

    def __init__(self):
        self.target = target("host")
        module = ir.Module()
        fn = gemm.build_gemm(module, "float32", self.target)
        threadpool.ensure_pool()  # the GEMM calls llgrad_parallel_for
        loop = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.IntType(64)] +
                                                   list(fn.function_type.args)), "bench_loop")
        b = ir.IRBuilder(loop.append_basic_block())
        body, done = loop.append_basic_block(), loop.append_basic_block()
        entry = b.block
        b.cbranch(b.icmp_signed(">", loop.args[0], ir.Constant(ir.IntType(64), 0)), body, done)
        b.position_at_end(body)
        i = b.phi(ir.IntType(64))
        i.add_incoming(ir.Constant(ir.IntType(64), 0), entry)
        b.call(fn, loop.args[1:])
        nxt = b.add(i, ir.Constant(ir.IntType(64), 1))
        i.add_incoming(nxt, body)
        b.cbranch(b.icmp_signed("<", nxt, loop.args[0]), body, done)
        b.position_at_end(done)
        b.ret_void()
        self.code = compile_module(module, self.target, pipeline="library")
        self.call = ctypes.CFUNCTYPE(None, *_ARGS)(self.code.address(fn.name))
        self.loop = ctypes.CFUNCTYPE(None, I64, *_ARGS)(self.code.address("bench_loop"))


@pytest.fixture(scope="module")
def native():
    return Native()


class Problem:
    """Operands of one shape, the arguments of both calls, and the callables."""

    def __init__(self, native, m, n, k, a_t, b_t):
        rng = np.random.default_rng(0)
        self.a = (rng.standard_normal((k, m)).T if a_t else rng.standard_normal((m, k)))
        self.b = (rng.standard_normal((n, k)).T if b_t else rng.standard_normal((k, n)))
        self.a, self.b = self.a.astype(np.float32), self.b.astype(np.float32)
        self.c, self.c_numpy = np.empty((m, n), np.float32), np.empty((m, n), np.float32)
        self.workspace = np.empty(gemm.gemm_workspace_elements(m, n, k, native.target,
                                                               "float32"), np.float32)
        s = 4
        self.args = (m, n, k, self.a.ctypes.data, self.a.strides[0] // s,
                     self.a.strides[1] // s, self.b.ctypes.data, self.b.strides[0] // s,
                     self.b.strides[1] // s, self.c.ctypes.data, n, 0, None, 0, 0, 0, None, 0,
                     self.workspace.ctypes.data)
        self.reps = max(1, int(2e7 // (2 * m * n * k)))  # native loop: ~1 ms per trip
        self.m, self.n, self.k = m, n, k
        self.native = native

    def llgrad_call(self):
        self.native.call(*self.args)

    def llgrad_native(self):
        self.native.loop(self.reps, *self.args)

    def numpy(self):
        np.matmul(self.a, self.b, out=self.c_numpy)

    def check(self):
        self.llgrad_call()
        self.numpy()
        np.testing.assert_allclose(self.c, self.c_numpy, rtol=1e-4, atol=1e-4)


def interleaved_ratios(problem, rounds=31):
    """Medians of per-call CPU times, the three measured in turn round after round."""
    runs = {"numpy": (problem.numpy, problem.reps), "llgrad_call": (problem.llgrad_call,
                                                                    problem.reps),
            "llgrad_native": (problem.llgrad_native, 1)}
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (fn, repeat) in runs.items():
            start = time.thread_time()
            for _ in range(repeat):
                fn()
            times[name].append((time.thread_time() - start) / problem.reps)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    return medians, {f"ratio_{name}": medians["numpy"] / medians[name]
                     for name in ("llgrad_call", "llgrad_native")}


def _other_cpu_seconds():
    """CPU seconds all processes but this one have used (Linux: /proc/stat less our rusage)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:]]
    except OSError:
        return 0.0
    busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return busy - usage.ru_utime - usage.ru_stime


def wall_time(fn, repeat, pause=0.25, tries=5):
    """Seconds per call of `fn` over a batch of `repeat` calls, after a pause (other thread pools
    go to sleep) and one warm-up call; a batch during which other processes took more than a
    tenth of a CPU is measured again (up to `tries` times)."""
    for _ in range(tries):
        time.sleep(pause)
        fn()
        other = _other_cpu_seconds()
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        seconds = time.perf_counter() - start
        if _other_cpu_seconds() - other <= 0.1 * seconds + 0.02:  # /proc/stat ticks: 10 ms
            break
    return seconds / repeat


def threaded_ratio(problem, rounds):
    """Median wall-clock time per call of NumPy and llgrad (through ctypes), measured in turn
    round after round, and NumPy's / llgrad's."""
    repeat = max(2, int(2e9 // (2 * problem.m * problem.n * problem.k)))
    times = {"numpy": [], "llgrad_call": []}
    for _ in range(rounds):
        times["numpy"].append(wall_time(problem.numpy, repeat))
        times["llgrad_call"].append(wall_time(problem.llgrad_call, repeat))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    return medians, medians["numpy"] / medians["llgrad_call"]


def _ids(shapes):
    return [s[0] for s in shapes]


@pytest.mark.parametrize("shape", SQUARE + MLP, ids=_ids(SQUARE + MLP))
def test_llgrad_call(benchmark, native, shape):
    problem = Problem(native, *shape[1:])
    problem.check()
    benchmark.group = shape[0]
    benchmark(problem.llgrad_call)


@pytest.mark.parametrize("shape", SQUARE + MLP, ids=_ids(SQUARE + MLP))
def test_numpy(benchmark, native, shape):
    problem = Problem(native, *shape[1:])
    benchmark.group = shape[0]
    benchmark(problem.numpy)


@pytest.mark.parametrize("shape", MLP, ids=_ids(MLP))
def test_mlp_shapes_ratio(benchmark, native, shape):
    """Reported: NumPy time / llgrad time, through ctypes and from native code."""
    problem = Problem(native, *shape[1:])
    problem.check()
    medians, ratios = interleaved_ratios(problem)
    benchmark.group = shape[0]
    benchmark.extra_info.update(ratios, **{f"median_us_{k}": v * 1e6 for k, v in
                                           medians.items()})
    print(f"\n{shape[0]}: " + ", ".join(f"{k} {v * 1e6:.2f} us" for k, v in medians.items()) +
          ", " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    benchmark.pedantic(problem.llgrad_native, rounds=5)


@pytest.mark.parametrize("shape", SQUARE, ids=_ids(SQUARE))
def test_square_target(benchmark, native, shape):
    """Single thread, float32: llgrad at least 0.9x NumPy/OpenBLAS's speed."""
    problem = Problem(native, *shape[1:])
    problem.check()
    medians, ratios = interleaved_ratios(problem, rounds=int(os.environ.get("ROUNDS", 15)))
    benchmark.group = shape[0]
    benchmark.extra_info.update(ratios)
    print(f"\n{shape[0]}: " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in medians.items()) +
          ", " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    benchmark.pedantic(problem.llgrad_native, rounds=3)
    assert ratios["ratio_llgrad_call"] >= TARGET_RATIO, ratios


SQUARE_THREADS = [(f"square-{n}", n, n, n, False, False) for n in THREAD_TARGETS]


@pytest.mark.parametrize("shape", SQUARE_THREADS, ids=_ids(SQUARE_THREADS))
def test_square_target_threads(benchmark, native, shape):
    """THREADS threads each, float32: llgrad at least THREAD_TARGETS[n] x NumPy/OpenBLAS's
    speed (wall-clock)."""
    problem = Problem(native, *shape[1:])
    problem.check()
    with threads(THREADS):
        problem.check()
        medians, ratio = threaded_ratio(problem, rounds=int(os.environ.get("ROUNDS", 9)))
        benchmark.group = f"{shape[0]}-threads{THREADS}"
        benchmark.extra_info.update(ratio=ratio)
        print(f"\n{shape[0]} {THREADS} threads: " + ", ".join(
            f"{k} {v * 1e3:.3f} ms" for k, v in medians.items()) + f", ratio {ratio:.2f}")
        benchmark.pedantic(problem.llgrad_call, rounds=3)
    assert ratio >= THREAD_TARGETS[shape[1]], ratio


@pytest.mark.parametrize("count", [1, THREADS])
@pytest.mark.parametrize("shape", MLP_LARGE, ids=_ids(MLP_LARGE))
def test_mlp_threads_ratio(benchmark, native, shape, count):
    """Reported: NumPy time / llgrad time (through ctypes, wall-clock), both on `count`
    threads."""
    problem = Problem(native, *shape[1:])
    with threads(count):
        problem.check()
        medians, ratio = threaded_ratio(problem, rounds=int(os.environ.get("ROUNDS", 7)))
        benchmark.group = f"{shape[0]}-threads{count}"
        benchmark.extra_info.update(ratio=ratio, **{f"median_us_{k}": v * 1e6 for k, v in
                                                    medians.items()})
        print(f"\n{shape[0]} {count} thread(s): " + ", ".join(
            f"{k} {v * 1e6:.1f} us" for k, v in medians.items()) + f", ratio {ratio:.2f}")
        benchmark.pedantic(problem.llgrad_call, rounds=3)
