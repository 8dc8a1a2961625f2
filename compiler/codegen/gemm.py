"""Matrix multiplication C = A @ B (+ epilogue) in LLVM IR: a BLIS-style packed, cache-blocked
loop nest around a register-blocked micro-kernel.

Loop nest (Goto / van Zee & van de Geijn), outermost first:

    jc over N by NC        a block of B columns (the packed block lives in L3)
      pc over K by KC      pack B[pc:pc+kc, jc:jc+nc] into NR-column panels, kc x NR each
        ic over M by MC    pack A[ic:ic+mc, pc:pc+kc] into MR-row panels, kc x MR each (L2)
          jr over nc by NR   one B panel (kc x NR, stays in L1)
            ir over mc by MR   micro-kernel: an MR x NR tile of C in 2*MR vector registers

The micro-kernel keeps MR x NR accumulators as phi nodes and per k step does 2 vector loads of
B, MR broadcasts of A and 2*MR fused multiply-adds; its shape comes from the target's vector
width and register count (`blocking`); edge tiles of at most MR/2 rows or one vector of
columns run smaller kernels of the same code. Packing absorbs any element strides (a transposed
operand is only strides; row-major A and transposed B are transposed in registers, 8x8 blocks
on AVX2) and pads panels with zeros, so the micro-kernel never reads outside A or B. Edge tiles
go through tile-sized buffers (masked loads in, plain stores and a scalar tail out).

C is written once per K block: the tile's sum (plus C when accumulating or after the first
block) in registers, one store. After the last K block the epilogue (bias, relu, mask) runs
on those sums before the store, each step behind one branch per tile on its flag, so it costs
no pass over C in memory; a mask's rows are prefetched with C's. The summation
order over k is fixed by the shapes (k ascending within a KC block, blocks added to C in
order), not by layouts, strides or which kernel ran: the same inputs give the same bits.

Helpers are internal `noinline` functions (packing, one tile) called from the loop nest,
which keeps the module small: compile time matters, a training step is compiled cold.
"""
from collections import namedtuple
from contextlib import contextmanager

from llvmlite import ir

from .emit import NUM_THREADS, PARALLEL_FOR, PARALLEL_FOR_TYPE, TASK_TYPE
from .types import F32, F64, I1, I8P, I32, I64, VOID, constant, declare, intrinsic, splat

VERSION = 5  # part of the symbol name: bump when generated code changes its results or layout

_DTYPES = {"float32": (F32, 4, "f32"), "float64": (F64, 8, "f64")}

# KC x NR of B (16 KiB for 6x16 float32) sits in L1 beside an A panel; MC x KC of A
# (~150 KiB) in L2; NC bounds the packed B block (and the workspace) for very wide B.
KC = 256
MC_ELEMENTS = 144
NC_ELEMENTS = 4096

Blocking = namedtuple("Blocking", "lanes mr nr kc mc nc")

# Threads: a GEMM of at least PARALLEL_MIN_MNK multiply-adds (~55 us on one Zen 3 core at
# float32) runs its packing and row chunks as regions of the native thread pool; smaller ones
# run them in the caller. Row chunks: at least MIN_CHUNKS and an even number (dynamic claiming
# then balances 2 or 4 threads to within a panel), at most MC rows each.
PARALLEL_MIN_MNK = 1 << 22
MIN_CHUNKS = 4
# Smaller GEMMs whose rows fit one MC block (a training step's M=32 batch) split over column
# chunks instead, from COLUMN_MIN_MNK multiply-adds (~3 us on one core) up: one region per K
# block, each chunk packing its own B panels and all of A (at most MC rows) and computing its
# columns of C, so no chunk waits for another's packing and packed B never crosses cores.
# One chunk per thread, at most MAX_COLUMN_CHUNKS (each one packs A again).
COLUMN_MIN_MNK = 1 << 17
MAX_COLUMN_CHUNKS = 4
MAX_SLOTS = 16  # A slots in the workspace: at most this many row chunks run at once
PACK_B_CHUNKS = 8  # B is packed in at most this many chunks of at least PACK_B_MIN_PANELS
PACK_B_MIN_PANELS = 4
_DIM_CLAMP = 1 << 20  # M, N, K clamped before their product is compared (no overflow)


def blocking(target, dtype_name):
    """Micro-kernel shape and cache blocks for `target`: NR is two vectors wide; MR rows of
    2 accumulators each, plus the 2 B vectors and 1 broadcast, fill the register file
    (6 x 16 for AVX2 float32, 14 x 32 for AVX-512 float32, 6 x 8 for SSE2 float32)."""
    _, itemsize, _ = _DTYPES[dtype_name]
    lanes = target.lanes(itemsize)
    nr = 2 * lanes
    # 512-bit vectors mean AVX-512, which always has 32 registers (the named "avx512" target
    # carries its features in the CPU name only, so its vector_registers says 16)
    registers = max(target.vector_registers, 32 if target.vector_bits >= 512 else 0)
    mr = (registers - 3) // 2
    mc = mr * max(1, MC_ELEMENTS // mr)
    nc = nr * max(1, NC_ELEMENTS // nr)
    return Blocking(lanes, mr, nr, KC, mc, nc)


def gemm_name(target, dtype_name):
    """The function's symbol: named by what decides its results and layout, since its object
    code is shared between modules (and two objects defining one symbol: the last one wins)."""
    bl = blocking(target, dtype_name)
    return f"llgrad_gemm_{_DTYPES[dtype_name][2]}_v{VERSION}_{bl.mr}x{bl.nr}_k{bl.kc}"


def _round_up(x, m):
    return -(-x // m) * m


def _line_elements(itemsize):
    return 64 // itemsize


Plan = namedtuple("Plan", "parallel m_chunks slots columns")


def plan(M, N, K, target, dtype_name):
    """How the GEMM of these shapes splits its work (the IR computes the same at run time):
    whether its packing and row chunks go to the thread pool (`parallel`), its row chunks per
    block, its A slots, and whether it runs column chunks instead (`columns`: one per thread,
    each slot then holds all of A's rows)."""
    bl = blocking(target, dtype_name)
    panels = -(-max(M, 0) // bl.mr)
    serial_chunks = -(-panels // (bl.mc // bl.mr))
    mnk = min(M, _DIM_CLAMP) * min(N, _DIM_CLAMP) * min(K, _DIM_CLAMP)
    parallel = mnk >= PARALLEL_MIN_MNK and panels >= 2
    b_panels = -(-min(max(N, 0), bl.nc) // bl.nr)
    if not parallel and _by_columns(mnk, serial_chunks, b_panels):
        return Plan(False, 1, min(b_panels, MAX_COLUMN_CHUNKS), True)
    if not parallel:
        return Plan(False, serial_chunks, 1, False)
    chunks = min(panels, _round_up(max(serial_chunks, MIN_CHUNKS), 2))
    return Plan(True, chunks, min(chunks, MAX_SLOTS), False)


def _by_columns(mnk, serial_chunks, b_panels):
    """Whether a GEMM too small for the row split runs over column chunks (see
    COLUMN_MIN_MNK): its rows are one MC block and its first B block has 2 panels or more."""
    return mnk >= COLUMN_MIN_MNK and serial_chunks == 1 and b_panels >= 2


def gemm_workspace_elements(M, N, K, target, dtype_name):
    """Elements of T the caller provides as `workspace`: one packed block of B (kc x nc, panels
    padded to NR), one A slot (a packed block of one row chunk's rows, panels padded to MR, plus a
    vector of slack: packing A may store up to lanes-1 elements past its last panel; rounded
    up to whole cache lines) per row chunk that may run at once, and a claim word per slot."""
    bl = blocking(target, dtype_name)
    itemsize = _DTYPES[dtype_name][1]
    kc = min(max(K, 0), bl.kc)
    work = plan(M, N, K, target, dtype_name)
    slot = _round_up(kc * _chunk_rows(M, work.m_chunks, bl.mr) + bl.lanes,
                     _line_elements(itemsize))
    return kc * _round_up(min(max(N, 0), bl.nc), bl.nr) + work.slots * (slot + 1)


def _chunk_rows(M, m_chunks, mr):
    """Rows of A one chunk packs at most: chunk c covers panels [c*P/n, (c+1)*P/n), so at most
    ceil(P/n) panels (never more than MC rows: there are at least as many chunks as MC blocks).
    An A slot holds that many, not MC: with 4 chunks over 128 rows a slot is 36 rows, not 132."""
    panels = -(-max(M, 0) // mr)
    return -(-panels // max(m_chunks, 1)) * mr


def build_gemm(module, dtype_name, target):
    """Define (once per module) the GEMM function for `dtype_name` and `target`:

    void gemm(i64 M, i64 N, i64 K, T* A, i64 a_rs, i64 a_cs, T* B, i64 b_rs, i64 b_cs,
              T* C, i64 c_rs, i32 accumulate, T* bias, i64 bias_rs, i64 bias_cs, i32 relu,
              T* mask, i64 mask_rs, T* workspace)
    """
    name = gemm_name(target, dtype_name)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return _Gemm(module, name, _DTYPES[dtype_name][0], blocking(target, dtype_name)).function


def _i64(value):
    return ir.Constant(I64, value)


class _LoopID(ir.values.MDValue):
    """`llvm.loop` metadata: a node whose first operand is itself (so each loop's is distinct),
    which llvmlite cannot express. Compared by identity, since its operands contain itself."""

    def __init__(self, module, properties):
        super().__init__(module, [], name=str(len(module.metadata)))
        self.operands = (self,) + tuple(properties)

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other


# Argument lists: (name, type); "T" is T*, "context" the tile context's pointer.
_GEMM_ARGS = [("M", I64), ("N", I64), ("K", I64), ("A", "T"), ("a_rs", I64), ("a_cs", I64),
              ("B", "T"), ("b_rs", I64), ("b_cs", I64), ("C", "T"), ("c_rs", I64),
              ("accumulate", I32), ("bias", "T"), ("bias_rs", I64), ("bias_cs", I64),
              ("relu", I32), ("mask", "T"), ("mask_rs", I64), ("workspace", "T")]
_PACK_ARGS = [("dst", "T"), ("src", "T"), ("line_stride", I64), ("depth_stride", I64),
              ("extent", I64), ("depth", I64), ("width", I64)]
_TRANSPOSER_ARGS = [("panel", "T"), ("first", "T"), ("line_stride", I64), ("width", I64),
                    ("valid", I64), ("line0", I64), ("depth", I64)]
_TILE_ARGS = [("context", "context"), ("kc", I64), ("a_panel", "T"), ("b_panel", "T"),
              ("i", I64), ("j", I64), ("mr", I64), ("nr", I64), ("flags", I32)]
# what stays the same for every tile, passed by one pointer to keep the per-tile call cheap
_CONTEXT = [("C", "T"), ("c_rs", I64), ("bias", "T"), ("bias_rs", I64), ("bias_cs", I64),
            ("mask", "T"), ("mask_rs", I64)]
_FLAGS = ["load_c", "do_bias", "do_relu", "do_mask"]  # bits of the tile's `flags`
_NOALIAS = {"C", "workspace", "dst", "panel"}  # written; never overlap what is read
# A task of the thread pool: task(region context, first chunk, end)
_TASK_ARGS = [("region", I8P), ("begin", I64), ("end", I64)]
# What the tasks of one (jc, pc) block read (written by the caller before each region)
_REGION = [("a_block", "T"), ("a_rs", I64), ("a_cs", I64), ("b_block", "T"), ("b_rs", I64),
           ("b_cs", I64), ("context", "context"), ("b_pack", "T"), ("slots", "T"),
           ("slot_stride", I64), ("claims", I32.as_pointer()), ("n_slots", I64), ("M", I64),
           ("panels", I64), ("m_chunks", I64), ("jc", I64), ("nc", I64), ("kc", I64),
           ("flags", I32), ("n_chunks", I64), ("by_columns", I64)]
_REGION_INDEX = {name: index for index, (name, _) in enumerate(_REGION)}


class _Gemm:
    """Emits the GEMM function and its internal helpers (packing A or B, its transposing copy,
    one C tile). The helpers are `noinline`: kept whole, LLVM's loop unswitching would otherwise
    copy the tile code once per combination of loop-invariant epilogue flags, which costs
    compile time and buys nothing (the flags are tested once per tile)."""

    def __init__(self, module, name, scalar, bl):
        self.module, self.scalar, self.bl = module, scalar, bl
        self.vec = ir.VectorType(scalar, bl.lanes)
        self.vec_name = f"v{bl.lanes}{'f32' if scalar is F32 else 'f64'}"
        self.align = 4 if scalar is F32 else 8  # element alignment: vector loads are unaligned
        self.nv = bl.nr // bl.lanes  # vectors per tile row (2)
        self.no_unroll = None
        self.context = ir.LiteralStructType([self._type(t) for _, t in _CONTEXT])
        self.transposer = self._transposer(f"{name}.transpose_lines")
        self.pack = self._pack(f"{name}.pack")
        self.tile = self._tile(f"{name}.tile")
        self.region = ir.LiteralStructType([self._type(t) for _, t in _REGION])
        self.pack_b_task = self._pack_b_task(f"{name}.pack_b")
        self.chunks_task = self._chunks_task(f"{name}.chunks")
        assert self.chunks_task.function_type == TASK_TYPE
        self.parallel_for = declare(module, PARALLEL_FOR, PARALLEL_FOR_TYPE)
        self.num_threads = declare(module, NUM_THREADS, ir.FunctionType(I64, []))
        self.function = self._define(name, _GEMM_ARGS, internal=False)
        self._driver()

    # ---- small IR helpers -------------------------------------------------------------------

    def _define(self, name, args, internal=True):
        """Start function `name`; its arguments by name in self.p, the builder in self.b."""
        types = [self._type(t) for _, t in args]
        fn = ir.Function(self.module, ir.FunctionType(VOID, types), name)
        for arg, (arg_name, _) in zip(fn.args, args):
            arg.name = arg_name
            if isinstance(arg.type, ir.PointerType):
                arg.add_attribute("captures(none)")
                if arg_name in _NOALIAS:
                    arg.add_attribute("noalias")
        if internal:
            fn.linkage = "internal"
            fn.attributes.add("noinline")
        self.p = {arg_name: arg for arg, (arg_name, _) in zip(fn.args, args)}
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        return fn

    def _type(self, t):
        """An argument's LLVM type: "T" is T*, "context" the tile context's pointer."""
        if isinstance(t, str):
            return self.scalar.as_pointer() if t == "T" else self.context.as_pointer()
        return t

    def at(self, ptr, offset):
        return self.b.gep(ptr, [offset])

    def min(self, x, y):
        return self.b.select(self.b.icmp_signed("<", x, y), x, y)

    def load_vec(self, ptr, lane_mask=None):
        """A vector load from an element pointer; with `lane_mask` only those lanes are read."""
        vptr = self.b.bitcast(ptr, self.vec.as_pointer())
        if lane_mask is None:
            return self.b.load(vptr, align=self.align)
        fn = declare(self.module, f"llvm.masked.load.{self.vec_name}.p0",
                     ir.FunctionType(self.vec, [vptr.type, I32, lane_mask.type, self.vec]))
        return self.b.call(fn, [vptr, I32(self.align), lane_mask, constant(self.vec, 0)])

    def store_vec(self, value, ptr):
        # no masked stores anywhere: AMD CPUs run them as slow microcode
        self.b.store(value, self.b.bitcast(ptr, self.vec.as_pointer()), align=self.align)

    @contextmanager
    def loop(self, start, stop, step, name, plain=False):
        """for (i = start; i < stop; i += step): yields i; the builder ends after the loop.
        A `plain` loop is left as written (no unrolling, no vectorization): the copy loops are
        memory bound, and transforming them only costs compile time."""
        b = self.b
        before = b.block
        head = b.append_basic_block(f"{name}.head")
        body = b.append_basic_block(f"{name}.body")
        done = b.append_basic_block(f"{name}.done")
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(I64, name)
        i.add_incoming(start, before)
        b.cbranch(b.icmp_signed("<", i, stop), body, done)
        b.position_at_end(body)
        yield i
        i.add_incoming(b.add(i, step), b.block)
        latch = b.branch(head)
        if plain:
            latch.set_metadata("llvm.loop", _LoopID(self.module, self._plain_loop()))
        b.position_at_end(done)

    def _plain_loop(self):
        if self.no_unroll is None:
            m = self.module
            self.no_unroll = [
                m.add_metadata([ir.MetaDataString(m, "llvm.loop.unroll.disable")]),
                m.add_metadata([ir.MetaDataString(m, "llvm.loop.vectorize.enable"), I1(0)])]
        return self.no_unroll

    def when(self, cond, values, then):
        """`then(values)` if `cond`, else `values`, merged by phis (values stay in
        registers)."""
        b = self.b
        before = b.block
        with b.if_then(cond):
            new = then(values)
            after = b.block
        merged = []
        for old, value in zip(values, new):
            phi = b.phi(old.type)
            phi.add_incoming(old, before)
            phi.add_incoming(value, after)
            merged.append(phi)
        return merged

    # ---- packing ------------------------------------------------------------------------------

    def _pack(self, name):
        """Pack an `extent` x `depth` block of a strided matrix into panels of `width` lines:
        panel p holds lines p*width... as depth x width, line index fastest; the last panel is
        padded with zero lines, so the micro-kernel never needs to know about edges.

        void pack(T* dst, T* src, i64 line_stride, i64 depth_stride, i64 extent, i64 depth,
                  i64 width)

        For A the lines are rows (width MR, depth along k); for B they are columns (width NR):
        one function for both halves the packing code to compile. Lines are handled in groups
        of one vector (`lanes` lines, the last group padded), and vector stores may run up to
        lanes-1 elements past a panel when width is not a multiple of lanes: stores go in an
        order where what spills over is rewritten right after, and the workspace has that
        much slack at its end."""
        fn = self._define(name, _PACK_ARGS)
        b, p, lanes = self.b, self.p, self.bl.lanes
        depth, line_stride, depth_stride = p["depth"], p["line_stride"], p["depth_stride"]
        width = p["width"]
        groups = b.sdiv(b.add(width, _i64(lanes - 1)), _i64(lanes))
        most_groups = max(-(-self.bl.mr // lanes), self.nv)
        zero = constant(self.scalar, 0)
        with self.loop(_i64(0), p["extent"], width, "line0") as line0:
            valid = b.sub(p["extent"], line0)
            panel = self.at(p["dst"], b.mul(line0, depth))
            first = self.at(p["src"], b.mul(line0, line_stride))

            def slot(k, line):  # where element (k, line) of this panel goes
                return self.at(panel, b.add(b.mul(k, width), line))

            def by_lines(start):
                # scalar, line by line from depth `start`: reads each line in order (lines
                # past the panel's valid ones re-read the last and store 0), and one load and
                # store per step is cheap for LLVM to analyse
                with self.loop(_i64(0), width, _i64(1), "j", plain=True) as j:
                    keep = b.icmp_signed("<", j, valid)
                    line = self.at(first, b.mul(self.min(j, b.sub(valid, _i64(1))), line_stride))
                    with self.loop(start, depth, _i64(1), "k", plain=True) as k:
                        x = b.load(self.at(line, b.mul(k, depth_stride)))
                        b.store(b.select(keep, x, zero), slot(k, j))

            def adjacent_lines(masked):
                # lines next to each other (B row-major, A column-major): copy vectors, groups
                # in ascending order; in a partial panel masked loads read only the valid
                # lines (0 for the rest)
                index = ir.VectorType(I64, lanes)
                with self.loop(_i64(0), depth, _i64(1), "kv", plain=True) as k:
                    row = self.at(first, b.mul(k, depth_stride))
                    for g in range(most_groups):
                        mask = None
                        if masked:
                            mask = b.icmp_signed("<", ir.Constant(index, list(range(
                                g * lanes, (g + 1) * lanes))), splat(b, valid, lanes))
                        with b.if_then(b.icmp_signed("<", _i64(g), groups)):
                            self.store_vec(self.load_vec(self.at(row, _i64(g * lanes)), mask),
                                           slot(k, _i64(g * lanes)))

            def contiguous_lines(blocks_end):
                # each line contiguous along depth (A row-major, B transposed): by transposes
                # of lanes x lanes blocks, one group of lines at a time. Groups go last to
                # first: only the last can spill over into the next depth step's first
                # lines, which group 0 then rewrites.
                with self.loop(_i64(0), groups, _i64(1), "group", plain=True) as g:
                    line0_g = b.mul(b.sub(b.sub(groups, _i64(1)), g), _i64(lanes))
                    b.call(self.transposer, [panel, first, line_stride, width, valid, line0_g,
                                             blocks_end])

            with b.if_else(b.icmp_signed("==", line_stride, _i64(1))) as (adjacent, other):
                with adjacent:
                    with b.if_else(b.icmp_signed(">=", valid, b.mul(groups, _i64(lanes)))) as (
                            whole, part):
                        with whole:
                            adjacent_lines(masked=False)
                        with part:
                            adjacent_lines(masked=True)
                with other:
                    # whole blocks of `lanes` depth steps by transposes when lines are
                    # contiguous, the rest (or everything) line by line
                    blocks_end = b.select(b.icmp_signed("==", depth_stride, _i64(1)),
                                          b.and_(depth, _i64(-lanes)), _i64(0))
                    contiguous_lines(blocks_end)
                    by_lines(blocks_end)
        b.ret_void()
        return fn

    def _transposer(self, name):
        """void transpose_lines(T* panel, T* first, i64 line_stride, i64 width, i64 valid,
                                i64 line0, i64 depth)

        Pack lines line0 ... line0+lanes-1 of a panel whose lines are contiguous along depth,
        for depth steps [0, depth) (a multiple of lanes): per `lanes` steps, one vector load
        per line and a transpose in registers. Lines from `valid` on are stored as 0 (their
        loads repeat line valid-1, in bounds). Shared by the A and B packers: the transpose
        is the costliest code here to compile."""
        fn = self._define(name, _TRANSPOSER_ARGS)
        b, p, lanes = self.b, self.p, self.bl.lanes
        zeros = constant(self.vec, 0)
        last = b.sub(p["valid"], _i64(1))
        lines, keep = [], []
        for l in range(lanes):
            line = b.add(p["line0"], _i64(l))
            lines.append(self.at(p["first"], b.mul(self.min(line, last), p["line_stride"])))
            keep.append(b.icmp_signed("<", line, p["valid"]))
        with self.loop(_i64(0), p["depth"], _i64(lanes), "kt", plain=True) as k0:
            columns = self.transpose([
                b.select(keep[l], self.load_vec(self.at(lines[l], k0)), zeros)
                for l in range(lanes)])
            for t in range(lanes):
                self.store_vec(columns[t], self.at(p["panel"], b.add(
                    b.mul(b.add(k0, _i64(t)), p["width"]), p["line0"])))
        b.ret_void()
        return fn

    def transpose(self, rows):
        """Transpose a lanes x lanes block held as `lanes` vectors, in the x86 way (every step
        one unpack or 128-bit permute instruction, cheap to compile too): first each group of
        e rows (e elements per 128 bits) transposes its e x e blocks within 128-bit lanes by
        unpacks, then whole 128-bit blocks are transposed by swapping the off-diagonal d x d
        blocks of every 2d x 2d block, for d = e, 2e, ... lanes/2."""
        b, n = self.b, self.bl.lanes
        e = min(n, 16 // (4 if self.scalar is F32 else 8))

        def shuffle(x, y, pattern):  # pattern(base of a 128-bit lane) -> indices within it
            mask = [i for base in range(0, n, e) for i in pattern(base)]
            return b.shuffle_vector(x, y, ir.Constant(ir.VectorType(I32, n), mask))

        def unpack(x, y, half, size):  # unpack{lo,hi}{ps,pd}: size 1 or 2 elements
            return shuffle(x, y, lambda base: [
                (n if (i // size) % 2 else 0) + base + half * e // 2 + i // (2 * size) * size
                + i % size for i in range(e)])

        rows = list(rows)
        for g in range(0, n, e):
            r = rows[g:g + e]
            if e == 4:
                t = [unpack(r[0], r[1], 0, 1), unpack(r[0], r[1], 1, 1),
                     unpack(r[2], r[3], 0, 1), unpack(r[2], r[3], 1, 1)]
                r = [unpack(t[0], t[2], 0, 2), unpack(t[0], t[2], 1, 2),
                     unpack(t[1], t[3], 0, 2), unpack(t[1], t[3], 1, 2)]
            else:
                r = [unpack(r[0], r[1], 0, 1), unpack(r[0], r[1], 1, 1)]
            rows[g:g + e] = r
        d = e
        while d < n:
            low = [l if l & d == 0 else n + l - d for l in range(n)]
            high = [l + d if l & d == 0 else n + l for l in range(n)]
            for i in range(n):
                if i & d == 0:
                    x, y = rows[i], rows[i + d]
                    rows[i] = b.shuffle_vector(x, y, ir.Constant(ir.VectorType(I32, n), low))
                    rows[i + d] = b.shuffle_vector(x, y, ir.Constant(ir.VectorType(I32, n), high))
            d *= 2
        return rows

    # ---- one C tile: micro-kernel and update ------------------------------------------------

    def _tile(self, name):
        """void tile(context*, kc, a_panel, b_panel, i, j, mr, nr, flags)

        The product of one packed A panel and one B panel, added to C[i:i+mr, j:j+nr] (or
        replacing it unless the load_c flag), with the epilogue steps flagged."""
        fn = self._define(name, _TILE_ARGS)
        b, bl, p = self.b, self.bl, self.p
        for index, (field, _) in enumerate(_CONTEXT):
            p[field] = b.load(b.gep(p["context"], [I32(0), I32(index)]), name=field)
        for bit, flag in enumerate(_FLAGS):
            p[flag] = b.icmp_signed("!=", b.and_(p["flags"], I32(1 << bit)), I32(0), name=flag)
        # tile-sized buffers for edge tiles (C, bias and mask staged in and out) and for a
        # bias with column stride != 1
        self.buffers = {name: b.alloca(self.scalar, bl.mr * bl.nr, f"{name}_tile")
                        for name in ("C", "bias", "mask")}
        # the C tile is loaded or written after the k loop: start fetching it now (from L2 or
        # L3 once C outgrows L1), first and last element of each row (a prefetch never faults)
        prefetch = declare(self.module, "llvm.prefetch.p0",
                           ir.FunctionType(VOID, [I8P, I32, I32, I32]))

        def fetch_rows(matrix, row_stride, write):
            row = self.at(matrix, b.add(b.mul(p["i"], row_stride), p["j"]))
            for r in range(bl.mr):
                for c in (0, bl.nr - 1):
                    b.call(prefetch, [b.bitcast(self.at(row, _i64(c)), I8P), I32(write),
                                      I32(3), I32(1)])
                row = self.at(row, row_stride)

        fetch_rows(p["C"], p["c_rs"], 1)
        # so is the mask (a ReLU's forward output, long out of L1): unfetched, its loads after
        # the k loop each waited for L2 (a 32x128x10 GEMM took 1.5x as long with a mask)
        with b.if_then(p["do_mask"]):
            fetch_rows(p["mask"], p["mask_rs"], 0)
        acc = self.micro_kernels()
        self.update_tile(acc)
        b.ret_void()
        return fn

    def micro_kernels(self):
        """The tile's product by the smallest micro-kernel that covers it: MR or MR/2 rows,
        NV or 1 vectors wide (an edge tile of 2 rows or 8 columns runs at the cost of its
        size, not of a full tile's). All give the same bits: each element is summed over k in
        the same order. Returns MR*NV vectors (those a kernel skips are 0)."""
        b, bl, p = self.b, self.bl, self.p
        row_options = [bl.mr, bl.mr // 2]
        vector_options = [self.nv, 1] if self.nv > 1 else [1]
        shapes = [(rows, vectors) for rows in row_options for vectors in vector_options]
        choice = b.add(b.mul(b.zext(b.icmp_signed("<=", p["mr"], _i64(bl.mr // 2)), I32),
                             I32(len(vector_options))),
                       b.zext(b.icmp_signed("<=", p["nr"], _i64(bl.lanes)), I32))
        blocks = [b.append_basic_block(f"kernel{rows}x{vectors}") for rows, vectors in shapes]
        merge = b.append_basic_block("kernels.done")
        switch = b.switch(choice, blocks[0])
        results = []
        for n, ((rows, vectors), block) in enumerate(zip(shapes, blocks)):
            switch.add_case(I32(n), block)
            b.position_at_end(block)
            results.append((self.micro_kernel(rows, vectors), b.block))
            b.branch(merge)
        b.position_at_end(merge)
        out = []
        for n in range(bl.mr * self.nv):
            phi = b.phi(self.vec)
            for acc, block in results:
                phi.add_incoming(acc[n], block)
            out.append(phi)
        return out

    def micro_kernel(self, rows, vectors):
        """The rows x vectors*lanes product of a packed A panel (kc x MR) and B panel
        (kc x NR) as MR*NV vectors, row-major (those outside the shape are 0): per k, the B
        vectors, then per row one broadcast of A and a fused multiply-add per vector."""
        b, bl, p = self.b, self.bl, self.p
        kc, a_panel, b_panel = p["kc"], p["a_panel"], p["b_panel"]
        zero = constant(self.vec, 0)
        before = b.block
        body = b.append_basic_block(f"k{rows}x{vectors}.body")
        done = b.append_basic_block(f"k{rows}x{vectors}.done")
        b.cbranch(b.icmp_signed(">", kc, _i64(0)), body, done)
        b.position_at_end(body)
        k = b.phi(I64, "k")
        ap = b.phi(a_panel.type, "ap")
        bp = b.phi(b_panel.type, "bp")
        acc = [b.phi(self.vec, f"acc{r}_{v}") for r in range(rows) for v in range(vectors)]
        for phi, start in [(k, _i64(0)), (ap, a_panel), (bp, b_panel)] + [(x, zero) for x in acc]:
            phi.add_incoming(start, before)
        bvec = [self.load_vec(self.at(bp, _i64(v * bl.lanes))) for v in range(vectors)]
        new = []
        for r in range(rows):
            a = splat(b, b.load(self.at(ap, _i64(r))), bl.lanes)
            for v in range(vectors):
                # fmuladd: one fma where the target has it, mul + add on plain SSE2 (llvm.fma
                # would become a libm call per lane there)
                new.append(intrinsic(b, "fmuladd", [a, bvec[v], acc[r * vectors + v]]))
        k_next = b.add(k, _i64(1))
        for phi, value in [(k, k_next), (ap, self.at(ap, _i64(bl.mr))),
                           (bp, self.at(bp, _i64(bl.nr)))] + list(zip(acc, new)):
            phi.add_incoming(value, body)
        latch = b.cbranch(b.icmp_signed("<", k_next, kc), body, done)
        if (rows, vectors) != (bl.mr, self.nv):  # LLVM unrolls the full kernel by 2: enough
            latch.set_metadata("llvm.loop", _LoopID(self.module, self._plain_loop()))
        b.position_at_end(done)
        out = []
        for r in range(bl.mr):
            for v in range(self.nv):
                if r < rows and v < vectors:
                    phi = b.phi(self.vec)
                    phi.add_incoming(zero, before)
                    phi.add_incoming(new[r * vectors + v], body)
                    out.append(phi)
                else:
                    out.append(zero)
        return out

    def update_tile(self, acc):
        """C tile = (load_c ? C : 0) + acc in registers, then (last K block only) bias, relu
        and mask on those sums, then one store. A full tile reads and writes C, bias and mask
        in place with vector loads and stores. An edge tile (mr < MR or nr < NR) runs the same
        code on tile-sized buffers: what it needs is copied in before (masked loads, rows past
        mr clamped to row mr-1 so every address is in bounds) and C copied out after."""
        b, bl, p, nv = self.b, self.bl, self.p, self.nv
        i, j, mr, nr = p["i"], p["j"], p["mr"], p["nr"]
        edge = b.or_(b.icmp_signed("!=", mr, _i64(bl.mr)), b.icmp_signed("!=", nr, _i64(bl.nr)))
        index = ir.VectorType(I64, bl.lanes)
        self.cols = [b.icmp_signed("<", ir.Constant(index, list(range(v * bl.lanes,
                                                                      (v + 1) * bl.lanes))),
                                   splat(b, nr, bl.lanes)) for v in range(nv)]

        def staged(name, row_stride, needed, in_place):
            """Where the tile of matrix `name` is read: in place, or its buffer, filled from
            the matrix when `needed` and not in place. Returns (pointer, row stride)."""
            origin = self.at(p[name], b.add(b.mul(i, row_stride), j))
            with b.if_then(b.and_(needed, b.not_(in_place))):
                self.copy_tile(origin, row_stride, self.buffers[name], _i64(bl.nr), mr,
                               into_buffer=True)
            return (b.select(in_place, origin, self.buffers[name]),
                    b.select(in_place, row_stride, _i64(bl.nr)))

        def each(values, fn):  # fn(x, row pointers, vector) for every accumulator
            return [fn(values[r * nv + v], r, v) for r in range(bl.mr) for v in range(nv)]

        def load(tile, r, v):
            pointer, stride = tile
            return self.load_vec(self.at(pointer, b.add(b.mul(_i64(r), stride),
                                                        _i64(v * bl.lanes))))

        full = b.not_(edge)
        c_tile = staged("C", p["c_rs"], p["load_c"], full)
        acc = self.when(p["load_c"], acc, lambda vals: each(
            vals, lambda x, r, v: b.fadd(x, load(c_tile, r, v))))
        # the epilogue, on the sums in registers: each step only where flagged (a branch per
        # tile, not a select per vector). A bias with column stride != 1 (0 for a column
        # vector broadcast along rows), or on an edge tile, is gathered into its buffer first.
        contiguous = b.icmp_signed("==", p["bias_cs"], _i64(1))
        bias_in_place = b.and_(contiguous, full)
        bias_origin = self.at(p["bias"], b.add(b.mul(i, p["bias_rs"]), j))
        with b.if_then(b.and_(p["do_bias"], b.not_(bias_in_place))):
            with b.if_else(contiguous) as (rows_of_vectors, scattered):
                with rows_of_vectors:
                    self.copy_tile(bias_origin, p["bias_rs"], self.buffers["bias"],
                                   _i64(bl.nr), mr, into_buffer=True)
                with scattered:
                    self.gather_bias()
        bias = (b.select(bias_in_place, bias_origin, self.buffers["bias"]),
                b.select(bias_in_place, p["bias_rs"], _i64(bl.nr)))
        mask = staged("mask", p["mask_rs"], p["do_mask"], full)
        zero = constant(self.vec, 0)
        steps = [
            ("do_bias", lambda x, r, v: b.fadd(x, load(bias, r, v))),
            # x < 0 ? 0 : x keeps NaN, as numpy.maximum(x, 0) does
            ("do_relu", lambda x, r, v: b.select(b.fcmp_ordered("<", x, zero), zero, x)),
            ("do_mask", lambda x, r, v: b.select(b.fcmp_ordered(">", load(mask, r, v), zero),
                                                 x, zero))]
        for flag, step in steps:
            acc = self.when(p[flag], acc, lambda vals, step=step: each(vals, step))
        c_pointer, c_stride = c_tile
        for r in range(bl.mr):
            for v in range(nv):
                self.store_vec(acc[r * nv + v], self.at(c_pointer, b.add(
                    b.mul(_i64(r), c_stride), _i64(v * bl.lanes))))
        with b.if_then(edge):
            self.copy_tile(self.at(p["C"], b.add(b.mul(i, p["c_rs"]), j)), p["c_rs"],
                           self.buffers["C"], _i64(bl.nr), mr, into_buffer=False)

    def copy_tile(self, matrix, row_stride, buffer, buffer_stride, mr, into_buffer):
        """Copy the valid mr x nr part of a tile between a matrix and its buffer: into the
        buffer all MR rows (rows past mr repeat row mr-1) by masked loads; out only mr rows,
        whole vectors by plain stores and the columns past the last whole vector one by one
        (masked stores are slow on some CPUs: AMD's microcode them)."""
        b, bl, p = self.b, self.bl, self.p
        last = b.sub(mr, _i64(1))
        whole = b.and_(p["nr"], _i64(-bl.lanes))  # columns in whole vectors
        with self.loop(_i64(0), _i64(bl.mr) if into_buffer else mr, _i64(1), "row",
                       plain=True) as r:
            row = self.at(matrix, b.mul(self.min(r, last), row_stride))
            staged = self.at(buffer, b.mul(r, buffer_stride))
            for v in range(self.nv):
                there = self.at(row, _i64(v * bl.lanes))
                here = self.at(staged, _i64(v * bl.lanes))
                if into_buffer:
                    self.store_vec(self.load_vec(there, self.cols[v]), here)
                else:
                    with b.if_then(b.icmp_signed("<=", _i64((v + 1) * bl.lanes), whole)):
                        self.store_vec(self.load_vec(here), there)
            if not into_buffer:
                with self.loop(whole, p["nr"], _i64(1), "column", plain=True) as c:
                    b.store(b.load(self.at(staged, c)), self.at(row, c))

    def gather_bias(self):
        """bias buffer[r, c] = bias[(i + r) * rs + (j + c) * cs] over the MR x NR tile,
        indices clamped to mr-1, nr-1 (the lanes past them are never stored)."""
        b, bl, p = self.b, self.bl, self.p
        last_row, last_col = b.sub(p["mr"], _i64(1)), b.sub(p["nr"], _i64(1))
        with self.loop(_i64(0), _i64(bl.mr), _i64(1), "br", plain=True) as r:
            row = self.at(p["bias"], b.mul(b.add(p["i"], self.min(r, last_row)), p["bias_rs"]))
            with self.loop(_i64(0), _i64(bl.nr), _i64(1), "bc", plain=True) as c:
                col = b.add(p["j"], self.min(c, last_col))
                b.store(b.load(self.at(row, b.mul(col, p["bias_cs"]))),
                        self.at(self.buffers["bias"], b.add(b.mul(r, _i64(bl.nr)), c)))

    # ---- the loop nest: tasks over chunks, run in parallel or in the caller -----------------

    def _load_region(self):
        """The region context's fields (the task's first argument) into self.p."""
        b = self.b
        region = b.bitcast(self.p["region"], self.region.as_pointer())
        for index, (field, _) in enumerate(_REGION):
            self.p[field] = b.load(b.gep(region, [I32(0), I32(index)]), name=field)

    def _pack_b_task(self, name):
        """void pack_b(i8* region, i64 begin, i64 end): pack B panels [begin, end) of the
        block (whole panels: chunks never write the same element)."""
        fn = self._define(name, _TASK_ARGS)
        b, bl, p = self.b, self.bl, self.p
        self._load_region()
        self._pack_b(b.mul(p["begin"], _i64(bl.nr)),
                     self.min(b.mul(p["end"], _i64(bl.nr)), p["nc"]))
        b.ret_void()
        return fn

    def _chunks_task(self, name):
        """void chunks(i8* region, i64 begin, i64 end): chunks [begin, end) of C's block
        (jc, pc), by rows or (`by_columns`) by columns.

        Row chunk c covers A panels [c*P/n, (c+1)*P/n) of the P = ceil(M/MR) (n = m_chunks, at
        most MC rows each): it packs its rows of A and runs every tile of its rows over the
        shared packed B block. Column chunk c, for A of at most MC rows, covers B panels
        [c*Q/n, (c+1)*Q/n) of the block's Q (n = n_chunks): it packs those panels of B (no
        other chunk reads them), then all of A, and runs every tile of its columns."""
        fn = self._define(name, _TASK_ARGS)
        b, bl, p = self.b, self.bl, self.p
        self._load_region()
        by_columns = b.icmp_signed("!=", p["by_columns"], _i64(0))
        b_panels = b.sdiv(b.add(p["nc"], _i64(bl.nr - 1)), _i64(bl.nr))
        with self.loop(p["begin"], p["end"], _i64(1), "chunk") as chunk:
            def share(count, n):  # this chunk's [first, last) of `count` panels in n chunks
                return (b.sdiv(b.mul(chunk, count), n),
                        b.sdiv(b.mul(b.add(chunk, _i64(1)), count), n))

            first, last = share(p["panels"], p["m_chunks"])
            ic = b.mul(first, _i64(bl.mr))
            mc = b.sub(self.min(b.mul(last, _i64(bl.mr)), p["M"]), ic)
            first, last = share(b_panels, p["n_chunks"])
            j0 = b.mul(first, _i64(bl.nr))
            j1 = self.min(b.mul(last, _i64(bl.nr)), p["nc"])
            ic = b.select(by_columns, _i64(0), ic)
            mc = b.select(by_columns, p["M"], mc)
            j0 = b.select(by_columns, j0, _i64(0))
            j1 = b.select(by_columns, j1, p["nc"])
            with b.if_then(by_columns):
                self._pack_b(j0, j1)
            self._chunk_tiles(ic, mc, j0, j1)
        b.ret_void()
        return fn

    def _pack_b(self, j0, j1):
        """Pack columns [j0, j1) of the B block (whole panels) to their place in b_pack."""
        b, bl, p = self.b, self.bl, self.p
        b.call(self.pack, [self.at(p["b_pack"], b.mul(j0, p["kc"])),
                           self.at(p["b_block"], b.mul(j0, p["b_cs"])), p["b_cs"], p["b_rs"],
                           b.sub(j1, j0), p["kc"], _i64(bl.nr)])

    def _chunk_tiles(self, ic, mc, j0, j1):
        """Rows [ic, ic+mc) of A packed into a free A slot, then every tile of those rows and
        of columns [j0, j1) of the block over the packed B panels there."""
        b, bl, p = self.b, self.bl, self.p
        slot, claim = self.claim_slot()
        a_pack = self.at(p["slots"], b.mul(slot, p["slot_stride"]))
        b.call(self.pack, [a_pack, self.at(p["a_block"], b.mul(ic, p["a_rs"])), p["a_rs"],
                           p["a_cs"], mc, p["kc"], _i64(bl.mr)])
        with self.loop(j0, j1, _i64(bl.nr), "jr") as jr:
            nr = self.min(_i64(bl.nr), b.sub(j1, jr))
            b_panel = self.at(p["b_pack"], b.mul(jr, p["kc"]))
            with self.loop(_i64(0), mc, _i64(bl.mr), "ir") as ir_:
                b.call(self.tile, [
                    p["context"], p["kc"], self.at(a_pack, b.mul(ir_, p["kc"])), b_panel,
                    b.add(ic, ir_), b.add(p["jc"], jr),
                    self.min(_i64(bl.mr), b.sub(mc, ir_)), nr, p["flags"]])
        # release: this chunk's reads of the slot happen before the next owner's writes
        b.store_atomic(I32(0), claim, "release", 4)

    def claim_slot(self):
        """Take a free A slot: the first whose claim word goes 0 -> 1 (acquire: the previous
        owner's reads of it are done). Returns (slot index, its claim word). At most
        `n_slots` chunks hold one at a time; another waits (yielding its CPU) until one is
        released, which only happens with more threads than slots."""
        b, p = self.b, self.p
        before = b.block
        head = b.append_basic_block("claim")
        retry = b.append_basic_block("claim.next")
        wait = b.append_basic_block("claim.wait")
        done = b.append_basic_block("claim.done")
        b.branch(head)
        b.position_at_end(head)
        slot = b.phi(I64, "slot")
        slot.add_incoming(_i64(0), before)
        word = b.gep(p["claims"], [slot])
        taken = b.extract_value(b.cmpxchg(word, I32(0), I32(1), "acquire", "monotonic"), 1)
        b.cbranch(taken, done, retry)
        b.position_at_end(retry)
        following = b.add(slot, _i64(1))
        slot.add_incoming(following, retry)
        b.cbranch(b.icmp_signed("<", following, p["n_slots"]), head, wait)
        b.position_at_end(wait)
        b.call(declare(self.module, "sched_yield", ir.FunctionType(I32, [])), [])
        slot.add_incoming(_i64(0), wait)
        b.branch(head)
        b.position_at_end(done)
        return slot, word

    def _driver(self):
        """The GEMM: per B block (jc) and K block (pc), the packing of B then the row chunks,
        each as a parallel region when the shapes make it worth it (`plan`), else called in
        order here. Which chunks exist depends on the shapes only, and which chunk runs where
        changes nothing in C: every tile is computed whole by one chunk, in the same order."""
        b, bl, p = self.b, self.bl, self.p
        M, N, K = p["M"], p["N"], p["K"]
        context = b.alloca(self.context, name="context")  # in the entry block: static slots
        region = b.alloca(self.region, name="region")
        with b.if_then(b.or_(b.icmp_signed("<=", M, _i64(0)), b.icmp_signed("<=", N, _i64(0)))):
            b.ret_void()

        def ceil_div(x, d):
            return b.sdiv(b.add(x, _i64(d - 1)), _i64(d))

        def max_(x, y):
            return b.select(b.icmp_signed(">", x, y), x, y)

        # the plan (mirrored by `plan` in Python, which sizes the workspace)
        panels = ceil_div(M, bl.mr)
        serial_chunks = ceil_div(panels, bl.mc // bl.mr)
        clamp = _i64(_DIM_CLAMP)
        mnk = b.mul(b.mul(self.min(M, clamp), self.min(N, clamp)), self.min(K, clamp))
        parallel = b.and_(b.icmp_signed(">=", mnk, _i64(PARALLEL_MIN_MNK)),
                          b.icmp_signed(">=", panels, _i64(2)))
        first_b_panels = ceil_div(self.min(N, _i64(bl.nc)), bl.nr)
        by_columns = b.and_(b.not_(parallel), b.and_(
            b.icmp_signed(">=", mnk, _i64(COLUMN_MIN_MNK)), b.and_(
                b.icmp_signed("==", serial_chunks, _i64(1)),
                b.icmp_signed(">=", first_b_panels, _i64(2)))))
        wanted = max_(serial_chunks, _i64(MIN_CHUNKS))
        parallel_chunks = self.min(panels, b.mul(ceil_div(wanted, 2), _i64(2)))
        m_chunks = b.select(parallel, parallel_chunks, serial_chunks)
        column_slots = self.min(first_b_panels, _i64(MAX_COLUMN_CHUNKS))
        n_slots = b.select(parallel, self.min(m_chunks, _i64(MAX_SLOTS)),
                           b.select(by_columns, column_slots, _i64(1)))
        # one column chunk per thread (the chunks change nothing in C: every tile is computed
        # whole, in the same order, by whichever chunk holds it)
        n_chunks = self.min(b.call(self.num_threads, []), column_slots)
        # workspace: the packed B block (kc x nc, panels padded to NR), the A slots (one
        # packed block of the largest row chunk each, plus a vector of slack, cache-line aligned),
        # then one claim word per slot
        kc0 = self.min(K, _i64(bl.kc))
        nc_padded = b.mul(ceil_div(self.min(N, _i64(bl.nc)), bl.nr), _i64(bl.nr))
        mc_padded = b.mul(b.sdiv(b.add(panels, b.sub(m_chunks, _i64(1))), m_chunks),
                          _i64(bl.mr))  # rows of the largest chunk (see _chunk_rows)
        line = _line_elements(self.align)
        slot_stride = b.mul(ceil_div(b.add(b.mul(kc0, mc_padded), _i64(bl.lanes)), line),
                            _i64(line))
        b_pack = p["workspace"]
        slots = self.at(b_pack, b.mul(kc0, nc_padded))
        claims = b.bitcast(self.at(slots, b.mul(n_slots, slot_stride)), I32.as_pointer())
        with self.loop(_i64(0), n_slots, _i64(1), "claims", plain=True) as s:
            b.store(I32(0), b.gep(claims, [s]))
        # at least one K block, so K == 0 still writes C = (accumulate ? C : 0) + bias ...
        k_blocks = ceil_div(K, bl.kc)
        k_blocks = b.select(b.icmp_signed(">", k_blocks, _i64(0)), k_blocks, _i64(1))
        for index, (field, _) in enumerate(_CONTEXT):
            b.store(p[field], b.gep(context, [I32(0), I32(index)]))

        def set_field(name, value):
            b.store(value, b.gep(region, [I32(0), I32(_REGION_INDEX[name])]))

        for name, value in [("a_rs", p["a_rs"]), ("a_cs", p["a_cs"]), ("b_rs", p["b_rs"]),
                            ("b_cs", p["b_cs"]), ("context", context), ("b_pack", b_pack),
                            ("slots", slots), ("slot_stride", slot_stride), ("claims", claims),
                            ("n_slots", n_slots), ("M", M), ("panels", panels),
                            ("m_chunks", m_chunks), ("n_chunks", n_chunks),
                            ("by_columns", b.zext(by_columns, I64))]:
            set_field(name, value)
        region_arg = b.bitcast(region, I8P)
        # tile flags: load C when accumulating or after the first K block; the epilogue's
        # steps on the last K block only
        def flag(name, on):
            return b.select(on, I32(1 << _FLAGS.index(name)), I32(0))
        last_flags = b.or_(b.or_(
            flag("do_bias", b.icmp_unsigned("!=", p["bias"], ir.Constant(p["bias"].type, None))),
            flag("do_mask", b.icmp_unsigned("!=", p["mask"], ir.Constant(p["mask"].type, None)))),
            flag("do_relu", b.icmp_signed("!=", p["relu"], I32(0))))
        accumulate = b.icmp_signed("!=", p["accumulate"], I32(0))
        with self.loop(_i64(0), N, _i64(bl.nc), "jc") as jc:
            nc = self.min(_i64(bl.nc), b.sub(N, jc))
            b_panels = ceil_div(nc, bl.nr)
            b_grain = max_(_i64(PACK_B_MIN_PANELS), ceil_div(b_panels, PACK_B_CHUNKS))
            set_field("jc", jc)
            set_field("nc", nc)
            with self.loop(_i64(0), k_blocks, _i64(1), "kb") as kb:
                pc = b.mul(kb, _i64(bl.kc))
                set_field("kc", self.min(_i64(bl.kc), b.sub(K, pc)))
                set_field("flags", b.or_(
                    flag("load_c", b.or_(accumulate, b.icmp_signed(">", kb, _i64(0)))),
                    b.select(b.icmp_signed("==", kb, b.sub(k_blocks, _i64(1))), last_flags,
                             I32(0))))
                set_field("a_block", self.at(p["A"], b.mul(pc, p["a_cs"])))
                set_field("b_block", self.at(p["B"], b.add(b.mul(pc, p["b_rs"]),
                                                           b.mul(jc, p["b_cs"]))))
                with b.if_else(parallel) as (threads, small):
                    with threads:
                        b.call(self.parallel_for, [self.pack_b_task, region_arg, b_panels,
                                                   b_grain])
                        b.call(self.parallel_for, [self.chunks_task, region_arg, m_chunks,
                                                   _i64(1)])
                    with small:
                        with b.if_else(by_columns) as (columns, caller):
                            with columns:
                                b.call(self.parallel_for, [self.chunks_task, region_arg,
                                                           n_chunks, _i64(1)])
                            with caller:
                                b.call(self.pack_b_task, [region_arg, _i64(0), b_panels])
                                b.call(self.chunks_task, [region_arg, _i64(0), m_chunks])
        b.ret_void()
