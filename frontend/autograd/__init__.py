"""llgrad.autograd: backward, grad, custom Functions, grad modes, gradcheck."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, overload

# `name as name`: a re-export, as type checkers require of a typed package.
from .engine import run_backward as run_backward
from .function import (
    Function as Function, FunctionCtx as FunctionCtx, once_differentiable as once_differentiable,
)
from .grad_mode import (
    enable_grad as enable_grad, inference_mode as inference_mode,
    is_grad_enabled as is_grad_enabled, is_inference_mode_enabled as is_inference_mode_enabled,
    no_grad as no_grad, set_grad_enabled as set_grad_enabled,
)
from .gradcheck import gradcheck as gradcheck, gradgradcheck as gradgradcheck
from .graph import Node as Node
from .variable import Variable as Variable
from . import functional as functional, graph as graph, profiler as profiler

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Literal, TypeVar

    from ..tensor import Tensor

    _K = TypeVar("_K")


def _as_tuple(x):
    """None, a tensor as a 1-tuple, or any other iterable as a tuple (PyTorch's reading)."""
    from ..tensor import Tensor

    if x is None:
        return None
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grad_outputs):
    """Seeds for the outputs: ones for scalars, the given gradients checked for shape."""
    from ..ops.creation import ones_like
    from ..tensor import Tensor

    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out._requires_grad and out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = ones_like(out)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
        elif tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                               f"output[{i}] has a shape of {out.shape}.")
        grads.append(g)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    return grads


def _check_outputs_require_grad(outputs):
    for i, out in enumerate(outputs):
        if not out._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               f"grad_fn")


CREATE_GRAPH_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the parameter "
    "and its gradient which can cause a memory leak. We recommend using autograd.grad when "
    "creating the graph to avoid this. If you have to use this function, make sure to reset the "
    ".grad fields of your parameters to None after use to break the cycle and avoid the leak.")
_warned = set()  # warnings PyTorch gives once per process


def warn_once(message: str, stacklevel: int = 3) -> None:
    """warnings.warn the first time only: PyTorch's TORCH_WARN_ONCE, once per process."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, UserWarning, stacklevel=stacklevel)


def backward(tensors: Tensor | Sequence[Tensor],
             grad_tensors: Tensor | Sequence[Tensor | None] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Tensor | Sequence[Tensor] | Mapping[Any, Tensor] | None = None) -> None:
    """Accumulates the gradients of `tensors` into the `.grad` of the graph's leaves, as
    torch.autograd.backward. `grad_tensors`: the seed for each tensor (None: ones, for a
    scalar); `retain_graph`: keep the graph for another backward (default: `create_graph`);
    `create_graph`: record the backward so gradients can be differentiated again; `inputs`:
    accumulate into these tensors only. Inside llgrad.compile the backward is derived
    symbolically and compiled with the forward."""
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if inputs is not None:
        inputs = tuple(inputs.values()) if type(inputs) is dict else _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    grads = _make_grads(tensors, grad_tensors)
    _check_outputs_require_grad(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    from ..tracing import traced_backward

    if traced_backward(tensors, grads, retain_graph, create_graph, inputs):
        return
    for t in inputs or ():
        # As PyTorch: each input keeps its gradient in .grad, a non-leaf through retain_grad()
        # (which also rejects a leaf that does not require grad).
        t.retain_grad()
    if create_graph:
        warn_once(CREATE_GRAPH_WARNING)
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


@overload
def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False, only_inputs: bool = True,
         allow_unused: Literal[False] | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple[Tensor, ...]: ...
@overload
def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False, only_inputs: bool = True,
         allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple[Tensor | None, ...]: ...
@overload
def grad(outputs: Tensor | Sequence[Tensor], inputs: Mapping[_K, Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False, only_inputs: bool = True,
         allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> dict[_K, Tensor | None]: ...


def grad(outputs: Tensor | Sequence[Tensor],
         inputs: Tensor | Sequence[Tensor] | Mapping[Any, Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False, only_inputs: bool = True,
         allow_unused: bool | None = None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> Any:
    """The gradients of `outputs` with respect to `inputs`, returned rather than accumulated
    into .grad, as torch.autograd.grad: a tuple with one gradient per input (a dict for a dict
    of inputs). `grad_outputs`: the seeds (None: ones, for scalars); `create_graph=True`
    records the backward, for higher-order gradients; an input the outputs do not depend on
    raises unless `allow_unused` (then None) or `materialize_grads` (then zeros).
    `is_grads_batched` is not supported (llgrad has no vmap). Works inside llgrad.compile."""
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = _as_tuple(outputs)
    keys = tuple(inputs) if type(inputs) is dict else None
    inputs = tuple(inputs.values()) if keys is not None else _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if is_grads_batched:
        raise NotImplementedError("autograd.grad(is_grads_batched=True) needs vmap, which llgrad "
                                  "does not have; call autograd.grad once per grad_output")
    if not only_inputs:
        warnings.warn("only_inputs argument is deprecated and is ignored now (defaults to True). "
                      "To accumulate gradient for other parts of the graph, please use "
                      "llgrad.autograd.backward.", FutureWarning,
                      stacklevel=2)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    grads = _make_grads(outputs, grad_outputs)
    _check_outputs_require_grad(outputs)
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    from ..tracing import traced_grad

    result = traced_grad(outputs, inputs, grads, retain_graph, create_graph)
    if result is None:
        result = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                              accumulate=False)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been "
                               f"used in the graph. Set allow_unused=True if this is the desired "
                               f"behavior.")
    if materialize_grads:
        from ..ops.creation import zeros_like

        result = [zeros_like(t) if g is None else g for t, g in zip(inputs, result)]
    if keys is not None:
        return dict(zip(keys, result))
    return tuple(result)


class set_detect_anomaly:
    """Accepted for compatibility; llgrad's errors already name the failing operation."""

    def __init__(self, mode: bool = True, check_nan: bool = True) -> None:
        pass

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> Literal[False]:
        return False


detect_anomaly = set_detect_anomaly


# A name PyTorch has here and llgrad does not: an AttributeError saying it is not provided yet.
from .._missing import missing_attributes as _missing_attributes  # noqa: E402

__getattr__ = _missing_attributes(__name__)
