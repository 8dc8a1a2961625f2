"""Autograd graph nodes: what `tensor.grad_fn` is.

A `Node` is one recorded operation. It keeps what its VJP rule reads (saved tensors, checked
against their version counters when unpacked), the shapes and dtypes its inputs had, and
`next_functions`: one `(node, output_nr)` edge per input, ending at `AccumulateGrad` for leaves.
Node classes carry PyTorch's names (`MulBackward0`, ...), so `grad_fn` prints the same.
"""
from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import epoch

if TYPE_CHECKING:
    from collections.abc import Callable

# PyTorch numbers nodes in creation order (sequence_nr); its engine runs, among the nodes ready,
# the most recently created first, which fixes the order of hooks and of gradient sums. A node
# recorder stamps `node._seq = next_sequence_nr()`; graphs whose nodes are all stamped are run
# in PyTorch's order, others in last-ready-first order.
next_sequence_nr = itertools.count().__next__



class Node:
    """One recorded operation of the autograd graph: what `tensor.grad_fn` is (torch's
    autograd.graph.Node). Its class name is PyTorch's (`MulBackward0`); `next_functions` are
    the edges to the nodes of its inputs; hooks can be registered on it."""

    # Hooks are rare: class-level defaults keep recording a node to the attributes it needs.
    _has_hooks = False  # any of the three below: the engine looks at one flag per node
    _tensor_hooks = None  # {output_nr: [hook(grad)]}: hooks of the tensors this node produced
    _retained = None  # {output_nr: weakref to the tensor}: outputs that called retain_grad()
    _pre_hooks = None  # [hook(grad_outputs)]
    _post_hooks = None  # [hook(grad_inputs, grad_outputs)]
    _metadata = None
    _seq = None  # creation order, when the recorder stamps it (see next_sequence_nr)

    @property
    def metadata(self) -> dict[Any, Any]:
        """A dict for the user's own annotations of this node."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def name(self) -> str:
        """The node's name, PyTorch's (`MulBackward0`)."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"

    def register_hook(self, fn: Callable[..., Any]) -> _RemovableHandle:
        """`fn(grad_inputs, grad_outputs)` after this node ran; a returned tuple replaces grad_inputs."""
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return _RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn: Callable[..., Any]) -> _RemovableHandle:
        """`fn(grad_outputs)` before this node runs; a returned tuple replaces grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = []
        self._pre_hooks.append(fn)
        self._has_hooks = True
        return _RemovableHandle(self._pre_hooks, fn)

    def _add_tensor_hook(self, output_nr, fn):
        hooks = self._tensor_hooks
        if hooks is None:
            hooks = self._tensor_hooks = {}
        hooks.setdefault(output_nr, []).append(fn)
        self._has_hooks = True
        return _RemovableHandle(hooks[output_nr], fn)

    def _retain_grad(self, output_nr, tensor):
        """The gradient of output `output_nr` is stored in `tensor.grad` after the hooks ran."""
        if self._retained is None:
            self._retained = {}
        self._retained[output_nr] = weakref.ref(tensor)
        self._has_hooks = True


class _RemovableHandle:
    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)
            epoch.bump()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds the incoming gradient to `variable.grad`."""

    _seq = 1 << 64  # PyTorch: UINT64_MAX, so a ready leaf is handled before anything else

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def name(self):
        return "llgrad::autograd::AccumulateGrad"  # PyTorch: "torch::autograd::AccumulateGrad"


def grad_accumulator(tensor):
    """The leaf's AccumulateGrad, shared by every graph that uses the leaf while any is alive."""
    ref = tensor._accumulator
    node = ref() if ref is not None else None
    if node is None:
        node = AccumulateGrad(tensor)
        tensor._accumulator = weakref.ref(node)
    return node


FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")


class SavedTensor:
    """A tensor a VJP rule will read, with the version it had when saved."""

    __slots__ = ("tensor", "data", "version_box", "version", "grad_fn", "output_nr")

    def __init__(self, tensor, is_output=False, grad_fn=None):
        self.data = tensor._data
        box = tensor._vbox
        if box is None:
            box = tensor._vbox = [0]
        self.version_box = box
        self.version = box[0]
        # An output is saved without a reference to itself (that would be a cycle through grad_fn);
        # unpacking rebuilds it around this node.
        self.tensor = None if is_output else tensor
        self.grad_fn = grad_fn
        self.output_nr = tensor._output_nr if is_output else 0

    def check_version(self, node):
        if self.version_box[0] != self.version:
            raise RuntimeError(_modified_message(self, node))

    def unpack_tensor(self, node):
        if self.tensor is not None:
            return self.tensor
        from ..tensor import Tensor

        return Tensor._from_node(self.data, node, self.output_nr)


def _modified_message(saved, node):
    from ..tensor import torch_type_name

    tensor = saved.tensor
    data = saved.data
    if tensor is None:
        producer = f"output {saved.output_nr} of {_forward_name(node)}"
    elif tensor.grad_fn is not None:
        producer = f"output {tensor._output_nr} of {_forward_name(tensor.grad_fn)}"
    else:
        producer = None
    shape = ", ".join(map(str, np.shape(data)))
    where = f", which is {producer}," if producer else ""
    return (f"one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{torch_type_name(data.dtype)} [{shape}]]{where} is at version "
            f"{saved.version_box[0]}; expected version {saved.version} instead. Hint: enable anomaly "
            f"detection to find the operation that failed to compute its gradient, with "
            f"llgrad.autograd.set_detect_anomaly(True, check_nan=False).")


def _forward_name(node):
    """The operation a node records, as PyTorch names it in messages: MulBackward0 -> Mul,
    PowBackward1 -> Pow1, a custom Function's ExpBackward -> Exp."""
    name = node.name()
    if name.endswith("Backward0"):
        return name[:-len("Backward0")]
    head, sep, tail = name.rpartition("Backward")
    return head + tail if sep and (not tail or tail.isdigit()) else name


class ShapeOnly:
    """Stands in for an input a rule does not read: rules may ask its shape and dtype only."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


class FunctionNode(Node):
    """A node recorded by an `Op`: applies the op's VJP rule to the saved values.

    `_saved` holds one entry per input: a SavedTensor for an input the rule reads, a ShapeOnly
    for a tensor input it does not read, or the non-tensor argument itself (Python scalars).
    """

    def apply(self, grads, create_graph):
        """Cotangents for the inputs behind `next_functions`, from those of this node's outputs.
        Only inputs with an edge (inputs that require grad) get one computed."""
        inputs, out = self._unpack(create_graph)
        g = grads[0] if self._n_outputs == 1 else grads
        vjp, params = self._vjp, self._params
        if callable(vjp):
            cts = vjp(g, out, *inputs, **params)
            return [cts[i] if edge[0] is not None else None
                    for i, edge in zip(self._diff_index, self.next_functions)]
        return [vjp[i](g, out, *inputs, **params) if edge[0] is not None else None
                for i, edge in zip(self._diff_index, self.next_functions)]

    def _unpack(self, create_graph):
        saved = self._saved
        if saved is None:
            raise RuntimeError(FREED_MESSAGE)
        inputs = []
        for item in saved:
            if type(item) is SavedTensor:
                item.check_version(self)
                inputs.append(item.unpack_tensor(self) if create_graph else item.data)
            else:
                inputs.append(item)
        out = self._saved_out
        if out is not None:
            out.check_version(self)
            out = out.unpack_tensor(self) if create_graph else out.data
        return inputs, out

    def release(self):
        """Free saved values after a backward without retain_graph, as PyTorch does. A node that
        saved nothing stays usable, so a second backward through it works (PyTorch's behaviour)."""
        if self._has_saved:
            self._saved = None
            self._saved_out = None


_NODE_CLASSES = {}


def node_class(name, base=FunctionNode):
    """The node class called `name` (e.g. "MulBackward0"); one class per name."""
    cls = _NODE_CLASSES.get(name)
    if cls is None:
        cls = type(name, (base,), {})
        cls.__module__ = "llgrad.autograd.graph"
        _NODE_CLASSES[name] = cls
    return cls
