"""`nn.Parameter` (a Tensor that a Module registers as a parameter) and `nn.Buffer`."""
from __future__ import annotations

from typing import Any

from ..ops import creation
from ..tensor import Tensor

_new = object.__new__


class Parameter(Tensor):
    """A leaf tensor that shares the storage (and version counter) of `data`.

    Operations on a Parameter give plain Tensors, as in PyTorch: ops build their results with
    `Tensor._wrap`.
    """

    _is_param = True

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> Parameter:
        if data is None:
            data = creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(data) expects a Tensor, got {type(data).__name__}")
        p = _new(cls)
        p._data = data._data
        p._vbox = data._version_box()
        p.requires_grad_(requires_grad)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # everything happens in __new__ (Tensor.__init__ refuses direct construction)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__  # Tensor binds __str__ to its own __repr__

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        memo[id(self)] = result
        return result


class _BufferMeta(type):
    # `Buffer(t)` returns a plain tensor marked as a buffer; isinstance looks at the mark.
    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """`nn.Buffer(t, persistent=True)`: assigning it to a Module attribute registers a buffer."""

    def __new__(cls, data: Tensor | None = None, *,  # type: ignore[misc]
                persistent: bool = True) -> Tensor:
        if data is None:
            data = creation.empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t
