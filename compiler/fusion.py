"""Fusion: which graph nodes share a loop nest, and which values need memory of their own.

Every node is one of:

* elementwise (unary, binary, compare, where, cast, copy, full_like) and index remaps (broadcast,
  reshape, permute, slice, take, gather): a value per point of its output, computed from operands
  read at mapped indices;
* reductions (sum, max, min over axes);
* custom kernels (concat, pad, scatter, scatter_add, index_add, argmax, argmin): loops of their
  own that read operands like elementwise code does;
* library calls (matmul, matmul_add, argsort): operands must be strided views of memory.

Three decisions, in order:

1. Inlining. An elementwise value with one consumer (seen through index remaps) is computed
   inside that consumer's expression, unless the consumer broadcasts it and recomputing it would
   cost more than reading it. Cheap values (a cast, a negation of a scalar) are recomputed in every
   consumer. Index remaps are always inlined: they only change how operands are indexed.
2. Grouping. The remaining values ("roots") are merged into loop nests over a common domain:
   a "loop" domain (an output shape) or a "row" domain (a reduction's input shape and its axes:
   values over the whole domain, reductions, and values over the kept axes, all in one nest:
   softmax, log_softmax, layer_norm and their backward pass over memory once). A consumer merges
   with a producer when their domains agree, it reads the producer at exactly the point it computes
   (no transpose, no shift), and no path leaves the pair and comes back (the kernels would form a
   cycle). Sums over the rows of what a row group computes (a layer norm's weight and bias
   gradients) ride along with it as per-chunk partial sums.
3. Memory. A root value that leaves its group (or is a graph output) gets a buffer.
"""
from .ir import CONSTANT
from .loops import INDEX, Apply, Const, Var, add, contiguous_strides, mul
from .primitive import numel
from .primitives.reduce import reduced_shape

ELEMENTWISE_FAMILIES = ("unary", "binary", "compare", "ternary")
ELEMENTWISE_NAMES = ("cast", "copy", "full_like")
REMAPS = ("broadcast_to", "reshape", "permute", "slice", "take", "gather")
REDUCTIONS = {"reduce_sum": "add", "reduce_max": "max", "reduce_min": "min"}
CUSTOM = ("concat", "pad", "scatter", "scatter_add", "index_add", "argmax", "argmin")
LIBRARY = ("matmul", "matmul_add", "argsort")
# Operands read at a data-dependent position: they must be in memory.
RANDOM_ACCESS = {"take": (0,), "gather": (0,)}
TRANSCENDENTAL_COST = 20
CHEAP = 3


def kind_of(node):
    name = node.prim.name
    if node.prim is CONSTANT:
        return "constant"
    if node.prim.family in ELEMENTWISE_FAMILIES or name in ELEMENTWISE_NAMES:
        return "elementwise"
    if name in REMAPS:
        return "remap"
    if name in REDUCTIONS:
        return "reduce"
    if name in CUSTOM:
        return "custom"
    if name in LIBRARY:
        return "library"
    raise NotImplementedError(f"the native back end cannot lower primitive {name!r}")


# ---- index maps: where an operand is read when a node's output is computed at `indices` -----

def broadcast_indices(operand_shape, out_shape, indices):
    """NumPy broadcasting: trailing dimensions align; size-1 dimensions read index 0."""
    lead = len(out_shape) - len(operand_shape)
    return tuple(Const(0, INDEX) if d == 1 and out_shape[k + lead] != 1 else indices[k + lead]
                 for k, d in enumerate(operand_shape))


def reshape_indices(in_shape, out_shape, indices):
    """A reshape's operand indices. When only size-1 dimensions come or go, they map one to one;
    otherwise each run of dimensions whose sizes multiply to the same product maps through its
    own linear index: a split dimension is read at an affine index (vector loads stay
    contiguous), merged dimensions by division and remainder of one index."""
    kept_in = [d for d in in_shape if d != 1]
    kept_out = [d for d in out_shape if d != 1]
    if kept_in == kept_out:
        it = iter([ix for ix, d in zip(indices, out_shape) if d != 1])
        return tuple(Const(0, INDEX) if d == 1 else next(it) for d in in_shape)
    groups = _reshape_groups(in_shape, out_shape)
    if groups is None:
        return _reshape_through_linear(in_shape, out_shape, indices)
    result = [Const(0, INDEX)] * len(in_shape)
    for in_dims, out_dims in groups:
        sub_in = tuple(in_shape[k] for k in in_dims)
        sub_out = tuple(out_shape[k] for k in out_dims)
        picked = _reshape_through_linear(sub_in, sub_out, tuple(indices[k] for k in out_dims))
        for k, ix in zip(in_dims, picked):
            result[k] = ix
    return tuple(result)


def _reshape_groups(in_shape, out_shape):
    """The reshape as independent runs of dimensions of equal products ([(input dims, output
    dims)], size-1 dimensions left out): a split of one input dimension is then affine in the
    output indices (no division), and a merge divides one output index only. None when a size
    is 0."""
    if 0 in in_shape or 0 in out_shape:
        return None
    ins = [k for k, d in enumerate(in_shape) if d != 1]
    outs = [k for k, d in enumerate(out_shape) if d != 1]
    groups, i, j = [], 0, 0
    while i < len(ins) and j < len(outs):
        gi, gj = [ins[i]], [outs[j]]
        pi, pj = in_shape[ins[i]], out_shape[outs[j]]
        i, j = i + 1, j + 1
        while pi != pj:
            if pi < pj:
                gi.append(ins[i])
                pi *= in_shape[ins[i]]
                i += 1
            else:
                gj.append(outs[j])
                pj *= out_shape[outs[j]]
                j += 1
        groups.append((gi, gj))
    return groups


def _reshape_through_linear(in_shape, out_shape, indices):
    """Operand indices through the row-major linear index: integer division and remainder by
    constants (which LLVM turns into multiplications)."""
    from .primitive import REGISTRY

    linear = Const(0, INDEX)
    for ix, stride in zip(indices, contiguous_strides(out_shape)):
        linear = add(linear, mul(ix, Const(stride, INDEX)))
    result = []
    for k, (d, stride) in enumerate(zip(in_shape, contiguous_strides(in_shape))):
        q = linear if stride == 1 else _index_op(REGISTRY["floor_divide"], linear, stride)
        result.append(q if k == 0 else _index_op(REGISTRY["remainder"], q, d))
    return tuple(result)


def _index_op(prim, a, constant):
    return Apply(prim, (a, Const(constant, INDEX)), {}, INDEX)


def operand_indices(node, indices):
    """For each operand of an elementwise or remap node: the index tuple at which it is read
    when the node's output is computed at `indices`; None for operands not read that way (the
    data-dependent source of take/gather, `like` of full_like)."""
    name = node.prim.name
    out_shape = node.outputs[0].shape
    params = node.params
    if name == "full_like":
        return [None]
    if name == "permute":
        perm = params["perm"]
        result = [None] * len(perm)
        for k, p in enumerate(perm):
            result[p] = indices[k]
        return [tuple(result)]
    if name == "slice":
        return [tuple(add(Const(start, INDEX), mul(ix, Const(step, INDEX)))
                      for ix, start, step in zip(indices, params["starts"], params["steps"]))]
    if name == "reshape":
        return [reshape_indices(node.inputs[0].shape, out_shape, indices)]
    if name == "take":
        axis, idx = params["axis"], node.inputs[1]
        return [None, tuple(indices[axis:axis + idx.ndim])]
    if name == "gather":
        return [None, tuple(indices)]
    return [broadcast_indices(v.shape, out_shape, indices) for v in node.inputs]


# ---- the analysis --------------------------------------------------------------------------

class Group:
    """A loop nest: its domain and the root nodes it computes (in graph order)."""

    def __init__(self, domain, node):
        self.domain = domain  # ("loop", shape) | ("row", shape, axes) | ("single", kind)
        self.nodes = [node]
        # A row group over (rows, columns) reducing the columns can carry sums over the rows
        # (a layer norm's weight and bias gradients): their nodes, computed as per-chunk partial
        # sums in the same pass (see Fusion._attach_column_sums).
        self.column_sums = []

    def all_nodes(self):
        return self.nodes + self.column_sums

    def __repr__(self):
        return f"<Group {self.domain} {[n.prim.name for n in self.all_nodes()]}>"


class Fusion:
    def __init__(self, graph):
        self.graph = graph
        self.order = {node: i for i, node in enumerate(graph.nodes)}
        self.kinds = {node: kind_of(node) for node in graph.nodes}
        self.outputs = set(graph.outputs)
        self.users = {}
        for node in graph.nodes:
            for slot, v in enumerate(node.inputs):
                self.users.setdefault(v, []).append((node, slot))
        self.inlined = set()  # values computed inside their consumers' expressions
        self.forced = set()  # values that must be in memory (library operands, random access)
        self.epilogues = {}  # matmul node -> (absorbed nodes, final value, extra params)
        self.absorbed = {}  # node -> the matmul node whose kernel computes it
        self.group_of = {}
        self._producers = {}
        self._find_epilogues()
        self._force_memory_operands()
        self._decide_inlining()
        self._form_groups()

    # ---- consumers through index remaps ------------------------------------------------------

    def consumers(self, value):
        """(node, slot, path) for every non-remap consumer, looking through remaps; a remap that
        is a graph output counts as a consumer (its copy reads the value)."""
        found = []
        stack = [(value, ())]
        while stack:
            v, path = stack.pop()
            for node, slot in self.users.get(v, ()):
                if self.kinds[node] == "remap" and node not in self.absorbed and \
                        slot not in RANDOM_ACCESS.get(node.prim.name, ()):
                    out = node.outputs[0]
                    if out in self.outputs:
                        found.append((node, slot, path))
                    stack.append((out, path + (node,)))
                else:
                    found.append((node, slot, path))
        return found

    # ---- matmul epilogues ----------------------------------------------------------------------

    def _single_consumer(self, value):
        if value in self.outputs:
            return None
        users = self.users.get(value, [])
        return users[0][0] if len(users) == 1 else None

    def _find_epilogues(self):
        """A matmul's result goes through relu, or a mask where(h > 0, ., 0): the GEMM applies it
        to each finished tile, saving a pass over memory."""
        for node in self.graph.nodes:
            if node.prim.name not in ("matmul", "matmul_add"):
                continue
            value, absorbed, extra = node.outputs[0], [], {}
            consumer = self._single_consumer(value)
            if consumer is not None and _is_relu_of(consumer, value):
                absorbed.append(consumer)
                value = consumer.outputs[0]
                extra["relu"] = True
            elif consumer is not None and _mask_of(consumer, value) is not None:
                condition, source = _mask_of(consumer, value)
                absorbed.append(consumer)
                if self._single_consumer(condition) is consumer:
                    absorbed.append(condition.node)
                value = consumer.outputs[0]
                extra["mask"] = source
            if absorbed:
                self.epilogues[node] = (absorbed, value, extra)
                for a in absorbed:
                    self.absorbed[a] = node

    def _force_memory_operands(self):
        for node in self.graph.nodes:
            kind = self.kinds[node]
            if kind == "library":
                for v in node.inputs:
                    self._force_view_base(v)
            for slot in RANDOM_ACCESS.get(node.prim.name, ()):
                self.forced.add(node.inputs[slot])
        for node, (_, _, extra) in self.epilogues.items():
            if "mask" in extra:
                self.forced.add(extra["mask"])

    def _force_view_base(self, value):
        """A library operand is a strided view of memory: follow permute/slice/broadcast/reshape
        to what must be in memory."""
        while value.node is not None and self.kinds.get(value.node) == "remap" and \
                value.node.prim.name in ("permute", "slice", "broadcast_to", "reshape"):
            value = value.node.inputs[0]
        self.forced.add(value)

    # ---- inlining ------------------------------------------------------------------------------

    def cost(self, value):
        """Work to recompute `value` where it is read: its node and every inlined operand."""
        node = value.node
        if node is None or self.kinds[node] != "elementwise":
            return 0
        own = TRANSCENDENTAL_COST if _is_transcendental(node) else 1
        return own + sum(self.cost(v) for v in node.inputs if v in self.inlined)

    def _decide_inlining(self):
        for node in self.graph.nodes:
            if self.kinds[node] != "elementwise" or node in self.absorbed:
                continue
            value = node.outputs[0]
            if value in self.outputs or value in self.forced:
                continue
            consumers = self.consumers(value)
            if not consumers or any(not self._reads_elementwise(n, s) for n, s, _ in consumers):
                continue
            cheap = self.cost_if_inlined(value) <= CHEAP
            if len(consumers) == 1:
                consumer = consumers[0][0]
                if cheap or not self._broadcasts(value, consumer):
                    self.inlined.add(value)
            elif cheap:
                self.inlined.add(value)

    def cost_if_inlined(self, value):
        node = value.node
        own = TRANSCENDENTAL_COST if _is_transcendental(node) else 1
        return own + sum(self.cost(v) for v in node.inputs if v in self.inlined)

    def _reads_elementwise(self, node, slot):
        kind = self.kinds[node]
        if node in self.absorbed or kind == "library":
            return False
        return slot not in RANDOM_ACCESS.get(node.prim.name, ())

    def _broadcasts(self, value, consumer):
        if self.kinds[consumer] == "reduce":
            domain = consumer.inputs[0].shape
        else:
            domain = consumer.outputs[0].shape
        return numel(value.shape) < numel(domain)

    # ---- groups --------------------------------------------------------------------------------

    def is_root(self, node):
        kind = self.kinds[node]
        if node in self.absorbed or kind == "constant":
            return False
        if kind == "remap":
            return node.outputs[0] in self.outputs or node.outputs[0] in self.forced
        if kind == "elementwise":
            return node.outputs[0] not in self.inlined
        return True

    def domain_of(self, node):
        kind = self.kinds[node]
        if kind == "reduce":
            axes = tuple(sorted(a % max(node.inputs[0].ndim, 1) for a in node.params["axes"])) \
                if node.params["axes"] is not None else tuple(range(node.inputs[0].ndim))
            return ("row", tuple(node.inputs[0].shape), axes)
        if kind in ("elementwise", "remap"):
            return ("loop", tuple(node.outputs[0].shape))
        return ("single", kind)

    def _form_groups(self):
        self._producers = {}
        self.root_consumers = {}
        for node in self.graph.nodes:
            if self.is_root(node):
                for producer in self.root_producers(node):
                    self.root_consumers.setdefault(producer, []).append(node)
        self._absorbed_into = {}
        for node, owner in self.absorbed.items():
            self._absorbed_into.setdefault(owner, []).append(node)
        self.groups = []
        for node in self.graph.nodes:
            if self.is_root(node):
                group = Group(self.domain_of(node), node)
                self.groups.append(group)
                self.group_of[node] = group
        for node, owner in self.absorbed.items():
            self.group_of[node] = self.group_of[owner]
        for node in self.graph.nodes:
            if not self.is_root(node) or self.group_of[node].domain[0] == "single":
                continue
            for producer in self.root_producers(node):
                a, b = self.group_of[producer], self.group_of[node]
                if a is not b:
                    self._try_merge(a, b)
        self._merge_sibling_rows()
        self._attach_column_sums()
        self.groups = [g for g in self.groups if g.nodes]

    def _merge_sibling_rows(self):
        """Row groups over the same domain that read a value in common merge too, though neither
        feeds the other: the shared operand is then read from memory once (a layer norm's weight
        and bias gradients both sum the output gradient over the rows: 24 MB of reads become 16
        for 2048x1024). The usual checks apply (aligned reads, no cycle through a third group)."""
        rows = [g for g in self.groups if g.nodes and g.domain[0] == "row"]
        leaves = {id(g): self._values_read(g) for g in rows}
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if a.nodes and b.nodes and a.domain == b.domain and \
                        leaves[id(a)] & leaves[id(b)] and self._try_merge(a, b):
                    leaves[id(a)] |= leaves[id(b)]

    def _attach_column_sums(self):
        """A group reducing a (rows..., columns) domain over the rows (column sums) rides along
        with a group over the same domain reducing the columns, when it reads nothing but graph
        inputs, that group's values and values from outside both: one pass over the rows then
        computes both, the column sums as per-chunk partial sums added up by a small kernel
        after it. Layer norm's backward reads x and the output gradient once instead of twice.
        Only when the column sums contribute nothing but their totals (no full-domain value of
        theirs leaves the group) and the rows split into enough equal chunks."""
        rows = [g for g in self.groups if g.nodes and g.domain[0] == "row"
                and len(g.domain[1]) >= 2]
        for sums in rows:
            last = len(sums.domain[1]) - 1
            if sums.domain[2] != tuple(range(last)) or not sums.nodes:
                continue
            for host in rows:
                if host.domain == (sums.domain[0], sums.domain[1], (last,)) and host.nodes and \
                        not host.column_sums and self._can_carry(host, sums):
                    host.column_sums = sums.nodes
                    for node in sums.nodes:
                        self.group_of[node] = host
                    sums.nodes = []
                    break

    def _can_carry(self, host, sums):
        shape = host.domain[1]
        if row_chunks(shape[0]) is None or numel(shape) < COLUMN_SUMS_MIN_NUMEL:
            return False
        host_members, sum_members = set(host.nodes), set(sums.nodes)
        reductions = [n for n in sums.nodes if n.prim.name in REDUCTIONS]
        if sum(n.outputs[0].dtype.itemsize for n in reductions) * shape[-1] > COLUMN_SUMS_BYTES:
            return False
        for node in host.nodes:  # the host must not need the sums
            if any(p in sum_members for p in self.root_producers(node)):
                return False
        for node in sums.nodes:
            if node.prim.name in REDUCTIONS:
                continue
            if _level(node.outputs[0], sums.domain) == "kept":
                # After the sums (a reshape, a scaling): computed by the kernel adding them up.
                if any(p in host_members for p in self.root_producers(node)):
                    return False
                continue
            # A full-domain value: only the column sums may read it.
            if node.outputs[0] in self.outputs or any(
                    self.group_of[c] is not sums for c in self.root_consumers.get(node, ())):
                return False
        for node in sums.nodes:  # full-domain reads of the host's values: at its points
            if node.prim.name not in REDUCTIONS and _level(node.outputs[0], sums.domain) == "kept":
                continue
            for value, indices in self.reads(node, sums.domain):
                if value.node in host_members and not same_point(
                        indices, member_indices(value, host.domain), value.shape):
                    return False
        return not self._creates_cycle(host, sums)

    def _values_read(self, group):
        """Graph inputs and root values the group's nodes read (through inlined values)."""
        found, seen = set(), set()
        stack = [v for node in group.nodes for v in node.inputs]
        while stack:
            value = stack.pop()
            if value in seen:
                continue
            seen.add(value)
            node = value.node
            if node is None or self.is_root(node) or node in self.absorbed:
                found.add(value)
            elif self.kinds[node] != "constant":
                stack.extend(node.inputs)
        return found

    def root_producers(self, node):
        """Root nodes whose values `node` reads, seen through inlined values and remaps."""
        cached = self._producers.get(node)
        if cached is None:
            cached = self._producers[node] = self._find_root_producers(node)
        return cached

    def _find_root_producers(self, node):
        found, stack, seen = [], list(node.inputs), set()
        while stack:
            v = stack.pop()
            if v in seen or v.node is None:
                continue
            seen.add(v)
            if self.is_root(v.node) or v.node in self.absorbed:
                found.append(v.node)
            elif self.kinds[v.node] != "constant":
                stack.extend(v.node.inputs)
        return sorted(found, key=self.order.get)

    def _try_merge(self, a, b):
        domain = merged_domain(a.domain, b.domain)
        if domain is None:
            return False
        members = sorted(a.nodes + b.nodes, key=self.order.get)
        if not all(self.aligned(m, members, domain) for m in members):
            return False
        if self._creates_cycle(a, b):
            return False
        a.nodes = members
        a.domain = domain
        for n in b.nodes:
            self.group_of[n] = a
        b.nodes = []
        return True

    def aligned(self, member, members, domain):
        """Whether every read `member` makes of another member happens at the point where that
        member is computed in `domain` (so it can be passed in a register)."""
        member_set = set(members)
        for value, indices in self.reads(member, domain):
            if value.node in member_set and value.node is not member:
                if not same_point(indices, member_indices(value, domain), value.shape):
                    return False
                reads_full_as_kept = (_level(value, domain) == "full" and
                                      _level(member.outputs[0], domain) == "kept")
                if reads_full_as_kept and member.prim.name not in REDUCTIONS:
                    return False
        return True

    def reads(self, node, domain):
        """(root value, indices) for every root value `node` reads when computed in `domain`."""
        if self.kinds[node] == "reduce":
            starts = [(node.inputs[0], full_indices(domain))]
        else:
            indices = member_indices(node.outputs[0], domain)
            if indices is None:
                return [(v, None) for v in node.inputs]
            starts = [(v, ix) for v, ix in zip(node.inputs, operand_indices(node, indices))
                      if ix is not None]
        if self.kinds[node] != "reduce":
            starts += [(node.inputs[slot], None) for slot in RANDOM_ACCESS.get(node.prim.name, ())]
        found = []
        stack = list(starts)
        while stack:
            value, indices = stack.pop()
            producer = value.node
            if producer is None or self.kinds[producer] == "constant":
                continue
            if self.is_root(producer) or producer in self.absorbed or indices is None:
                found.append((value, indices))  # None: read anywhere (gather's source)
                continue
            for slot, (v, ix) in enumerate(zip(producer.inputs,
                                               operand_indices(producer, indices))):
                if ix is not None:
                    stack.append((v, ix))
                elif slot in RANDOM_ACCESS.get(producer.prim.name, ()):
                    stack.append((v, None))
        return found

    def _creates_cycle(self, a, b):
        """A path from one group to the other through a third would make the merged kernel wait
        on itself (checked between groups: two nodes unrelated by data can still be tied through
        the groups they belong to)."""
        for source, target in ((a, b), (b, a)):
            stack = [g for g in self._consumer_groups(source) if g is not target]
            seen = set(map(id, stack))
            while stack:
                group = stack.pop()
                for nxt in self._consumer_groups(group):
                    if nxt is target:
                        return True
                    if id(nxt) not in seen and nxt is not source:
                        seen.add(id(nxt))
                        stack.append(nxt)
        return False

    def _consumer_groups(self, group):
        found = []
        for node in group.all_nodes() + self._absorbed_into.get(group.nodes[0], []):
            for consumer in self.root_consumers.get(node, ()):
                g = self.group_of[consumer]
                if g is not group and all(g is not f for f in found):
                    found.append(g)
        return found

    # ---- results ---------------------------------------------------------------------------

    def group_dependencies(self):
        """group -> groups it reads from (directly or through inlined values)."""
        deps = {id(g): set() for g in self.groups}
        by_id = {id(g): g for g in self.groups}
        for g in self.groups:
            for node in g.all_nodes():
                for producer in self.root_producers(node):
                    other = self.group_of.get(producer)
                    if other is not None and other is not g:
                        deps[id(g)].add(id(other))
        return {by_id[k]: [by_id[d] for d in v] for k, v in deps.items()}

    def materialized(self):
        """Root values that need memory: graph outputs, values read outside their group, and
        values forced into memory."""
        needed = set()
        for g in self.groups:
            members = set(g.all_nodes())
            for node in g.all_nodes():
                for producer in self.root_producers(node):
                    if producer not in members:
                        needed.update(producer.outputs)
                        if producer in self.absorbed:
                            needed.update(self.kernel_outputs(self.absorbed[producer]))
        for v in self.graph.outputs:
            if v.node is not None and v.node.prim is not CONSTANT:
                needed.add(v)
        needed |= {v for v in self.forced if v.node is not None and v.node.prim is not CONSTANT}
        for g in self.groups:
            if g.domain[0] == "single":
                needed.update(self.kernel_outputs(g.nodes[0]))
        return needed

    def kernel_outputs(self, node):
        """What a custom or library node's kernel writes: its outputs, or for a matmul with an
        epilogue the epilogue's result."""
        if node in self.epilogues:
            return [self.epilogues[node][1]]
        return list(node.outputs)


# ---- domains -----------------------------------------------------------------------------------

# Column sums ride along a row group only if their partial sums fit a stack scratch (a chunk's
# running sums stay in L1 while its rows stream past), and in at least MIN_ROW_CHUNKS chunks.
COLUMN_SUMS_BYTES = 64 * 1024
# Below this many elements both passes run from the cache: a second pass costs less than the
# chunks' bookkeeping (a 32x10 cross-entropy gradient would run as 32 chunks of one row).
COLUMN_SUMS_MIN_NUMEL = 1 << 15
MIN_ROW_CHUNKS = 4
MAX_ROW_CHUNKS = 32


def row_chunks(rows):
    """How many equal chunks of rows a row group carrying column sums runs in: the most, up to
    MAX_ROW_CHUNKS, that divide the rows; None below MIN_ROW_CHUNKS (a prime number of rows).
    The chunks, and so the order of every sum, depend on the shape only, not the threads."""
    for count in range(MAX_ROW_CHUNKS, MIN_ROW_CHUNKS - 1, -1):
        if rows % count == 0:
            return count
    return None


def merged_domain(a, b):
    if a[0] == "single" or b[0] == "single":
        return None
    if a[0] == "loop" and b[0] == "loop":
        return a if a[1] == b[1] else None
    if a[0] == "row" and b[0] == "row":
        return a if a == b else None
    row, loop = (a, b) if a[0] == "row" else (b, a)
    _, shape, axes = row
    if loop[1] in (shape, reduced_shape(shape, axes, True), reduced_shape(shape, axes, False)):
        return row
    return None


def loop_vars(shape):
    return tuple(Var(f"i{k}") for k in range(len(shape)))


def full_indices(domain):
    return loop_vars(domain[1])


def _level(value, domain):
    if domain[0] == "loop":
        return "full"
    _, shape, axes = domain
    if tuple(value.shape) == shape and not all(shape[a] == 1 for a in axes):
        return "full"
    return "kept"


def member_indices(value, domain):
    """The point where a member value of shape value.shape is computed in `domain`."""
    if domain[0] == "single":
        return None
    shape = tuple(value.shape)
    variables = loop_vars(domain[1])
    if domain[0] == "loop" or _level(value, domain) == "full":
        return variables
    _, full, axes = domain
    if shape == reduced_shape(full, axes, True):
        return tuple(Const(0, INDEX) if k in axes else variables[k] for k in range(len(full)))
    return tuple(variables[k] for k in range(len(full)) if k not in axes)


def same_point(indices, expected, shape):
    """Equal index tuples, ignoring dimensions of size 1."""
    if indices is None or expected is None or len(indices) != len(expected):
        return False
    return all(d == 1 or same_index(a, b) for a, b, d in zip(indices, expected, shape))


def same_index(a, b):
    if isinstance(a, Var) and isinstance(b, Var):
        return a.name == b.name
    if isinstance(a, Const) and isinstance(b, Const):
        return a.value == b.value
    return False


def _is_transcendental(node):
    from .primitives import elementwise as E

    return node.prim.family == "unary" and node.prim.name not in (
        "neg", "abs", "sign", "floor", "ceil", "round", "trunc", "logical_not", "isnan", "isinf",
        "isfinite", "bitwise_not", "cast", "copy", "sqrt", "reciprocal") or node.prim in (
        E.pow_, E.atan2)


def _is_zero_constant(value):
    node = value.node
    if node is None or node.prim is not CONSTANT:
        return False
    c = node.params["value"]
    return c.size == 1 and float(c.reshape(-1)[0]) == 0.0


def _is_relu_of(node, value):
    return (node.prim.name == "maximum" and node.inputs[0] is value and
            _is_zero_constant(node.inputs[1]) and node.outputs[0].shape == value.shape)


def _mask_of(node, value):
    """where(gt(h, 0), value, 0) -> (the condition value, h)."""
    if node.prim.name != "where" or node.inputs[1] is not value:
        return None
    if not _is_zero_constant(node.inputs[2]) or node.outputs[0].shape != value.shape:
        return None
    condition = node.inputs[0]
    cnode = condition.node
    if cnode is None or cnode.prim.name != "gt" or not _is_zero_constant(cnode.inputs[1]):
        return None
    source = cnode.inputs[0]
    if source.shape != value.shape or source.dtype is not value.dtype:
        return None
    return condition, source
