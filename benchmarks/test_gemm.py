"""llgrad's native float32 GEMM (compiler/codegen/gemm.py) beside NumPy's matmul (OpenBLAS),
one thread each.

Target: on square 256, 512 and 1024, llgrad's time at most NumPy's / 0.9 (ratio NumPy time /
llgrad time >= 0.9); `test_square_target` measures it, interleaved in one process (ratio of
medians: the machine may be shared and noisy), and fails below it. The small shapes are those
of a 64-128-10 MLP training step at batch 32, forward and backward, transposed operands
included; their ratios are reported, not asserted.

Per shape (group), three figures: `llgrad_call` through ctypes from Python (~2 us of argument
conversion at these sizes), `llgrad_native` per call from a native loop (what a compiled
training step pays), and `numpy` (np.matmul into a preallocated output).

OpenBLAS runs on one thread: threadpoolctl limits it when installed; otherwise the OpenBLAS
that NumPy loaded is found in this process's memory map and its own set-num-threads entry is
called (the environment variable would be too late: NumPy is imported before this file).

Run: python -m pytest benchmarks/test_gemm.py --benchmark-only --benchmark-group-by=group -s
"""
import ctypes
import os
import time

import numpy as np
import pytest
from llvmlite import ir

from llgrad.compiler.codegen import gemm
from llgrad.runtime.llvm import compile_module, target

TARGET_RATIO = 0.9

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


def _openblas_one_thread():
    """Limit NumPy's OpenBLAS to one thread; returns a function restoring the old count."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        limits = threadpool_limits(limits=1, user_api="blas")
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
                    setter(1)
                    return lambda: setter(old)
    raise RuntimeError("cannot limit OpenBLAS to one thread: install threadpoolctl")


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    restore = _openblas_one_thread()
    yield
    restore()


class Native:
    """The float32 GEMM for the host, and a native loop calling it `reps` times."""

    def __init__(self):
        self.target = target("host")
        module = ir.Module()
        fn = gemm.build_gemm(module, "float32", self.target)
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
