"""A persistent pool of native worker threads, written in LLVM IR, for parallel loops inside
one native call.

No C compiler exists at run time and Python threads must not do the work, so the pool is an
LLVM module like any other: its workers are created with libc's `pthread_create` (resolved
from the process by MCJIT), wait on a futex through `syscall(SYS_futex, ...)`, and run the
tasks that generated code hands to

    void llgrad_parallel_for(void (*task)(i8* ctx, i64 begin, i64 end), i8* ctx, i64 n, i64 grain)

which calls task(ctx, k*grain, min(n, (k+1)*grain)) once for every chunk k in
0..ceil(n/grain)-1, on the workers and the calling thread together, and returns when every
chunk is done (their memory effects visible to the caller). Chunks depend only on n and grain,
never on the thread count, so results are bit-identical for any number of threads. With one
thread, a single chunk, or the pool busy (a task calling llgrad_parallel_for again, or another
OS thread's region in flight) the chunks run serially in the caller, in order.
(n + grain must not overflow i64; a grain below 1 counts as 1.)
`i64 llgrad_num_threads()` returns the configured thread count (the caller included).
Both symbols are registered with `llvm.register_symbol` by `ensure_pool()`, so modules compiled
afterwards can call them; `declare_parallel_for(module)` declares the first in a module.

Design (all shared state is in module globals, each on a cache line of its own):

* `lock` (i32): taken with a compare-and-swap 0 -> 1 by the thread that dispatches a region
  and held until the region is complete; a caller that fails to take it runs serially. Control
  operations (fork, shutdown) take it blocking, so no region is in flight during them: they
  add 2 to the word while they wait, which makes every dispatcher's CAS fail meanwhile (so
  back-to-back regions on another thread cannot starve them), and release is a subtraction.
* Region descriptor (task, ctx, n, grain, chunk count) and `next` (the next unclaimed chunk):
  written by the lock holder before the region opens, read by workers only after joining.
* `state` (i64): bit 32 OPEN, low 32 bits the number of workers inside the region. A worker
  joins with a CAS (acquire) that succeeds only while OPEN is set, claims chunks with
  fetch-add on `next`, and leaves with fetch-sub (release). The caller opens the region with a
  release store, claims chunks itself, then closes it (fetch-and, acq_rel) and waits until the
  count is 0 (acquire): every chunk was claimed by the caller or by a worker inside, so all are
  done, and their writes happen-before the return. Nobody can join a closed region, so the
  descriptor is never rewritten under a worker's feet; a late worker that joins the *next*
  region instead reads that region's descriptor (published before OPEN), which is just as
  right. The caller never waits for a worker that has not joined (one still waking up finds
  the region closed and goes back to waiting). It spins as long as idle workers do, then sets
  `waiter` (seq_cst) and sleeps in FUTEX_WAIT on the count (the low half of `state`); the
  worker whose fetch-sub (seq_cst) empties a closed region reads `waiter` and wakes it.
  Sleeping matters when another process holds the core of a worker inside the region: an idle
  CPU lets the scheduler move the worker over.
* `gen` (i32, the futex word): bumped (seq_cst) after a region opens. Idle workers spin on it
  with `load atomic acquire` + `pause` for a bounded number of iterations, then announce
  themselves in `sleepers` (seq_cst) and sleep in FUTEX_WAIT while it is unchanged. The caller
  reads `sleepers` (seq_cst) after bumping `gen` and calls FUTEX_WAKE only when it is nonzero
  (Dekker: either the caller sees the sleeper, or the sleeper sees the new generation; the
  kernel re-checks the word, so no wake-up is lost).
* `park` (i32, a second futex word): workers whose index is beyond the configured count wait
  on it; `set_num_threads` and shutdown bump it and wake them.
* Workers are created lazily by the dispatching caller (under the lock) up to
  num_threads - 1, with every signal blocked so Python's handlers keep running on its own
  threads, and are kept until shutdown.

Fork: `os.register_at_fork` takes the lock before fork (waiting for a region in flight) and
releases it after; the child, which has no workers, resets the pool's globals so workers are
created again on demand. Exit: an atexit handler sets `exit`, bumps both futex words, wakes
and joins every worker while the code is still mapped; the pool's code itself is never freed.
"""
import atexit
import ctypes
import operator
import os
import threading

from . import llvm

PARALLEL_FOR = "llgrad_parallel_for"
NUM_THREADS = "llgrad_num_threads"
_IR_NAMES = ("TASK_TYPE", "PARALLEL_FOR_TYPE", "NUM_THREADS_TYPE")


def _import_ir():
    """llvmlite.ir, the code generator's types and the pool's function types, as this module's
    globals: imported when the pool's IR is built or declared, not by a process that loads the
    pool's code from the kernel cache."""
    if "TASK_TYPE" in globals():
        return
    from llvmlite import ir

    from ..compiler.codegen.types import I8P, I32, I64, VOID, declare

    task = ir.FunctionType(VOID, [I8P, I64, I64])
    globals().update(ir=ir, I8P=I8P, I32=I32, I64=I64, VOID=VOID, declare=declare,
                     PARALLEL_FOR_TYPE=ir.FunctionType(VOID, [task.as_pointer(), I8P, I64, I64]),
                     NUM_THREADS_TYPE=ir.FunctionType(I64, []), TASK_TYPE=task)


def __getattr__(name):
    if name in _IR_NAMES:
        _import_ir()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

MAX_THREADS = 256  # the caller and up to 255 workers
# Pause iterations an idle worker spins before it sleeps, and a caller waits for the workers
# inside its region before it sleeps. A pause took 26 ns on the Zen 3 machine this was tuned
# on, so this is ~1 ms: it covers the serial code between two regions of a step and Python's
# overhead between two steps. A region issued within it costs ~0.1-0.5 us; a worker woken from
# sleep by FUTEX_WAKE tends to be placed on the waking caller's CPU (wake-affine), where it waits
# while the caller spins: with a 0.1 ms spin, a 256^3 GEMM at 2 threads ran at 0.6-0.7 ms (slower
# than one thread's 0.39) in 5 of 12 batches of 50 calls, with 1 ms in none (0.29-0.46 ms).
# The cost: an idle worker burns up to 1 ms of a core after each region, which an
# oversubscribed machine feels (with another process on one of 2 cores, a 2-thread loop ran
# 0.7x as fast as 1 thread with a 0.3 ms spin; set_spin_iterations lowers it).
DEFAULT_SPIN = 40_000

_SYS_FUTEX = {"x86_64": 202, "amd64": 202, "aarch64": 98}
_FUTEX_WAIT_PRIVATE = 128
_FUTEX_WAKE_PRIVATE = 129
_SIG_SETMASK = 2
_SIGSET_WORDS = 16  # glibc's sigset_t: 1024 bits
_OPEN = 1 << 32
_ACTIVE_MASK = (1 << 32) - 1
_WAKE_ALL = 0x7FFFFFFF


def declare_parallel_for(module):
    """`llgrad_parallel_for` declared in `module` (call ensure_pool() before compiling it)."""
    _import_ir()
    return declare(module, PARALLEL_FOR, PARALLEL_FOR_TYPE)


def declare_num_threads(module):
    _import_ir()
    return declare(module, NUM_THREADS, NUM_THREADS_TYPE)


# ---- the IR ------------------------------------------------------------------------------------

class _PoolModule:
    """Builds the pool module: its globals, the worker, the dispatcher and the control entry
    points called from Python."""

    def __init__(self, triple):
        self.module = ir.Module(name="llgrad_threadpool")
        arch = triple.split("-")[0]
        if arch not in _SYS_FUTEX:
            raise NotImplementedError(f"the thread pool knows no futex syscall number for {arch}")
        self.sys_futex = _SYS_FUTEX[arch]
        self.x86 = arch in ("x86_64", "amd64")
        m = self.module
        self.task_ptr = TASK_TYPE.as_pointer()
        self.lock = self._global("pool_lock", I32)
        self.gen = self._global("pool_gen", I32)
        self.sleepers = self._global("pool_sleepers", I32)
        self.park = self._global("pool_park", I32)
        self.state = self._global("pool_state", I64)
        self.next = self._global("pool_next", I64)
        self.waiter = self._global("pool_waiter", I32)  # 1: the caller sleeps on `state`
        # descriptor of the region in flight: task, ctx, n, grain, chunk count
        self.desc_type = ir.LiteralStructType([self.task_ptr, I8P, I64, I64, I64])
        self.desc = self._global("pool_desc", self.desc_type)
        self.num_threads = self._global("pool_num_threads", I64, 1)
        self.created = self._global("pool_created", I64)
        self.exit = self._global("pool_exit", I32)
        self.spin = self._global("pool_spin", I64, DEFAULT_SPIN)
        # statistics: regions run in parallel, calls that found the pool busy, pthread_create's
        # last error
        self.stats = self._global("pool_stats", ir.ArrayType(I64, 3))
        self.handles = self._global("pool_handles", ir.ArrayType(I64, MAX_THREADS))

        self.syscall = declare(m, "syscall", ir.FunctionType(I64, [I64], var_arg=True))
        self.sched_yield = declare(m, "sched_yield", ir.FunctionType(I32, []))
        start_type = ir.FunctionType(I8P, [I8P])
        self.pthread_create = declare(m, "pthread_create", ir.FunctionType(
            I32, [I64.as_pointer(), I8P, start_type.as_pointer(), I8P]))
        self.pthread_join = declare(m, "pthread_join", ir.FunctionType(
            I32, [I64, I8P.as_pointer()]))
        sigset_ptr = ir.ArrayType(I64, _SIGSET_WORDS).as_pointer()
        self.pthread_sigmask = declare(m, "pthread_sigmask", ir.FunctionType(
            I32, [I32, sigset_ptr, sigset_ptr]))
        if self.x86:
            self.pause_fn = declare(m, "llvm.x86.sse2.pause", ir.FunctionType(VOID, []))

        self.worker = self._function("pool_worker", start_type, internal=True)
        self.run_claimed = self._function("pool_run_claimed", ir.FunctionType(VOID, []),
                                          internal=True)
        self.lock_blocking = self._function("pool_lock_blocking", ir.FunctionType(VOID, []),
                                            internal=True)
        self.spawn = self._function("pool_spawn", ir.FunctionType(VOID, [I64]), internal=True)

    # -- helpers

    def _global(self, name, type_, value=0):
        g = ir.GlobalVariable(self.module, type_, name)
        g.linkage = "internal"
        g.align = 64  # each on its own cache line: no false sharing between them
        g.initializer = (ir.Constant(type_, value) if isinstance(type_, ir.IntType)
                         else ir.Constant(type_, None))
        return g

    def _function(self, name, fn_type, internal=False):
        fn = ir.Function(self.module, fn_type, name)
        if internal:
            fn.linkage = "internal"
        fn.attributes.add("nounwind")
        return fn

    @staticmethod
    def _align(ptr):
        return ptr.type.pointee.width // 8

    def load(self, b, ptr, order):
        return b.load_atomic(ptr, order, self._align(ptr))

    def store(self, b, value, ptr, order):
        b.store_atomic(value, ptr, order, self._align(ptr))

    def pause(self, b):
        if self.x86:
            b.call(self.pause_fn, [])

    def futex(self, b, word, op, value):
        """syscall(SYS_futex, word, op, value, NULL, NULL, 0) (arguments passed as 64-bit
        words, as the variadic syscall() reads them)"""
        null = ir.Constant(I8P, None)
        b.call(self.syscall, [I64(self.sys_futex), word, I64(op), b.zext(value, I64), null,
                              null, I64(0)])

    def state_count_word(self, b):
        """The low 32 bits of `state` (little-endian: the count of workers inside), the futex
        word the caller sleeps on once the region is closed (the whole of `state` is then that
        count)."""
        return b.bitcast(self.state, I32.as_pointer())

    def desc_field(self, b, index):
        return b.gep(self.desc, [I32(0), I32(index)])

    def stat(self, index):
        return self.stats.gep([I32(0), I32(index)])

    # -- functions

    def build(self):
        self._build_run_claimed()
        self._build_lock_blocking()
        self._build_spawn()
        self._build_worker()
        self._build_parallel_for()
        self._build_control()
        return self.module

    def _build_run_claimed(self):
        """Claim chunks of the region in flight (fetch-add on `next`) and run them until none
        is left. Called by the dispatcher and by workers that joined the region."""
        fn = self.run_claimed
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        loop = fn.append_basic_block("claim")
        body = fn.append_basic_block("run")
        done = fn.append_basic_block("done")
        task = b.load(self.desc_field(b, 0))
        ctx = b.load(self.desc_field(b, 1))
        n = b.load(self.desc_field(b, 2))
        grain = b.load(self.desc_field(b, 3))
        chunks = b.load(self.desc_field(b, 4))
        b.branch(loop)
        b.position_at_end(loop)
        k = b.atomic_rmw("add", self.next, I64(1), "monotonic")
        b.cbranch(b.icmp_signed("<", k, chunks), body, done)
        b.position_at_end(body)
        begin = b.mul(k, grain)
        end = b.add(begin, grain)
        end = b.select(b.icmp_signed("<", end, n), end, n)
        b.call(task, [ctx, begin, end])
        b.branch(loop)
        b.position_at_end(done)
        b.ret_void()

    def _build_lock_blocking(self):
        """Take `lock` however long it takes (control operations, never a region). `lock` is
        bit 0 held, plus 2 per thread waiting here: while anyone waits, a dispatcher's
        CAS(0 -> 1) fails and it runs serially, so back-to-back regions cannot starve a fork."""
        fn = self.lock_blocking
        entry = fn.append_basic_block("entry")
        attempt = fn.append_basic_block("attempt")
        try_cas = fn.append_basic_block("try_cas")
        wait = fn.append_basic_block("wait")
        yield_ = fn.append_basic_block("yield")
        done = fn.append_basic_block("done")
        b = ir.IRBuilder(entry)
        b.atomic_rmw("add", self.lock, I32(2), "monotonic")
        b.branch(attempt)
        b.position_at_end(attempt)
        spins = b.phi(I32)
        spins.add_incoming(I32(0), entry)
        word = self.load(b, self.lock, "monotonic")
        b.cbranch(b.icmp_unsigned("==", b.and_(word, I32(1)), I32(0)), try_cas, wait)
        b.position_at_end(try_cas)  # free: stop waiting and hold it, in one step
        taken = b.extract_value(b.cmpxchg(self.lock, word, b.sub(word, I32(1)), "acquire",
                                          "monotonic"), 1)
        b.cbranch(taken, done, wait)
        b.position_at_end(wait)
        self.pause(b)
        more = b.add(spins, I32(1))
        spins.add_incoming(more, wait)
        spins.add_incoming(I32(0), yield_)
        b.cbranch(b.icmp_unsigned("<", more, I32(256)), attempt, yield_)
        b.position_at_end(yield_)
        b.call(self.sched_yield, [])
        b.branch(attempt)
        b.position_at_end(done)
        b.ret_void()

    def unlock(self, b):
        """Release `lock` (a subtraction: threads waiting in lock_blocking stay counted)."""
        b.atomic_rmw("sub", self.lock, I32(1), "release")

    def _build_spawn(self):
        """Create workers up to `threads` - 1 (called by the lock holder), with all signals
        blocked so that they inherit a full mask. A failed pthread_create is recorded in
        stats[2] (until the count is set again); the pool then runs with the workers it has."""
        fn = self.spawn
        threads, = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        check = fn.append_basic_block("check")
        create = fn.append_basic_block("create")
        created_ok = fn.append_basic_block("created")
        failed = fn.append_basic_block("failed")
        done = fn.append_basic_block("done")
        sigset = ir.ArrayType(I64, _SIGSET_WORDS)
        full = b.alloca(sigset)
        saved = b.alloca(sigset)
        b.store(ir.Constant(sigset, [I64(-1)] * _SIGSET_WORDS), full)
        b.call(self.pthread_sigmask, [I32(_SIG_SETMASK), full, saved])
        wanted = b.sub(threads, I64(1))
        wanted = b.select(b.icmp_signed("<", wanted, I64(MAX_THREADS - 1)), wanted,
                          I64(MAX_THREADS - 1))
        b.branch(check)
        b.position_at_end(check)
        count = self.load(b, self.created, "monotonic")
        b.cbranch(b.icmp_signed("<", count, wanted), create, done)
        b.position_at_end(create)
        handle = b.gep(self.handles, [I32(0), count])
        rc = b.call(self.pthread_create, [handle, ir.Constant(I8P, None), self.worker,
                                          b.inttoptr(count, I8P)])
        b.cbranch(b.icmp_unsigned("==", rc, I32(0)), created_ok, failed)
        b.position_at_end(created_ok)
        self.store(b, b.add(count, I64(1)), self.created, "monotonic")
        b.branch(check)
        b.position_at_end(failed)
        self.store(b, b.zext(rc, I64), self.stat(2), "monotonic")
        b.branch(done)
        b.position_at_end(done)
        b.call(self.pthread_sigmask, [I32(_SIG_SETMASK), saved, ir.Constant(saved.type, None)])
        b.ret_void()

    def _build_worker(self):
        """A worker's life: join open regions, otherwise spin then sleep until `gen` moves;
        park while its index is beyond the thread count; return once `exit` is set."""
        fn = self.worker
        index = fn.args[0]
        blocks = {name: fn.append_basic_block(name) for name in (
            "entry", "check", "park", "park_wait", "active", "try_join", "join_cas", "joined",
            "wait", "spin", "spin_next", "sleep", "sleep_check", "sleep_wait", "woke", "quit")}
        b = ir.IRBuilder(blocks["entry"])
        idx = b.ptrtoint(index, I64)
        first_seen = self.load(b, self.gen, "acquire")
        b.branch(blocks["check"])

        # check: the generation last seen is `seen`; leave, park, or try to join
        b.position_at_end(blocks["check"])
        seen = b.phi(I32, "seen")
        seen.add_incoming(first_seen, blocks["entry"])
        quitting = b.icmp_unsigned("!=", self.load(b, self.exit, "monotonic"), I32(0))
        b.cbranch(quitting, blocks["quit"], blocks["active"])

        # active: index < num_threads - 1, else park
        b.position_at_end(blocks["active"])
        threads = self.load(b, self.num_threads, "monotonic")
        b.cbranch(b.icmp_signed("<", b.add(idx, I64(1)), threads), blocks["try_join"],
                  blocks["park"])

        # park: sleep on `park` until the count or `exit` changes (both bump `park` after the
        # change, and the futex compares the word, so the re-check below cannot miss it)
        b.position_at_end(blocks["park"])
        parked_at = self.load(b, self.park, "seq_cst")
        still = b.and_(
            b.icmp_unsigned("==", self.load(b, self.exit, "seq_cst"), I32(0)),
            b.icmp_signed(">=", b.add(idx, I64(1)), self.load(b, self.num_threads, "seq_cst")))
        b.cbranch(still, blocks["park_wait"], blocks["check"])
        seen.add_incoming(seen, blocks["park"])
        b.position_at_end(blocks["park_wait"])
        self.futex(b, self.park, _FUTEX_WAIT_PRIVATE, parked_at)
        fresh = self.load(b, self.gen, "acquire")
        seen.add_incoming(fresh, blocks["park_wait"])
        b.branch(blocks["check"])

        # try_join: enter the region if it is open (CAS so that a closed region stays closed)
        b.position_at_end(blocks["try_join"])
        observed = self.load(b, self.state, "monotonic")
        b.branch(blocks["join_cas"])
        b.position_at_end(blocks["join_cas"])
        current = b.phi(I64, "state")
        current.add_incoming(observed, blocks["try_join"])
        is_open = b.icmp_unsigned("!=", b.and_(current, I64(_OPEN)), I64(0))
        attempt = fn.append_basic_block("join_attempt")
        b.cbranch(is_open, attempt, blocks["wait"])
        b.position_at_end(attempt)
        result = b.cmpxchg(self.state, current, b.add(current, I64(1)), "acquire", "monotonic")
        current.add_incoming(b.extract_value(result, 0), attempt)
        b.cbranch(b.extract_value(result, 1), blocks["joined"], blocks["join_cas"])

        # joined: run chunks, leave (release: the chunks' writes reach the caller; seq_cst for
        # the Dekker pairing with `waiter`). The last one out of a closed region wakes the
        # caller if it went to sleep waiting.
        b.position_at_end(blocks["joined"])
        b.call(self.run_claimed, [])
        before = b.atomic_rmw("sub", self.state, I64(1), "seq_cst")
        last_out = fn.append_basic_block("last_out")
        wake_caller = fn.append_basic_block("wake_caller")
        b.cbranch(b.icmp_unsigned("==", before, I64(1)), last_out, blocks["wait"])
        b.position_at_end(last_out)
        caller_asleep = self.load(b, self.waiter, "seq_cst")
        b.cbranch(b.icmp_unsigned("!=", caller_asleep, I32(0)), wake_caller, blocks["wait"])
        b.position_at_end(wake_caller)
        self.futex(b, self.state_count_word(b), _FUTEX_WAKE_PRIVATE, I32(1))
        b.branch(blocks["wait"])

        # wait: spin on `gen` for `spin` pauses, then sleep on it
        b.position_at_end(blocks["wait"])
        limit = self.load(b, self.spin, "monotonic")
        b.branch(blocks["spin"])
        b.position_at_end(blocks["spin"])
        count = b.phi(I64, "spins")
        count.add_incoming(I64(0), blocks["wait"])
        now = self.load(b, self.gen, "acquire")
        moved = b.icmp_unsigned("!=", now, seen)
        b.cbranch(moved, blocks["woke"], blocks["spin_next"])
        b.position_at_end(blocks["spin_next"])
        self.pause(b)
        more = b.add(count, I64(1))
        count.add_incoming(more, blocks["spin_next"])
        b.cbranch(b.icmp_signed("<", more, limit), blocks["spin"], blocks["sleep"])

        b.position_at_end(blocks["sleep"])
        b.atomic_rmw("add", self.sleepers, I32(1), "seq_cst")
        b.branch(blocks["sleep_check"])
        b.position_at_end(blocks["sleep_check"])
        later = self.load(b, self.gen, "seq_cst")
        sleep_done = fn.append_basic_block("sleep_done")
        b.cbranch(b.icmp_unsigned("!=", later, seen), sleep_done, blocks["sleep_wait"])
        b.position_at_end(blocks["sleep_wait"])
        self.futex(b, self.gen, _FUTEX_WAIT_PRIVATE, seen)
        b.branch(blocks["sleep_check"])
        b.position_at_end(sleep_done)
        b.atomic_rmw("sub", self.sleepers, I32(1), "seq_cst")
        b.branch(blocks["woke"])

        b.position_at_end(blocks["woke"])
        new_gen = b.phi(I32)
        new_gen.add_incoming(now, blocks["spin"])
        new_gen.add_incoming(later, sleep_done)
        seen.add_incoming(new_gen, blocks["woke"])
        b.branch(blocks["check"])

        b.position_at_end(blocks["quit"])
        b.ret(ir.Constant(I8P, None))

    def _build_parallel_for(self):
        fn = self._function(PARALLEL_FOR, PARALLEL_FOR_TYPE)
        task, ctx, n, grain = fn.args
        for arg, name in zip(fn.args, ("task", "ctx", "n", "grain")):
            arg.name = name
        entry = fn.append_basic_block("entry")
        names = ("chunked", "try_lock", "locked", "spawn", "dispatch", "wake", "work",
                 "wait", "wait_spin", "wait_pause", "wait_sleep", "wait_check", "wait_futex",
                 "wait_done", "finish", "busy", "serial", "serial_body", "done")
        blk = {name: fn.append_basic_block(name) for name in names}
        b = ir.IRBuilder(entry)
        b.cbranch(b.icmp_signed("<=", n, I64(0)), blk["done"], blk["chunked"])

        # chunk count: ceil(n / grain), grain at least 1
        b.position_at_end(blk["chunked"])
        g = b.select(b.icmp_signed("<", grain, I64(1)), I64(1), grain)
        chunks = b.add(b.sdiv(n, g), b.zext(b.icmp_signed("!=", b.srem(n, g), I64(0)), I64))
        threads = self.load(b, self.num_threads, "monotonic")
        parallel = b.and_(b.icmp_signed(">", chunks, I64(1)),
                          b.icmp_signed(">", threads, I64(1)))
        b.cbranch(parallel, blk["try_lock"], blk["serial"])

        b.position_at_end(blk["try_lock"])
        taken = b.extract_value(b.cmpxchg(self.lock, I32(0), I32(1), "acquire", "monotonic"), 1)
        b.cbranch(taken, blk["locked"], blk["busy"])

        b.position_at_end(blk["busy"])
        b.atomic_rmw("add", self.stat(1), I64(1), "monotonic")
        b.branch(blk["serial"])

        # locked: create missing workers (unless pthread_create failed since the count was
        # last set: not again at every region); none at all: serial
        b.position_at_end(blk["locked"])
        have = self.load(b, self.created, "monotonic")
        failed = self.load(b, self.stat(2), "monotonic")
        missing = b.and_(b.icmp_signed("<", b.add(have, I64(1)), threads),
                         b.icmp_unsigned("==", failed, I64(0)))
        b.cbranch(missing, blk["spawn"], blk["dispatch"])
        b.position_at_end(blk["spawn"])
        b.call(self.spawn, [threads])
        b.branch(blk["dispatch"])

        b.position_at_end(blk["dispatch"])
        workers = self.load(b, self.created, "monotonic")
        publish = fn.append_basic_block("publish")
        no_workers = fn.append_basic_block("no_workers")
        b.cbranch(b.icmp_signed(">", workers, I64(0)), publish, no_workers)
        b.position_at_end(no_workers)
        self.unlock(b)
        b.branch(blk["serial"])

        # publish: descriptor, `next`, then OPEN (release), then the new generation
        b.position_at_end(publish)
        for index, value in enumerate((task, ctx, n, g, chunks)):
            b.store(value, self.desc_field(b, index))
        self.store(b, I64(0), self.next, "monotonic")
        self.store(b, I64(_OPEN), self.state, "release")
        b.atomic_rmw("add", self.gen, I32(1), "seq_cst")
        asleep = self.load(b, self.sleepers, "seq_cst")
        b.cbranch(b.icmp_unsigned("!=", asleep, I32(0)), blk["wake"], blk["work"])
        b.position_at_end(blk["wake"])
        self.futex(b, self.gen, _FUTEX_WAKE_PRIVATE, I32(_WAKE_ALL))
        b.branch(blk["work"])

        # work alongside the workers, then close the region and wait for those inside
        b.position_at_end(blk["work"])
        b.call(self.run_claimed, [])
        before = b.atomic_rmw("and", self.state, I64(_ACTIVE_MASK), "acq_rel")
        inside = b.and_(before, I64(_ACTIVE_MASK))
        b.cbranch(b.icmp_unsigned("!=", inside, I64(0)), blk["wait"], blk["finish"])

        # wait: spin (as long as idle workers do), then sleep on the count's futex word, so
        # that a worker which lost its core to another process can be moved onto this one
        b.position_at_end(blk["wait"])
        limit = self.load(b, self.spin, "monotonic")
        b.branch(blk["wait_spin"])
        b.position_at_end(blk["wait_spin"])
        spins = b.phi(I64)
        spins.add_incoming(I64(0), blk["wait"])
        remaining = self.load(b, self.state, "acquire")
        b.cbranch(b.icmp_unsigned("==", remaining, I64(0)), blk["finish"], blk["wait_pause"])
        b.position_at_end(blk["wait_pause"])
        self.pause(b)
        more = b.add(spins, I64(1))
        spins.add_incoming(more, blk["wait_pause"])
        b.cbranch(b.icmp_signed("<", more, limit), blk["wait_spin"], blk["wait_sleep"])

        b.position_at_end(blk["wait_sleep"])
        self.store(b, I32(1), self.waiter, "seq_cst")
        b.branch(blk["wait_check"])
        b.position_at_end(blk["wait_check"])
        count = self.load(b, self.state, "seq_cst")
        b.cbranch(b.icmp_unsigned("==", count, I64(0)), blk["wait_done"], blk["wait_futex"])
        b.position_at_end(blk["wait_futex"])
        self.futex(b, self.state_count_word(b), _FUTEX_WAIT_PRIVATE, b.trunc(count, I32))
        b.branch(blk["wait_check"])
        b.position_at_end(blk["wait_done"])
        self.store(b, I32(0), self.waiter, "monotonic")
        b.branch(blk["finish"])

        b.position_at_end(blk["finish"])
        regions = self.stat(0)  # only the lock holder writes it; stats() may read it
        self.store(b, b.add(self.load(b, regions, "monotonic"), I64(1)), regions, "monotonic")
        self.unlock(b)
        b.branch(blk["done"])

        # serial: every chunk in order, in the calling thread
        b.position_at_end(blk["serial"])
        b.branch(blk["serial_body"])
        b.position_at_end(blk["serial_body"])
        k = b.phi(I64, "k")
        k.add_incoming(I64(0), blk["serial"])
        grain_s = b.select(b.icmp_signed("<", grain, I64(1)), I64(1), grain)
        begin = b.mul(k, grain_s)
        end = b.add(begin, grain_s)
        end = b.select(b.icmp_signed("<", end, n), end, n)
        b.call(task, [ctx, begin, end])
        k_next = b.add(k, I64(1))
        k.add_incoming(k_next, blk["serial_body"])
        b.cbranch(b.icmp_signed("<", end, n), blk["serial_body"], blk["done"])

        b.position_at_end(blk["done"])
        b.ret_void()

    def _build_control(self):
        """Entry points for Python (and `llgrad_num_threads` for generated code)."""

        fn = self._function(NUM_THREADS, NUM_THREADS_TYPE)
        b = ir.IRBuilder(fn.append_basic_block())
        b.ret(self.load(b, self.num_threads, "monotonic"))

        # set the thread count (and let the next region try pthread_create again after a
        # failure); parked workers re-check it
        fn = self._function("llgrad_pool_set_num_threads", ir.FunctionType(VOID, [I64]))
        b = ir.IRBuilder(fn.append_basic_block())
        self.store(b, I64(0), self.stat(2), "monotonic")
        self.store(b, fn.args[0], self.num_threads, "seq_cst")
        b.atomic_rmw("add", self.park, I32(1), "seq_cst")
        self.futex(b, self.park, _FUTEX_WAKE_PRIVATE, I32(_WAKE_ALL))
        b.ret_void()

        fn = self._function("llgrad_pool_set_spin", ir.FunctionType(VOID, [I64]))
        b = ir.IRBuilder(fn.append_basic_block())
        self.store(b, fn.args[0], self.spin, "monotonic")
        b.ret_void()

        # take / release the dispatch lock (around fork)
        fn = self._function("llgrad_pool_lock", ir.FunctionType(VOID, []))
        b = ir.IRBuilder(fn.append_basic_block())
        b.call(self.lock_blocking, [])
        b.ret_void()
        fn = self._function("llgrad_pool_unlock", ir.FunctionType(VOID, []))
        b = ir.IRBuilder(fn.append_basic_block())
        self.unlock(b)
        b.ret_void()

        # in a forked child (the lock held by the fork handler): no workers exist any more,
        # nor any thread that was waiting for the lock, so every word starts afresh
        fn = self._function("llgrad_pool_after_fork_child", ir.FunctionType(VOID, []))
        b = ir.IRBuilder(fn.append_basic_block())
        for g, t in ((self.created, I64), (self.state, I64), (self.sleepers, I32),
                     (self.waiter, I32), (self.exit, I32)):
            self.store(b, ir.Constant(t, 0), g, "monotonic")
        self.store(b, I32(0), self.lock, "release")
        b.ret_void()

        # statistics: out[0] regions run in parallel, out[1] calls that found the pool busy,
        # out[2] pthread_create's last error, out[3] workers created, out[4] asleep now
        fn = self._function("llgrad_pool_stats", ir.FunctionType(VOID, [I64.as_pointer()]))
        b = ir.IRBuilder(fn.append_basic_block())
        out, = fn.args
        values = [self.load(b, self.stat(i), "monotonic") for i in range(3)]
        values.append(self.load(b, self.created, "monotonic"))
        values.append(b.zext(self.load(b, self.sleepers, "monotonic"), I64))
        for i, value in enumerate(values):
            b.store(value, b.gep(out, [I32(i)]))
        b.ret_void()

        # shutdown: with no region in flight, tell the workers to exit, wake and join them;
        # afterwards every region runs serially (thread count 1)
        fn = self._function("llgrad_pool_shutdown", ir.FunctionType(VOID, []))
        entry = fn.append_basic_block("entry")
        join = fn.append_basic_block("join")
        joined = fn.append_basic_block("joined")
        b = ir.IRBuilder(entry)
        b.call(self.lock_blocking, [])
        self.store(b, I64(1), self.num_threads, "seq_cst")
        self.store(b, I32(1), self.exit, "seq_cst")
        for word in (self.gen, self.park):
            b.atomic_rmw("add", word, I32(1), "seq_cst")
            self.futex(b, word, _FUTEX_WAKE_PRIVATE, I32(_WAKE_ALL))
        count = self.load(b, self.created, "monotonic")
        b.cbranch(b.icmp_signed(">", count, I64(0)), join, joined)
        b.position_at_end(join)
        i = b.phi(I64)
        i.add_incoming(I64(0), entry)
        handle = b.load(b.gep(self.handles, [I32(0), i]))
        b.call(self.pthread_join, [handle, ir.Constant(I8P.as_pointer(), None)])
        i_next = b.add(i, I64(1))
        i.add_incoming(i_next, join)
        b.cbranch(b.icmp_signed("<", i_next, count), join, joined)
        b.position_at_end(joined)
        self.store(b, I64(0), self.created, "monotonic")
        self.store(b, I32(0), self.exit, "seq_cst")
        self.unlock(b)
        b.ret_void()


def build_module(triple=None):
    """The pool's LLVM module (llvmlite.ir)."""
    _import_ir()
    return _PoolModule(triple or llvm.target("host").triple).build()


# ---- Python side ------------------------------------------------------------------------------

_lock = threading.RLock()
_code = None          # the pool's LoadedCode, never freed
_entries = {}         # name -> ctypes function
_num_threads = None   # the configured count (None: not resolved yet)
_closed = False       # shut down at interpreter exit
_VOID = ctypes.CFUNCTYPE(None)
_SET = ctypes.CFUNCTYPE(None, ctypes.c_int64)
_STATS = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _threads_from_env(value):
    """The thread count LLGRAD_NUM_THREADS=`value` asks for (None if unset)."""
    if value is None:
        return None
    text = value.strip()
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1 or count > MAX_THREADS:
        raise ValueError(f"LLGRAD_NUM_THREADS={value!r} is not a thread count (an integer "
                         f"from 1 to {MAX_THREADS})")
    return count


def _default_num_threads():
    from_env = _threads_from_env(os.environ.get("LLGRAD_NUM_THREADS"))
    if from_env is not None:
        return from_env
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return max(1, min(count, MAX_THREADS))


def _check_count(n):
    """`n` as an int if it is a valid thread count (an integer, NumPy's included, from 1 to
    MAX_THREADS), else a ValueError naming it."""
    try:
        count = None if isinstance(n, bool) else operator.index(n)
    except TypeError:
        count = None
    if count is None or not 1 <= count <= MAX_THREADS:
        raise ValueError(f"number of threads must be an integer from 1 to {MAX_THREADS}, "
                         f"got {n!r}")
    return count


def _resolve_libc():
    """pthread_create & co. must resolve when the pool is loaded. They come from the process
    (Python links libc); should one not, its address is taken from ctypes' view of the process
    and registered."""
    needed = ("pthread_create", "pthread_join", "pthread_sigmask", "syscall", "sched_yield")
    libc = None
    for name in needed:
        if not llvm.symbol_address(name):
            libc = libc or ctypes.CDLL(None)
            llvm.register_symbol(name, ctypes.cast(getattr(libc, name), ctypes.c_void_p).value)


def ensure_pool():
    """Compile and load the pool (once per process) and register llgrad_parallel_for and
    llgrad_num_threads for modules compiled afterwards. Returns the pool's LoadedCode."""
    global _code, _num_threads
    if _code is not None:
        return _code
    with _lock:
        if _code is not None:
            return _code
        if _num_threads is None:
            _num_threads = _default_num_threads()
        tgt = llvm.target("host")
        _resolve_libc()
        from . import cache  # the pool's object code is cached on disk like every kernel

        code, _, _ = cache.compile_cached("thread_pool", tgt, "step", lambda: (
            str(build_module(tgt.triple)), {"symbols": [PARALLEL_FOR, NUM_THREADS]}))
        # The pool's code is never unmapped: workers (and daemon threads inside a region at
        # exit) run it. One extra reference keeps the engine alive through interpreter teardown.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(code))
        for name, proto in (("llgrad_pool_set_num_threads", _SET),
                            ("llgrad_pool_set_spin", _SET),
                            ("llgrad_pool_lock", _VOID), ("llgrad_pool_unlock", _VOID),
                            ("llgrad_pool_after_fork_child", _VOID),
                            ("llgrad_pool_shutdown", _VOID), ("llgrad_pool_stats", _STATS)):
            _entries[name] = proto(code.address(name))
        _entries["llgrad_pool_set_num_threads"](_num_threads)
        llvm.register_symbol(PARALLEL_FOR, code.address(PARALLEL_FOR))
        llvm.register_symbol(NUM_THREADS, code.address(NUM_THREADS))
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                            after_in_child=_after_fork_in_child)
        atexit.register(shutdown)
        _code = code
    return _code


def set_num_threads(n):
    """Use `n` threads (the caller and n - 1 workers) for parallel regions. Workers are created
    by the first region that needs them and kept; extra ones are parked."""
    global _num_threads
    n = _check_count(n)
    with _lock:
        _num_threads = n
        if _code is not None and not _closed:
            _entries["llgrad_pool_set_num_threads"](n)


def get_num_threads():
    """The thread count parallel regions use (LLGRAD_NUM_THREADS, else the CPUs this process
    may run on, unless set_num_threads changed it)."""
    global _num_threads
    with _lock:
        if _num_threads is None:
            _num_threads = _default_num_threads()
        return _num_threads


def set_spin_iterations(count):
    """Pause iterations idle workers spin before sleeping (default DEFAULT_SPIN)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"spin iterations must be a non-negative integer, got {count!r}")
    ensure_pool()
    _entries["llgrad_pool_set_spin"](count)


def stats():
    """What the pool has done: regions run in parallel, calls that found it busy (and ran
    serially), workers created, workers asleep now, pthread_create's last error."""
    ensure_pool()
    out = (ctypes.c_int64 * 5)()
    _entries["llgrad_pool_stats"](ctypes.addressof(out))
    return {"parallel_regions": out[0], "busy_fallbacks": out[1], "spawn_error": out[2],
            "workers": out[3], "sleeping": out[4]}


def shutdown():
    """Stop and join every worker (at interpreter exit). Regions run serially afterwards."""
    global _closed
    with _lock:
        if _code is None or _closed:
            return
        _closed = True
        _entries["llgrad_pool_shutdown"]()


# Fork: the forking thread takes the Python lock and the dispatch lock (waiting for a region in
# flight on another thread: ctypes releases the GIL, the region does not need it), so the child
# starts from a quiescent pool; the child then forgets the workers it does not have.

def _before_fork():
    _lock.acquire()
    if _code is not None:
        _entries["llgrad_pool_lock"]()


def _after_fork_in_parent():
    if _code is not None:
        _entries["llgrad_pool_unlock"]()
    _lock.release()


def _after_fork_in_child():
    global _lock
    if _code is not None:
        _entries["llgrad_pool_after_fork_child"]()
    _lock = threading.RLock()  # the parent's lock object was held by the forking thread
