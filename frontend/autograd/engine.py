"""The reverse-mode engine behind `Tensor.backward` and `autograd.grad`.

It walks the graph of nodes from the outputs in dependency order (a node runs once every node
that feeds it a gradient has run), sums the gradients arriving at each node, applies its VJP
rules, and either accumulates into leaves' `.grad` (backward) or captures the gradients of the
requested inputs (autograd.grad). Without `create_graph` the rules run on NumPy arrays, so a plain
backward creates no tensors in between; with it they run on tensors and are recorded themselves.
"""
import functools

import numpy as np

from .. import _profiling, epoch

from ..compiler.primitive import numpy_result
from ..compiler.primitives import cast, sum_to
from . import grad_mode
from .graph import AccumulateGrad, grad_accumulator


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None, accumulate=True,
                 allow_unused=False):
    """Differentiate `outputs` (Tensors) seeded with `grad_outputs` (Tensors).

    accumulate=True: add into the `.grad` of leaves (only `inputs`, when given); returns None.
    accumulate=False: return the gradients of `inputs` (autograd.grad); `.grad` is untouched.
    """
    roots = [_root_edge(t, i) for i, t in enumerate(outputs)]
    targets = {}  # edge -> positions in `inputs` (an input may be listed twice)
    for i, t in enumerate(inputs or ()):
        targets.setdefault(_input_edge(t), []).append(i)
    run = _Run(create_graph, accumulate, targets, len(inputs) if inputs is not None else 0)
    root_grads = [run.seed(g) for g in grad_outputs]
    dependencies, needed, ordered = _needed_nodes(
        [edge[0] for edge in roots], targets if inputs is not None else None, accumulate)
    with grad_mode.set_grad_enabled(create_graph):
        run.execute(roots, root_grads, dependencies, needed, ordered, retain_graph)
    if accumulate:
        return None
    return run.captured


def _root_edge(tensor, index):
    if tensor.grad_fn is not None:
        return tensor.grad_fn, tensor._output_nr
    if tensor._requires_grad:
        return grad_accumulator(tensor), 0
    raise RuntimeError(f"element {index} of tensors does not require grad and does not have a "
                       f"grad_fn")


def _input_edge(tensor):
    if tensor.grad_fn is not None:
        return tensor.grad_fn, tensor._output_nr
    return grad_accumulator(tensor), 0


def _needed_nodes(root_nodes, targets, accumulate):
    """(dependency counts of the nodes gradients flow to, the set of nodes to run).

    Without targets every reachable node runs. With targets (autograd.grad, or backward with
    inputs=) a node runs when a target lies below it, as in PyTorch; a target node itself runs
    for backward(inputs=) (its retain_grad hook delivers the gradient) but for autograd.grad only
    if another target lies below it (otherwise its gradient is captured and the walk stops)."""
    dependencies = {}
    order = []  # post-order, children before parents
    seen = set()
    for root in root_nodes:
        # One root at a time: a root reachable from another one must be finished before it.
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, children = stack[-1]
            for child, _ in children:
                if child is not None and child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    if targets is None:
        useful = needed = seen
    else:
        target_nodes = {node for node, _ in targets}
        useful = set()  # nodes that receive gradients: run, or captured
        needed = set()
        for node in order:
            if any(c in useful for c, _ in node.next_functions):
                useful.add(node)
                needed.add(node)
            elif node in target_nodes:
                useful.add(node)
                if accumulate:
                    needed.add(node)
    ordered = True  # every node has a sequence number: run them in PyTorch's order
    for node in useful:
        dependencies.setdefault(node, 0)
        if node._seq is None:
            ordered = False
        for child, _ in node.next_functions:
            if child is not None and child in useful:
                dependencies[child] = dependencies.get(child, 0) + 1
    return dependencies, needed, ordered


class _Run:
    """State of one engine run: gradient buffers, captured results, which arrays it owns."""

    def __init__(self, create_graph, accumulate, targets, n_inputs):
        self.create_graph = create_graph
        self.accumulate = accumulate
        self.targets = targets
        self.captured = [None] * n_inputs
        # Memory (root arrays, by id) that may be referenced from outside this run: the seeds,
        # hook results, gradients already given to a leaf. A leaf's .grad never aliases it.
        self.shared = set()
        self.pending = []  # (leaf, gradient, node) to add to leaf.grad once the run succeeded
        self.retained = []  # (non-leaf tensor, gradient) for retain_grad, likewise deferred

    def seed(self, grad):
        if self.create_graph:
            return grad
        self.shared.add(_root_id(grad._data))
        return grad._data

    def execute(self, roots, root_grads, dependencies, needed, ordered, retain_graph):
        """Run the graph. Leaves' .grad and freed buffers change only once every node has run,
        so a backward that fails (a version check, a hook) leaves all state as it was."""
        executed = self._execute(roots, root_grads, dependencies, needed, ordered)
        for tensor, g in self.retained:
            self._store_retained(tensor, g)
        for variable, g, _ in self.pending:
            self._store(variable, g)
        for variable, g, node in self.pending:
            if variable._post_accumulate_hooks:
                for fn in tuple(variable._post_accumulate_hooks):
                    fn(variable)
            if node._post_hooks:  # AccumulateGrad's own post-hooks: (grad_inputs=(), (grad,))
                for fn in tuple(node._post_hooks):
                    fn((), (self._as_tensor(g),))
        if not retain_graph:
            for node in executed:
                node.release()

    def _execute(self, roots, root_grads, dependencies, needed, ordered):
        buffers = {}
        executed = []
        for (node, nr), g in zip(roots, root_grads):
            self._add_to_buffer(buffers, node, nr, g)
        ready = []
        if ordered:
            push, pop = functools.partial(_heap_push, ready), functools.partial(_heap_pop, ready)
        else:
            push, pop = ready.append, ready.pop
        for node in dict.fromkeys(node for node, _ in roots):
            if dependencies.get(node) == 0:  # a root no target lies below is not run
                push(node)
        targets = self.targets
        while ready:
            node = pop()
            grads = buffers.pop(node, None)
            if grads is None:
                continue
            profiler = _profiling.ACTIVE
            if type(node) is AccumulateGrad:
                if profiler is None:
                    self._leaf(node, grads)
                else:
                    profiler.run_node(node, self._leaf, node, grads)
                continue
            if targets:
                if node not in needed:
                    # Captured, not run: PyTorch applies the tensor hooks first.
                    if node._has_hooks:
                        grads = self._run_hooks(node, grads, node_hooks=False)
                    self._capture(node, grads)
                    continue
                self._capture(node, grads)  # run as well: captured before its hooks, as PyTorch
            if node._has_hooks:
                grads = self._run_hooks(node, grads, node_hooks=True)
            if profiler is None:
                input_grads = node.apply(grads, self.create_graph)
            else:  # (a profile records: the node is an event)
                input_grads = profiler.run_node(node, node.apply, grads, self.create_graph)
            if node._post_hooks:
                input_grads = self._run_post_hooks(node, input_grads, grads)
            executed.append(node)
            meta = node._input_meta
            for i, ((child, nr), g) in enumerate(zip(node.next_functions, input_grads)):
                if child is None or child not in dependencies:
                    continue
                if g is not None:
                    self._add_to_buffer(buffers, child, nr, _validate(node, i, g, meta[i]))
                remaining = dependencies[child] - 1
                dependencies[child] = remaining
                if remaining == 0:
                    push(child)
        return executed

    def _add_to_buffer(self, buffers, node, nr, g):
        slots = buffers.get(node)
        if slots is None:
            n = 1 if type(node) is AccumulateGrad else node._n_outputs
            slots = buffers[node] = [None] * n
        previous = slots[nr]
        slots[nr] = g if previous is None else previous + g

    # ---- hooks ------------------------------------------------------------------------------
    # PyTorch's order at a node: the hooks of the tensors it produced (register_hook), then
    # their retain_grad, then the node's pre-hooks; after the node ran, its post-hooks.

    def _run_hooks(self, node, grads, node_hooks):
        grads = list(grads)
        hooks = node._tensor_hooks
        if hooks:
            for nr, fns in hooks.items():
                if fns and grads[nr] is not None:
                    grads[nr] = self._call_hooks(fns, grads[nr])
        retained = node._retained
        if retained:
            for nr, ref in retained.items():
                tensor = ref()
                if tensor is not None and grads[nr] is not None:
                    self.retained.append((tensor, grads[nr]))
        if node_hooks and node._pre_hooks:
            grads = self._call_tuple_hooks(node._pre_hooks, grads, lambda fn, g: fn(g))
        return grads

    def _call_hooks(self, fns, g):
        value = self._as_tensor(g)
        replaced_any = False
        for fn in tuple(fns):
            replaced = fn(value)
            if replaced is not None:
                _check_hook_result(fn, value, replaced)
                value = replaced
                replaced_any = True
        if self.create_graph:
            return value
        if replaced_any:
            self.shared.add(_root_id(value._data))  # the hook's result is the caller's
        return value._data

    def _call_tuple_hooks(self, fns, grads, call):
        values = tuple(None if g is None else self._as_tensor(g) for g in grads)
        for fn in tuple(fns):
            replaced = call(fn, values)
            if replaced is not None:
                _check_hook_tuple(fn, values, replaced)
                values = replaced
        if self.create_graph:
            return list(values)
        return [None if v is None else v._data for v in values]

    def _run_post_hooks(self, node, input_grads, grads):
        outputs = tuple(None if g is None else self._as_tensor(g) for g in grads)
        return self._call_tuple_hooks(node._post_hooks, input_grads,
                                      lambda fn, values: fn(values, outputs))

    def _as_tensor(self, g):
        from ..tensor import Tensor

        return g if self.create_graph else Tensor._wrap(numpy_result(g))

    # ---- leaves and captured inputs ----------------------------------------------------------

    def _leaf(self, node, grads):
        if node._has_hooks:
            grads = self._run_hooks(node, grads, node_hooks=True)
        g = grads[0]
        variable = node.variable
        if variable._hooks:
            g = self._call_hooks(variable._hooks, g)
        targets = self.targets
        if targets:
            self._capture(node, (g,))
        if self.accumulate and (not targets or (node, 0) in targets):
            self.pending.append((variable, g, node))

    def _capture(self, node, grads):
        for nr, g in enumerate(grads):
            indices = self.targets.get((node, nr))
            if indices is not None and g is not None:
                for index in indices:
                    self.captured[index] = g if self.create_graph else self._wrap_owned(g)

    def _wrap_owned(self, g):
        from ..tensor import Tensor

        return Tensor._wrap(self._owned(g))

    def _owned(self, g):
        """`g` as an array no one else references, so it can become a leaf's .grad. Gradients
        the rules computed in this run are fresh and are taken as they are, views included (a
        transposed matmul result): PyTorch's "steal the gradient when its use count is one".
        What may be referenced elsewhere is copied: arrays over memory that a seed, a hook's
        result or another leaf's .grad already uses, and read-only (broadcast) views."""
        if type(g) is not np.ndarray:
            g = np.array(g)
        elif _root_id(g) in self.shared or not g.flags.writeable:
            g = g.copy()
        self.shared.add(_root_id(g))
        return g

    def _store(self, variable, g):
        from ..tensor import Tensor

        current = variable._grad
        if self.create_graph:
            # PyTorch copies the gradient into a new .grad (a CopyBackwards node when it has
            # history), or adds out of place, so the stored gradient is differentiable.
            variable._grad = _copy_of(g) if current is None else current + g
        elif current is None:
            variable._grad = Tensor._wrap(self._owned(g))
        elif current._data.flags.writeable and type(current._data) is np.ndarray:
            np.add(current._data, g, out=current._data, casting="unsafe")  # `grad += g`
            current._bump_version()
            return
        else:
            variable._grad = Tensor._wrap(numpy_result(current._data + g))
        epoch.bump()  # a new .grad tensor: compiled functions reading it must notice

    def _store_retained(self, tensor, g):
        """retain_grad: the first gradient is cloned, later ones added out of place."""
        from ..ops import shape as shape_ops
        from ..tensor import Tensor

        current = tensor._grad
        if self.create_graph:
            tensor._grad = shape_ops.clone(g) if current is None else current + g
        elif current is None:
            tensor._grad = Tensor._wrap(np.array(g, copy=True))
        else:
            tensor._grad = Tensor._wrap(numpy_result(current._data + g))
        epoch.bump()


_COPY_OP = None


def _copy_of(g):
    """A new tensor holding `g`'s values, recorded as PyTorch's CopyBackwards (the copy_ into a
    fresh .grad: its edges are (None, 0) for the destination and one to `g`)."""
    global _COPY_OP
    from ..dispatch import Op, apply

    if _COPY_OP is None:
        _COPY_OP = Op("CopyBackwards", lambda dst, src: np.array(src, copy=True),
                      (lambda g, out, dst, src: None, lambda g, out, dst, src: g))
        _COPY_OP.node_cls.name = lambda self: "llgrad::autograd::CopyBackwards"
    copy = apply(_COPY_OP, (g.detach(), g))
    copy._bump_version()  # copy_ is an in-place write: PyTorch's new .grad is at version 1
    return copy


def _check_hook_result(fn, original, result):
    """PyTorch's checks on a gradient a hook returned in place of `original`."""
    from ..tensor import Tensor, torch_type_name

    if not isinstance(result, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(result).__name__}'")
    name = getattr(fn, "__name__", "<unknown>")
    if result.dtype is not original.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                           f"{torch_type_name(original._data.dtype)} got "
                           f"{torch_type_name(result._data.dtype)})")
    if result._data.shape != original._data.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")


def _check_hook_tuple(fn, originals, results):
    if not isinstance(results, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(results).__name__}'")
    if len(results) != len(originals):
        raise RuntimeError(f"hook '{getattr(fn, '__name__', '<unknown>')}' has returned an "
                           f"incorrect number of values (got {len(results)}, but expected "
                           f"{len(originals)})")
    for original, result in zip(originals, results):
        if result is None:
            continue
        if original is None:
            raise RuntimeError("can't replace a None gradient with a non-None value")
        _check_hook_result(fn, original, result)


# PyTorch's ready queue is a std::priority_queue of nodes by sequence number (libstdc++'s binary
# heap); ties (leaves' AccumulateGrad) come out in the order that heap gives, reproduced here.

def _heap_push(heap, node):
    key = node._seq
    heap.append(None)
    hole = len(heap) - 1
    parent = (hole - 1) // 2
    while hole > 0 and heap[parent][0] < key:
        heap[hole] = heap[parent]
        hole = parent
        parent = (hole - 1) // 2
    heap[hole] = (key, node)


def _heap_pop(heap):
    top = heap[0]
    value = heap.pop()
    n = len(heap)
    if n:  # std::pop_heap: sift the hole at the top down, then push `value` up from it
        hole = child = 0
        while child < (n - 1) // 2:
            child = 2 * (child + 1)
            if heap[child][0] < heap[child - 1][0]:
                child -= 1
            heap[hole] = heap[child]
            hole = child
        if n % 2 == 0 and child == (n - 2) // 2:
            child = 2 * (child + 1)
            heap[hole] = heap[child - 1]
            hole = child - 1
        key = value[0]
        parent = (hole - 1) // 2
        while hole > 0 and heap[parent][0] < key:
            heap[hole] = heap[parent]
            hole = parent
            parent = (hole - 1) // 2
        heap[hole] = value
    return top[1]


def _root_id(array):
    """The identity of the memory an array (or a view of it) lives in."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return id(array)


def _validate(node, index, g, meta):
    """Make a rule's cotangent fit its input: sum away broadcast dimensions, cast the dtype."""
    shape, dtype = meta
    g_shape = g.shape
    if g_shape != shape:
        if not _expandable(shape, g_shape):
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {index} - got "
                f"{list(g_shape)} but expected shape compatible with {list(shape)}")
        g = sum_to(g, shape)
    g_dtype = g.dtype
    if g_dtype != dtype and not (hasattr(g_dtype, "np") and g_dtype.np == dtype):
        from ..compiler import dtypes

        g = cast(g, dtypes.from_numpy(dtype))
    return g


def _expandable(shape, to_shape):
    if len(shape) > len(to_shape):
        return False
    for d, t in zip(reversed(shape), reversed(to_shape)):
        if d != 1 and d != t:
            return False
    return True
