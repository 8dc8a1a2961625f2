"""The native thread pool (runtime/threadpool.py): llgrad_parallel_for runs every chunk once,
with results independent of the thread count, serially when nested or busy, from several
Python threads at once, after fork, and lets the interpreter exit promptly."""
import ctypes
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import numpy.testing  # noqa: F401  (imported here, not lazily by a thread: see _run_script)
import pytest
from llvmlite import ir

from llgrad.compiler.codegen.types import F64, I8P, I64, VOID, declare
from llgrad.runtime import llvm, threadpool

# The test task's context: a table of i64 words.
OUT, COUNT, HITS, BEGINS, ENDS, TIDS, GRAIN, WORK = range(8)
TABLE_WORDS = 8
# Nested: OUT, COLS, INNER_GRAIN, ROW_TIDS, ELEMENT_TIDS
N_OUT, N_COLS, N_GRAIN, N_ROW_TIDS, N_TIDS = range(5)


def value_of(b, i, work):
    """f(i) = 0.5 i + 1 / (i + 1), then `work` rounds of v = v * 0.999 + 0.001 (slow chunks)."""
    x = b.sitofp(i, F64)
    v = b.fadd(b.fmul(x, F64(0.5)), b.fdiv(F64(1.0), b.fadd(x, F64(1.0))))
    fn = b.function
    head, body, done = (fn.append_basic_block(name) for name in ("work", "work_body", "worked"))
    entry = b.block
    b.branch(head)
    b.position_at_end(head)
    r = b.phi(I64)
    acc = b.phi(F64)
    r.add_incoming(I64(0), entry)
    acc.add_incoming(v, entry)
    b.cbranch(b.icmp_signed("<", r, work), body, done)
    b.position_at_end(body)
    r.add_incoming(b.add(r, I64(1)), body)
    acc.add_incoming(b.fadd(b.fmul(acc, F64(0.999)), F64(0.001)), body)
    b.branch(head)
    b.position_at_end(done)
    return acc


def expected_values(n, work=0):
    x = np.arange(n, dtype=np.float64)
    v = x * 0.5 + 1.0 / (x + 1.0)
    for _ in range(work):
        v = v * 0.999 + 0.001
    return v


def for_range(b, begin, end, body):
    """for i in [begin, end): body(i)"""
    fn = b.function
    head, inner, done = (fn.append_basic_block(n) for n in ("loop", "loop_body", "loop_done"))
    entry = b.block
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(begin, entry)
    b.cbranch(b.icmp_signed("<", i, end), inner, done)
    b.position_at_end(inner)
    body(i)
    i.add_incoming(b.add(i, I64(1)), b.block)
    b.branch(head)
    b.position_at_end(done)


def word(b, table, index, type_=I64):
    value = b.load(b.gep(table, [I64(index)]))
    return value if type_ is I64 else b.inttoptr(value, type_)


def build_test_module():
    module = ir.Module(name="threadpool_test")
    parallel_for = threadpool.declare_parallel_for(module)
    self_id = declare(module, "pthread_self", ir.FunctionType(I64, []))
    i64p, f64p = I64.as_pointer(), F64.as_pointer()

    # task: out[i] = f(i), count[i] += 1 (atomic) for its chunk; records the chunk's begin, end
    # and thread, and counts how often chunk begin / grain ran
    task = ir.Function(module, threadpool.TASK_TYPE, "test_task")
    ctx, begin, end = task.args
    b = ir.IRBuilder(task.append_basic_block())
    table = b.bitcast(ctx, i64p)
    out, count = word(b, table, OUT, f64p), word(b, table, COUNT, i64p)
    grain, work = word(b, table, GRAIN), word(b, table, WORK)
    k = b.sdiv(begin, grain)
    b.atomic_rmw("add", b.gep(word(b, table, HITS, i64p), [k]), I64(1), "monotonic")
    b.store(begin, b.gep(word(b, table, BEGINS, i64p), [k]))
    b.store(end, b.gep(word(b, table, ENDS, i64p), [k]))
    b.store(b.call(self_id, []), b.gep(word(b, table, TIDS, i64p), [k]))

    def element(i):
        b.atomic_rmw("add", b.gep(count, [i]), I64(1), "monotonic")
        b.store(value_of(b, i, work), b.gep(out, [i]))

    for_range(b, begin, end, element)
    b.ret_void()

    driver = ir.Function(module, ir.FunctionType(VOID, [I8P, I64, I64]), "drive")
    b = ir.IRBuilder(driver.append_basic_block())
    b.call(parallel_for, [task, *driver.args])
    b.ret_void()

    # nested: rows in parallel, each row's columns by an inner llgrad_parallel_for
    inner = ir.Function(module, threadpool.TASK_TYPE, "inner_task")
    ictx, begin, end = inner.args
    b = ir.IRBuilder(inner.append_basic_block())
    pair = b.bitcast(ictx, i64p)
    table = b.inttoptr(b.load(pair), i64p)
    row = b.load(b.gep(pair, [I64(1)]))
    out, cols = word(b, table, N_OUT, f64p), word(b, table, N_COLS)
    tids = word(b, table, N_TIDS, i64p)

    def inner_element(j):
        index = b.add(b.mul(row, cols), j)
        b.store(value_of(b, index, I64(0)), b.gep(out, [index]))
        b.store(b.call(self_id, []), b.gep(tids, [index]))

    for_range(b, begin, end, inner_element)
    b.ret_void()

    outer = ir.Function(module, threadpool.TASK_TYPE, "outer_task")
    octx, begin, end = outer.args
    b = ir.IRBuilder(outer.append_basic_block())
    table = b.bitcast(octx, i64p)
    pair = b.alloca(I64, I64(2))
    b.store(b.ptrtoint(octx, I64), pair)

    def outer_row(r):
        b.store(r, b.gep(pair, [I64(1)]))
        b.store(b.call(self_id, []), b.gep(word(b, table, N_ROW_TIDS, i64p), [r]))
        b.call(parallel_for, [inner, b.bitcast(pair, I8P), word(b, table, N_COLS),
                              word(b, table, N_GRAIN)])

    for_range(b, begin, end, outer_row)
    b.ret_void()

    nested = ir.Function(module, ir.FunctionType(VOID, [I8P, I64, I64]), "drive_nested")
    b = ir.IRBuilder(nested.append_basic_block())
    b.call(parallel_for, [outer, *nested.args])
    b.ret_void()

    threads = ir.Function(module, ir.FunctionType(I64, []), "threads")
    b = ir.IRBuilder(threads.append_basic_block())
    b.ret(b.call(threadpool.declare_num_threads(module), []))
    return module


class Kernels:
    """The compiled test module and ctypes views of its entry points."""

    def __init__(self):
        threadpool.ensure_pool()
        self.code = llvm.compile_module(str(build_test_module()))
        proto = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
        self.drive = proto(self.code.address("drive"))
        self.drive_nested = proto(self.code.address("drive_nested"))
        self.threads = ctypes.CFUNCTYPE(ctypes.c_int64)(self.code.address("threads"))


class Run:
    """Buffers of one call of the test task over n elements."""

    def __init__(self, n, grain, work=0):
        chunks = -(-n // grain) if n > 0 else 0
        self.n, self.grain, self.work = n, grain, work
        self.out = np.full(n, np.nan)
        self.count = np.zeros(n, np.int64)
        self.hits = np.zeros(chunks, np.int64)
        self.begins = np.full(chunks, -1, np.int64)
        self.ends = np.full(chunks, -1, np.int64)
        self.tids = np.zeros(chunks, np.int64)
        self.table = np.zeros(TABLE_WORDS, np.int64)
        for slot, array in ((OUT, self.out), (COUNT, self.count), (HITS, self.hits),
                            (BEGINS, self.begins), (ENDS, self.ends), (TIDS, self.tids)):
            self.table[slot] = array.ctypes.data
        self.table[GRAIN], self.table[WORK] = grain, work

    def reset(self):
        self.out[:] = np.nan
        for array in (self.count, self.hits):
            array[:] = 0

    def __call__(self, kernels):
        kernels.drive(self.table.ctypes.data, self.n, self.grain)
        return self

    def check(self):
        chunks = len(self.hits)
        assert (self.hits == 1).all(), f"chunks run {self.hits.tolist()}"
        assert (self.count == 1).all()
        starts = np.arange(chunks) * self.grain
        assert (self.begins == starts).all()
        assert (self.ends == np.minimum(starts + self.grain, self.n)).all()
        np.testing.assert_array_equal(self.out, expected_values(self.n, self.work))


@pytest.fixture(scope="module")
def kernels():
    return Kernels()


@pytest.fixture
def threads():
    """Set the thread count for a test; restored afterwards."""
    before = threadpool.get_num_threads()
    yield threadpool.set_num_threads
    threadpool.set_num_threads(before)


SHAPES = [(0, 1), (0, 7), (1, 1), (1, 5), (5, 8), (7, 7), (8, 7), (13, 4), (64, 8), (100, 1),
          (1000, 33), (1024, 1024), (4097, 64), (30000, 1000), (5, 0), (6, -3)]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_chunk_runs_once(kernels, threads, count):
    threads(count)
    for n, grain in SHAPES:
        for _ in range(3):
            run = Run(n, max(grain, 1))
            kernels.drive(run.table.ctypes.data, n, grain)  # grain < 1 counts as 1
            run.check()


def test_results_identical_for_1_2_and_3_threads(kernels, threads):
    results = []
    for count in (1, 2, 3, 2, 1):
        threads(count)
        run = Run(50_000, 1000, work=20)(kernels)
        run.check()
        results.append(run.out.copy())
    for other in results[1:]:
        assert other.tobytes() == results[0].tobytes()


def test_workers_take_part(kernels, threads):
    """With 2 threads and slow chunks, some chunks run on a worker (retried: a busy machine
    may keep the worker off the CPU for one region)."""
    threads(2)
    for _ in range(50):
        run = Run(64 * 200, 200, work=200)(kernels)
        run.check()
        if len(set(run.tids.tolist())) > 1:
            break
    else:
        pytest.fail("every chunk ran in the calling thread")
    info = threadpool.stats()
    assert info["workers"] >= 1 and info["parallel_regions"] > 0 and info["spawn_error"] == 0
    assert kernels.threads() == 2


def test_lowering_the_count_parks_workers_and_raising_it_reuses_them(kernels, threads):
    threads(3)
    Run(10_000, 100)(kernels).check()
    created = threadpool.stats()["workers"]
    assert created >= 2  # more when an earlier test of this process asked for more threads
    threads(1)
    before = threadpool.stats()["parallel_regions"]
    run = Run(10_000, 100)(kernels)
    run.check()
    assert len(set(run.tids.tolist())) == 1
    assert threadpool.stats()["parallel_regions"] == before  # one thread: serial, no region
    threads(2)
    Run(10_000, 100)(kernels).check()
    threads(3)
    Run(10_000, 100)(kernels).check()
    assert threadpool.stats()["workers"] == created  # kept, not created again


def _blocked_signals_by_thread():
    """Each thread's mask of blocked signals (bit s - 1 for signal s), from /proc."""
    masks = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        masks.append(int(fields["SigBlk"], 16))
    return masks


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_workers_block_signals(kernels, threads):
    """Signals (SIGINT for KeyboardInterrupt) go to Python's threads, never to a worker; the
    caller's mask is restored after it created them."""
    threads(3)
    Run(10_000, 100)(kernels).check()
    sigint = 1 << (signal.SIGINT - 1)
    assert sum(bool(mask & sigint) for mask in _blocked_signals_by_thread()) >= 2
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_nested_call_runs_serially_in_the_task_thread(kernels, threads):
    threads(2)
    rows, cols, inner_grain = 40, 300, 16
    out = np.full(rows * cols, np.nan)
    row_tids = np.zeros(rows, np.int64)
    tids = np.zeros(rows * cols, np.int64)
    table = np.array([out.ctypes.data, cols, inner_grain, row_tids.ctypes.data,
                      tids.ctypes.data], np.int64)
    busy = threadpool.stats()["busy_fallbacks"]
    kernels.drive_nested(table.ctypes.data, rows, 2)
    np.testing.assert_array_equal(out, expected_values(rows * cols))
    assert (tids.reshape(rows, cols) == row_tids[:, None]).all()
    assert threadpool.stats()["busy_fallbacks"] >= busy + rows


def test_concurrent_python_threads(kernels, threads):
    threads(2)
    callers, rounds = 4, 30
    barrier = threading.Barrier(callers)
    errors = []

    def caller(seed):
        rng = np.random.default_rng(seed)
        try:
            barrier.wait()
            for _ in range(rounds):
                n = int(rng.integers(0, 20_000))
                grain = int(rng.integers(1, 3000))
                Run(n, grain, work=int(rng.integers(0, 5)))(kernels).check()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=caller, args=(seed,)) for seed in range(callers)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors, errors[0]


def _run_script(body, env=None, timeout=60):
    """Run `body` in a new interpreter. (Modules a thread might import lazily while the main
    thread forks, such as numpy.testing, are imported up front: a child forked while another
    thread holds a module's import lock hangs on it, whatever llgrad does.)"""
    script = textwrap.dedent("""
        import ctypes, os, sys, time
        import numpy as np
        sys.path.insert(0, {here!r})
        import test_threadpool as T
        from llgrad.runtime import threadpool
    """).format(here=os.path.dirname(__file__)) + textwrap.dedent(body)
    environment = dict(os.environ)
    environment.pop("LLGRAD_NUM_THREADS", None)
    environment.update(env or {})
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=timeout, env=environment)
    return done, time.perf_counter() - start


def test_fork_child_rebuilds_workers_and_parent_keeps_working():
    done, _ = _run_script("""
        threadpool.set_num_threads(2)
        k = T.Kernels()
        for _ in range(20):
            T.Run(20_000, 500, work=3)(k).check()
        assert threadpool.stats()["workers"] == 1
        for round in range(3):
            pid = os.fork()
            if pid == 0:  # child: no workers until a region needs one
                ok = threadpool.stats()["workers"] == 0
                for _ in range(20):
                    T.Run(20_000, 500, work=3)(k).check()
                ok = ok and threadpool.stats()["workers"] == 1
                sys.stdout.flush()
                if round == 0:
                    os._exit(0 if ok else 3)
                sys.exit(0 if ok else 3)  # atexit in the child joins its own worker
            T.Run(20_000, 500, work=3)(k).check()  # the parent meanwhile
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        for _ in range(20):
            T.Run(20_000, 500, work=3)(k).check()
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_fork_waits_for_a_region_in_flight():
    """A thread keeps issuing regions while the main thread forks: the fork waits for the
    region in flight, and the child's pool works."""
    done, _ = _run_script("""
        import threading
        threadpool.set_num_threads(2)
        k = T.Kernels()
        stop = threading.Event()
        def busy():
            run = T.Run(200_000, 1000, work=2)
            while not stop.is_set():
                run.reset()
                run(k).check()
        t = threading.Thread(target=busy)
        t.start()
        time.sleep(0.05)
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                T.Run(50_000, 500)(k).check()
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        stop.set()
        t.join()
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("state", ["spinning", "asleep", "region_on_daemon_thread"])
def test_interpreter_exits_promptly_with_live_workers(state):
    done, seconds = _run_script(f"""
        import threading
        threadpool.set_num_threads(3)
        k = T.Kernels()
        for _ in range(5):
            T.Run(10_000, 100)(k).check()
        assert threadpool.stats()["workers"] == 2
        state = {state!r}
        if state == "asleep":
            time.sleep(0.2)
            assert threadpool.stats()["sleeping"] == 2
        if state == "region_on_daemon_thread":
            def loop():
                run = T.Run(100_000, 1000, work=5)
                while True:
                    run(k)
            threading.Thread(target=loop, daemon=True).start()
            time.sleep(0.05)
        print("exiting")
    """, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"
    assert seconds < 10


def test_shutdown_joins_workers_and_later_regions_run_serially():
    done, _ = _run_script("""
        threadpool.set_num_threads(2)
        k = T.Kernels()
        T.Run(10_000, 100)(k).check()
        assert threadpool.stats()["workers"] == 1
        threadpool.shutdown()
        info = threadpool.stats()
        assert info["workers"] == 0 and info["sleeping"] == 0, info
        run = T.Run(10_000, 100)(k)
        run.check()
        assert len(set(run.tids.tolist())) == 1
        assert threadpool.stats()["parallel_regions"] == info["parallel_regions"]
        print("ok")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_set_num_threads_validation(threads):
    for bad in (0, -1, 1.5, "2", None, True, threadpool.MAX_THREADS + 1):
        with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(").replace(".", r"\.")):
            threadpool.set_num_threads(bad)
    threads(1)
    assert threadpool.get_num_threads() == 1
    threads(np.int64(3))
    assert threadpool.get_num_threads() == 3 and type(threadpool.get_num_threads()) is int


def test_num_threads_environment_parsing():
    assert threadpool._threads_from_env(None) is None
    assert threadpool._threads_from_env("4") == 4
    assert threadpool._threads_from_env(" 2 ") == 2
    for bad in ("0", "-2", "two", "", "1.5", "100000"):
        with pytest.raises(ValueError, match="LLGRAD_NUM_THREADS"):
            threadpool._threads_from_env(bad)


@pytest.mark.parametrize("value, expected", [
    ("3", "3 3"), (None, f"{len(os.sched_getaffinity(0))} {len(os.sched_getaffinity(0))}"),
    ("zero", "ValueError LLGRAD_NUM_THREADS='zero'")])
def test_num_threads_from_the_environment(value, expected):
    done, _ = _run_script("""
        try:
            count = threadpool.get_num_threads()
            k = T.Kernels()
            print(count, k.threads())
        except ValueError as exc:
            print("ValueError", str(exc).split()[0])
    """, env={} if value is None else {"LLGRAD_NUM_THREADS": value})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
