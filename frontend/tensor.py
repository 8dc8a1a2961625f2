"""The Tensor: a value (a NumPy array, or a graph value while tracing) plus autograd state.

This module holds only what every tensor is: storage, autograd attributes, conversions and
printing. Operations live in `llgrad.ops`, which also binds them as methods and operators, so each
op is written once as a function.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from . import epoch, tracing
from .tracing import active_tracer
from ._device import CPU
from .autograd.grad_mode import STATE
from .compiler import dtypes

if TYPE_CHECKING:
    from builtins import bool as _bool, float as _float, int as _int  # (Tensor has .int() ...)
    from collections.abc import Callable, Sequence
    from typing import Literal, NoReturn

    from ._device import device as _device_type
    from ._typing import DeviceLike, Dims, DTypeLike, Number, TensorOrNumber, ValuesIndices
    from .autograd.graph import Node, _RemovableHandle
    from .compiler.dtypes import DType
    from .random import Generator

_new = object.__new__

NON_LEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
    "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you "
    "access the non-leaf Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information.")

FLOAT_OF_REQUIRES_GRAD_WARNING = (
    "Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
    "Consider using tensor.detach() first.")

_TORCH_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                     "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                     "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def torch_type_name(np_dtype: Any) -> str:
    return "llgrad." + _TORCH_TYPE_NAMES[np.dtype(np_dtype).name]


class Size(tuple):
    """A shape: a tuple that prints as `llgrad.Size([2, 3])`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"llgrad.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, item):
        result = tuple.__getitem__(self, item)
        return Size(result) if isinstance(item, slice) else result

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        n = 1
        for d in self:
            n *= d
        return n


class Tensor:
    """A multi-dimensional array with autograd, as torch.Tensor: create one with
    `llgrad.tensor(data)`, a factory (`zeros`, `randn`, ...) or `from_numpy`; its operations are
    the functions of `llgrad` as methods and operators. It lives on the CPU (its storage is a
    NumPy array; inside `llgrad.compile` it is a traced value). The legacy constructor
    `Tensor(2, 3)` / `Tensor(data)` works as in PyTorch."""

    # Defaults live on the class so creating a tensor sets only `_data`: most tensors are
    # intermediate values that never require grad, get hooks or change version.
    _requires_grad = False
    grad_fn: Node | None = None
    _output_nr = 0
    _grad = None
    _vbox = None  # [version]: shared by views of one storage, bumped by in-place ops
    _accumulator = None
    _hooks = None
    _post_accumulate_hooks = None
    _retains_grad = False
    _base = None
    _view_source = None  # while tracing: the base's value a view was taken from
    _weak = False  # while tracing: a runtime Python number (promotes like one)
    _is_param = False

    __array_ufunc__ = None  # NumPy defers `ndarray * tensor` to our reflected operators
    __hash__ = object.__hash__

    def __new__(cls, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's legacy constructor: `Tensor(2, 3)` (uninitialized, of the default float
        type), `Tensor([1, 2])` (data as the default float type), `Tensor(tensor)` (an alias).
        A subclass without a constructor of its own gets the same tensor as an instance of
        itself (nn.Parameter has its own)."""
        t = legacy_new(None, args, kwargs)
        if cls is Tensor:
            return t
        sub = _new(cls)
        sub._data = t._data
        return sub

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # everything happens in __new__

    def __init_subclass__(cls, **kwargs):
        # Primitives find their handler by exact type, so each subclass (nn.Parameter) registers
        # the one Tensor uses.
        super().__init_subclass__(**kwargs)
        from .compiler.primitive import register_handler

        register_handler(cls, _dispatch_like_tensor)

    @staticmethod
    def _wrap(data):
        t = _new(Tensor)
        t._data = data
        return t

    @staticmethod
    def _from_node(data, node, output_nr):
        t = _new(Tensor)
        t._data = data
        t._requires_grad = True
        t.grad_fn = node
        t._output_nr = output_nr
        return t

    # ---- metadata -----------------------------------------------------------------------------

    @property
    def shape(self) -> Size:
        """The sizes of the dimensions, as an `llgrad.Size` (a tuple)."""
        return Size(self._data.shape)

    @overload
    def size(self, dim: None = None) -> Size: ...
    @overload
    def size(self, dim: _int) -> _int: ...

    def size(self, dim: _int | None = None) -> Size | _int:
        """The shape (an `llgrad.Size`), or the size of dimension `dim`."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self) -> DType:
        """The element type (`llgrad.float32`, `llgrad.int64`, ...)."""
        d = self._data.dtype
        return d if isinstance(d, dtypes.DType) else dtypes.from_numpy(d)

    @property
    def ndim(self) -> _int:
        """The number of dimensions."""
        return self._data.ndim

    def dim(self) -> _int:
        """The number of dimensions (as `ndim`)."""
        return self._data.ndim

    ndimension = dim

    def numel(self) -> _int:
        """The number of elements."""
        return int(np.prod(self._data.shape, dtype=np.int64))

    nelement = numel

    def element_size(self) -> _int:
        """Bytes per element."""
        return self.dtype.itemsize

    def stride(self, dim: _int | None = None) -> Any:
        """The strides in elements (a tuple), or dimension `dim`'s stride (an int), of the
        storage; a traced tensor inside `llgrad.compile` reports contiguous strides."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_wrap_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format: object = None) -> _bool:
        """Whether the elements are laid out in row-major order without gaps."""
        data = self._data
        return type(data) is not np.ndarray or bool(data.flags.c_contiguous)

    @property
    def is_floating_point_type(self) -> _bool:
        """Whether the dtype is a floating-point type."""
        return self.dtype.is_floating_point

    def is_floating_point(self) -> _bool:
        """Whether the dtype is a floating-point type."""
        return self.dtype.is_floating_point

    @property
    def device(self) -> _device_type:
        """Always `device(type='cpu')`: llgrad runs on the CPU only."""
        return CPU

    def get_device(self) -> _int:
        """-1, PyTorch's answer for a CPU tensor."""
        return -1  # PyTorch's answer for a CPU tensor

    @property
    def is_cuda(self) -> _bool:
        """Always False."""
        return False

    is_sparse = False
    is_quantized = False
    layout = "strided"

    # ---- versions (in-place ops bump them; saved tensors check them) ----------------------------

    def _version_box(self):
        box = self._vbox
        if box is None:
            box = self._vbox = [0]
        return box

    def _bump_version(self):
        self._version_box()[0] += 1

    @property
    def _version(self):
        return self._version_box()[0]

    # ---- autograd attributes --------------------------------------------------------------------

    @property
    def requires_grad(self) -> _bool:
        """Whether autograd records operations on this tensor (set it on leaves)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: _bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: _bool = True) -> Tensor:
        """Sets `requires_grad` in place (leaves of floating-point type only) and returns the
        tensor."""
        requires_grad = bool(requires_grad)
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._note_state_change()
        if requires_grad != self._requires_grad:
            epoch.bump()
        self._requires_grad = requires_grad
        if requires_grad and type(self._data) is not np.ndarray:
            tracer = active_tracer()
            if tracer is not None:
                tracer.note_leaf(self)
        return self

    @property
    def is_leaf(self) -> _bool:
        """True for a tensor no recorded operation produced (it has no grad_fn)."""
        return self.grad_fn is None

    @property
    def output_nr(self) -> _int:
        """Which output of its grad_fn this tensor is (0 for leaves)."""
        return self._output_nr

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by backward() (leaves, or tensors that retain_grad());
        None until then."""
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(NON_LEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        tracer = active_tracer()
        if tracer is not None:
            tracer.note_grad_read(self)  # the .grad slot is state, read at each call
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            _check_assigned_grad(self, value)
        tracer = active_tracer()
        if tracer is not None:
            tracer.note_grad_write(self)
        else:
            epoch.bump()
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self.grad = None

    def _note_state_change(self):
        """Under a trace, a pre-existing tensor is lifted before its attributes change, so the
        trace can put them back and replay the change at every call."""
        tracer = active_tracer()
        if tracer is not None and type(self._data) is np.ndarray:
            tracer.lift(self)

    @property
    def retains_grad(self) -> _bool:
        """Whether retain_grad() was called on this non-leaf tensor."""
        return self._retains_grad

    def retain_grad(self) -> None:
        """Makes backward() store this non-leaf tensor's gradient in `.grad`. Inside
        `llgrad.compile` it is refused (return the tensor, or use autograd.grad)."""
        if self.grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        register = getattr(self.grad_fn, "_retain_grad", None)
        if register is None:
            raise tracing.TracingError("retain_grad() on an intermediate tensor is not supported "
                                       "inside llgrad.compile; return the tensor, or take its "
                                       "gradient with llgrad.autograd.grad")
        # The engine stores the gradient after this tensor's other hooks ran (PyTorch's order),
        # and only once the whole backward succeeded.
        register(self._output_nr, self)
        self._retains_grad = True

    def _rebased(self, old_grad_fn, old_output_nr):
        """For in-place ops, after they gave this tensor a new grad_fn: a retain_grad() keeps
        following the tensor, as in PyTorch (the gradient retained is the new version's)."""
        if self._retains_grad and old_grad_fn is not None and old_grad_fn is not self.grad_fn:
            retained = old_grad_fn._retained
            if retained and retained.get(old_output_nr) is not None \
                    and retained[old_output_nr]() is self:
                del retained[old_output_nr]
            self.grad_fn._retain_grad(self._output_nr, self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _RemovableHandle:
        """`hook(grad)` runs when this tensor's gradient is computed; a returned tensor replaces it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self._output_nr, hook)
        from .autograd.graph import _RemovableHandle

        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        epoch.bump()
        return _RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]
                                           ) -> _RemovableHandle:
        """`hook(tensor)` after a backward accumulated into this leaf's .grad."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        from .autograd.graph import _RemovableHandle

        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        epoch.bump()
        return _RemovableHandle(self._post_accumulate_hooks, hook)

    def backward(self, gradient: Tensor | None = None, retain_graph: _bool | None = None,
                 create_graph: _bool = False,
                 inputs: Tensor | Sequence[Tensor] | None = None) -> None:
        """Computes the gradient of this tensor with respect to the graph's leaves and
        accumulates it into their `.grad` (`llgrad.autograd.backward`). `gradient`: the seed,
        required unless this is a scalar; `retain_graph`: keep the graph for another backward
        (default: `create_graph`); `create_graph`: record the backward too, for higher-order
        gradients; `inputs`: accumulate into these tensors only."""
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this one's storage and version counter, cut from the graph."""
        t = _new(Tensor)
        tracer = active_tracer()
        if tracer is not None:
            return tracer.alias(self, t, detached=True)
        t._data = self._data
        t._vbox = self._version_box()
        return t

    def detach_(self) -> Tensor:
        """Cuts this tensor from the graph in place (not for views) and returns it."""
        if self._base is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in llgrad/optim/optimizer.py as the solution.")
        self.grad_fn = None
        self._requires_grad = False
        epoch.bump()
        return self

    @property
    def data(self) -> Tensor:
        """The storage without autograd; in-place changes through it are invisible to autograd
        (it has its own version counter), which is what optimizers rely on."""
        t = _new(Tensor)
        tracer = active_tracer()
        if tracer is not None:  # in-place updates through it must reach the tensor
            return tracer.alias(self, t, detached=False)
        t._data = self._data
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        tracer = active_tracer()
        if tracer is not None:
            if value._data is self._data:
                return  # `p.data -= x` assigns back the alias it updated in place
            if tuple(value.shape) != tuple(self.shape) or value.dtype is not self.dtype:
                raise tracing.TracingError(
                    "assigning a tensor of another shape or dtype to tensor.data inside "
                    "llgrad.compile is not supported")
            tracer.rebind(self, value)
            return
        self._data = value._data
        epoch.bump()  # compiled functions holding this tensor's old storage must notice

    # ---- conversions ----------------------------------------------------------------------------

    def _concrete(self, what):
        data = self._data
        if type(data) is not np.ndarray:
            from .tracing import concrete_value_error

            raise concrete_value_error(what)
        return data

    def item(self) -> _int | _float | _bool:
        """The value of a one-element tensor as a Python number. Inside `llgrad.compile` it
        raises (the value is not known while tracing)."""
        data = self._concrete("Tensor.item()")
        if data.size != 1:
            raise RuntimeError(f"a Tensor with {data.size} elements cannot be converted to Scalar")
        return data.reshape(()).item()

    def tolist(self) -> Any:
        """The elements as (nested) Python lists of numbers; a 0-d tensor gives a number."""
        return self._concrete("Tensor.tolist()").tolist()

    def numpy(self, force: _bool = False) -> np.ndarray:
        """The storage as a NumPy array, sharing memory (`force=True`: a copy, also allowed
        when the tensor requires grad)."""
        data = self._concrete("Tensor.numpy()")
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return data.copy() if force else data

    def __array__(self, dtype: Any = None, copy: _bool | None = None) -> np.ndarray:
        data = self._concrete("np.asarray(tensor)")
        if dtype is not None and np.dtype(dtype) != data.dtype:
            return data.astype(dtype)
        return data.copy() if copy else data  # NumPy 2: copy=True must give a fresh array

    def __bool__(self) -> _bool:
        data = self._concrete("bool(tensor)")
        if data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(data.reshape(()))

    def _python_scalar(self, convert):
        data = self._concrete(f"{convert.__name__}(tensor)")
        if data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return convert(data.reshape(()).item())

    def __float__(self) -> _float:
        if self._requires_grad:
            from .autograd import warn_once

            warn_once(FLOAT_OF_REQUIRES_GRAD_WARNING)
        return self._python_scalar(float)

    def __int__(self) -> _int:
        return self._python_scalar(int)

    def __index__(self) -> _int:
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return self._python_scalar(int)

    def __len__(self) -> _int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        from .ops import shape as shape_ops

        return iter(shape_ops.unbind(self, 0))

    def __reversed__(self) -> Tensor:
        from .ops import shape as shape_ops

        return shape_ops.flip(self, 0)

    def __contains__(self, element: object) -> _bool:
        return bool((self == element).any())

    # ---- printing -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        data = self._data
        if type(data) is not np.ndarray:
            return f"tensor(<traced {self.dtype.name}{list(data.shape)}>{self._autograd_suffix()})"
        from ._printing import tensor_repr

        suffix = []
        if self.grad_fn is not None:
            suffix.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self._requires_grad:
            suffix.append("requires_grad=True")
        return tensor_repr(data, self.dtype.name, suffix,
                           default_float_dtype=dtypes.DEFAULT_FLOAT.name)

    def _autograd_suffix(self):
        if self.grad_fn is not None:
            return f", grad_fn=<{self.grad_fn.name()}>"
        return ", requires_grad=True" if self._requires_grad else ""

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and type(self) is Tensor:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def type(self, dtype: DType | str | None = None, non_blocking: _bool = False,
             **kwargs: Any) -> Any:
        """The type's name (`'llgrad.FloatTensor'`) or, given a dtype, a type name or a tensor
        type, the tensor converted to it."""
        if dtype is None:
            return torch_type_name(self.dtype.np)
        if isinstance(dtype, str):
            dtype = dtype_of_type_name(dtype)
        elif isinstance(dtype, _LegacyTensorType):
            dtype = dtype.dtype
        return self.to(dtype)

    def __copy__(self) -> Tensor:
        """copy.copy: a new leaf sharing this one's storage, with its requires_grad but no
        history, .grad or version counter of its own, as PyTorch rebuilds a tensor from its
        storage."""
        t = _new(type(self))
        t._data = self._data
        t._requires_grad = self._requires_grad
        return t

    def __reduce_ex__(self, protocol):
        raise TypeError("use llgrad.save(obj, path) to store tensors; pickling is not supported "
                        "because loading a pickle can run arbitrary code")

    def __deepcopy__(self, memo: dict[_int, Any]) -> Tensor:
        from .ops import shape as shape_ops

        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        t = self.__class__._make_like(shape_ops.clone(self.detach()), self._requires_grad)
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    @classmethod
    def _make_like(cls, source, requires_grad):
        t = _new(cls)
        t._data = source._data
        t._requires_grad = requires_grad
        return t

    # ---- what llgrad.ops binds onto Tensor, as type checkers and IDEs see it -------------------
    # llgrad.ops sets these attributes when it is imported (each op is written once, as a
    # function); this block, skipped at run time, declares their signatures.
    if TYPE_CHECKING:
        T: Tensor
        mT: Tensor

        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def log1p(self) -> Tensor: ...
        def log2(self) -> Tensor: ...
        def log10(self) -> Tensor: ...
        def expm1(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def rsqrt(self) -> Tensor: ...
        def reciprocal(self) -> Tensor: ...
        def sin(self) -> Tensor: ...
        def cos(self) -> Tensor: ...
        def tan(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sinh(self) -> Tensor: ...
        def cosh(self) -> Tensor: ...
        def asin(self) -> Tensor: ...
        def acos(self) -> Tensor: ...
        def atan(self) -> Tensor: ...
        arcsin = asin
        arccos = acos
        arctan = atan
        def sigmoid(self) -> Tensor: ...
        def erf(self) -> Tensor: ...
        def atan2(self, other: Tensor) -> Tensor: ...
        arctan2 = atan2
        def xlogy(self, other: TensorOrNumber) -> Tensor: ...
        def neg(self) -> Tensor: ...
        negative = neg
        def abs(self) -> Tensor: ...
        absolute = abs
        def sign(self) -> Tensor: ...
        def floor(self) -> Tensor: ...
        def ceil(self) -> Tensor: ...
        def round(self) -> Tensor: ...
        def trunc(self) -> Tensor: ...
        def square(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def add(self, other: TensorOrNumber, *, alpha: Number = 1) -> Tensor: ...
        def sub(self, other: TensorOrNumber, *, alpha: Number = 1) -> Tensor: ...
        subtract = sub
        def mul(self, other: TensorOrNumber) -> Tensor: ...
        multiply = mul
        def div(self, other: TensorOrNumber, *, rounding_mode: str | None = None) -> Tensor: ...
        divide = div
        def true_divide(self, other: TensorOrNumber) -> Tensor: ...
        def floor_divide(self, other: TensorOrNumber) -> Tensor: ...
        def remainder(self, other: TensorOrNumber) -> Tensor: ...
        def fmod(self, other: TensorOrNumber) -> Tensor: ...
        def pow(self, exponent: TensorOrNumber) -> Tensor: ...
        def maximum(self, other: Tensor) -> Tensor: ...
        def minimum(self, other: Tensor) -> Tensor: ...
        def lerp(self, end: Tensor, weight: TensorOrNumber) -> Tensor: ...
        def addcmul(self, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor: ...
        def addcdiv(self, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor: ...
        def clamp(self, min: TensorOrNumber | None = None,
                  max: TensorOrNumber | None = None) -> Tensor: ...
        clip = clamp
        def clamp_min(self, min: TensorOrNumber) -> Tensor: ...
        def clamp_max(self, max: TensorOrNumber) -> Tensor: ...
        def eq(self, other: TensorOrNumber) -> Tensor: ...
        def ne(self, other: TensorOrNumber) -> Tensor: ...
        def lt(self, other: TensorOrNumber) -> Tensor: ...
        def le(self, other: TensorOrNumber) -> Tensor: ...
        def gt(self, other: TensorOrNumber) -> Tensor: ...
        def ge(self, other: TensorOrNumber) -> Tensor: ...
        greater = gt
        less = lt
        not_equal = ne
        def equal(self, other: Tensor) -> _bool: ...
        def logical_and(self, other: TensorOrNumber) -> Tensor: ...
        def logical_or(self, other: TensorOrNumber) -> Tensor: ...
        def logical_xor(self, other: TensorOrNumber) -> Tensor: ...
        def logical_not(self) -> Tensor: ...
        def isnan(self) -> Tensor: ...
        def isinf(self) -> Tensor: ...
        def isfinite(self) -> Tensor: ...
        def allclose(self, other: Tensor, rtol: _float = 1e-05, atol: _float = 1e-08,
                     equal_nan: _bool = False) -> _bool: ...
        def isclose(self, other: Tensor, rtol: _float = 1e-05, atol: _float = 1e-08,
                    equal_nan: _bool = False) -> Tensor: ...
        def where(self, condition: Tensor, other: TensorOrNumber) -> Tensor: ...
        def bitwise_and(self, other: TensorOrNumber) -> Tensor: ...
        def bitwise_or(self, other: TensorOrNumber) -> Tensor: ...
        def bitwise_not(self) -> Tensor: ...

        # reductions (NumPy's axis=/keepdims= spellings are accepted too)
        def sum(self, dim: Dims = None, keepdim: _bool = False, *,
                dtype: DTypeLike = None) -> Tensor: ...
        def mean(self, dim: Dims = None, keepdim: _bool = False, *,
                 dtype: DTypeLike = None) -> Tensor: ...
        def prod(self, dim: _int | None = None, keepdim: _bool = False, *,
                 dtype: DTypeLike = None) -> Tensor: ...
        def var(self, dim: Dims = None, unbiased: _bool | None = None, keepdim: _bool = False, *,
                correction: Number | None = None) -> Tensor: ...
        def std(self, dim: Dims = None, unbiased: _bool | None = None, keepdim: _bool = False, *,
                correction: Number | None = None) -> Tensor: ...
        @overload
        def max(self) -> Tensor: ...
        @overload
        def max(self, dim: _int, keepdim: _bool = False) -> ValuesIndices: ...
        @overload
        def max(self, other: Tensor, /) -> Tensor: ...
        def max(self, dim: Any = None, keepdim: _bool = False) -> Any: ...
        @overload
        def min(self) -> Tensor: ...
        @overload
        def min(self, dim: _int, keepdim: _bool = False) -> ValuesIndices: ...
        @overload
        def min(self, other: Tensor, /) -> Tensor: ...
        def min(self, dim: Any = None, keepdim: _bool = False) -> Any: ...
        def amax(self, dim: _int | Sequence[_int] = (), keepdim: _bool = False) -> Tensor: ...
        def amin(self, dim: _int | Sequence[_int] = (), keepdim: _bool = False) -> Tensor: ...
        def argmax(self, dim: _int | None = None, keepdim: _bool = False) -> Tensor: ...
        def argmin(self, dim: _int | None = None, keepdim: _bool = False) -> Tensor: ...
        def logsumexp(self, dim: _int | Sequence[_int], keepdim: _bool = False) -> Tensor: ...
        def softmax(self, dim: _int | None = None, dtype: DTypeLike = None) -> Tensor: ...
        def log_softmax(self, dim: _int | None = None, dtype: DTypeLike = None) -> Tensor: ...
        def all(self, dim: Dims = None, keepdim: _bool = False) -> Tensor: ...
        def any(self, dim: Dims = None, keepdim: _bool = False) -> Tensor: ...
        def norm(self, p: _float | str | None = "fro", dim: Dims = None, keepdim: _bool = False,
                 dtype: DTypeLike = None) -> Tensor: ...
        def count_nonzero(self, dim: Dims = None) -> Tensor: ...
        def cumsum(self, dim: _int, *, dtype: DTypeLike = None) -> Tensor: ...
        def cumprod(self, dim: _int, *, dtype: DTypeLike = None) -> Tensor: ...

        # shape and type
        def reshape(self, *shape: _int | Sequence[_int]) -> Tensor: ...
        def view(self, *shape: _int | Sequence[_int]) -> Tensor: ...
        def view_as(self, other: Tensor) -> Tensor: ...
        def reshape_as(self, other: Tensor) -> Tensor: ...
        def flatten(self, start_dim: _int = 0, end_dim: _int = -1) -> Tensor: ...
        def unflatten(self, dim: _int, sizes: Sequence[_int]) -> Tensor: ...
        def squeeze(self, dim: _int | Sequence[_int] | None = None) -> Tensor: ...
        def unsqueeze(self, dim: _int) -> Tensor: ...
        def expand(self, *sizes: _int | Sequence[_int]) -> Tensor: ...
        def expand_as(self, other: Tensor) -> Tensor: ...
        def broadcast_to(self, shape: Sequence[_int]) -> Tensor: ...
        def permute(self, *dims: _int | Sequence[_int]) -> Tensor: ...
        def transpose(self, dim0: _int, dim1: _int) -> Tensor: ...
        swapaxes = transpose
        swapdims = transpose
        def t(self) -> Tensor: ...
        def movedim(self, source: _int | Sequence[_int],
                    destination: _int | Sequence[_int]) -> Tensor: ...
        def contiguous(self, memory_format: object = None) -> Tensor: ...
        def clone(self, *, memory_format: object = None) -> Tensor: ...
        def to(self, *args: DType | DeviceLike | Tensor, dtype: DTypeLike = None,
               device: DeviceLike = None, copy: _bool = False, non_blocking: _bool = False,
               memory_format: object = None) -> Tensor: ...
        def type_as(self, other: Tensor) -> Tensor: ...
        def float(self, memory_format: object = None) -> Tensor: ...
        def double(self, memory_format: object = None) -> Tensor: ...
        def half(self, memory_format: object = None) -> Tensor: ...
        def long(self, memory_format: object = None) -> Tensor: ...
        def int(self, memory_format: object = None) -> Tensor: ...
        def short(self, memory_format: object = None) -> Tensor: ...
        def char(self, memory_format: object = None) -> Tensor: ...
        def byte(self, memory_format: object = None) -> Tensor: ...
        def bool(self, memory_format: object = None) -> Tensor: ...
        def cpu(self, memory_format: object = None) -> Tensor: ...
        def cuda(self, *args: Any, **kwargs: Any) -> NoReturn: ...
        def split(self, split_size_or_sections: _int | Sequence[_int],
                  dim: _int = 0) -> tuple[Tensor, ...]: ...
        def chunk(self, chunks: _int, dim: _int = 0) -> tuple[Tensor, ...]: ...
        def unbind(self, dim: _int = 0) -> tuple[Tensor, ...]: ...
        def tensor_split(self, sections: _int | Sequence[_int],
                         dim: _int = 0) -> tuple[Tensor, ...]: ...
        def select(self, dim: _int, index: _int) -> Tensor: ...
        def narrow(self, dim: _int, start: _int | Tensor, length: _int) -> Tensor: ...
        def flip(self, dims: _int | Sequence[_int]) -> Tensor: ...
        def repeat(self, *sizes: _int | Sequence[_int]) -> Tensor: ...
        def tile(self, dims: Sequence[_int]) -> Tensor: ...
        def repeat_interleave(self, repeats: _int | Tensor, dim: _int | None = None) -> Tensor: ...
        def diag(self, diagonal: _int = 0) -> Tensor: ...
        def tril(self, diagonal: _int = 0) -> Tensor: ...
        def triu(self, diagonal: _int = 0) -> Tensor: ...
        def roll(self, shifts: _int | Sequence[_int],
                 dims: _int | Sequence[_int] | None = None) -> Tensor: ...
        def new_zeros(self, *size: _int | Sequence[_int], dtype: DTypeLike = None,
                      device: DeviceLike = None, requires_grad: _bool = False,
                      layout: object = None, pin_memory: _bool = False,
                      **size_keyword: Sequence[_int]) -> Tensor: ...
        new_ones = new_zeros
        new_empty = new_zeros
        def new_full(self, size: Sequence[_int], fill_value: Number, *, dtype: DTypeLike = None,
                     device: DeviceLike = None, requires_grad: _bool = False,
                     layout: object = None, pin_memory: _bool = False) -> Tensor: ...
        def new_tensor(self, data: Any, dtype: DTypeLike = None, device: DeviceLike = None,
                       requires_grad: _bool = False, layout: object = None,
                       pin_memory: _bool = False) -> Tensor: ...

        # indexing
        def gather(self, dim: _int, index: Tensor, *, sparse_grad: _bool = False) -> Tensor: ...
        def index_select(self, dim: _int, index: Tensor) -> Tensor: ...
        def scatter(self, dim: _int, index: Tensor, src: TensorOrNumber | None = None, *,
                    value: Number | None = None, reduce: str | None = None) -> Tensor: ...
        def scatter_(self, dim: _int, index: Tensor, src: TensorOrNumber | None = None, *,
                     value: Number | None = None, reduce: str | None = None) -> Tensor: ...
        def scatter_add(self, dim: _int, index: Tensor, src: Tensor) -> Tensor: ...
        def masked_fill(self, mask: Tensor, value: TensorOrNumber) -> Tensor: ...
        def masked_select(self, mask: Tensor) -> Tensor: ...
        @overload
        def nonzero(self, *, as_tuple: Literal[False] = False) -> Tensor: ...
        @overload
        def nonzero(self, *, as_tuple: Literal[True]) -> tuple[Tensor, ...]: ...
        def nonzero(self, *, as_tuple: _bool = False) -> Any: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def __setitem__(self, index: Any, value: TensorOrNumber) -> None: ...

        # linear algebra
        def matmul(self, other: Tensor) -> Tensor: ...
        def mm(self, mat2: Tensor) -> Tensor: ...
        def bmm(self, mat2: Tensor) -> Tensor: ...
        def dot(self, other: Tensor) -> Tensor: ...
        def mv(self, vec: Tensor) -> Tensor: ...
        def outer(self, vec2: Tensor) -> Tensor: ...
        def addmm(self, mat1: Tensor, mat2: Tensor, *, beta: Number = 1,
                  alpha: Number = 1) -> Tensor: ...

        # sorting
        def sort(self, dim: _int = -1, descending: _bool = False,
                 stable: _bool | None = None) -> ValuesIndices: ...
        def argsort(self, dim: _int = -1, descending: _bool = False,
                    stable: _bool = False) -> Tensor: ...
        def topk(self, k: _int, dim: _int = -1, largest: _bool = True,
                 sorted: _bool = True) -> ValuesIndices: ...
        def kthvalue(self, k: _int, dim: _int = -1, keepdim: _bool = False) -> ValuesIndices: ...
        def msort(self) -> Tensor: ...
        def unique(self, sorted: _bool = True, return_inverse: _bool = False,
                   return_counts: _bool = False, dim: _int | None = None) -> Any: ...

        # in place: each returns this tensor
        def add_(self, other: TensorOrNumber, *, alpha: Number = 1) -> Tensor: ...
        def sub_(self, other: TensorOrNumber, *, alpha: Number = 1) -> Tensor: ...
        subtract_ = sub_
        def mul_(self, other: TensorOrNumber) -> Tensor: ...
        multiply_ = mul_
        def div_(self, other: TensorOrNumber, *, rounding_mode: str | None = None) -> Tensor: ...
        divide_ = div_
        def pow_(self, exponent: TensorOrNumber) -> Tensor: ...
        def neg_(self) -> Tensor: ...
        def exp_(self) -> Tensor: ...
        def log_(self) -> Tensor: ...
        def sqrt_(self) -> Tensor: ...
        def sigmoid_(self) -> Tensor: ...
        def tanh_(self) -> Tensor: ...
        def relu_(self) -> Tensor: ...
        def abs_(self) -> Tensor: ...
        def clamp_(self, min: TensorOrNumber | None = None,
                   max: TensorOrNumber | None = None) -> Tensor: ...
        def clamp_min_(self, min: TensorOrNumber) -> Tensor: ...
        def clamp_max_(self, max: TensorOrNumber) -> Tensor: ...
        def floor_(self) -> Tensor: ...
        def round_(self) -> Tensor: ...
        def sign_(self) -> Tensor: ...
        def addcmul_(self, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor: ...
        def addcdiv_(self, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor: ...
        def lerp_(self, end: Tensor, weight: TensorOrNumber) -> Tensor: ...
        def fill_(self, value: TensorOrNumber) -> Tensor: ...
        def zero_(self) -> Tensor: ...
        def copy_(self, src: Tensor, non_blocking: _bool = False) -> Tensor: ...
        def masked_fill_(self, mask: Tensor, value: TensorOrNumber) -> Tensor: ...
        def index_add_(self, dim: _int, index: Tensor, source: Tensor, *,
                       alpha: Number = 1) -> Tensor: ...
        def scatter_add_(self, dim: _int, index: Tensor, src: Tensor) -> Tensor: ...
        def uniform_(self, *args: _float, generator: Generator | None = None,
                     **kwargs: _float) -> Tensor: ...
        def normal_(self, *args: _float, generator: Generator | None = None,
                    **kwargs: _float) -> Tensor: ...
        def bernoulli_(self, *args: _float | Tensor, generator: Generator | None = None,
                       **kwargs: _float | Tensor) -> Tensor: ...
        def random_(self, low: _int = 0, high: _int | None = None, *,
                    generator: Generator | None = None) -> Tensor: ...

        # operators (a NumPy array operand is taken as a tensor)
        def __add__(self, other: TensorOrNumber) -> Tensor: ...
        def __radd__(self, other: TensorOrNumber) -> Tensor: ...
        def __iadd__(self, other: TensorOrNumber) -> Tensor: ...
        def __sub__(self, other: TensorOrNumber) -> Tensor: ...
        def __rsub__(self, other: TensorOrNumber) -> Tensor: ...
        def __isub__(self, other: TensorOrNumber) -> Tensor: ...
        def __mul__(self, other: TensorOrNumber) -> Tensor: ...
        def __rmul__(self, other: TensorOrNumber) -> Tensor: ...
        def __imul__(self, other: TensorOrNumber) -> Tensor: ...
        def __truediv__(self, other: TensorOrNumber) -> Tensor: ...
        def __rtruediv__(self, other: TensorOrNumber) -> Tensor: ...
        def __itruediv__(self, other: TensorOrNumber) -> Tensor: ...
        def __floordiv__(self, other: TensorOrNumber) -> Tensor: ...
        def __rfloordiv__(self, other: TensorOrNumber) -> Tensor: ...
        def __ifloordiv__(self, other: TensorOrNumber) -> Tensor: ...
        def __mod__(self, other: TensorOrNumber) -> Tensor: ...
        def __rmod__(self, other: TensorOrNumber) -> Tensor: ...
        def __imod__(self, other: TensorOrNumber) -> Tensor: ...
        def __pow__(self, other: TensorOrNumber) -> Tensor: ...
        def __rpow__(self, other: TensorOrNumber) -> Tensor: ...
        def __ipow__(self, other: TensorOrNumber) -> Tensor: ...
        def __matmul__(self, other: Tensor) -> Tensor: ...
        def __rmatmul__(self, other: Tensor) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __pos__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __invert__(self) -> Tensor: ...
        def __and__(self, other: TensorOrNumber) -> Tensor: ...
        def __rand__(self, other: TensorOrNumber) -> Tensor: ...
        def __iand__(self, other: TensorOrNumber) -> Tensor: ...
        def __or__(self, other: TensorOrNumber) -> Tensor: ...
        def __ror__(self, other: TensorOrNumber) -> Tensor: ...
        def __ior__(self, other: TensorOrNumber) -> Tensor: ...
        def __xor__(self, other: TensorOrNumber) -> Tensor: ...
        def __rxor__(self, other: TensorOrNumber) -> Tensor: ...
        def __ixor__(self, other: TensorOrNumber) -> Tensor: ...
        def __eq__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other: Any) -> Tensor: ...  # type: ignore[override]
        def __lt__(self, other: TensorOrNumber) -> Tensor: ...
        def __le__(self, other: TensorOrNumber) -> Tensor: ...
        def __gt__(self, other: TensorOrNumber) -> Tensor: ...
        def __ge__(self, other: TensorOrNumber) -> Tensor: ...


Tensor.__module__ = "llgrad"  # type(t) prints <class 'llgrad.Tensor'>, as torch.Tensor does


# ---- legacy constructors: Tensor(...), FloatTensor(...), LongTensor(...) -----------------------

def dtype_of_type_name(name):
    """'torch.LongTensor' / 'llgrad.LongTensor' / 'LongTensor' -> int64."""
    short = name.rsplit(".", 1)[-1]
    for dtype_name, type_name in _TORCH_TYPE_NAMES.items():
        if type_name == short:
            return dtypes.from_name(dtype_name)
    raise ValueError(f"invalid type: '{name}'")


def legacy_new(dtype, args, kwargs):
    """`Tensor(*sizes)`, `Tensor(size)`, `Tensor(data)`, `Tensor(tensor)`, `Tensor()` of `dtype`
    (None: the default float type), as PyTorch's legacy constructors."""
    from ._device import check_device
    from .ops import creation

    device = kwargs.pop("device", None)
    if kwargs:
        raise TypeError(f"new() received an invalid combination of arguments - got an "
                        f"unexpected keyword argument '{next(iter(kwargs))}'")
    check_device(device)
    target = dtype or dtypes.DEFAULT_FLOAT
    if not args:
        return creation.empty(0, dtype=target)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            if dtype is not None and data.dtype is not dtype:
                raise TypeError(f"expected {_CPP_TYPE_NAMES[dtype.name]} tensor (got "
                                f"{_CPP_TYPE_NAMES[data.dtype.name]} tensor)")
            return data.detach()
        if isinstance(data, Size):
            return creation.empty(tuple(data), dtype=target)
        if isinstance(data, (list, tuple, range, np.ndarray)):
            return creation.tensor(data, dtype=target)
        if isinstance(data, (float, bool, complex)) or not _is_int(data):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    if all(_is_int(a) for a in args):
        return creation.empty(tuple(int(a) for a in args), dtype=target)
    raise TypeError("new() received an invalid combination of arguments - got "
                    f"({', '.join(type(a).__name__ for a in args)})")


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class _LegacyTensorType(type):
    """The metaclass of FloatTensor, LongTensor, ...: calling one builds a tensor of its dtype,
    and isinstance(t, FloatTensor) asks whether t is a float32 tensor, as in PyTorch."""

    def __call__(cls, *args, **kwargs):
        return legacy_new(cls.dtype, args, kwargs)

    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and instance.dtype is cls.dtype

    def __repr__(cls):
        return f"<class 'llgrad.{cls.__name__}'>"


def _legacy_type(dtype_name):
    name = _TORCH_TYPE_NAMES[dtype_name]
    doc = (f"PyTorch's legacy {name}: `{name}(2, 3)` (uninitialized: zeros here), "
           f"`{name}([1, 2])` (data) make {dtype_name} tensors, and isinstance(t, {name}) asks "
           f"whether t is a {dtype_name} tensor.")
    cls = _LegacyTensorType(name, (), {"dtype": dtypes.from_name(dtype_name), "__doc__": doc,
                                       "__module__": "llgrad", "__qualname__": name})
    return cls


LEGACY_TYPES = {name: _legacy_type(dtype_name) for dtype_name, name in _TORCH_TYPE_NAMES.items()}


def _dispatch_like_tensor(prim, args, params):
    from .dispatch import _apply_primitive_to_tensors

    return _apply_primitive_to_tensors(prim, args, params)


def _wrap_dim(dim, ndim):
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-size}, {size - 1}], "
                         f"but got {dim})")
    return dim % size


def _check_assigned_grad(tensor, value):
    if not isinstance(value, Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                        f"{type(value).__name__}")
    if tuple(value.shape) != tuple(tensor.shape):
        raise RuntimeError(f"attempting to assign a gradient of size '{list(value.shape)}' to a "
                           f"tensor of size '{list(tensor.shape)}'. Please ensure that the "
                           f"gradient and the tensor are the same size")
    if value.dtype is not tensor.dtype:
        raise RuntimeError(
            f"attempting to assign a gradient with dtype '{_CPP_TYPE_NAMES[value.dtype.name]}' to a "
            f"tensor with grad_dtype '{_SCALAR_TYPE_NAMES[tensor.dtype.name]}'. The gradient must "
            f"match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the "
            f"tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. Set "
            f"grad_dtype with caution. Diverging the dtypes of a tensor and its gradient may break "
            f"downstream systems that assume they match.")


# How PyTorch's messages name dtypes: the C++ element type, and the ScalarType.
_CPP_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
                   "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
                   "uint8": "unsigned char", "bool": "bool"}
_SCALAR_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                      "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                      "bool": "Bool"}


def is_grad_enabled():
    return STATE.enabled
