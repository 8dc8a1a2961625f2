"""Custom differentiable operations: `llgrad.autograd.Function` with `forward(ctx, ...)` (or
`forward(...)` and `setup_context(ctx, inputs, output)`) and `backward(ctx, *grads)`, as in
PyTorch."""
from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from . import grad_mode
from .graph import SavedTensor, FREED_MESSAGE, Node, grad_accumulator, next_sequence_nr

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from ..tensor import Tensor

    _F = TypeVar("_F", bound=Callable[..., Any])


class FunctionCtx:
    """The `ctx` a custom Function's forward and backward share."""

    def __init__(self) -> None:
        self._saved = None
        self._non_differentiable = set()
        self._dirty = set()
        self.materialize_grads = True
        self.needs_input_grad = ()
        self._freed = False

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keeps tensors for backward (read them back from `saved_tensors`); their versions
        are checked, so modifying one in place before backward raises, as in PyTorch."""
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors: Tensor) -> None:
        """Marks outputs that get no gradient (e.g. indices): they do not require grad."""
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Declares the inputs that forward modified in place (and returns)."""
        self._dirty.update(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """With True (the default), backward gets zeros for outputs without a gradient;
        with False, None."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The tensors save_for_backward kept (None where None was saved), checked against
        in-place changes; after the graph was freed, an error."""
        if self._freed:
            raise RuntimeError(FREED_MESSAGE)
        if getattr(self, "_traced", False):  # inside llgrad.compile: the traced tensors
            return tuple(getattr(self, "_to_save", ()))
        if self._saved is None:
            return ()
        node = getattr(self, "_node", None)
        out = []
        for item in self._saved:
            if item is None:
                out.append(None)
                continue
            item.check_version(node)
            out.append(item.unpack_tensor(node))
        return tuple(out)

    saved_variables = saved_tensors


class BackwardFunctionNode(Node):
    """The node a custom Function records: its backward is the user's `backward`."""

    def __repr__(self):
        return f"<llgrad.autograd.function.{type(self).__name__} object at {id(self):#x}>"

    def apply(self, grads, create_graph):
        from ..tensor import Tensor

        ctx = self._ctx
        as_tensors = []
        for g, meta in zip(grads, self._output_meta):
            if g is None:
                if ctx.materialize_grads and meta is not None:
                    g = np.zeros(meta[0], dtype=meta[1])
                else:
                    as_tensors.append(None)
                    continue
            as_tensors.append(g if isinstance(g, Tensor) else Tensor._wrap(np.asarray(g)))
        results = self._function.backward(ctx, *as_tensors)
        if not isinstance(results, tuple):
            results = (results,)
        positions = self._tensor_positions  # which forward arguments have an edge
        n_inputs = self._n_inputs
        if len(results) > n_inputs and all(g is None for g in results[n_inputs:]):
            results = results[:n_inputs]  # extra Nones are allowed, as in PyTorch
        if len(results) != n_inputs:
            raise RuntimeError(f"function {type(self).__name__} returned an incorrect number of "
                               f"gradients (expected {n_inputs}, got {len(results)})")
        for i, g in enumerate(results):
            if g is not None and i not in positions:
                raise RuntimeError(f"function {type(self).__name__} returned a gradient different "
                                   f"than None at position {i + 1}, but the corresponding forward "
                                   f"input was not a Variable")
        out = []
        for (child, _), i in zip(self.next_functions, positions):
            g = results[i]
            if g is not None and not isinstance(g, Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            if child is None or g is None:
                out.append(None)
            elif create_graph:
                out.append(g)
            else:
                out.append(g._data if isinstance(g, Tensor) else g)
        return out

    def release(self):
        self._ctx._freed = bool(self._ctx._saved)
        if self._ctx._freed:
            self._ctx._saved = None


_NODE_CLASSES = {}


def _node_class(function_cls):
    cls = _NODE_CLASSES.get(function_cls)
    if cls is None:
        cls = type(f"{function_cls.__name__}Backward", (BackwardFunctionNode,), {})
        _NODE_CLASSES[function_cls] = cls
    return cls


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`; call
    `MyFunction.apply(*args)`."""

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        """Computes the outputs (define it in a subclass, as a staticmethod): `forward(ctx,
        *args)`, or `forward(*args)` with a separate setup_context. Runs under no_grad."""
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        """The gradient of each forward input (None for inputs without one) given one
        gradient per output (define it in a subclass, as a staticmethod)."""
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        """PyTorch 2 style: `forward(*args)` takes no ctx, and this fills ctx from the inputs
        (a tuple of forward's arguments, defaults included) and the output."""
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def _bind_arguments(cls, args, kwargs):
        """With a separate setup_context, keyword and default arguments become positional, so
        setup_context sees every input (PyTorch's bind_default_args)."""
        if not _has_setup_context(cls):
            return args, kwargs
        bound = inspect.signature(cls.forward).bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.args, {}

    @classmethod
    def _run_forward(cls, ctx, args, kwargs):
        """forward(ctx, *args), or forward(*args) then setup_context(ctx, args, output)."""
        if not _has_setup_context(cls):
            return cls.forward(ctx, *args, **kwargs)
        outputs = cls.forward(*args, **kwargs)
        cls.setup_context(ctx, args, outputs)
        return outputs

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Runs forward on `args` and records the operation for autograd (if an input requires
        grad and grad mode is on): call this, not forward. Inside llgrad.compile the function is
        traced, its backward traced as the gradient rule."""
        from ..tensor import Tensor
        from ..tracing import active_tracer

        args, kwargs = cls._bind_arguments(args, kwargs)
        tracer = active_tracer()
        if tracer is not None:  # the tracer decides; closure tensors are lifted there
            return tracer.apply_function(cls, args, kwargs)
        ctx = FunctionCtx()
        tensors = [a for a in args if isinstance(a, Tensor)]
        requires_grad = grad_mode.STATE.enabled and any(t._requires_grad for t in tensors)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with grad_mode.no_grad():
            outputs = cls._run_forward(ctx, args, kwargs)
        single = not isinstance(outputs, tuple)
        outputs_tuple = (outputs,) if single else outputs
        if ctx._dirty:
            _check_dirty(ctx, args, outputs_tuple, requires_grad)
        outputs_tuple = tuple(_fresh_output(o, args, ctx._dirty) for o in outputs_tuple)
        if requires_grad:
            _record_function(cls, ctx, args, outputs_tuple)
        elif getattr(ctx, "_to_save", None) is not None:
            ctx._saved = None
        return outputs_tuple[0] if single else outputs_tuple


def _has_setup_context(cls):
    return cls.setup_context is not Function.setup_context


def _fresh_output(out, args, dirty):
    """An output returned unchanged from the inputs is a new tensor object (a view), so
    attaching history to it does not rewrite the input's; unless the forward modified it in
    place (mark_dirty): then the input itself is returned, its history moved to this node."""
    from ..tensor import Tensor

    if isinstance(out, Tensor) and any(out is a for a in args) and id(out) not in dirty:
        return out.detach() if not out._requires_grad else out.view_as(out).detach()
    return out


def _check_dirty(ctx, args, outputs, requires_grad):
    """PyTorch's rules for inputs a forward modified in place (ctx.mark_dirty)."""
    from ..tensor import Tensor

    returned = {id(o) for o in outputs if isinstance(o, Tensor)}
    for a in args:
        if isinstance(a, Tensor) and id(a) in ctx._dirty:
            a._bump_version()
    if not ctx._dirty <= returned:
        raise RuntimeError("Some elements marked as dirty during the forward method were not "
                           "returned as output. The inputs that are modified inplace must all be "
                           "outputs of the Function.")
    for a in args:
        if isinstance(a, Tensor) and id(a) in ctx._dirty and requires_grad \
                and a.grad_fn is None and a._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                               "operation.")


def _record_function(cls, ctx, args, outputs):
    from ..tensor import Tensor

    node_cls = _node_class(cls)
    node = node_cls.__new__(node_cls)
    node._seq = next_sequence_nr()
    node._ctx = ctx
    node._function = cls
    ctx._node = node
    # As PyTorch: one edge per tensor argument (non-tensor arguments have none), while backward
    # returns one gradient per argument.
    edges, meta, positions = [], [], []
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            continue
        positions.append(i)
        if a._requires_grad:
            edges.append((a.grad_fn, a._output_nr) if a.grad_fn is not None
                         else (grad_accumulator(a), 0))
            meta.append((a._data.shape, a._data.dtype))
        else:
            edges.append((None, 0))
            meta.append(None)
    node.next_functions = tuple(edges)
    node._input_meta = meta
    node._tensor_positions = tuple(positions)
    node._n_inputs = len(args)
    node._n_outputs = len(outputs)
    # Every tensor output gets a gradient in backward (zeros when materialized and none came,
    # also for the non-differentiable ones); only floating-point, differentiable ones get history.
    node._output_meta = []
    for nr, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            node._output_meta.append(None)
            continue
        node._output_meta.append((out._data.shape, out._data.dtype))
        if id(out) not in ctx._non_differentiable and out._data.dtype.kind == "f":
            out._requires_grad = True
            out.grad_fn = node
            out._output_nr = nr
    to_save = getattr(ctx, "_to_save", None)
    if to_save is not None:
        ctx._saved = [None if t is None else
                      SavedTensor(t, is_output=t.grad_fn is node, grad_fn=node) for t in to_save]


ONCE_DIFFERENTIABLE_ERROR = ("trying to differentiate twice a function that was marked with "
                             "@once_differentiable")


def once_differentiable(fn: _F) -> _F:
    """The backward runs without recording; differentiating its results again raises (the
    results get an `Error` node when a gradient they came from requires grad, as in PyTorch)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from ..tensor import Tensor

        with grad_mode.no_grad():
            outputs = fn(ctx, *args)
        if not grad_mode.STATE.enabled:
            return outputs
        if not any(isinstance(a, Tensor) and a._requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        wrapped = tuple(_delayed_error(o) for o in ((outputs,) if single else outputs))
        return wrapped[0] if single else wrapped

    return wrapper  # type: ignore[return-value]


_ERROR_OP = None


def _delayed_error(value):
    global _ERROR_OP
    from ..dispatch import Op, apply
    from ..tensor import Tensor

    if not isinstance(value, Tensor):
        return value
    if _ERROR_OP is None:
        def fail(*_):
            raise RuntimeError(ONCE_DIFFERENTIABLE_ERROR)

        _ERROR_OP = Op("Error", lambda data: data, (fail,))
        _ERROR_OP.node_cls.name = lambda self: "llgrad::autograd::Error"
    alias = value.detach()
    alias.requires_grad_(True)
    return apply(_ERROR_OP, (alias,))
