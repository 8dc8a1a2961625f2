"""The reverse-mode engine behind `Tensor.backward` and `autograd.grad`.

It walks the graph of nodes from the outputs in dependency order (a node runs once every node
that feeds it a gradient has run), sums the gradients arriving at each node, applies its VJP
rules, and either accumulates into leaves' `.grad` (backward) or captures the gradients of the
requested inputs (autograd.grad). Without `create_graph` the rules run on NumPy arrays, so a plain
backward creates no tensors in between; with it they run on tensors and are recorded themselves.
"""
import sys

import numpy as np

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
    targets = {} if inputs is None else {_input_edge(t): i for i, t in enumerate(inputs)}
    run = _Run(create_graph, accumulate, targets, len(inputs) if inputs is not None else 0)
    root_grads = [run.seed(g) for g in grad_outputs]
    needed = _needed_nodes([edge[0] for edge in roots], targets if inputs is not None else None)
    with grad_mode.set_grad_enabled(create_graph):
        run.execute(roots, root_grads, needed, retain_graph)
    if accumulate:
        return None
    return run.captured


def _root_edge(tensor, index):
    if tensor.grad_fn is not None:
        return tensor.grad_fn, tensor._output_nr
    if tensor._requires_grad:
        return grad_accumulator(tensor), 0
    raise RuntimeError(f"element {index} of tensors does not require grad and does not have a grad_fn")


def _input_edge(tensor):
    if tensor.grad_fn is not None:
        return tensor.grad_fn, tensor._output_nr
    return grad_accumulator(tensor), 0


def _needed_nodes(root_nodes, targets):
    """Dependency counts of the nodes worth running. With targets (autograd.grad, or backward
    with inputs=), only nodes from which a target is reachable are run."""
    dependencies = {}
    order = []  # post-order, children before parents
    seen = set()
    stack = [(node, iter(node.next_functions)) for node in root_nodes if node not in seen]
    seen.update(root_nodes)
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
        useful = seen
    else:
        target_nodes = {node for node, _ in targets}
        useful = set()
        for node in order:
            if node in target_nodes or any(c in useful for c, _ in node.next_functions):
                useful.add(node)
    for node in useful:
        dependencies.setdefault(node, 0)
        for child, _ in node.next_functions:
            if child is not None and child in useful:
                dependencies[child] = dependencies.get(child, 0) + 1
    return dependencies


class _Run:
    """State of one engine run: gradient buffers, captured results, which arrays it owns."""

    def __init__(self, create_graph, accumulate, targets, n_inputs):
        self.create_graph = create_graph
        self.accumulate = accumulate
        self.targets = targets
        self.captured = [None] * n_inputs
        # Arrays that may be referenced from outside this run (the seeds, gradients already
        # stored in a .grad): a leaf's .grad must never alias one of them or another leaf's.
        self.shared = set()
        self.pending = []  # (leaf, gradient) to add to leaf.grad once the whole run succeeded

    def seed(self, grad):
        if self.create_graph:
            return grad
        self.shared.add(id(grad._data))
        return grad._data

    def execute(self, roots, root_grads, dependencies, retain_graph):
        """Run the graph. Leaves' .grad and freed buffers change only once every node has run,
        so a backward that fails (a version check, a hook) leaves all state as it was."""
        executed = self._execute(roots, root_grads, dependencies)
        for variable, g in self.pending:
            self._store(variable, g)
        if not retain_graph:
            for node in executed:
                node.release()

    def _execute(self, roots, root_grads, dependencies):
        buffers = {}
        executed = []
        for (node, nr), g in zip(roots, root_grads):
            self._add_to_buffer(buffers, node, nr, g)
        ready = [node for node, _ in roots if dependencies.get(node, 0) == 0]
        ready = list(dict.fromkeys(ready))
        targets = self.targets
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            if grads is None:
                continue
            grads = self._run_tensor_hooks(node, grads)
            if targets:
                self._capture(node, grads)
            if type(node) is AccumulateGrad:
                if self.accumulate and (not targets or (node, 0) in targets):
                    self._accumulate(node, grads[0])
                continue
            if node not in dependencies:
                continue
            input_grads = node.apply(grads, self.create_graph)
            if node._post_hooks:
                input_grads = _run_post_hooks(node, input_grads, grads)
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
                    ready.append(child)
        return executed

    def _add_to_buffer(self, buffers, node, nr, g):
        slots = buffers.get(node)
        if slots is None:
            n = 1 if type(node) is AccumulateGrad else node._n_outputs
            slots = buffers[node] = [None] * n
        previous = slots[nr]
        slots[nr] = g if previous is None else previous + g

    def _run_tensor_hooks(self, node, grads):
        hooks = node._tensor_hooks
        if hooks:
            grads = list(grads)
            for nr, fns in hooks.items():
                if grads[nr] is not None:
                    grads[nr] = self._call_hooks(fns, grads[nr])
        return grads

    def _call_hooks(self, fns, g):
        from ..tensor import Tensor

        as_tensor = g if self.create_graph else Tensor._wrap(numpy_result(g))
        for fn in fns:
            replaced = fn(as_tensor)
            if replaced is not None:
                as_tensor = replaced
        return as_tensor if self.create_graph else as_tensor._data

    def _capture(self, node, grads):
        for nr, g in enumerate(grads):
            index = self.targets.get((node, nr))
            if index is not None and g is not None:
                self.captured[index] = g if self.create_graph else self._wrap_owned(g)

    def _wrap_owned(self, g):
        from ..tensor import Tensor

        return Tensor._wrap(self._owned(g))

    def _owned(self, g):
        """`g` as an array no one else references, so it can become a leaf's .grad: copies
        shared and read-only arrays, and views of buffers something else still holds. A view
        whose buffer only it references (a transposed matmul result) is kept as it is: that
        is PyTorch's "steal the gradient when its use count is one"."""
        if type(g) is not np.ndarray:
            g = np.array(g)
        elif id(g) in self.shared or not g.flags.writeable or (
                g.base is not None and not _sole_owner_of_base(g)):
            g = g.copy()
        self.shared.add(id(g))
        return g

    def _accumulate(self, node, g):
        variable = node.variable
        if variable._hooks:
            g = self._call_hooks(variable._hooks, g)
        self.pending.append((variable, g))

    def _store(self, variable, g):
        from ..tensor import Tensor

        current = variable._grad
        if self.create_graph:
            variable._grad = g if current is None else current + g
        elif current is None:
            variable._grad = Tensor._wrap(self._owned(g))
        elif current._requires_grad and current.grad_fn is not None:
            variable._grad = Tensor._wrap(numpy_result(current._data + g))
        else:
            np.add(current._data, g, out=current._data, casting="unsafe")
            current._bump_version()


def _sole_owner_of_base(view):
    base = view.base
    # References to `base`: view.base, this function's local, getrefcount's own argument.
    return type(base) is np.ndarray and base.base is None and sys.getrefcount(base) <= 3


def _run_post_hooks(node, input_grads, grads):
    for fn in node._post_hooks:
        replaced = fn(tuple(input_grads), tuple(grads))
        if replaced is not None:
            input_grads = list(replaced)
    return input_grads


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
