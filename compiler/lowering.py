"""Lowering: an optimized graph becomes a Program, kernels in loop IR over planned memory.

`lower(graph, inplace, input_strides)` runs fusion (fusion.py), gives every value that needs
memory a buffer (an input's, a fresh output array, state written in place, or a temporary in the
arena), builds each group's loop nest, orders the kernels (checks early, in-place writes of
state late) and verifies that every in-place write comes after the last read of the old value;
a write that cannot be proven safe goes to a temporary copied in at the very end.
"""
import heapq

import numpy as np

from . import dtypes
from .fusion import (
    REDUCTIONS, Fusion, broadcast_indices, loop_vars, member_indices, operand_indices,
    row_chunks)
from .ir import CONSTANT
from .loops import (
    INDEX, Accumulate, Apply, Assign, Buffer, Check, Const, Kernel, Let, LibCall, Load, Local,
    STACK_SCRATCH_BYTES, Loop, Pointer, Ref, Store, Var, View, add, collapse_dimensions,
    contiguous_strides, hoist_invariants, index_of, mul, store_sites, substitute_statements, walk,
    walk_exprs)
from ..runtime.memory import STREAMED_OUTPUT_BYTES
from .primitive import REGISTRY, numel

P = REGISTRY
# Matmuls with at most this many multiply-adds run as plain loop nests: packing operands for
# the GEMM costs more than it saves at that size.
SMALL_MATMUL = 4096


class Program:
    """Kernels in execution order over buffers, and what the runtime must do around them."""

    def __init__(self, graph):
        self.graph = graph
        self.kernels = []
        self.buffers = []  # every buffer the entry point addresses
        self.inputs = []  # graph input position -> Buffer
        self.outputs = []  # graph output position -> ("fresh", Buffer) | ("inplace", input pos)
        self.constants = []  # (Buffer, array)
        self.errors = {}  # check code -> (exception type, message with {} for the index)
        self.offsets = {}  # temp Buffer -> byte offset in the arena
        self.arena_bytes = 0
        self.table_size = 0
        self.arena_slot = self.errinfo_slot = None
        self.fusion = None
        self.inputs_may_overlap = False  # then kernels' pointers are not marked noalias
        self.profile_slot = None  # table slot of per-kernel cycle counters, when profiling

    def error(self, exception, message):
        code = len(self.errors) + 1
        self.errors[code] = (exception, message)
        return code


def lower(graph, inplace=None, input_strides=None, library=None, inputs_may_overlap=False,
          profile=False):
    """Lower `graph`. `inplace`: {output position: input position} for state updated in place;
    `input_strides`: per input, element strides of the arrays that will be passed (None:
    contiguous); `library`: the shared routines available (name -> Routine);
    `inputs_may_overlap`: some input arrays share memory (no noalias then)."""
    builder = ProgramBuilder(graph, inplace or {}, input_strides, library or {})
    program = builder.build()
    program.inputs_may_overlap = inputs_may_overlap
    if profile:
        program.profile_slot = program.table_size
        program.table_size += 1
    return program


class ProgramBuilder:
    def __init__(self, graph, inplace, input_strides, library):
        self.graph = graph
        self.inplace = dict(inplace)
        self.input_strides = input_strides
        self.library = library
        self.names = iter(range(10 ** 9))

    def build(self):
        while True:
            program = self._attempt()
            unsafe = self._unsafe_inplace(program)
            if not unsafe:
                break
            for k in unsafe:  # write those to a temporary, copied into the state at the end
                self.inplace[k] = ("late", self.inplace[k])
        self._plan_arena(program)
        self._plan_table(program)
        return program

    # ---- one attempt with the current in-place choices -----------------------------------------

    def _attempt(self):
        graph = self.graph
        program = Program(graph)
        self.program = program
        self.fusion = fusion = Fusion(graph)
        program.fusion = fusion
        self.buffer_of = {}
        self.late_copies = []
        for i, v in enumerate(graph.inputs):
            strides = self.input_strides[i] if self.input_strides else None
            buf = Buffer(f"in{i}", v.dtype, v.shape, "input", strides)
            program.inputs.append(buf)
            self.buffer_of[v] = View.whole(buf)
        self._assign_output_buffers(program, fusion)
        self.stream_candidates = self._stream_candidates(program, fusion)
        for value in fusion.materialized():
            if value not in self.buffer_of:
                self.buffer_of[value] = View.whole(self._new_buffer(value, "temp"))
        kernels = self._kernels_in_order()
        for source, target in self.late_copies:
            kernels.append(self._view_copy_kernel(source, target))
        program.kernels = kernels
        self._mark_streamed(program)
        program.buffers = self._all_buffers(program)
        return program

    def _new_buffer(self, value, kind):
        buf = Buffer(f"{kind[0]}{next(self.names)}", value.dtype, value.shape, kind)
        return buf

    def _assign_output_buffers(self, program, fusion):
        """Graph outputs: written in place into an input (state), or into a fresh array.

        A state write whose value is not computed here (it is another input, a constant, or a
        value already stored elsewhere), or that is not safe in place ("late"), is staged in a
        temporary and copied into the state after every kernel ran, so no input is overwritten
        while something may still read it (a swap of two parameters)."""
        graph = self.graph
        claimed = set()
        self.output_copies = []  # (value, target view): copies into fresh outputs / staging
        for k, value in enumerate(graph.outputs):
            target = self.inplace.get(k)
            late = isinstance(target, tuple)
            if late:
                target = target[1]
            computed = value.node is not None and value.node.prim is not CONSTANT
            if target is not None:
                program.outputs.append(("inplace", target))
                if value is graph.inputs[target]:
                    continue  # state left as it was: nothing to write
                state = View.whole(program.inputs[target])
                if computed and value not in claimed and not late:
                    claimed.add(value)
                    self.buffer_of[value] = state
                    continue
                staging = View.whole(self._new_buffer(value, "temp"))
                if computed and value not in claimed:  # its kernel writes the staging buffer
                    claimed.add(value)
                    self.buffer_of[value] = staging
                else:
                    self.output_copies.append((value, staging))
                self.late_copies.append((staging, state))
                continue
            buf = Buffer(f"out{k}", value.dtype, value.shape, "output")
            program.outputs.append(("fresh", buf))
            if computed and value not in claimed and value not in self.buffer_of:
                claimed.add(value)
                self.buffer_of[value] = View.whole(buf)
            else:
                self.output_copies.append((value, View.whole(buf)))

    def _stream_candidates(self, program, fusion):
        """Fresh outputs that may be written with non-temporal stores: at least
        STREAMED_OUTPUT_BYTES, and read by nothing but the kernel computing them (which reads
        its own later uses from scratch instead, see _scratch_for_later_stages)."""
        candidates = set()
        for kind, buf in program.outputs:
            if kind != "fresh" or buf.nbytes < STREAMED_OUTPUT_BYTES:
                continue
            value = next((v for v, view in self.buffer_of.items() if view.buffer is buf), None)
            if value is None or value.node is None:
                continue
            group = fusion.group_of.get(value.node)
            if group is not None and all(fusion.group_of.get(node) is group
                                         for node in fusion.root_consumers.get(value.node, ())):
                candidates.add(buf)
        return candidates

    def _mark_streamed(self, program):
        """Candidates no kernel reads, written only in rows of a row kernel (see _in_bursts)."""
        read = {e.buffer for k in program.kernels for e in walk_exprs(k.body)
                if isinstance(e, Load)}
        sites = {}
        for kernel in program.kernels:
            for store, loops in store_sites(kernel.body):
                sites.setdefault(store.buffer, []).append(loops)
        for buf in self.stream_candidates:  # (one a library call writes has no store sites)
            stores = sites.get(buf, [])
            buf.streamed = buf not in read and bool(stores) and all(map(_in_bursts, stores))

    # ---- kernels -------------------------------------------------------------------------------

    def _kernels_in_order(self):
        fusion = self.fusion
        deps = fusion.group_dependencies()
        kernels = {}
        for group in fusion.groups:
            kernels[id(group)] = KernelBuilder(self, group).build()
        copies = [self._copy_kernel(v, t) for v, t in self.output_copies]
        return self._schedule(fusion.groups, deps, kernels) + copies

    def _schedule(self, groups, deps, kernels):
        """Kahn's algorithm: kernels with bounds checks as early as possible, kernels writing
        state in place as late as possible, otherwise graph order."""
        state = {b for b in self.program.inputs}
        waiting = {id(g): len(set(map(id, deps[g]))) for g in groups}
        users = {id(g): [] for g in groups}
        for g in groups:
            for d in set(map(id, deps[g])):
                users[d].append(g)
        order = {id(g): i for i, g in enumerate(groups)}

        kernels = {key: k if isinstance(k, list) else [k] for key, k in kernels.items()}

        def priority(g):
            k = kernels[id(g)][0]
            writes_state = bool(k.writes() & state)
            return (1 if writes_state else 0, 0 if k.can_fail else 1, order[id(g)])

        ready = [(priority(g), order[id(g)], g) for g in groups if waiting[id(g)] == 0]
        heapq.heapify(ready)
        result = []
        while ready:
            _, _, g = heapq.heappop(ready)
            result.extend(kernels[id(g)])  # a group's follow-up kernels run right after it
            for u in users[id(g)]:
                waiting[id(u)] -= 1
                if waiting[id(u)] == 0:
                    heapq.heappush(ready, (priority(u), order[id(u)], u))
        if len(result) != sum(len(kernels[id(g)]) for g in groups):
            raise AssertionError("kernel dependencies form a cycle (a fusion bug)")
        return result

    def _copy_kernel(self, value, target):
        builder = KernelBuilder(self, None)
        indices = loop_vars(value.shape)
        body = builder.body()
        body.add(Store(target.buffer, index_of(target, indices),
                       builder.value_at(value, indices, body)))
        return builder.finish("copy", nest(value.shape, body.statements), [])

    def _view_copy_kernel(self, source, target):
        indices = loop_vars(source.shape)
        body = [Store(target.buffer, index_of(target, indices),
                      Load(source.buffer, index_of(source, indices)))]
        return KernelBuilder(self, None).finish("copy", nest(source.shape, body), [])

    def _all_buffers(self, program):
        seen, result = set(), []
        for buf in program.inputs:
            seen.add(buf)
            result.append(buf)
        for kind, what in program.outputs:
            if kind == "fresh" and what not in seen:
                seen.add(what)
                result.append(what)
        for k in program.kernels:
            for buf in k.params:
                if buf not in seen:
                    seen.add(buf)
                    result.append(buf)
        return result

    # ---- safety of in-place writes ---------------------------------------------------------

    def _unsafe_inplace(self, program):
        """Output positions whose in-place write could clobber a value still to be read, or
        happen before a bounds check."""
        unsafe = []
        order = program.kernels
        last_check = max((i for i, k in enumerate(order) if k.can_fail), default=-1)
        for out_index, (kind, target) in enumerate(program.outputs):
            if kind != "inplace" or isinstance(self.inplace.get(out_index), tuple):
                continue
            state = program.inputs[target]
            writers = [i for i, k in enumerate(order) if state in k.writes()]
            if not writers:
                continue
            first = writers[0]
            readers = [i for i, k in enumerate(order) if state in k.reads()]
            if first <= last_check or any(r > first for r in readers) or \
                    not _reads_precede_write(order[first], state):
                unsafe.append(out_index)
        return unsafe

    # ---- memory ----------------------------------------------------------------------------

    def _plan_arena(self, program):
        """Temporaries share one arena: each lives from the kernel that first touches it to the
        last one, and is placed first-fit (64-byte aligned) among those alive with it. A
        temporary first written by a kernel that is also the last reader of a same-sized
        temporary, at exactly the points it writes (an elementwise update), takes that one's
        memory: an in-place update where the old contents are dead."""
        first, last = {}, {}
        for i, k in enumerate(program.kernels):
            for buf in k.buffers:
                if buf.kind == "temp":
                    first.setdefault(buf, i)
                    last[buf] = i
        placed = []  # (start, end, offset, size)
        top = 0
        taken = set()
        for buf in sorted(first, key=lambda b: (first[b], -b.nbytes)):
            size = _aligned(max(buf.nbytes, 1))
            kernel = program.kernels[first[buf]]
            dying = self._overwritable(kernel, buf, first, last, taken, program)
            if dying is not None:
                taken.add(dying)
                kernel.aliased = True  # two parameters share memory: no noalias
                offset = program.offsets[dying]
                placed.append((first[buf], last[buf], offset, size))
                program.offsets[buf] = offset
                continue
            offset = 0
            for start, end, off, sz in sorted(placed, key=lambda p: p[2]):
                if end < first[buf] or start > last[buf]:
                    continue
                if offset + size <= off:
                    break
                offset = max(offset, _aligned(off + sz))
            placed.append((first[buf], last[buf], offset, size))
            program.offsets[buf] = offset
            top = max(top, offset + size)
        program.arena_bytes = top

    def _overwritable(self, kernel, new, first, last, taken, program):
        """A temporary whose last reader is `kernel`, of `new`'s size and dtype, read there only
        where and before `kernel` writes `new` (the same index, the same loop body)."""
        index = first[new]
        for old in kernel.buffers:
            if old is new or old.kind != "temp" or old in taken or old not in program.offsets:
                continue
            if last[old] != index or first[old] >= index:
                continue
            if old.nbytes != new.nbytes or old.dtype is not new.dtype or old.shape != new.shape:
                continue
            if _reads_precede_write(kernel, new, reading=old):
                return old
        return None

    def _plan_table(self, program):
        """Slots of the argument table: inputs, fresh outputs, constants, errinfo, arena."""
        slot = 0
        for buf in program.buffers:
            if buf.kind in ("input", "output", "const"):
                buf.index = slot
                slot += 1
        program.errinfo_slot = slot
        program.arena_slot = slot + 1
        program.table_size = slot + 2


def _aligned(n, alignment=64):
    return (n + alignment - 1) // alignment * alignment


def _reads_precede_write(kernel, buffer, reading=None):
    """Inside the kernel that writes `buffer` in place, every read of it (or of `reading`, a
    buffer that is to share its memory) must come before the write, in the same loop body, at
    the same index (an elementwise update)."""
    read = reading or buffer
    stores = [s for s in walk(kernel.body) if isinstance(s, Store) and s.buffer is buffer]
    if any(isinstance(s, LibCall) and (buffer in s.written or read in
                                        [a.buffer for a in s.args if isinstance(a, Pointer)])
           for s in walk(kernel.body)):
        return reading is None and not any(isinstance(e, Load) and e.buffer is buffer
                                           for e in walk_exprs(kernel.body))
    if len(stores) != 1 or stores[0].add:
        return reading is None and not any(isinstance(e, Load) and e.buffer is buffer
                                           for e in walk_exprs(kernel.body))
    store = stores[0]
    key = repr(store.index)
    found_store = False

    def scan(body):
        nonlocal found_store
        for s in body:
            if isinstance(s, Loop):
                if not scan(s.body):
                    return False
                continue
            for e in _exprs_of(s):
                for x in _walk(e):
                    if isinstance(x, Load) and x.buffer is read:
                        if found_store or body is not owner or repr(x.index) != key:
                            return False
            if s is store:
                found_store = True
        return True

    owner = _body_containing(kernel.body, store)
    return scan(kernel.body)


def _exprs_of(s):
    from .loops import statement_exprs

    return statement_exprs(s)


def _walk(e):
    from .loops import walk_expr

    return walk_expr(e)


def _body_containing(body, target):
    for s in body:
        if s is target:
            return body
        if isinstance(s, Loop):
            found = _body_containing(s.body, target)
            if found is not None:
                return found
    return None


def nest(shape, statements, vector_last=True, names=None):
    """Loops over `shape` (outermost first) around `statements`; the innermost may be vector."""
    body = statements
    variables = names or loop_vars(shape)
    for k in range(len(shape) - 1, -1, -1):
        body = [Loop(variables[k], shape[k], body, vector=vector_last and k == len(shape) - 1)]
    return body


class Body:
    """A statement list being filled, remembering values already computed in it (and in the
    bodies around it) so each is computed once."""

    def __init__(self, parent=None):
        self.statements = []
        self.parent = parent
        self.memo = {}

    def add(self, statement):
        self.statements.append(statement)

    def find(self, key):
        body = self
        while body is not None:
            if key in body.memo:
                return body.memo[key]
            body = body.parent
        return None


class KernelBuilder:
    """Builds the loop nest of one group (or a copy kernel when group is None)."""

    def __init__(self, program_builder, group):
        self.pb = program_builder
        self.fusion = program_builder.fusion
        self.group = group
        self.available = {}  # member value -> Local holding it at the current point
        self.members = set(group.nodes) if group is not None else set()
        self.stored = set()  # members already written to their buffer in this kernel
        self.prologue = []  # statements a library kernel runs first (staged operands)
        self.scratch = {}  # value -> View of kernel-local scratch memory holding it

    # ---- helpers -----------------------------------------------------------------------------

    def body(self, parent=None):
        return Body(parent)

    def view(self, value):
        return self.pb.buffer_of.get(value)

    def finish(self, kind, statements, nodes, flops=0):
        name = f"k{next(self.pb.names)}_{kind}"
        statements = hoist_invariants(statements)
        buffers = _buffers_used(statements)
        return Kernel(name, buffers, statements, nodes, flops)

    # ---- reading values ------------------------------------------------------------------------

    def value_at(self, value, indices, body):
        """The expression for `value` at `indices`, in the scope of `body`."""
        local = self.available.get(value)
        if local is not None:
            return Ref(local)
        scratch = self.scratch.get(value)
        if scratch is not None:  # computed by an earlier stage of this kernel
            return Load(scratch.buffer, index_of(scratch, indices))
        node = value.node
        view = self.view(value)
        if view is not None and node not in self.members:
            return Load(view.buffer, index_of(view, indices))
        if view is not None and value in self.stored:
            return Load(view.buffer, index_of(view, indices))
        if node is None:
            raise AssertionError(f"graph input {value} has no buffer")
        if node.prim is CONSTANT:
            return self.constant_at(node, indices)
        key = (value, tuple(repr(ix) for ix in indices))
        found = body.find(key)
        if found is not None:
            return Ref(found)
        expr = self.compute(node, indices, body)
        if isinstance(expr, (Const, Ref, Load)):
            return expr
        local = Local(value.dtype)
        body.add(Let(local, expr))
        body.memo[key] = local
        return Ref(local)

    def constant_at(self, node, indices):
        array = node.params["value"]
        dtype = node.outputs[0].dtype
        flat = array.reshape(-1)
        if flat.size and bool(np.all(flat == flat[0])) and not (
                dtype.is_floating_point and np.isnan(flat[0]) != np.isnan(flat).all()):
            return Const(_python_scalar(flat[0], dtype), dtype)
        view = self.view(node.outputs[0])
        if view is None:
            buf = Buffer(f"c{next(self.pb.names)}", dtype, array.shape, "const")
            self.pb.program.constants.append((buf, np.ascontiguousarray(array)))
            view = View.whole(buf)
            self.pb.buffer_of[node.outputs[0]] = view
        return Load(view.buffer, index_of(view, indices))

    def compute(self, node, indices, body):
        """The expression of an elementwise or remap node at `indices` from its operands."""
        name = node.prim.name
        if name == "full_like":
            return Const(_python_scalar(node.params["value"], node.outputs[0].dtype),
                         node.outputs[0].dtype)
        if name in ("take", "gather"):
            return self.gather(node, indices, body)
        if name == "reshape":
            memory = self._contiguous_memory(node.inputs[0])
            if memory is not None:  # a reshape of contiguous memory is a view of it
                flat = View(memory.buffer, memory.offset, node.outputs[0].shape,
                            contiguous_strides(node.outputs[0].shape))
                return Load(flat.buffer, index_of(flat, indices))
        operand_ix = operand_indices(node, indices)
        if self.fusion.kinds[node] == "remap" or name == "copy":
            return self.value_at(node.inputs[0], operand_ix[0], body)
        args = [self.value_at(v, ix, body) for v, ix in zip(node.inputs, operand_ix)]
        return Apply(node.prim, args, dict(node.params), node.outputs[0].dtype)

    def _contiguous_memory(self, value):
        """The view `value` is read from when value_at would load it from memory and that view
        is contiguous (a reshape of it then reads at the linear index: no division, and a
        vector of consecutive elements stays one load); else None."""
        if value in self.available or value in self.scratch:
            return None
        view = self.view(value)
        if view is None or not (value.node not in self.members or value in self.stored):
            return None
        return view if view.is_contiguous() else None

    def gather(self, node, indices, body):
        """take / gather: the source is read at a position given by the index tensor, which is
        wrapped (negative counts from the end) and checked (an error before any state is
        written)."""
        x, idx = node.inputs
        axis = node.params["axis"]
        operand_ix = operand_indices(node, indices)
        position = self.index_value(idx, operand_ix[1], x.shape[axis], axis, body)
        if node.prim.name == "take":
            source_ix = tuple(indices[:axis]) + (position,) + tuple(indices[axis + idx.ndim:])
        else:
            source_ix = tuple(indices[:axis]) + (position,) + tuple(indices[axis + 1:])
        return self.value_at(x, source_ix, body)

    def index_value(self, idx, indices, size, axis, body):
        raw = self.value_at(idx, indices, body)
        if raw.dtype is not INDEX:
            raw = Apply(P["cast"], (raw,), {"dtype": INDEX}, INDEX)
        wrapped = Local(INDEX, "ix")
        negative = Apply(P["lt"], (raw, Const(0, INDEX)), {}, dtypes.bool_)
        body.add(Let(wrapped, Apply(P["where"], (negative, add(raw, Const(size, INDEX)), raw),
                                    {}, INDEX)))
        ok = Apply(P["logical_and"], (
            Apply(P["ge"], (Ref(wrapped), Const(0, INDEX)), {}, dtypes.bool_),
            Apply(P["lt"], (Ref(wrapped), Const(size, INDEX)), {}, dtypes.bool_)), {},
            dtypes.bool_)
        code = self.pb.program.error(
            IndexError, f"index {{}} is out of bounds for dimension {axis} with size {size}")
        body.add(Check(ok, code, raw))
        return Ref(wrapped)

    # ---- groups ------------------------------------------------------------------------------

    def build(self):
        group = self.group
        kind = group.domain[0]
        if kind == "loop":
            return self.loop_group()
        if kind == "row":
            return self.row_group()
        node = group.nodes[0]
        fkind = self.fusion.kinds[node]
        if fkind == "library":
            return self.library_kernel(node)
        return getattr(self, "custom_" + node.prim.name)(node)

    def members_in_order(self):
        return self.group.nodes

    def emit_member(self, node, indices, body):
        """Compute a member at its point, keep it in a local, store it if it needs memory."""
        value = node.outputs[0]
        expr = self.compute(node, indices, body)
        local = Local(value.dtype)
        body.add(Let(local, expr))
        self.available[value] = local
        self.store_if_needed(value, indices, body, local)

    def store_if_needed(self, value, indices, body, local):
        view = self.view(value)
        if view is not None:
            body.add(Store(view.buffer, index_of(view, indices), Ref(local)))
            self.stored.add(value)

    def loop_group(self):
        shape = self.group.domain[1]
        indices = loop_vars(shape)
        body = self.body()
        for node in self.members_in_order():
            self.emit_member(node, indices, body)
        inner, loop_shape, variables = collapse_dimensions(body.statements, shape, indices)
        statements = nest(loop_shape, inner, names=variables)
        flops = numel(shape) * len(self.group.nodes)
        return self.finish(_kernel_kind(self.group), statements, self.group.nodes, flops)

    def row_group(self):
        """A reduction with the values it feeds and follows, in stages: each stage's loops over
        the reduced axes compute the full-domain values and reductions that need the previous
        stage's results, and the kept-axes values come right after. Two loop orders, by which
        axis is contiguous in memory (see _row_form and _column_form)."""
        _, shape, axes = self.group.domain
        members = self.members_in_order()
        plan = {
            "shape": shape, "axes": axes, "variables": loop_vars(shape),
            "stages": self.stages(),
            "kept": [n for n in members if self.level(n) == "kept"],
            "full": [n for n in members if self.level(n) == "full"],
            "reductions": [n for n in members if n.prim.name in REDUCTIONS],
            "reduced_numel": numel([shape[a] for a in axes]),
        }
        plan["kept_ix"] = {n: member_indices(n.outputs[0], self.group.domain)
                           for n in plan["kept"]}
        plan["last_stage"] = max(plan["stages"].values(), default=0)
        if not axes or (len(shape) - 1) in axes:
            statements = self._row_form(plan)
        else:
            statements = self._column_form(plan)
        flops = numel(shape) * max(1, len(plan["full"]) + len(plan["reductions"]))
        if not self.group.column_sums:
            return self.finish(_kernel_kind(self.group), statements, self.group.nodes, flops)
        statements = self._in_row_chunks(statements, shape)
        flops += numel(shape) * len(self.group.column_sums)
        kernel = self.finish(_kernel_kind(self.group), statements, self.group.all_nodes(), flops)
        return [kernel, self._column_sums_kernel(shape)]

    def _row_form(self, plan):
        """The reduced axes are innermost in memory (softmax over rows): loops over the kept
        axes outside; per stage, vector loops along the row with accumulators in registers.
        A full-domain value that a later stage needs again and is costly to recompute (an exp)
        is kept in a row-sized scratch buffer, read back from L1."""
        shape, axes, variables = plan["shape"], plan["axes"], plan["variables"]
        stages = plan["stages"]
        kept = [k for k in range(len(shape)) if k not in axes]
        outer = self.body()
        self._scratch_for_later_stages(plan)
        for node in plan["kept"]:
            if stages[node] == -1 and node not in plan["reductions"]:
                self.emit_member(node, plan["kept_ix"][node], outer)
        for stage in range(0, plan["last_stage"] + 1):
            stage_reductions = [n for n in plan["reductions"] if stages[n] == stage]
            stage_full = [n for n in plan["full"] if stages[n] == stage]
            accumulators = {}
            for node in stage_reductions:
                acc = Local(node.outputs[0].dtype, "acc")
                how = REDUCTIONS[node.prim.name]
                outer.add(Let(acc, _initial(how, node.outputs[0].dtype, plan["reduced_numel"])))
                accumulators[node] = (acc, how)
            inner = self.body(outer)
            for node in stage_full:
                self.emit_member(node, variables, inner)
                self.keep_in_scratch(node.outputs[0], variables, inner)
            for node in stage_reductions:
                acc, how = accumulators[node]
                inner.add(Accumulate(acc, how, self.value_at(node.inputs[0], variables, inner)))
            if stage == plan["last_stage"] and self.group.column_sums:
                self._accumulate_column_sums(variables, inner)
            for node in stage_full:  # later stages read them back, or recompute them
                self.available.pop(node.outputs[0], None)
            outer.statements.extend(self._loops_over(axes, variables, shape, inner.statements,
                                                     vector_last=True))
            for node in stage_reductions:
                acc, _ = accumulators[node]
                self.available[node.outputs[0]] = acc
                self.store_if_needed(node.outputs[0], plan["kept_ix"][node], outer, acc)
            for node in plan["kept"]:
                if stages[node] == stage and node not in plan["reductions"]:
                    self.emit_member(node, plan["kept_ix"][node], outer)
        return self._loops_over(kept, variables, shape, outer.statements, vector_last=False)

    # ---- column sums carried by a row group (fusion's _attach_column_sums) ---------------------

    def _column_reductions(self):
        return [n for n in self.group.column_sums if n.prim.name in REDUCTIONS]

    def _accumulate_column_sums(self, variables, inner):
        """In the row form's last stage: each column sum adds the row's values into its
        chunk's running sums (a row of stack scratch per sum)."""
        column = variables[-1]
        self.column_partials = {}
        for node in self._column_reductions():
            dtype = node.outputs[0].dtype
            running = self.scratch_buffer("c", dtype, (self.group.domain[1][-1],))
            partials = Buffer(f"p{next(self.pb.names)}", dtype,
                              (row_chunks(self.group.domain[1][0]), running.shape[0]), "temp")
            self.column_partials[node] = (running, partials)
            value = self.value_at(node.inputs[0], variables, inner)
            combined = Apply(P[_COMBINE_PRIMITIVE[REDUCTIONS[node.prim.name]]],
                             (Load(running, column), value), {}, dtype)
            inner.add(Store(running, column, combined))

    def _in_row_chunks(self, statements, shape):
        """The row form's loop over rows as chunks of rows: each chunk starts its running
        column sums at the identity and ends by saving them as its row of partial sums."""
        (rows_loop,) = statements
        count = row_chunks(shape[0])
        size = shape[0] // count
        n = next(self.pb.names)
        chunk, row, column = Var(f"c{n}"), Var(f"r{n}"), loop_vars(shape)[-1]
        rows = substitute_statements(
            rows_loop.body, {rows_loop.var.name: add(mul(chunk, Const(size, INDEX)), row)})
        start, save = [], []
        for node, (running, partials) in self.column_partials.items():
            how = REDUCTIONS[node.prim.name]
            start.append(Store(running, column, _initial(how, running.dtype, shape[0])))
            save.append(Store(partials, add(mul(chunk, Const(shape[-1], INDEX)), column),
                              Load(running, column)))
        return [Loop(chunk, count, [Loop(column, shape[-1], start, vector=True),
                                    Loop(row, size, rows),
                                    Loop(column, shape[-1], save, vector=True)])]

    def _column_sums_kernel(self, shape):
        """Adds up each column sum's partial sums, chunk after chunk, and computes the values
        over the columns that follow from them (a reshape, a scaling)."""
        builder = KernelBuilder(self.pb, None)
        builder.members = set(self.group.column_sums)
        domain = ("row", shape, tuple(range(len(shape) - 1)))
        column = loop_vars(shape)[-1]
        body = builder.body()
        for node in self.group.column_sums:
            value = node.outputs[0]
            indices = member_indices(value, domain)
            if node.prim.name not in REDUCTIONS:
                builder.emit_member(node, indices, body)
                continue
            running, partials = self.column_partials[node]
            how = REDUCTIONS[node.prim.name]
            total = Local(value.dtype, "acc")
            chunk = Var(f"c{next(self.pb.names)}")
            body.add(Let(total, _initial(how, value.dtype, shape[0])))
            body.add(Loop(chunk, partials.shape[0], [Accumulate(total, how, Load(
                partials, add(mul(chunk, Const(shape[-1], INDEX)), column)))]))
            builder.available[value] = total
            builder.store_if_needed(value, indices, body, total)
        statements = [Loop(column, shape[-1], body.statements, vector=True)]
        return builder.finish("sum", statements, self.group.column_sums, numel(partials.shape))

    def _column_form(self, plan):
        """A kept axis is innermost in memory (a sum over the batch: bias gradients, layer
        norm's weight gradients): memory is read in order, one row of the reduced axes after
        another, each row with vector loops over the trailing kept axes, accumulating into
        scratch arrays as long as those axes (in L1). Kept-axes values are computed after each
        stage into scratch arrays too, where later stages read them. Every output element still
        sums its rows in order, as the strip-by-strip form would."""
        shape, axes, variables = plan["shape"], plan["axes"], plan["variables"]
        stages = plan["stages"]
        last_reduced = max(axes)
        inner_kept = [k for k in range(last_reduced + 1, len(shape))]
        outer_kept = [k for k in range(len(shape)) if k not in axes and k not in inner_kept]
        inner_shape = tuple(shape[k] for k in inner_kept)
        outer = self.body()

        inner_strides = dict(zip((variables[k].name for k in inner_kept),
                                 contiguous_strides(inner_shape)))

        def scratch(value):
            """An array over the trailing kept axes holding `value` (a kept-axes value), seen
            in the value's own index space (it is read at the value's indices)."""
            buf = self.scratch_buffer("a", value.dtype, inner_shape)
            indices = member_indices(value, self.group.domain)
            strides = [inner_strides.get(ix.name, 0) if isinstance(ix, Var) else 0
                       for ix in indices]
            return View(buf, 0, value.shape, strides)

        def over_inner(build):
            """One vector loop nest over the trailing kept axes around what build(body) adds."""
            body = self.body(outer)
            build(body)
            outer.statements.extend(self._loops_over(inner_kept, variables, shape,
                                                     body.statements, vector_last=True))

        needed_later = self._read_by_later_stages(plan)
        for node in plan["kept"]:
            if node in plan["reductions"] or node.outputs[0] in needed_later:
                self.scratch[node.outputs[0]] = scratch(node.outputs[0])

        def emit_kept(nodes, body):
            for node in nodes:
                if node in plan["reductions"]:
                    value = node.outputs[0]
                    total = Load(self.scratch[value].buffer,
                                 index_of(self.scratch[value], plan["kept_ix"][node]))
                    local = Local(value.dtype)
                    body.add(Let(local, total))
                    self.available[value] = local
                    self.store_if_needed(value, plan["kept_ix"][node], body, local)
                else:
                    self.emit_member(node, plan["kept_ix"][node], body)
                    view = self.scratch.get(node.outputs[0])
                    if view is not None:
                        local = self.available[node.outputs[0]]
                        body.add(Store(view.buffer, index_of(view, plan["kept_ix"][node]),
                                       Ref(local)))
            for node in nodes:
                self.available.pop(node.outputs[0], None)

        pre = [n for n in plan["kept"] if stages[n] == -1 and n not in plan["reductions"]]
        if pre:
            over_inner(lambda body: emit_kept(pre, body))
        for stage in range(0, plan["last_stage"] + 1):
            stage_reductions = [n for n in plan["reductions"] if stages[n] == stage]
            stage_full = [n for n in plan["full"] if stages[n] == stage]

            def start(body, nodes=stage_reductions):
                for node in nodes:
                    view = self.scratch[node.outputs[0]]
                    how = REDUCTIONS[node.prim.name]
                    body.add(Store(view.buffer, index_of(view, plan["kept_ix"][node]), _initial(
                        how, node.outputs[0].dtype, plan["reduced_numel"])))

            if stage_reductions:
                over_inner(start)
            rows = self.body(outer)
            inner = self.body(rows)
            for node in stage_full:
                self.emit_member(node, variables, inner)
            for node in stage_reductions:
                view = self.scratch[node.outputs[0]]
                index = index_of(view, plan["kept_ix"][node])
                how = REDUCTIONS[node.prim.name]
                value = self.value_at(node.inputs[0], variables, inner)
                combined = Apply(P[_COMBINE_PRIMITIVE[how]], (Load(view.buffer, index), value),
                                 {}, node.outputs[0].dtype)
                inner.add(Store(view.buffer, index, combined))
            for node in stage_full:
                self.available.pop(node.outputs[0], None)
            row_loop = self._loops_over(inner_kept, variables, shape, inner.statements,
                                        vector_last=True)
            outer.statements.extend(self._loops_over(sorted(axes), variables, shape, row_loop,
                                                     vector_last=False))
            later = [n for n in plan["kept"] if stages[n] == stage]
            if later:
                over_inner(lambda body, nodes=later: emit_kept(nodes, body))
        statements = outer.statements
        if not outer_kept and len(inner_kept) == 1:
            statements = _blocked(statements, variables[inner_kept[0]], shape[inner_kept[0]])
        return self._loops_over(outer_kept, variables, shape, statements, vector_last=False)

    def _read_by_later_stages(self, plan):
        """Member values that some member of a later stage reads."""
        stages, members = plan["stages"], set(self.group.nodes)
        found = set()
        for node in self.members_in_order():
            for value, _ in self.fusion.reads(node, self.group.domain):
                producer = value.node
                if producer in members and producer is not node and \
                        stages[producer] < stages[node]:
                    found.add(value)
        return found

    def _loops_over(self, dims, variables, shape, statements, vector_last):
        for position in range(len(dims) - 1, -1, -1):
            d = dims[position]
            statements = [Loop(variables[d], shape[d], statements,
                               vector=vector_last and position == len(dims) - 1)]
        return statements

    def _scratch_for_later_stages(self, plan):
        """Row-sized scratch for full-domain values that a later stage reads and that cost more
        than a load to recompute."""
        shape, axes = plan["shape"], plan["axes"]
        stages = plan["stages"]
        members = set(self.group.nodes)
        reduced_shape = tuple(shape[a] for a in axes)
        for node in self.members_in_order():
            for value, _ in self.fusion.reads(node, self.group.domain):
                producer = value.node
                if producer not in members or producer is node or \
                        self.level(producer) != "full" or value in self.scratch:
                    continue
                view = self.view(value)
                streamed = view is not None and view.buffer in self.pb.stream_candidates
                if stages[producer] < stages[node] and (
                        streamed or view is None and self.fusion.cost_if_inlined(value) > 2):
                    buf = self.scratch_buffer("r", value.dtype, reduced_shape)
                    strides = [0] * len(shape)
                    for a, stride in zip(axes, contiguous_strides(reduced_shape)):
                        strides[a] = stride
                    self.scratch[value] = View(buf, 0, shape, strides)

    def scratch_buffer(self, prefix, dtype, shape):
        """Kernel-local scratch: on the stack of each invocation (so parallel chunks each have
        their own) unless it is too big for it."""
        kind = "stack" if numel(shape) * dtype.itemsize <= STACK_SCRATCH_BYTES else "temp"
        return Buffer(f"{prefix}{next(self.pb.names)}", dtype, shape, kind)

    def keep_in_scratch(self, value, indices, body):
        view = self.scratch.get(value)
        if view is not None:
            body.add(Store(view.buffer, index_of(view, indices), Ref(self.available[value])))

    def level(self, node):
        if node.prim.name in REDUCTIONS:
            return "kept"
        from .fusion import _level

        return _level(node.outputs[0], self.group.domain)

    def stages(self):
        """Stage of each member: reductions and full-domain values run in the inner loops of
        their stage; kept-axes values right after it (-1: before any inner loop)."""
        domain = self.group.domain
        members = set(self.group.nodes)
        stage = {}
        for node in self.members_in_order():
            level = self.level(node)
            is_reduction = node.prim.name in REDUCTIONS
            best = 0 if (level == "full" or is_reduction) else -1
            for value, _ in self.fusion.reads(node, domain):
                producer = value.node
                if producer not in members or producer is node:
                    continue
                s = stage[producer]
                producer_kept = self.level(producer) == "kept"
                if level == "full" or is_reduction:
                    best = max(best, s + 1 if producer_kept else s)
                else:
                    best = max(best, s)
            stage[node] = best
        return stage

    # ---- library kernels -----------------------------------------------------------------------

    def library_kernel(self, node):
        if node.prim.name == "argsort":
            return self.argsort_kernel(node)
        return self.matmul_kernel(node)

    def operand_view(self, value):
        """A library operand as a strided view of memory (looking through movement nodes); when
        the movements do not form a view (a reshape of a transpose), a copy into a temporary at
        the start of the kernel."""
        try:
            return self._as_view(value)
        except NotImplementedError:
            staging = Buffer(f"s{next(self.pb.names)}", value.dtype, value.shape, "temp")
            indices = loop_vars(value.shape)
            body = self.body()
            body.add(Store(staging, index_of(View.whole(staging), indices),
                           self.value_at(value, indices, body)))
            self.prologue += nest(value.shape, body.statements)
            return View.whole(staging)

    def _as_view(self, value):
        view = self.view(value)
        if view is not None:
            return view
        node = value.node
        if node is not None and node.prim is CONSTANT:
            self.constant_at(node, (Const(0, INDEX),) * value.ndim)
            return self.view(value) or self._constant_view(node)
        if node is None or self.fusion.kinds[node] != "remap" or node.prim.name in (
                "take", "gather"):
            raise NotImplementedError("not a movement of memory")
        base = self._as_view(node.inputs[0])
        name, params = node.prim.name, node.params
        if name == "permute":
            perm = params["perm"]
            return View(base.buffer, base.offset, [base.shape[p] for p in perm],
                        [base.strides[p] for p in perm])
        if name == "slice":
            offset = base.offset + sum(s * st for s, st in zip(params["starts"], base.strides))
            return View(base.buffer, offset, value.shape,
                        [st * step for st, step in zip(base.strides, params["steps"])])
        if name == "broadcast_to":
            return self.broadcast_view(base, value.shape)
        if name == "reshape" and base.is_contiguous():
            return View(base.buffer, base.offset, value.shape, contiguous_strides(value.shape))
        raise NotImplementedError(f"operand {name} of a library call is not a view of memory")

    def _constant_view(self, node):
        value = node.outputs[0]
        buf = Buffer(f"c{next(self.pb.names)}", value.dtype, value.shape, "const")
        self.pb.program.constants.append((buf, np.ascontiguousarray(node.params["value"])))
        view = View.whole(buf)
        self.pb.buffer_of[value] = view
        return view

    def matmul_kernel(self, node):
        """C = A @ B (+ bias) [relu | mask], one GEMM call per batch element."""
        if node.prim.name == "matmul_add":
            bias, a, b = node.inputs
        else:
            bias, (a, b) = None, node.inputs
        absorbed, result, extra = self.fusion.epilogues.get(node, ([], node.outputs[0], {}))
        out = self.view(result)
        dtype = result.dtype
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        if dtype not in (dtypes.float32, dtypes.float64) or m * n * k <= SMALL_MATMUL:
            return self.loop_matmul(node, a, b, bias, result, out, extra, absorbed)
        av, bv = self.operand_view(a), self.operand_view(b)
        cv = out
        m, k = a.shape[-2], a.shape[-1]
        n = b.shape[-1]
        batch = tuple(result.shape[:-2])
        bias_view = self.broadcast_view(self.operand_view(bias), result.shape) if bias is not None \
            else None
        mask_view = self.view(extra["mask"]) if "mask" in extra else None
        if out.strides[-1] != 1 and n > 1:
            raise NotImplementedError("matmul output with non-contiguous rows")
        routine = self.pb.library[f"gemm_{dtype.name}"]
        workspace = Buffer(f"w{next(self.pb.names)}", dtype,
                           (routine.workspace_elements(m, n, k),), "temp")
        batch_vars = tuple(Var(f"b{j}") for j in range(len(batch)))
        a_batch = self.broadcast_view(av, batch + (m, k))
        b_batch = self.broadcast_view(bv, batch + (k, n))

        def pointer(view, trailing=2):
            if view is None:
                return None
            ix = tuple(batch_vars) + (Const(0, INDEX),) * trailing
            return Pointer(view.buffer, index_of(view, ix))

        args = [m, n, k,
                pointer(a_batch), _stride(a_batch, -2), _stride(a_batch, -1),
                pointer(b_batch), _stride(b_batch, -2), _stride(b_batch, -1),
                pointer(cv), _stride(cv, -2),
                ("i32", 0),
                pointer(bias_view), _stride(bias_view, -2) if bias_view else 0,
                _stride(bias_view, -1) if bias_view else 0,
                ("i32", 1 if extra.get("relu") else 0),
                pointer(mask_view), _stride(mask_view, -2) if mask_view else 0,
                Pointer(workspace, Const(0, INDEX))]
        call = LibCall(f"gemm_{dtype.name}", args, [cv.buffer])
        statements = [call]
        for j in range(len(batch) - 1, -1, -1):
            statements = [Loop(batch_vars[j], batch[j], statements)]
        flops = 2 * m * n * k * numel(batch)
        return self.finish("gemm", self.prologue + statements, [node] + list(absorbed), flops)

    def broadcast_view(self, view, shape):
        """`view` broadcast (NumPy rules) to `shape`: stride 0 along broadcast dimensions."""
        lead = len(shape) - len(view.shape)
        strides = [0] * lead + [0 if d == 1 and shape[k + lead] != 1 else st
                                for k, (d, st) in enumerate(zip(view.shape, view.strides))]
        return View(view.buffer, view.offset, shape, strides)

    def loop_matmul(self, node, a, b, bias, result, out, extra, absorbed=()):
        """A matmul as a plain loop nest: integer matmuls, and float ones too small for packing
        to pay off. The loop that vectorizes is the one both operands walk contiguously: the
        output columns when B's rows are contiguous, else the shared dimension (a dot product
        per output element, folded from vector partial sums)."""
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        batch = tuple(result.shape[:-2])
        bvars = tuple(Var(f"b{j}") for j in range(len(batch)))
        i, j, r = Var("m"), Var("n"), Var("r")
        by_columns = _stride(self.operand_view(b), -1) == 1
        body = self.body()
        inner = self.body(body)
        acc = Local(result.dtype, "acc")
        body.add(Let(acc, Const(0, result.dtype)))
        a_ix = _broadcast_batch(a.shape, batch, bvars) + (i, r)
        b_ix = _broadcast_batch(b.shape, batch, bvars) + (r, j)
        product = Apply(P["mul"], (self.value_at(a, a_ix, inner), self.value_at(b, b_ix, inner)),
                        {}, result.dtype)
        inner.add(Accumulate(acc, "add", product))
        body.statements.append(Loop(r, k, inner.statements, vector=not by_columns))
        total = Ref(acc)
        if bias is not None:
            bias_ix = broadcast_indices(bias.shape, batch + (m, n), bvars + (i, j))
            total = Apply(P["add"], (self.value_at(bias, bias_ix, body), total), {},
                          result.dtype)
        zero = Const(0, result.dtype)
        if extra.get("relu"):
            total = Apply(P["maximum"], (total, zero), {}, result.dtype)
        if "mask" in extra:
            source = self.value_at(extra["mask"], bvars + (i, j), body)
            total = Apply(P["where"], (Apply(P["gt"], (source, zero), {}, dtypes.bool_),
                                       total, zero), {}, result.dtype)
        body.add(Store(out.buffer, index_of(out, bvars + (i, j)), total))
        statements = nest(batch + (m, n), body.statements, vector_last=by_columns,
                          names=bvars + (i, j))
        return self.finish("matmul", statements, [node] + list(absorbed),
                           2 * m * n * k * numel(batch))

    def argsort_kernel(self, node):
        x = node.inputs[0]
        axis, descending = node.params["axis"], node.params["descending"]
        keys = self.operand_view(x)
        out = self.view(node.outputs[0])
        n = x.shape[axis]
        routine = self.pb.library[f"argsort_{x.dtype.name}"]
        workspace = Buffer(f"w{next(self.pb.names)}", dtypes.int64,
                           (routine.workspace_elements(n),), "temp")
        others = [d for d in range(x.ndim) if d != axis]
        variables = loop_vars(x.shape)
        ix = tuple(Const(0, INDEX) if d == axis else variables[d] for d in range(x.ndim))
        call = LibCall(f"argsort_{x.dtype.name}", [
            Pointer(keys.buffer, index_of(keys, ix)), n, keys.strides[axis] if x.ndim else 1,
            Pointer(out.buffer, index_of(out, ix)), out.strides[axis] if x.ndim else 1,
            ("i32", 1 if descending else 0), Pointer(workspace, Const(0, INDEX))],
            [out.buffer])
        statements = [call]
        for d in reversed(others):
            statements = [Loop(variables[d], x.shape[d], statements)]
        return self.finish("argsort", self.prologue + statements, [node])

    # ---- custom kernels ----------------------------------------------------------------------

    def _out(self, node):
        return self.view(node.outputs[0])

    def custom_concat(self, node):
        axis = node.params["axis"]
        out = self._out(node)
        statements, offset = [], 0
        for x in node.inputs:
            indices = loop_vars(x.shape)
            body = self.body()
            target = tuple(add(ix, Const(offset, INDEX)) if d == axis else ix
                           for d, ix in enumerate(indices))
            body.add(Store(out.buffer, index_of(out, target), self.value_at(x, indices, body)))
            statements += nest(x.shape, body.statements)
            offset += x.shape[axis]
        return self.finish("concat", statements, [node])

    def custom_pad(self, node):
        x = node.inputs[0]
        config, fill = node.params["config"], node.params.get("value", 0)
        out = self._out(node)
        value = node.outputs[0]
        body = self.body()
        indices = loop_vars(value.shape)
        body.add(Store(out.buffer, index_of(out, indices), Const(
            _python_scalar(fill, value.dtype), value.dtype)))
        statements = nest(value.shape, body.statements)
        # Interior: only the positions of x that land inside the output (negative padding crops).
        starts, extents = [], []
        for d, (lo, _, interior), size in zip(x.shape, config, value.shape):
            step = interior + 1
            first = max(0, -(lo // step) if lo < 0 else 0)
            while first < d and lo + first * step < 0:
                first += 1
            last = d
            while last > first and lo + (last - 1) * step >= size:
                last -= 1
            starts.append(first)
            extents.append(max(0, last - first))
        inner = self.body()
        loop_ix = loop_vars(x.shape)
        source_ix = tuple(add(ix, Const(s, INDEX)) for ix, s in zip(loop_ix, starts))
        target_ix = tuple(add(Const(lo, INDEX), mul(ix, Const(interior + 1, INDEX)))
                          for ix, (lo, _, interior) in zip(source_ix, config))
        inner.add(Store(out.buffer, index_of(out, target_ix), self.value_at(x, source_ix, inner)))
        statements += nest(tuple(extents), inner.statements)
        return self.finish("pad", statements, [node])

    def _copy_base(self, node, out):
        base = node.inputs[0]
        indices = loop_vars(base.shape)
        body = self.body()
        body.add(Store(out.buffer, index_of(out, indices), self.value_at(base, indices, body)))
        return nest(base.shape, body.statements)

    def custom_scatter(self, node, add_values=False):
        """out = base; then, in index order, out[.., idx, ..] = src (or += src)."""
        base, idx, src = node.inputs
        axis = node.params["axis"]
        out = self._out(node)
        statements = self._copy_base(node, out)
        indices = loop_vars(idx.shape)
        body = self.body()
        position = self.index_value(idx, indices, base.shape[axis], axis, body)
        target = tuple(position if d == axis else ix for d, ix in enumerate(indices))
        value = self.value_at(src, indices if src.ndim else (), body)
        body.add(Store(out.buffer, index_of(out, target), value, add=add_values))
        statements += nest(idx.shape, body.statements)
        return self.finish("scatter", statements, [node])

    def custom_scatter_add(self, node):
        return self.custom_scatter(node, add_values=True)

    def custom_index_add(self, node):
        """out = base; out[.., idx[p], ..] += src[.., p, ..] with idx positions outermost (the
        order np.add.at applies them)."""
        base, idx, src = node.inputs
        axis = node.params["axis"]
        out = self._out(node)
        statements = self._copy_base(node, out)
        p_vars = tuple(Var(f"p{j}") for j in range(idx.ndim))
        rest = [d for d in range(src.ndim) if not axis <= d < axis + idx.ndim]
        r_vars = {d: Var(f"i{d}") for d in rest}
        body = self.body()
        position = self.index_value(idx, p_vars, base.shape[axis], axis, body)
        src_ix = tuple(p_vars[d - axis] if axis <= d < axis + idx.ndim else r_vars[d]
                       for d in range(src.ndim))
        before = [r_vars[d] for d in rest if d < axis]
        after = [r_vars[d] for d in rest if d >= axis + idx.ndim]
        target = tuple(before) + (position,) + tuple(after)
        body.add(Store(out.buffer, index_of(out, target), self.value_at(src, src_ix, body),
                       add=True))
        inner = body.statements
        for d in reversed(rest):
            inner = [Loop(r_vars[d], src.shape[d], inner, vector=d == rest[-1])]
        for j in range(idx.ndim - 1, -1, -1):
            inner = [Loop(p_vars[j], idx.shape[j], inner)]
        return self.finish("index_add", statements + inner, [node])

    def custom_argmax(self, node, better="gt"):
        """The first position of the maximum (NaN counts as the maximum, as in NumPy)."""
        x = node.inputs[0]
        axis, keepdims = node.params["axis"], node.params["keepdims"]
        out = self._out(node)
        variables = loop_vars(x.shape)
        axes = list(range(x.ndim)) if axis is None else [axis % max(x.ndim, 1)]
        kept = [d for d in range(x.ndim) if d not in axes]
        outer = self.body()
        best, where = Local(x.dtype, "best"), Local(INDEX, "arg")
        first_ix = tuple(Const(0, INDEX) if d in axes else variables[d] for d in range(x.ndim))
        outer.add(Let(best, self.value_at(x, first_ix, outer)))
        outer.add(Let(where, Const(0, INDEX)))
        inner = self.body(outer)
        value = self.value_at(x, variables, inner)
        flat = Const(0, INDEX)
        for d in axes:
            flat = add(mul(flat, Const(x.shape[d], INDEX)), variables[d])
        wins = Apply(P[better], (value, Ref(best)), {}, dtypes.bool_)
        if x.dtype.is_floating_point:
            nan_first = Apply(P["logical_and"], (
                Apply(P["isnan"], (value,), {}, dtypes.bool_),
                Apply(P["logical_not"], (Apply(P["isnan"], (Ref(best),), {}, dtypes.bool_),),
                      {}, dtypes.bool_)), {}, dtypes.bool_)
            wins = Apply(P["logical_or"], (wins, nan_first), {}, dtypes.bool_)
        chosen = Local(dtypes.bool_, "wins")
        inner.add(Let(chosen, wins))
        inner.add(Assign(best, Apply(P["where"], (Ref(chosen), value, Ref(best)), {}, x.dtype)))
        inner.add(Assign(where, Apply(P["where"], (Ref(chosen), flat, Ref(where)), {}, INDEX)))
        statements = inner.statements
        for d in reversed(axes):
            statements = [Loop(variables[d], x.shape[d], statements)]
        outer.statements.extend(statements)
        out_ix = tuple(Const(0, INDEX) if d in axes else variables[d] for d in range(x.ndim)) \
            if keepdims else tuple(variables[d] for d in kept)
        if axis is None and not keepdims:
            out_ix = ()
        outer.add(Store(out.buffer, index_of(out, out_ix), Ref(where)))
        statements = outer.statements
        for d in reversed(kept):
            statements = [Loop(variables[d], x.shape[d], statements)]
        return self.finish(node.prim.name, statements, [node])

    def custom_argmin(self, node):
        return self.custom_argmax(node, better="lt")


def _broadcast_batch(shape, batch, bvars):
    """Index of an operand's batch dimensions, broadcast against the result's batch."""
    lead = len(batch) - (len(shape) - 2)
    return tuple(Const(0, INDEX) if d == 1 else bvars[k + lead]
                 for k, d in enumerate(shape[:-2]))


def _stride(view, axis):
    if view is None:
        return 0
    return view.strides[axis] if view.shape[axis] != 1 else 0


_COMBINE_PRIMITIVE = {"add": "add", "max": "maximum", "min": "minimum"}

# Column blocks of a column-form reduction: independent, so they can run on several threads.
# A block is at least MIN_COLUMN_BLOCK columns and grows (doubling, up to MAX_COLUMN_BLOCK) while
# at least COLUMN_BLOCKS_WANTED blocks remain: each row is read in runs as long as the block
# (1 KiB runs 16 KiB apart defeat the prefetcher; a 4096-column sum ran 1.4x slower in blocks
# of 256 than of 1024), and the blocks still give every thread of a small machine work.
MIN_COLUMN_BLOCK = 256
MAX_COLUMN_BLOCK = 2048
COLUMN_BLOCKS_WANTED = 4


def column_block(extent):
    """Columns per block for a column loop of `extent` (shapes only: the same for any thread
    count), or None when the loop stays whole (too short, or no block divides it)."""
    if extent < 2 * MIN_COLUMN_BLOCK or extent % MIN_COLUMN_BLOCK:
        return None
    block = MIN_COLUMN_BLOCK
    while (2 * block <= MAX_COLUMN_BLOCK and extent % (2 * block) == 0
           and extent // (2 * block) >= COLUMN_BLOCKS_WANTED):
        block *= 2
    return block


def _blocked(statements, var, extent):
    """The column-form nest with its column loops cut into blocks (`column_block`) under one
    outer loop over blocks: every column is still computed by the same statements in the same
    order, a block at a time (and the blocks can run in parallel). Only when a block divides
    the columns evenly (loop extents are constants)."""
    width = column_block(extent)
    if width is None:
        return statements
    block = Var("jb")
    column = add(mul(block, Const(width, INDEX)), var)

    def shrink(body):
        result = []
        for s in body:
            if isinstance(s, Loop):
                extent_here = width if s.var.name == var.name else s.extent
                result.append(Loop(s.var, extent_here, shrink(s.body), s.vector))
            else:
                result.append(s)
        return result

    inner = substitute_statements(shrink(statements), {var.name: column})
    return [Loop(block, extent // width, inner)]


def _initial(how, dtype, reduced_numel):
    """The accumulator's start. Sums start at -0.0 (x + -0.0 is x, keeping a -0.0 sum) except
    for an empty reduction, which NumPy gives as +0.0."""
    if how == "add":
        value = (0.0 if reduced_numel == 0 else -0.0) if dtype.is_floating_point else 0
        return Const(value if dtype is not dtypes.bool_ else False, dtype)
    if dtype.is_floating_point:
        return Const(float("-inf") if how == "max" else float("inf"), dtype)
    if dtype is dtypes.bool_:
        return Const(how == "min", dtype)
    info = np.iinfo(dtype.np)
    return Const(int(info.min) if how == "max" else int(info.max), dtype)


def _python_scalar(value, dtype):
    value = np.asarray(value).reshape(-1)[0] if np.ndim(value) else value
    if dtype is dtypes.bool_:
        return bool(value)
    if dtype.is_floating_point:
        return float(value)
    return int(value)


def _kernel_kind(group):
    names = [n.prim.name for n in group.nodes]
    if any(n in REDUCTIONS for n in names):
        return "row"
    return "loop"


def _in_bursts(loops):
    """Whether stores inside `loops` (outermost first) may be non-temporal: a vector loop
    inside another loop (a row of a row kernel) writing one array in memory (besides stack
    scratch), so each row goes out as one burst of whole lines. Measured on Zen 3 with 8M
    floats: a flat loop writing two outputs ran 4.8x slower with non-temporal stores than with
    plain ones, and one output up to 1.5x slower; softmax and layer norm forward and backward
    over 2048x1024, writing rows in bursts, ran 20-35% faster."""
    if len(loops) < 2 or not loops[-1].vector:
        return False
    written = {s.buffer for s in walk(loops[-1].body)
               if isinstance(s, Store) and s.buffer.kind != "stack"}
    return len(written) == 1


def _buffers_used(statements):
    seen, found = set(), []

    def note(buf):
        if buf not in seen:
            seen.add(buf)
            found.append(buf)

    for s in walk(statements):
        if isinstance(s, Store):
            note(s.buffer)
        if isinstance(s, LibCall):
            for a in s.args:
                if isinstance(a, Pointer):
                    note(a.buffer)
    for e in walk_exprs(statements):
        if isinstance(e, Load):
            note(e.buffer)
    return found
