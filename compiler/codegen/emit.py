"""Loop IR -> LLVM IR: one function per kernel, and the step's entry point that calls them.

Vectorization is explicit. A `Loop` marked `vector` runs as a main loop that takes `lanes`
iterations at a time, where every expression that depends on the loop variable is a
`<lanes x T>` vector (loads at stride 1 become vector loads, invariant loads are splatted, other
loads are gathered lane by lane), then, when the extent is not a multiple of `lanes`, one masked
vector iteration for the rest (extents are constants, so the mask is too: masked loads, stores
of the active lanes only). Reductions into a local declared outside the vector loop keep a vector
of partial results that is folded (a fixed tree of halvings) into the local at the end, so the
summation order depends only on shapes. One vector body per loop, no scalar copy: less code to
compile, and short rows (softmax over 10 classes) run as one masked vector.

Locals bound by `Let` are SSA values; locals that `Accumulate` updates live in stack slots that
LLVM promotes to registers.
"""
from llvmlite import ir

from .. import dtypes
from ..loops import (
    INDEX, Accumulate, Apply, Assign, Check, Const, Let, LibCall, Load, Loop, Pointer, Ref, Store,
    Var, linear_coefficient, parallel_grain, walk, walk_exprs)
from . import mathlib
from .ops import Ops, combine, identity_constant
from .types import (
    I1, I8, I32, I64, VOID, constant, declare, lanes_of, mangled, splat, storage_type,
    value_type, vector_of)


class Context:
    """Where code is being emitted: loop variable values, the vector loop (if any) and the
    values and slots of locals."""

    def __init__(self, parent=None, lanes=1, vector_var=None, active=None):
        self.parent = parent
        self.vars = {} if parent is None else dict(parent.vars)
        self.values = {} if parent is None else dict(parent.values)
        self.slots = {} if parent is None else dict(parent.slots)
        self.lanes = lanes if parent is None or lanes != 1 else parent.lanes
        self.vector_var = vector_var if vector_var is not None else (
            parent.vector_var if parent is not None else None)
        # In the masked last iteration of a vector loop: how many lanes are real.
        self.active = active if active is not None else (
            parent.active if parent is not None else None)
        self.prefetched = set()  # accesses of this loop body already prefetched

    def active_lanes(self):
        return self.lanes if self.active is None else self.active

    def mask(self):
        """The constant mask of the active lanes (None outside a masked iteration)."""
        if self.active is None:
            return None
        return ir.Constant(ir.VectorType(I1, self.lanes),
                           [int(k < self.active) for k in range(self.lanes)])

    def child(self, lanes=1, vector_var=None, active=None):
        return Context(self, lanes, vector_var, active)


class KernelEmitter:
    """Emits one Kernel as `i32 @name(T0* %buf0, ..., i64* %errinfo)`: 0, or a Check's code."""

    def __init__(self, module, kernel, target, noalias=True, library=None, parallel=False):
        self.module = module
        self.kernel = kernel
        self.target = target
        self.parallel = parallel
        self.library = library or {}
        params = [storage_type(b.dtype).as_pointer() for b in kernel.params] + [I64.as_pointer()]
        fnty = ir.FunctionType(I32, params)
        self.fn = ir.Function(module, fnty, kernel.name)
        self.fn.linkage = "internal"
        self.fn.attributes.add("nounwind")
        for arg, buf in zip(self.fn.args, kernel.params):
            arg.name = buf.name
            if noalias:
                arg.add_attribute("noalias")
        self.errinfo = self.fn.args[-1]
        self.pointers = dict(zip(kernel.params, self.fn.args))
        self.entry = self.fn.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry)
        self.ops = Ops(self.b)
        self.mutable = {s.local for s in walk(kernel.body) if isinstance(s, (Accumulate, Assign))}
        self.fail_block = None
        self.streams = False  # whether a non-temporal store was emitted (see fence_streams)

    def fence_streams(self):
        """Non-temporal stores are weakly ordered: an sfence makes them visible before the
        kernel returns (and before a parallel chunk reports itself done)."""
        if self.streams:
            self.b.call(declare(self.module, "llvm.x86.sse.sfence", ir.FunctionType(VOID, [])),
                        [])

    # ---- top level -----------------------------------------------------------------------------

    def emit(self):
        if self.parallel and self.kernel.body and isinstance(self.kernel.body[-1], Loop):
            loop = self.kernel.body[-1]
            lanes = self.lanes_for(loop) if loop.vector else 1
            self.kernel.grain = parallel_grain(self.kernel, lanes)
        if self.kernel.grain:
            kernel_function = self.fn
            self.emit_parallel(self.kernel.grain)  # leaves self.fn on the chunk function
            return kernel_function
        self.stack_scratch()
        body_block = self.fn.append_basic_block("body")
        self.b.position_at_end(body_block)
        self.body(self.kernel.body, Context())
        self.fence_streams()
        self.b.ret(I32(0))
        # Stack slots live in the entry block, where LLVM's mem2reg can promote them.
        self.b.position_at_end(self.entry)
        self.b.branch(body_block)
        return self.fn

    # ---- parallel kernels: the outer loop's chunks on the native thread pool -----------------

    def emit_parallel(self, grain):
        """The kernel packs its pointers into a context and hands `<kernel>.chunk(ctx, begin,
        end)` to llgrad_parallel_for; each chunk re-derives the invariant prelude and runs its
        part of the outer loop. Chunks depend on the extent and grain only, so every result bit
        is the same for any number of threads."""
        i8p = I8.as_pointer()
        loop = self.kernel.body[-1]
        task = ir.Function(self.module, TASK_TYPE, f"{self.kernel.name}.chunk")
        task.linkage = "internal"
        # The kernel: pointers into a context array, one call.
        b = self.b
        b.position_at_end(self.entry)
        params = list(self.fn.args)
        context = b.alloca(ir.ArrayType(i8p, len(params)))
        for k, arg in enumerate(params):
            b.store(b.bitcast(arg, i8p), b.gep(context, [I32(0), I32(k)]))
        run = declare(self.module, PARALLEL_FOR, PARALLEL_FOR_TYPE)
        b.call(run, [task, b.bitcast(context, i8p), I64(loop.extent), I64(grain)])
        b.ret(I32(0))
        # The chunk: the same body over [begin, end).
        ctx_arg, begin, end = task.args
        self.fn, self.entry = task, task.append_basic_block("entry")
        self.b = b = ir.IRBuilder(self.entry)
        self.ops = Ops(b)
        table = b.bitcast(ctx_arg, i8p.as_pointer())
        pointers = [b.bitcast(b.load(b.gep(table, [I64(k)])), arg.type)
                    for k, arg in enumerate(params)]
        self.pointers = dict(zip(self.kernel.params, pointers[:-1]))
        self.errinfo = pointers[-1]
        self.stack_scratch()
        body_block = task.append_basic_block("body")
        b.position_at_end(body_block)
        ctx = Context()
        self.body(self.kernel.body[:-1], ctx)
        self.chunk_loop(loop, begin, end, ctx)
        self.fence_streams()
        b.ret_void()
        b.position_at_end(self.entry)
        b.branch(body_block)

    def chunk_loop(self, s, begin, end, ctx):
        """The outer loop over [begin, end) (runtime bounds, never empty). A vector loop's chunks
        start on whole vectors; only the last chunk holds the masked rest."""
        if not s.vector:
            self.counted_loop(s, begin, end, 1, ctx.child())
            return
        lanes = self.lanes_for(s)
        whole = s.extent - s.extent % lanes
        vctx = ctx.child(lanes, s.var.name)
        vector_end = self.b.select(self.b.icmp_signed(">", end, I64(whole)), I64(whole), end)
        with self.b.if_then(self.b.icmp_signed("<", begin, vector_end)):
            self.counted_loop(s, begin, vector_end, lanes, vctx)
        if whole < s.extent:
            with self.b.if_then(self.b.icmp_signed("==", end, I64(s.extent))):
                tail = vctx.child(active=s.extent - whole)
                tail.vars[s.var.name] = I64(whole)
                self.body(s.body, tail)

    def stack_scratch(self):
        """Scratch buffers on this invocation's stack (64-byte aligned, for vector accesses)."""
        for buf in self.kernel.stack:
            with self.b.goto_block(self.entry):
                array = self.b.alloca(ir.ArrayType(storage_type(buf.dtype), max(1, buf.nbytes //
                                                                             buf.dtype.itemsize)))
                array.align = 64
                self.pointers[buf] = self.b.bitcast(array, storage_type(buf.dtype).as_pointer())

    def alloca(self, type_):
        with self.b.goto_block(self.entry):
            return self.b.alloca(type_)

    # ---- statements --------------------------------------------------------------------------

    def body(self, statements, ctx):
        for s in statements:
            if isinstance(s, Loop):
                self.loop(s, ctx)
            elif isinstance(s, Let):
                self.let(s, ctx)
            elif isinstance(s, Accumulate):
                self.accumulate(s, ctx)
            elif isinstance(s, Assign):
                self.b.store(self.widen(self.expr(s.value, ctx),
                                        lanes_of(ctx.slots[s.local].type.pointee)),
                             ctx.slots[s.local])
            elif isinstance(s, Store):
                self.store(s, ctx)
            elif isinstance(s, Check):
                self.check(s, ctx)
            elif isinstance(s, LibCall):
                self.libcall(s, ctx)
            else:
                raise TypeError(f"unknown loop-IR statement {s!r}")

    def let(self, s, ctx):
        value = self.expr(s.value, ctx)
        if s.local not in self.mutable:
            ctx.values[s.local] = value
            return
        # An accumulator: inside a vector loop it holds one partial result per lane.
        lanes = ctx.lanes
        value = self.widen(value, lanes)
        slot = self.alloca(vector_of(value_type(s.local.dtype), lanes))
        self.b.store(value, slot)
        ctx.slots[s.local] = slot

    def accumulate(self, s, ctx):
        value = self.expr(s.value, ctx)
        slot = ctx.slots[s.local]
        lanes = lanes_of(slot.type.pointee)
        value = self.widen(value, lanes)
        if ctx.active is not None and lanes > 1:  # inactive lanes add the identity
            value = self.b.select(ctx.mask(), value,
                                  identity_constant(value.type, s.combine, s.local.dtype))
        self.ops.dtype = s.local.dtype
        self.b.store(combine(self.ops, s.combine, self.b.load(slot), value), slot)

    def store(self, s, ctx):
        value = self.expr(s.value, ctx)
        pointer = self.pointers[s.buffer]
        coefficient = self.coefficient(s.index, ctx)
        lanes = lanes_of(value)
        if lanes == 1 and coefficient in (0, 1) and not self.varies(s.index, ctx):
            self.store_scalar(s, pointer, self.expr(s.index, ctx, lane0=True), value)
            return
        if coefficient == 1 and not s.add and ctx.active is None:
            index = self.expr(s.index, ctx, lane0=True)
            streaming = s.buffer.streamed and _whole_vectors(s.index, ctx)
            self.store_vector(pointer, index, self.widen(value, ctx.lanes), s.buffer.dtype,
                              streaming)
            return
        # Scattered or accumulating stores, and the active lanes of a masked iteration (masked
        # vector stores are microcoded on some CPUs), go lane by lane, in lane order (eager's).
        value = self.widen(value, ctx.lanes)
        indices = self.widen(self.expr(s.index, ctx), ctx.lanes)
        for lane in range(ctx.active_lanes()):
            self.store_scalar(s, pointer, self.b.extract_element(indices, I32(lane)),
                              self.b.extract_element(value, I32(lane)))

    def store_scalar(self, s, pointer, index, value):
        address = self.b.gep(pointer, [index])
        if s.add:
            self.ops.dtype = s.buffer.dtype
            value = self.ops.add(self.from_memory(self.b.load(address), s.buffer.dtype), value)
        self.b.store(self.to_memory(value, s.buffer.dtype), address)

    def store_vector(self, pointer, index, value, dtype, streaming=False):
        """A vector store; `streaming`: a non-temporal store of a whole aligned vector, which
        writes memory without first reading the line into the cache (streamed outputs)."""
        lanes = lanes_of(value)
        address = self.b.bitcast(self.b.gep(pointer, [index]),
                                 vector_of(storage_type(dtype), lanes).as_pointer())
        if not streaming:
            self.b.store(self.to_memory(value, dtype), address, align=dtype.itemsize)
            return
        store = self.b.store(self.to_memory(value, dtype), address,
                             align=lanes * dtype.itemsize)
        store.set_metadata("nontemporal", self.module.add_metadata([I32(1)]))
        self.streams = True

    def check(self, s, ctx):
        ok = self.expr(s.condition, ctx)
        info = self.expr(s.info, ctx) if s.info is not None else I64(-1)
        lanes = max(lanes_of(ok), lanes_of(info))
        ok, info = self.widen(ok, lanes), self.widen(info, lanes)
        failed = self.b.not_(ok)
        if lanes > 1:
            # The first failing lane's value is reported (the earliest failing iteration); in a
            # masked iteration only the active lanes count.
            last = (ctx.active_lanes() if lanes == ctx.lanes else lanes) - 1
            any_failed = self.b.extract_element(failed, I32(last))
            chosen = self.b.extract_element(info, I32(last))
            for lane in range(last - 1, -1, -1):
                lane_failed = self.b.extract_element(failed, I32(lane))
                chosen = self.b.select(lane_failed, self.b.extract_element(info, I32(lane)), chosen)
                any_failed = self.b.or_(any_failed, lane_failed)
            failed, info = any_failed, chosen
        with self.b.if_then(failed, likely=False):
            self.b.store(self.b.sext(info, I64) if info.type != I64 else info, self.errinfo)
            self.b.ret(I32(s.code))

    def libcall(self, s, ctx):
        routine = self.library[s.routine]
        fn = routine.declare(self.module)
        args = []
        for a, param in zip(s.args, fn.function_type.args):
            if a is None:
                args.append(ir.Constant(param, None))
            elif isinstance(a, Pointer):
                index = self.expr(a.index, ctx, lane0=True)
                pointer = self.b.gep(self.pointers[a.buffer], [index])
                args.append(self.b.bitcast(pointer, param))
            elif isinstance(a, tuple) and a[0] == "i32":
                args.append(I32(a[1]))
            else:
                args.append(ir.Constant(param, a))
        self.b.call(fn, args)

    # ---- loops ---------------------------------------------------------------------------------

    def loop(self, s, ctx):
        if s.extent <= 0:
            return
        lanes = self.lanes_for(s) if s.vector and ctx.lanes == 1 and s.extent > 1 else 1
        if lanes == 1:
            self.counted_loop(s, 0, s.extent, 1, ctx.child())
            return
        main = (s.extent // lanes) * lanes
        vctx = ctx.child(lanes, s.var.name)
        partials = self.open_partials(s, ctx, vctx, lanes)
        copies = self.partial_copies(s, partials, ctx, lanes)
        unrolled = (s.extent // (lanes * len(copies))) * lanes * len(copies) if copies else 0
        if unrolled:
            self.counted_loop(s, 0, unrolled, lanes * len(copies), vctx, copies)
        if unrolled < main:
            self.counted_loop(s, unrolled, main, lanes, vctx)
        if main < s.extent:  # the rest: one masked vector iteration
            tail = vctx.child(active=s.extent - main)
            tail.vars[s.var.name] = I64(main)
            self.body(s.body, tail)
        self.merge_copies(partials, copies, vctx)
        self.close_partials(partials, ctx)

    def lanes_for(self, s):
        """Lanes of a vector loop: a register's worth of the narrowest value it moves (at least
        32-bit lanes, so a loop over bytes and floats keeps float vectors one register wide)."""
        sizes = [b.dtype.itemsize for b in self.kernel.buffers] or [4]
        smallest = max(4, min(sizes))
        return self.target.lanes(smallest)

    def counted_loop(self, s, start, stop, step, ctx, copies=()):
        """start, start + step, ... below stop (at least one iteration); start and stop are
        Python ints, or IR values inside a parallel chunk. Given `copies` (contexts, one per
        set of partial results), each iteration runs the body once per copy, copy k at
        index + k * step / len(copies)."""
        contexts = list(copies) or [ctx]
        stride = step // len(contexts)

        def bodies(index):
            for k, context in enumerate(contexts):
                context.vars[s.var.name] = self.b.add(index, I64(k * stride)) if k else index
                self.body(s.body, context)

        if isinstance(start, int) and isinstance(stop, int) and stop - start == step:
            bodies(I64(start))  # one iteration: no loop
            return
        start = I64(start) if isinstance(start, int) else start
        stop = I64(stop) if isinstance(stop, int) else stop
        preheader = self.b.block
        name = f"{s.var.name}.unrolled" if copies else s.var.name
        header = self.b.append_basic_block(f"{name}.loop")
        done = self.b.append_basic_block(f"{name}.done")
        self.b.branch(header)
        self.b.position_at_end(header)
        index = self.b.phi(I64, name=s.var.name)
        index.add_incoming(start, preheader)
        bodies(index)
        following = self.b.add(index, I64(step))
        index.add_incoming(following, self.b.block)
        self.b.cbranch(self.b.icmp_signed("<", following, stop), header, done)
        self.b.position_at_end(done)

    def partial_copies(self, s, partials, ctx, lanes):
        """Contexts for an unrolled reduction loop: PARTIAL_COPIES sets of partial results, so
        that consecutive vectors go to independent accumulators and the adds (or max/min) of
        one iteration do not wait on the last one's. The first copy is the loop's own context.
        Only for flat loop bodies long enough to fill two unrolled iterations."""
        if (not partials or s.extent < 2 * PARTIAL_COPIES * lanes
                or any(isinstance(x, Loop) for x in walk(s.body))
                or _arithmetic_cost(s.body) > UNROLL_MAX_COST):
            return []
        copies = []
        for k in range(PARTIAL_COPIES):
            copy = ctx.child(lanes, s.var.name)
            for local, how, slot in partials:
                if k == 0:
                    copy.slots[local] = slot
                    continue
                extra = self.alloca(slot.type.pointee)
                self.b.store(identity_constant(slot.type.pointee, how, local.dtype), extra)
                copy.slots[local] = extra
            copies.append(copy)
        return copies

    def merge_copies(self, partials, copies, vctx):
        """Folds the copies' partial results into the loop's own in a fixed tree: (0+1)+(2+3)."""
        if not copies:
            return
        for local, how, slot in partials:
            self.ops.dtype = local.dtype
            values = [self.b.load(copy.slots[local]) for copy in copies]
            while len(values) > 1:
                values = [combine(self.ops, how, values[k], values[k + 1])
                          for k in range(0, len(values), 2)]
            self.b.store(values[0], vctx.slots[local])

    def open_partials(self, s, ctx, vctx, lanes):
        """Vector partial results for locals declared outside this loop and accumulated in it."""
        declared_inside = {x.local for x in walk(s.body) if isinstance(x, Let)}
        partials = []
        for local in {x.local for x in walk(s.body) if isinstance(x, Accumulate)}:
            if local in declared_inside:
                continue
            how = next(x.combine for x in walk(s.body)
                       if isinstance(x, Accumulate) and x.local is local)
            vtype = vector_of(value_type(local.dtype), lanes)
            slot = self.alloca(vtype)
            self.b.store(identity_constant(vtype, how, local.dtype), slot)
            vctx.slots[local] = slot
            partials.append((local, how, slot))
        return partials

    def close_partials(self, partials, ctx):
        for local, how, slot in partials:
            vector = self.b.load(slot)
            self.ops.dtype = local.dtype
            folded = self.fold(vector, how)
            outer = ctx.slots[local]
            self.b.store(combine(self.ops, how, self.b.load(outer), folded), outer)

    def fold(self, vector, how):
        """Reduce a vector to its first lane by halving: a fixed order."""
        lanes = lanes_of(vector)
        while lanes > 1:
            half = lanes // 2
            low = self.b.shuffle_vector(vector, vector, ir.Constant(
                ir.VectorType(I32, half), list(range(half))))
            high = self.b.shuffle_vector(vector, vector, ir.Constant(
                ir.VectorType(I32, half), list(range(half, lanes))))
            vector = combine(self.ops, how, low, high)
            lanes = half
        return vector if not isinstance(vector.type, ir.VectorType) else \
            self.b.extract_element(vector, I32(0))

    # ---- expressions -------------------------------------------------------------------------

    def varies(self, expr, ctx):
        """Whether `expr` differs between the lanes of the current vector loop."""
        if ctx.lanes == 1:
            return False
        return self.coefficient(expr, ctx) != 0

    def coefficient(self, index, ctx):
        if ctx.lanes == 1:
            return 0
        invariant = {local for local, v in ctx.values.items() if lanes_of(v) == 1}
        invariant |= {local for local, slot in ctx.slots.items()
                      if lanes_of(slot.type.pointee) == 1}
        return linear_coefficient(index, ctx.vector_var, invariant)

    def widen(self, value, lanes):
        if lanes_of(value) == lanes:
            return value
        return splat(self.b, value, lanes)

    def expr(self, e, ctx, lane0=False):
        """The value of `e`: a scalar, or a vector when it varies across the loop's lanes.
        `lane0` asks for the first lane only (an address for a vector load or store)."""
        if isinstance(e, Const):
            return self.const(e)
        if isinstance(e, Var):
            base = ctx.vars[e.name]
            if e.name == ctx.vector_var and ctx.lanes > 1 and not lane0:
                lanes = ctx.lanes
                iota = ir.Constant(ir.VectorType(I64, lanes), list(range(lanes)))
                return self.b.add(splat(self.b, base, lanes), iota)
            return base
        if isinstance(e, Ref):
            if e.local in ctx.slots:
                return self.b.load(ctx.slots[e.local])
            return ctx.values[e.local]
        if isinstance(e, Load):
            return self.load(e, ctx, lane0)
        if isinstance(e, Apply):
            args = [self.expr(a, ctx, lane0) for a in e.args]
            lanes = max(lanes_of(a) for a in args) if args else 1
            args = [self.widen(a, lanes) for a in args]
            self.ops.dtype = e.args[0].dtype if e.args else e.dtype
            return e.prim.lower(self.ops, *args, **e.params)
        raise TypeError(f"unknown loop-IR expression {e!r}")

    def const(self, e):
        t = value_type(e.dtype)
        if e.dtype is dtypes.bool_:
            return ir.Constant(I1, int(bool(e.value)))
        return constant(t, e.value)

    def load(self, e, ctx, lane0):
        pointer = self.pointers[e.buffer]
        dtype = e.buffer.dtype
        coefficient = self.coefficient(e.index, ctx) if not lane0 else 0
        if coefficient == 0:
            index = self.expr(e.index, ctx, lane0=True)
            return self.from_memory(self.b.load(self.b.gep(pointer, [index])), dtype)
        lanes = ctx.lanes
        vtype = vector_of(storage_type(dtype), lanes)
        if coefficient == 1:
            index = self.expr(e.index, ctx, lane0=True)
            address = self.b.bitcast(self.b.gep(pointer, [index]), vtype.as_pointer())
            if ctx.active is None and e.buffer.nbytes >= PREFETCH_MIN_BYTES and \
                    e.buffer.kind != "stack":
                self.prefetch_ahead(pointer, index, dtype, ctx, (e.buffer, repr(e.index)))
            if ctx.active is None:
                return self.from_memory(self.b.load(address, align=dtype.itemsize), dtype)
            masked_load = declare(self.module, f"llvm.masked.load.{mangled(vtype)}.p0",
                                  ir.FunctionType(vtype, [vtype.as_pointer(), I32,
                                                          ctx.mask().type, vtype]))
            value = self.b.call(masked_load, [address, I32(dtype.itemsize), ctx.mask(),
                                              constant(vtype, 0)])
            return self.from_memory(value, dtype)
        # Gathered lane by lane (only the active lanes of a masked iteration: the others may
        # index anywhere).
        indices = self.widen(self.expr(e.index, ctx), lanes)
        result = constant(vtype, 0)
        for lane in range(ctx.active_lanes()):
            index = self.b.extract_element(indices, I32(lane))
            value = self.b.load(self.b.gep(pointer, [index]))
            result = self.b.insert_element(result, value, I32(lane))
        return self.from_memory(result, dtype)

    def prefetch_ahead(self, pointer, index, dtype, ctx, key):
        """Asks for the line PREFETCH_BYTES ahead of a streamed read (once per loop body and
        access). The hardware's stream prefetchers stop at page boundaries, so without this
        every 4 KB (a row of 1024 floats) starts with a stall on memory."""
        if key in ctx.prefetched:
            return
        ctx.prefetched.add(key)
        prefetch = declare(self.module, "llvm.prefetch.p0",
                           ir.FunctionType(VOID, [I8.as_pointer(), I32, I32, I32]))
        ahead = self.b.gep(pointer, [self.b.add(index, I64(PREFETCH_BYTES // dtype.itemsize))])
        # read, keep in all cache levels, data cache
        self.b.call(prefetch, [self.b.bitcast(ahead, I8.as_pointer()), I32(0), I32(3), I32(1)])

    def from_memory(self, value, dtype):
        if dtype is dtypes.bool_:
            return self.b.icmp_unsigned("!=", value, constant(value.type, 0))
        return value

    def to_memory(self, value, dtype):
        if dtype is dtypes.bool_:
            return self.b.zext(value, vector_of(I8, lanes_of(value)))
        return value


def emit_kernel(module, kernel, target, noalias=True, library=None, parallel=False):
    return KernelEmitter(module, kernel, target, noalias, library, parallel).emit()


# Independent partial-result vectors of an unrolled reduction loop (a power of two): enough to
# cover an add's latency (3-4 cycles) at one vector per cycle.
PARTIAL_COPIES = 4


# Vector loops reading a buffer of at least PREFETCH_MIN_BYTES prefetch PREFETCH_BYTES ahead
# (measured on Zen 3 for softmax and layer norm over 2048x1024: 4 KB ahead gains 25%, 8 KB 30%).
PREFETCH_BYTES = 8192
PREFETCH_MIN_BYTES = 1 << 20


# Bodies that cost more than this many vector operations per element are not unrolled: their own
# work hides the accumulator's latency, and four copies of a math function spill registers.
UNROLL_MAX_COST = 8
MATH_FUNCTION_COST = 20


def _whole_vectors(index, ctx):
    """Whether a vector access at `index` (in elements) starts on a multiple of the vector
    length in every iteration: the vector loop variable (vector loops start at 0 or on a
    chunk boundary and step by whole vectors) plus terms that are multiples of the lanes."""
    lanes = ctx.lanes

    def multiple(e):
        if isinstance(e, Const):
            return int(e.value) % lanes == 0
        if isinstance(e, Var):
            return e.name == ctx.vector_var
        if isinstance(e, Apply) and e.prim.name in ("add", "sub"):
            return all(multiple(a) for a in e.args)
        if isinstance(e, Apply) and e.prim.name == "mul":
            return any(isinstance(a, Const) and int(a.value) % lanes == 0 for a in e.args)
        return False

    return lanes > 1 and multiple(index)


def _arithmetic_cost(statements):
    """Vector operations per iteration of a loop body, roughly (index arithmetic is free)."""
    return sum(MATH_FUNCTION_COST if e.prim.name in mathlib.FUNCTIONS else 1
               for e in walk_exprs(statements) if isinstance(e, Apply) and e.dtype is not INDEX)


# The native thread pool's entry (runtime/threadpool.py): task(ctx, begin, end) over chunks;
# and its thread count (the caller included), i64 llgrad_num_threads().
PARALLEL_FOR = "llgrad_parallel_for"
NUM_THREADS = "llgrad_num_threads"
TASK_TYPE = ir.FunctionType(VOID, [I8.as_pointer(), I64, I64])
PARALLEL_FOR_TYPE = ir.FunctionType(VOID, [TASK_TYPE.as_pointer(), I8.as_pointer(), I64, I64])


def emit_entry(module, name, kernels, functions, program):
    """`i32 @name(i8** %table)`: loads each buffer's address from the table (temporaries are
    offsets into the arena), calls the kernels in order and stops at the first failure."""
    fn = ir.Function(module, ir.FunctionType(I32, [I8.as_pointer().as_pointer()]), name)
    table = fn.args[0]
    table.name = "table"
    table.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    addresses = {}

    def slot(index):
        return b.load(b.gep(table, [I64(index)]))

    arena = slot(program.arena_slot) if program.arena_bytes else None
    errinfo = b.bitcast(slot(program.errinfo_slot), I64.as_pointer())
    for buf in program.buffers:
        if buf.kind == "temp":
            raw = b.gep(arena, [I64(program.offsets[buf])])
        else:
            raw = slot(buf.index)
        addresses[buf] = b.bitcast(raw, storage_type(buf.dtype).as_pointer())
    counters = None
    if program.profile_slot is not None:  # cycles per kernel, accumulated (explain, benchmarks)
        counters = b.bitcast(slot(program.profile_slot), I64.as_pointer())
        clock = declare(module, "llvm.readcyclecounter", ir.FunctionType(I64, []))
    for k, (kernel, function) in enumerate(zip(kernels, functions)):
        if counters is not None:
            started = b.call(clock, [])
        status = b.call(function, [addresses[buf] for buf in kernel.params] + [errinfo])
        if counters is not None:
            counter = b.gep(counters, [I64(k)])
            b.store(b.add(b.load(counter), b.sub(b.call(clock, []), started)), counter)
        if kernel.can_fail:
            failed = b.icmp_signed("!=", status, I32(0))
            with b.if_then(failed, likely=False):
                b.ret(status)
    b.ret(I32(0))
    return fn



ENTRY = "llgrad_step"


def emit_program(program, target, library, name=ENTRY, python_entry=None, parallel=True):
    """The module of a whole step: its kernels and the entry point (and, given
    `python_entry=(slots, data_offset)`, the CPython entry). Returns (module, the keys of the
    shared routines it calls)."""
    module = ir.Module(name=name)
    noalias = not program.inputs_may_overlap
    functions = [emit_kernel(module, k, target, noalias and not k.aliased, library, parallel)
                 for k in program.kernels]
    entry = emit_entry(module, name, program.kernels, functions, program)
    if python_entry is not None:
        emit_python_entry(module, python_entry[0], python_entry[1], entry)
    used = sorted({s.routine for k in program.kernels for s in walk(k.body)
                   if isinstance(s, LibCall)})
    return module, used


PYTHON_ENTRY = "llgrad_step_py"
PYTHON_API = ("PyEval_SaveThread", "PyEval_RestoreThread", "PyLong_FromLong")


def emit_python_entry(module, slots, data_offset, entry):
    """A CPython METH_FASTCALL function `f(table, *arrays) -> int`: stores each NumPy array's
    data pointer (read at `data_offset` in the array object) into its table slot, releases the
    GIL, runs the step and returns its status. Calling it costs what calling a builtin costs,
    where ctypes pays microseconds per call."""
    i8p = I8.as_pointer()
    fnty = ir.FunctionType(i8p, [i8p, i8p.as_pointer(), I64])
    fn = ir.Function(module, fnty, PYTHON_ENTRY)
    _, args, _ = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))

    def data_of(k):
        obj = b.load(b.gep(args, [I64(k)]))
        return b.load(b.bitcast(b.gep(obj, [I64(data_offset)]), i8p.as_pointer()))

    table = b.bitcast(data_of(0), i8p.as_pointer())
    for k, slot in enumerate(slots, start=1):
        b.store(data_of(k), b.gep(table, [I64(slot)]))
    save = declare(module, "PyEval_SaveThread", ir.FunctionType(i8p, []))
    restore = declare(module, "PyEval_RestoreThread", ir.FunctionType(VOID, [i8p]))
    to_int = declare(module, "PyLong_FromLong", ir.FunctionType(i8p, [I64]))
    thread = b.call(save, [])
    status = b.call(entry, [table])
    b.call(restore, [thread])
    b.ret(b.call(to_int, [b.sext(status, I64)]))
    return fn
