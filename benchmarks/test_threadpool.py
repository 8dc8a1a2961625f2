"""The native thread pool (runtime/threadpool.py): what a parallel region costs, and what two
threads gain on a streaming loop.

Figures (all timed inside native code with clock_gettime, so no Python call is counted):
- pause: one `pause` instruction (what the workers' spin budget is counted in);
- empty region, back to back: llgrad_parallel_for over 2 chunks of an empty task, issued in a
  native loop, with 1 thread (the serial path) and 2 (workers spinning);
- rendezvous region: 2 chunks that each wait for the other to start, so the region ends only
  once a worker has run a chunk: the real latency of getting a worker onto a chunk, with the
  worker spinning (regions back to back) and asleep (the caller idle 1 ms or 3 ms before each
  region, past the workers' ~0.1 ms spin; medians), and with spinning off (idle 50 us);
- empty region after idle: without the rendezvous the caller only pays FUTEX_WAKE (it never
  waits for a worker that has not joined);
- poly-4M: y = ((a x + b) x + c) x + d over 4M float32 (16 MB in, 16 MB out), chunks of 64K
  elements, 1 vs 2 threads; poly-256K-heavy: a degree-16 polynomial over 256K float32 (in L2,
  compute bound).

Run: python -m pytest benchmarks/test_threadpool.py --benchmark-only -s
 or: python benchmarks/test_threadpool.py
"""
import ctypes

import numpy as np
import pytest
from llvmlite import ir

from llgrad.compiler.codegen.types import F32, I8P, I32, I64, VOID, declare
from llgrad.runtime import llvm, threadpool

LANES = 8
TIMESPEC = ir.LiteralStructType([I64, I64])


def _clock(b, clock_gettime):
    """Monotonic nanoseconds."""
    ts = b.alloca(TIMESPEC)
    b.call(clock_gettime, [I32(1), ts])
    sec = b.load(b.gep(ts, [I32(0), I32(0)]))
    nsec = b.load(b.gep(ts, [I32(0), I32(1)]))
    return b.add(b.mul(sec, I64(1_000_000_000)), nsec)


def _loop(b, count, body):
    """for r in [0, count): body(r)"""
    fn = b.function
    head, inner, done = (fn.append_basic_block(n) for n in ("loop", "body", "done"))
    entry = b.block
    b.branch(head)
    b.position_at_end(head)
    r = b.phi(I64)
    r.add_incoming(I64(0), entry)
    b.cbranch(b.icmp_signed("<", r, count), inner, done)
    b.position_at_end(inner)
    body(r)
    r.add_incoming(b.add(r, I64(1)), b.block)
    b.branch(head)
    b.position_at_end(done)


def _polynomial(b, x, coefficients):
    acc = coefficients[0]
    for c in coefficients[1:]:
        acc = b.fadd(b.fmul(acc, x), c)
    return acc


def build_module():
    m = ir.Module(name="threadpool_bench")
    parallel_for = threadpool.declare_parallel_for(m)
    clock_gettime = declare(m, "clock_gettime", ir.FunctionType(I32, [I32, TIMESPEC.as_pointer()]))
    nanosleep = declare(m, "nanosleep", ir.FunctionType(
        I32, [TIMESPEC.as_pointer(), TIMESPEC.as_pointer()]))
    pause = declare(m, "llvm.x86.sse2.pause", ir.FunctionType(VOID, []))
    i64p = I64.as_pointer()

    empty = ir.Function(m, threadpool.TASK_TYPE, "empty_task")
    ir.IRBuilder(empty.append_basic_block()).ret_void()

    # rendezvous: each chunk bumps the counter at ctx and waits until it reaches 2 (at most a
    # million pauses, ~25 ms: on a loaded machine the worker may be off its core)
    meet = ir.Function(m, threadpool.TASK_TYPE, "meet_task")
    b = ir.IRBuilder(meet.append_basic_block())
    counter = b.bitcast(meet.args[0], i64p)
    b.atomic_rmw("add", counter, I64(1), "acq_rel")
    head, spin, done = (meet.append_basic_block(n) for n in ("head", "spin", "done"))
    entry = b.block
    b.branch(head)
    b.position_at_end(head)
    tries = b.phi(I64)
    tries.add_incoming(I64(0), entry)
    arrived = b.icmp_signed(">=", b.load_atomic(counter, "acquire", 8), I64(2))
    b.cbranch(b.or_(arrived, b.icmp_signed(">", tries, I64(1_000_000))), done, spin)
    b.position_at_end(spin)
    b.call(pause, [])
    tries.add_incoming(b.add(tries, I64(1)), spin)
    b.branch(head)
    b.position_at_end(done)
    b.ret_void()

    # i64 regions(task, ctx, reps, n, grain, sleep_ns, reset): ns spent inside the regions;
    # before each one, sleeps sleep_ns (if > 0) and zeroes the i64 at ctx (if reset)
    fn = ir.Function(m, ir.FunctionType(I64, [threadpool.TASK_TYPE.as_pointer(), I8P, I64,
                                              I64, I64, I64, I64]), "regions")
    task, ctx, reps, n, grain, sleep_ns, reset = fn.args
    b = ir.IRBuilder(fn.append_basic_block())
    total = b.alloca(I64)
    b.store(I64(0), total)
    ts = b.alloca(TIMESPEC)
    b.store(b.sdiv(sleep_ns, I64(1_000_000_000)), b.gep(ts, [I32(0), I32(0)]))
    b.store(b.srem(sleep_ns, I64(1_000_000_000)), b.gep(ts, [I32(0), I32(1)]))
    timed_each = b.icmp_signed(">", sleep_ns, I64(0))

    def one(_):
        with b.if_then(timed_each):
            b.call(nanosleep, [ts, ir.Constant(ts.type, None)])
        with b.if_then(b.icmp_signed("!=", reset, I64(0))):
            b.store_atomic(I64(0), b.bitcast(ctx, i64p), "release", 8)
        t0 = _clock(b, clock_gettime)
        b.call(parallel_for, [task, ctx, n, grain])
        b.store(b.add(b.load(total), b.sub(_clock(b, clock_gettime), t0)), total)

    with b.if_else(timed_each) as (each, batch):
        with each:
            _loop(b, reps, one)
        with batch:  # back to back: one clock pair around the whole loop
            start = _clock(b, clock_gettime)
            def untimed(_):
                with b.if_then(b.icmp_signed("!=", reset, I64(0))):
                    b.store_atomic(I64(0), b.bitcast(ctx, i64p), "release", 8)
                b.call(parallel_for, [task, ctx, n, grain])

            _loop(b, reps, untimed)
            b.store(b.sub(_clock(b, clock_gettime), start), total)
    b.ret(b.load(total))
    return m


def _poly_task(m, name, coefficients):
    """task over float32: out[i] = p(in[i]); ctx = {float* in, float* out}; 8 lanes at a time,
    then a scalar tail."""
    vec = ir.VectorType(F32, LANES)
    fn = ir.Function(m, threadpool.TASK_TYPE, name)
    ctx, begin, end = fn.args
    b = ir.IRBuilder(fn.append_basic_block())
    table = b.bitcast(ctx, I8P.as_pointer())
    src = b.bitcast(b.load(table), F32.as_pointer())
    dst = b.bitcast(b.load(b.gep(table, [I32(1)])), F32.as_pointer())
    vector_end = b.sub(end, b.srem(b.sub(end, begin), I64(LANES)))
    vcoef = [ir.Constant(vec, [F32(c)] * LANES) for c in coefficients]
    scoef = [F32(c) for c in coefficients]

    def strided(start, stop, step, body):
        head, inner, done = (fn.append_basic_block() for _ in range(3))
        entry = b.block
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(I64)
        i.add_incoming(start, entry)
        b.cbranch(b.icmp_signed("<", i, stop), inner, done)
        b.position_at_end(inner)
        body(i)
        i.add_incoming(b.add(i, I64(step)), b.block)
        b.branch(head)
        b.position_at_end(done)

    def vector_body(i):
        x = b.load(b.bitcast(b.gep(src, [i]), vec.as_pointer()), align=4)
        b.store(_polynomial(b, x, vcoef), b.bitcast(b.gep(dst, [i]), vec.as_pointer()), align=4)

    def scalar_body(i):
        b.store(_polynomial(b, b.load(b.gep(src, [i])), scoef), b.gep(dst, [i]))

    strided(begin, vector_end, LANES, vector_body)
    strided(vector_end, end, 1, scalar_body)
    b.ret_void()
    return fn


POLY3 = (0.25, -0.5, 1.5, 0.125)
POLY16 = tuple(((-1) ** k) / (k + 1) for k in range(17))


class Bench:
    def __init__(self):
        threadpool.ensure_pool()
        m = build_module()
        _poly_task(m, "poly3_task", POLY3)
        _poly_task(m, "poly16_task", POLY16)
        pause_loop = ir.Function(m, ir.FunctionType(VOID, [I64]), "pauses")
        b = ir.IRBuilder(pause_loop.append_basic_block())
        _loop(b, pause_loop.args[0], lambda r: b.call(m.globals["llvm.x86.sse2.pause"], []))
        b.ret_void()
        self.code = llvm.compile_module(str(m))
        self.regions_fn = ctypes.CFUNCTYPE(
            ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
            ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(self.code.address("regions"))
        self.pauses = ctypes.CFUNCTYPE(None, ctypes.c_int64)(self.code.address("pauses"))
        self.counter = np.zeros(8, np.int64)

    def task(self, name):
        return self.code.address(name)

    def regions(self, task, ctx, reps, n, grain, sleep_ns=0, reset=False):
        """Mean ns per region."""
        return self.regions_fn(self.task(task), ctx, reps, n, grain, sleep_ns, int(reset)) / reps

    def pause_ns(self):
        import time

        count = 2_000_000
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter_ns()
            self.pauses(count)
            best = min(best, (time.perf_counter_ns() - start) / count)
        return best

    def after_idle(self, task, idle_ns, samples=100):
        """Median ns of one region issued after the caller was idle for idle_ns."""
        ctx = self.counter.ctypes.data
        times = sorted(self.regions(task, ctx, 1, 2, 1, sleep_ns=idle_ns, reset=True)
                       for _ in range(samples))
        return times[len(times) // 2]

    def region_costs(self, threads=2):
        threadpool.set_num_threads(threads)
        ctx = self.counter.ctypes.data
        self.regions("empty_task", ctx, 10_000, 2, 1)  # warm: workers exist and spin
        result = {"pause_ns": self.pause_ns()}
        result["empty_back_to_back_us"] = min(
            self.regions("empty_task", ctx, 200_000, 2, 1) for _ in range(5)) / 1e3
        if threads == 1:
            return result
        result["rendezvous_back_to_back_us"] = min(
            self.regions("meet_task", ctx, 20_000, 2, 1, reset=True) for _ in range(3)) / 1e3
        # workers asleep (the caller idle 1 ms, past the ~0.1 ms spin): what the caller pays
        # (FUTEX_WAKE), and when a worker is on its chunk
        result["empty_after_1ms_idle_us"] = self.after_idle("empty_task", 1_000_000) / 1e3
        result["rendezvous_after_1ms_idle_us"] = self.after_idle("meet_task", 1_000_000) / 1e3
        # idle 3 ms: this VM then parks the idle vCPU and wakes the worker on the caller's
        result["rendezvous_after_3ms_idle_us"] = self.after_idle("meet_task", 3_000_000, 30) / 1e3
        # the futex path alone: no spinning, 50 us idle
        threadpool.set_spin_iterations(0)
        try:
            result["rendezvous_no_spin_50us_idle_us"] = self.after_idle("meet_task", 50_000) / 1e3
        finally:
            threadpool.set_spin_iterations(threadpool.DEFAULT_SPIN)
        return result

    def poly(self, name, n, grain, reps, threads):
        threadpool.set_num_threads(threads)
        x = np.linspace(-1, 1, n, dtype=np.float32)
        y = np.empty_like(x)
        table = np.array([x.ctypes.data, y.ctypes.data], np.int64)
        self.regions(name, table.ctypes.data, 3, n, grain)
        best = min(self.regions(name, table.ctypes.data, reps, n, grain) for _ in range(5))
        return best / 1e3, y


@pytest.fixture(scope="module")
def bench():
    before = threadpool.get_num_threads()
    yield Bench()
    threadpool.set_num_threads(before)


def test_region_costs(benchmark, bench):
    costs = {f"{t}_threads": bench.region_costs(t) for t in (1, 2)}
    print()
    for key, values in costs.items():
        print(key, ", ".join(f"{k} {v:.3f}" for k, v in values.items()))
    benchmark.extra_info.update({f"{k}/{kk}": vv for k, v in costs.items() for kk, vv in v.items()})
    benchmark.group = "threadpool-region"
    benchmark.pedantic(lambda: bench.regions("empty_task", bench.counter.ctypes.data, 1000, 2, 1),
                       rounds=5)


@pytest.mark.parametrize("name, n, grain, reps", [("poly3_task", 4 << 20, 1 << 16, 20),
                                                  ("poly16_task", 256 << 10, 1 << 13, 200)])
def test_poly_speedup(benchmark, bench, name, n, grain, reps):
    one, y1 = bench.poly(name, n, grain, reps, 1)
    two, y2 = bench.poly(name, n, grain, reps, 2)
    assert y1.tobytes() == y2.tobytes()
    print(f"\n{name} n={n}: 1 thread {one:.1f} us, 2 threads {two:.1f} us, "
          f"speedup {one / two:.2f}x")
    benchmark.extra_info.update(one_thread_us=one, two_threads_us=two, speedup=one / two)
    benchmark.group = f"threadpool-{name}"
    benchmark.pedantic(lambda: bench.poly(name, n, grain, 1, 2), rounds=3)


if __name__ == "__main__":
    b = Bench()
    for t in (1, 2):
        print(f"{t} threads:", {k: round(v, 3) for k, v in b.region_costs(t).items()})
    for name, n, grain, reps in (("poly3_task", 4 << 20, 1 << 16, 20),
                                 ("poly16_task", 256 << 10, 1 << 13, 200)):
        one, _ = b.poly(name, n, grain, reps, 1)
        two, _ = b.poly(name, n, grain, reps, 2)
        print(f"{name} n={n}: 1 thread {one:.1f} us, 2 threads {two:.1f} us, "
              f"speedup {one / two:.2f}x")
