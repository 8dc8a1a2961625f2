"""Creating tensors: from data, filled, ranges, random (bit-identical to PyTorch's CPU generator).

Every new tensor passes through `_make`, the one place tracing intercepts to turn a value built
inside a compiled function into a graph constant.
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import random as rng
from .._device import check_device
from ..compiler import dtypes
from ..tensor import Tensor
from . import _args

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeVar

    from .._typing import DeviceLike, DType, DTypeLike, Number, TensorOrNumber
    from ..random import Generator

    _F = TypeVar("_F", bound=Callable[..., Any])


def _make(array, requires_grad=False, dtype=None):
    if dtype is not None and array.dtype != dtype.np:
        array = array.astype(dtype.np)
    from .. import tracing

    if requires_grad and array.dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    t = Tensor._wrap(array)
    if tracing.active_tracer() is not None:
        t = tracing.constant(t)  # made constant first: a requires_grad leaf of the trace
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype):
    if dtype is None or isinstance(dtype, dtypes.DType):
        return dtype
    if isinstance(dtype, str):
        return dtypes.from_name(dtype)
    return dtypes.from_numpy(dtype)


def _sizes(size, name="size"):
    sizes = _args.sizes(size, name)
    for s in sizes:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(sizes)}")
    return sizes


def _factory(fn: _F) -> _F:
    """A creation function's `device=` (the CPU only) and `out=` (PyTorch's: the values written
    into `out`, which gives the dtype, and `out` returned)."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args, out=None, device=None, **kwargs):
        check_device(device)
        if out is None:
            return fn(*args, **kwargs)
        _args.check_out_autograd(f"aten::{name}", out)
        _args.check_out_dtype(out, _dtype(kwargs.get("dtype")))
        kwargs["dtype"] = out.dtype
        return _args.write_out(out, fn(*args, **kwargs))

    return wrapper  # type: ignore[return-value]


def _size_keyword(fn: _F) -> _F:
    """PyTorch's keyword spelling of a factory's size, `zeros(size=(2, 3))`, beside the
    positional ones. The keyword takes a sequence only (`size=2` is PyTorch's TypeError)."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*size, **kwargs):
        if "size" not in kwargs:
            if not size:
                _missing_size(name, kwargs)
            return fn(*size, **kwargs)
        given = kwargs.pop("size")
        if size:
            _size_given_twice(name, size, kwargs, given)
        if not isinstance(given, (tuple, list)) or not all(map(_is_size_element, given)):
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, not "
                            f"{_argument_type(given)}")
        return fn(tuple(given), **kwargs)

    return wrapper  # type: ignore[return-value]


def _is_size_element(value):
    if isinstance(value, Tensor):
        return value.dtype.kind in "iu" and value.numel() == 1
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _argument_type(value):
    return "Tensor" if isinstance(value, Tensor) else type(value).__name__


# rand and randn have two overloads (with and without a generator): PyTorch lists both when
# neither matches.
_RANDOM_OVERLOADS = (
    " * (tuple of ints size, *, llgrad.Generator generator, Tensor out = None, llgrad.dtype dtype "
    "= None, llgrad.layout layout = None, llgrad.device device = None, bool pin_memory = False, "
    "bool requires_grad = False)\n"
    " * (tuple of ints size, *, Tensor out = None, llgrad.dtype dtype = None, llgrad.layout "
    "layout = None, llgrad.device device = None, bool pin_memory = False, bool requires_grad = "
    "False)\n")


def _invalid_random_call(name, args, kwargs):
    def kind(value):
        if isinstance(value, (dtypes.DType, Tensor)):
            return "llgrad.dtype" if isinstance(value, dtypes.DType) else "Tensor"
        return type(value).__name__

    got = [kind(a) for a in args] + [f"{k}={kind(v)}" for k, v in kwargs.items()]
    return TypeError(f"{name}() received an invalid combination of arguments - got "
                     f"({', '.join(got)}), but expected one of:\n{_RANDOM_OVERLOADS}")


def _missing_size(name, kwargs):
    if name in ("rand", "randn"):
        raise _invalid_random_call(name, (), kwargs)
    raise TypeError(f'{name}() missing 1 required positional arguments: "size"')


def _size_given_twice(name, size, kwargs, given):
    if name in ("rand", "randn"):
        raise _invalid_random_call(name, size, {**kwargs, "size": given})
    raise TypeError(f"{name}() got multiple values for argument 'size'")


# ---- from data ---------------------------------------------------------------------------------

_SEQUENCES = (list, tuple, range)
_PYTHON_SCALAR_TYPES = {bool: "bool", int: "int", float: "float"}


def _leaf_dtype(kind):
    """The dtype PyTorch infers for one scalar leaf of type `kind` (Python number or NumPy
    scalar)."""
    if kind is float:
        return dtypes.DEFAULT_FLOAT
    if kind is int:
        return dtypes.int64
    if kind is bool:
        return dtypes.bool_
    if issubclass(kind, np.generic) and not issubclass(kind, np.complexfloating):
        return dtypes.from_numpy(np.dtype(kind))
    if issubclass(kind, (complex, np.complexfloating)):
        raise TypeError("complex tensors are not supported by llgrad")
    if issubclass(kind, int):  # (an IntEnum, ...)
        return dtypes.int64
    if issubclass(kind, float):
        return dtypes.DEFAULT_FLOAT
    raise TypeError(f"new(): invalid data type '{kind.__name__}'")


def _infer_dtype(leaf_types, leaf_dtypes):
    """PyTorch's infer_scalar_type: the promotion of every leaf's type, where a Python float
    counts as the default float type, an int as int64, and arrays, NumPy scalars and tensors
    inside the data as their own dtypes (the default float type when there are no leaves)."""
    result = None
    for d in [_leaf_dtype(kind) for kind in leaf_types] + list(leaf_dtypes):
        result = d if result is None else dtypes.promote(result, d)
    return result or dtypes.DEFAULT_FLOAT


_warned_about_arrays = False


def _warn_list_of_arrays():
    global _warned_about_arrays
    if not _warned_about_arrays:
        _warned_about_arrays = True
        warnings.warn("Creating a tensor from a list of numpy.ndarrays is extremely slow. Please "
                      "consider converting the list to a single numpy.ndarray with numpy.array() "
                      "before converting to a tensor.", UserWarning, stacklevel=4)


def _flatten_checked(data):
    """Shape, flat values and inferred dtype parts of nested data, which must be rectangular
    (PyTorch's error otherwise). As in PyTorch, lists, tuples, ranges and NumPy arrays are
    sequences; a tensor inside the data is a scalar (it must hold one element)."""
    shape = []
    probe = data
    while isinstance(probe, _SEQUENCES) or (isinstance(probe, np.ndarray) and probe is not data):
        if isinstance(probe, np.ndarray):
            shape.extend(probe.shape)
            break
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    ndim = len(shape)
    flat, leaf_types, leaf_dtypes = [], set(), set()

    def collect(item, depth):
        if isinstance(item, np.ndarray):
            _warn_list_of_arrays()
            if item.ndim == 0:
                raise TypeError("len() of unsized object")
            if tuple(item.shape) != tuple(shape[depth:]):
                raise ValueError(f"expected sequence of length {shape[depth]} at dim {depth} "
                                 f"(got {item.shape[0]})")
            leaf_dtypes.add(dtypes.from_numpy(item.dtype))
            flat.extend(item.ravel().tolist())
            return
        if depth == ndim:
            if isinstance(item, _SEQUENCES):
                raise ValueError(f"expected a number at dim {depth} (got a sequence)")
            if isinstance(item, Tensor):
                leaf_dtypes.add(item.dtype)
                if item.numel() != 1:
                    raise ValueError("only one element tensors can be converted to Python "
                                     "scalars")
                item = item.item()
            else:
                leaf_types.add(type(item))
            flat.append(item)
            return
        if not isinstance(item, _SEQUENCES) or len(item) != shape[depth]:
            got = len(item) if isinstance(item, _SEQUENCES) else type(item).__name__
            raise ValueError(f"expected sequence of length {shape[depth]} at dim {depth} (got {got})")
        if depth == ndim - 1:
            kinds = set(map(type, item))
            if kinds <= _PYTHON_SCALAR_TYPES.keys():  # the common case: a row of numbers
                leaf_types.update(kinds)
                flat.extend(item)
                return
        for element in item:
            collect(element, depth + 1)

    collect(data, 0)
    return shape, flat, leaf_types, leaf_dtypes


def tensor(data: Any, dtype: DTypeLike = None, device: DeviceLike = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor copying `data` (a number, nested lists, a NumPy array or a tensor), as
    torch.tensor: floats become the default float type (float32), ints int64, bools bool, unless
    `dtype` is given. `device` may only name the CPU."""
    check_device(device)
    dtype = _dtype(dtype)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                      ".requires_grad_(True), rather than llgrad.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
        array = np.array(data._concrete("llgrad.tensor(tensor)"), copy=True)
    elif isinstance(data, np.ndarray):
        array = np.array(data, copy=True)
        dtypes.from_numpy(array.dtype)
    elif isinstance(data, (np.generic,)):
        array = np.array(data)
    else:
        shape, flat, leaf_types, leaf_dtypes = _flatten_checked(data)
        inferred = dtype or _infer_dtype(leaf_types, leaf_dtypes)
        array = np.array(flat, dtype=inferred.np if inferred.kind != "f" else np.float64)
        array = array.astype(inferred.np).reshape(shape)
    if dtype is not None:
        array = array.astype(dtype.np, copy=False)
    if not array.flags.c_contiguous:
        array = array.copy()
    return _make(array, requires_grad)


def as_tensor(data: Any, dtype: DTypeLike = None, device: DeviceLike = None) -> Tensor:
    """`data` as a tensor, sharing memory with a NumPy array or tensor when the dtype allows, as
    torch.as_tensor."""
    check_device(device)
    dtype = _dtype(dtype)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype is dtype else data.to(dtype)
    if isinstance(data, np.ndarray):
        t = from_numpy(data)
        return t if dtype is None else t.to(dtype)
    return tensor(data, dtype=dtype)


asarray = as_tensor


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array `array` (writes through either show in both),
    as torch.from_numpy; the array's dtype is kept."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy(array.dtype)
    if not array.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte order. "
                         "Conversion between byte orders is currently not supported.")
    return _make(array)


def scalar_tensor(value: Number, dtype: DTypeLike = None) -> Tensor:
    """A 0-d tensor holding `value` (the default float type unless `dtype`), as
    torch.scalar_tensor."""
    return full((), value, dtype=dtype or dtypes.DEFAULT_FLOAT)


# ---- filled ------------------------------------------------------------------------------------

def _filled(value, size, dtype, requires_grad, name="size"):
    dtype = _dtype(dtype) or dtypes.DEFAULT_FLOAT
    return _make(np.full(_sizes(size, name), value, dtype=dtype.np), requires_grad)


@_size_keyword
@_factory
def zeros(*size: int | Sequence[int], out: Tensor | None = None, dtype: DTypeLike = None,
          layout: object = None, device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros with the shape `size` (separate ints or one sequence), as torch.zeros."""
    return _filled(0, size, dtype, requires_grad, "zeros")


@_size_keyword
@_factory
def ones(*size: int | Sequence[int], out: Tensor | None = None, dtype: DTypeLike = None,
         layout: object = None, device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones with the shape `size` (separate ints or one sequence), as torch.ones."""
    return _filled(1, size, dtype, requires_grad, "ones")


@_size_keyword
@_factory
def empty(*size: int | Sequence[int], out: Tensor | None = None, dtype: DTypeLike = None,
          layout: object = None, device: DeviceLike = None, requires_grad: bool = False,
          memory_format: object = None) -> Tensor:
    """A tensor with the shape `size`, as torch.empty. Unlike PyTorch's, its elements are
    zeros, not whatever memory held."""
    return _filled(0, size, dtype, requires_grad, "empty")


@_factory
def full(size: Sequence[int], fill_value: Number, *, out: Tensor | None = None,
         dtype: DTypeLike = None, layout: object = None, device: DeviceLike = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of shape `size` filled with `fill_value`, as torch.full; the dtype follows the
    value (bool, int64 or the default float type) unless `dtype` is given."""
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = dtypes.bool_
        elif isinstance(fill_value, int):
            dtype = dtypes.int64
        else:
            dtype = dtypes.DEFAULT_FLOAT
    return _filled(fill_value, (size,), dtype, requires_grad, "full")


def _like(fill: int, name: str, doc: str) -> Callable[..., Tensor]:
    def fn(input: Tensor, *, dtype: DTypeLike = None, layout: object = None,
           device: DeviceLike = None, requires_grad: bool = False,
           memory_format: object = None) -> Tensor:
        check_device(device)
        return _filled(fill, (tuple(input.shape),), dtype or input.dtype, requires_grad)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


zeros_like = _like(0, "zeros_like", "A tensor of zeros shaped like `input` (its dtype unless "
                   "`dtype`), as torch.zeros_like.")
ones_like = _like(1, "ones_like", "A tensor of ones shaped like `input` (its dtype unless "
                  "`dtype`), as torch.ones_like.")
empty_like = _like(0, "empty_like", "A tensor shaped like `input`, as torch.empty_like; unlike "
                   "PyTorch's, its elements are zeros.")


def full_like(input: Tensor, fill_value: Number, *, dtype: DTypeLike = None, layout: object = None,
              device: DeviceLike = None, requires_grad: bool = False,
              memory_format: object = None) -> Tensor:
    """A tensor shaped like `input` filled with `fill_value`, as torch.full_like (input's dtype
    unless `dtype`)."""
    check_device(device)
    return _filled(fill_value, (tuple(input.shape),), dtype or input.dtype, requires_grad)


@_factory
def eye(n: int, m: int | None = None, *, out: Tensor | None = None, dtype: DTypeLike = None,
        layout: object = None, device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m defaults to n), as torch.eye."""
    dtype = _dtype(dtype) or dtypes.DEFAULT_FLOAT
    return _make(np.eye(n, n if m is None else m, dtype=dtype.np), requires_grad)


# ---- ranges ------------------------------------------------------------------------------------

@_factory
def arange(start: Number | None = None, end: Number | None = None, step: Number = 1, *,
           out: Tensor | None = None, dtype: DTypeLike = None, layout: object = None,
           device: DeviceLike = None, requires_grad: bool = False) -> Tensor:
    """Values from `start` (default 0) up to but excluding `end`, stepping by `step`, as
    torch.arange: `arange(5)`, `arange(1, 5, 0.5)`. Integer arguments give int64, else the
    default float type."""
    if end is None:
        if start is None:
            raise TypeError('arange() missing 1 required positional arguments: "end"')
        start, end = 0, start
    elif start is None:  # arange(end=3)
        start = 0
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = values
    dtype = _dtype(dtype)
    if dtype is None:
        is_float = any(isinstance(v, float) for v in values)
        dtype = dtypes.DEFAULT_FLOAT if is_float else dtypes.int64
    if dtype.kind == "f":
        _check_range(start, end, step)
        n = int(math.ceil((end - start) / step))
        array = _float_range(float(start), float(step), n, dtype.np)
    else:
        # An integer range works in integers: PyTorch truncates start, end and step first.
        # (int64 sizes the range in integers too; narrower types size it from the arguments.)
        xstart, xend, xstep = int(start), int(end), int(step)
        if dtype is dtypes.int64:
            if xstep == 0 and step != 0:
                # (a step truncated to 0: PyTorch raises ValueError here)
                raise ValueError("step must be nonzero")
            _check_range(xstart, xend, xstep)
            sign = 1 if xstep > 0 else -1
            n = _truncating_division(xend - xstart + xstep - sign, xstep)
        else:
            _check_range(start, end, step)
            n = int(math.ceil((end - start) / step))
        array = xstart + xstep * np.arange(max(n, 0), dtype=np.int64)
    return _make(array.astype(dtype.np), requires_grad)


def _check_range(start, end, step):
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")


def _truncating_division(a, b):
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


# PyTorch's CPU range kernels are compiled with fused multiply-adds and fill 32-byte vectors
# from a base rounded to the output type; reproducing that gives its values bit for bit.
VECTOR_BYTES = 32


def _float_range(start, step, n, np_dtype):
    """start + i * step as PyTorch's arange computes it: in double, vector by vector."""
    width = VECTOR_BYTES // np.dtype(np_dtype).itemsize
    index = np.arange(n)
    lane = index % width
    vectorized = index < n - n % width
    base = fma(step, (index - lane).astype(np.float64), start).astype(np_dtype)
    in_vector = fma(lane.astype(np.float64), step, base.astype(np.float64))
    alone = fma(step, index.astype(np.float64), start)
    return np.where(vectorized, in_vector, alone)


def fma(a: TensorOrNumber, b: TensorOrNumber, c: TensorOrNumber) -> Tensor:
    """a * b + c in float64 with one rounding, as an FMA instruction computes it: the
    product's rounding error recovered exactly (Dekker), the sum's by two-sum (Knuth)."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    product = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    product_error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    total = product + c
    c_part = total - product
    sum_error = (product - (total - c_part)) + (c - c_part)
    return total + (sum_error + product_error)


def _split(a):
    t = a * 134217729.0  # 2**27 + 1: Veltkamp's split into two 26-bit halves
    hi = t - (t - a)
    return hi, a - hi


@_factory
def linspace(start: Number, end: Number, steps: int, *, out: Tensor | None = None,
             dtype: DTypeLike = None, layout: object = None, device: DeviceLike = None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from `start` to `end` inclusive, as torch.linspace."""
    dtype = _dtype(dtype) or dtypes.DEFAULT_FLOAT
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if steps == 1:
        return _make(np.full((1,), start, dtype=dtype.np), requires_grad)
    # PyTorch's kernel: the first half counts up from start, the second half down from end
    # (so both endpoints are exact), each element start + step * i with one fused rounding, in
    # the tensor's precision (integers: in double, then truncated; half: operation by operation).
    np_dtype = dtype.np
    step_type = np_dtype.type if dtype.kind == "f" else np.float64
    start_v, end_v = np_dtype.type(start), np_dtype.type(end)
    step = step_type((step_type(end_v) - step_type(start_v)) / step_type(steps - 1))
    index = np.arange(steps)
    up_count, down_count = index, steps - index - 1
    if np_dtype == np.float16:
        up = start_v + step * up_count.astype(np.float16)
        down = end_v - step * down_count.astype(np.float16)
    else:
        up = _fma_in(step_type, step, up_count, start_v)
        down = _fma_in(step_type, -step, down_count, end_v)
    array = np.where(index < steps // 2, up, down)
    if dtype.kind != "f":
        array = np.trunc(array)
    return _make(array.astype(np_dtype), requires_grad)


def _fma_in(step_type, a, b, c):
    """a * b + c rounded once to `step_type` (float32: the float64 product of two floats is
    exact; the sum is taken in extended precision before the one rounding)."""
    if step_type is np.float32:
        exact = np.float64(a) * b.astype(np.float64)
        return (exact.astype(np.longdouble) + np.longdouble(c)).astype(np.float32)
    return fma(a, b.astype(np.float64), c)


def logspace(start: Number, end: Number, steps: int, base: float = 10.0, *, dtype: DTypeLike = None,
             requires_grad: bool = False) -> Tensor:
    """`steps` values base ** x for x evenly spaced from `start` to `end`, as torch.logspace."""
    return _make((base ** linspace(start, end, steps, dtype=dtypes.float64)._data).astype(
        (_dtype(dtype) or dtypes.DEFAULT_FLOAT).np), requires_grad)


# ---- random ------------------------------------------------------------------------------------

def manual_seed(seed: int) -> Generator:
    """Seeds the default generator (and returns it), as torch.manual_seed; the random numbers then
    drawn by rand/randn/randint/randperm/dropout/init match PyTorch's CPU generator bit for bit."""
    from .. import tracing

    tracer = tracing.active_tracer()
    if tracer is not None:
        # Inside a compiled function the reseed happens at every call, in order with the draws
        # (both are runtime inputs, produced in the order the function made them).
        tracer.runtime_tensor(lambda: (rng.manual_seed(seed), np.zeros(()))[1],
                              tracing.Aval((), dtypes.float64))
        return rng.default_generator
    return rng.manual_seed(seed)


def seed() -> int:
    """Seeds the default generator from a non-deterministic source and returns the seed, as
    torch.seed."""
    return rng.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with, as torch.initial_seed."""
    return rng.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state as a uint8 tensor (PyTorch's layout), as torch.get_rng_state.
    """
    return _make(np.asarray(rng.get_rng_state(), dtype=np.uint8))


def set_rng_state(state: Tensor) -> None:
    """Restores the default generator's state from a tensor get_rng_state returned, as
    torch.set_rng_state."""
    rng.set_rng_state(state.numpy() if isinstance(state, Tensor) else state)


def _generator(generator):
    return generator or rng.default_generator


def _random(draw, shape, dtype, requires_grad=False):
    """A tensor of random values; inside llgrad.compile it is drawn afresh at every call."""
    from .. import tracing

    t = tracing.random_tensor(draw, tuple(shape), dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


@_size_keyword
@_factory
def rand(*size: int | Sequence[int], generator: Generator | None = None, out: Tensor | None = None,
         dtype: DTypeLike = None, layout: object = None, device: DeviceLike = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1) with the shape `size`, as torch.rand (the same values as
    PyTorch's CPU generator for the same seed)."""
    dtype = _dtype(dtype) or dtypes.DEFAULT_FLOAT
    shape, gen = _sizes(size), _generator(generator)
    return _random(lambda: gen.uniform(shape, 0.0, 1.0, dtype=dtype.np), shape, dtype,
                   requires_grad)


@_size_keyword
@_factory
def randn(*size: int | Sequence[int], generator: Generator | None = None, out: Tensor | None = None,
          dtype: DTypeLike = None, layout: object = None, device: DeviceLike = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal random numbers with the shape `size`, as torch.randn (the same values as
    PyTorch's CPU generator for the same seed)."""
    dtype = _dtype(dtype) or dtypes.DEFAULT_FLOAT
    shape, gen = _sizes(size), _generator(generator)
    return _random(lambda: gen.normal(shape, 0.0, 1.0, dtype=dtype.np), shape, dtype,
                   requires_grad)


@_factory
def randint(low: int | None = None, high: int | None = None, size: Sequence[int] | None = None, *,
            generator: Generator | None = None, dtype: DTypeLike = None, out: Tensor | None = None,
            layout: object = None, device: DeviceLike = None,
            requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high) with the shape `size`, as torch.randint: `randint(high,
    size)` or `randint(low, high, size)`; int64 unless `dtype`."""
    if low is None:  # randint(high=5, size=(2,))
        low = 0
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    dtype = _dtype(dtype) or dtypes.int64
    shape, gen = _sizes((size,)), _generator(generator)
    return _random(lambda: gen.randint(low, high, shape, dtype=np.int64).astype(dtype.np), shape,
                   dtype, requires_grad)


@_factory
def randperm(n: int, *, generator: Generator | None = None, dtype: DTypeLike = None,
             out: Tensor | None = None, layout: object = None, device: DeviceLike = None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1, as torch.randperm (int64 unless `dtype`)."""
    dtype = _dtype(dtype) or dtypes.int64
    gen = _generator(generator)
    return _random(lambda: gen.randperm(n).astype(dtype.np), (n,), dtype, requires_grad)


def rand_like(input: Tensor, *, dtype: DTypeLike = None, generator: Generator | None = None,
              requires_grad: bool = False, **_: Any) -> Tensor:
    """Uniform random numbers in [0, 1) shaped like `input`, as torch.rand_like."""
    return rand(tuple(input.shape), dtype=dtype or input.dtype, generator=generator,
                requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: DTypeLike = None, generator: Generator | None = None,
               requires_grad: bool = False, **_: Any) -> Tensor:
    """Standard normal random numbers shaped like `input`, as torch.randn_like."""
    return randn(tuple(input.shape), dtype=dtype or input.dtype, generator=generator,
                 requires_grad=requires_grad)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, dtype: DTypeLike = None,
                 generator: Generator | None = None, requires_grad: bool = False,
                 **_: Any) -> Tensor:
    """Random integers in [low, high) shaped like `input` (`randint_like(x, high)` or
    `randint_like(x, low, high)`), as torch.randint_like."""
    if high is None:
        low, high = 0, low
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, generator=generator)


@_factory
def normal(mean: TensorOrNumber = 0.0, std: TensorOrNumber = 1.0, size: Sequence[int] | None = None,
           *, generator: Generator | None = None, out: Tensor | None = None,
           dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Normal random numbers with mean `mean` and standard deviation `std` (numbers, with `size`,
    or tensors broadcast together), as torch.normal."""
    gen = _generator(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        shape = np.broadcast_shapes(tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape", ())))
        ref = mean if isinstance(mean, Tensor) else std
        noise = gen.normal(shape, 0.0, 1.0, dtype=ref.dtype.np)
        return from_numpy(noise) * std + mean
    dtype = _dtype(dtype) or dtypes.DEFAULT_FLOAT
    shape = _sizes((size,))
    return _random(lambda: gen.normal(shape, mean, std, dtype=dtype.np), shape, dtype,
                   requires_grad)


def bernoulli(input: Tensor, p: TensorOrNumber | None = None, *,
              generator: Generator | None = None) -> Tensor:
    """0 or 1 drawn with probability `input` (or `p`) per element, as torch.bernoulli."""
    gen = _generator(generator)
    shape, dtype = tuple(input.shape), input.dtype
    if p is not None:
        return _random(lambda: gen.bernoulli(shape, p, dtype=dtype.np), shape, dtype)
    return _make(gen.bernoulli_tensor(input.numpy(force=True)).astype(input.dtype.np))


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """`num_samples` indices drawn per row from the weights in `input` (with or without
    `replacement`), as torch.multinomial."""
    gen = _generator(generator)
    if not replacement or num_samples == 1:
        # PyTorch's path: q ~ Exp(1) drawn for every element (row-major, from float64 uniforms),
        # then the indices of the largest p / q (argmax for one sample, topk for more).
        probs = input.numpy(force=True)
        u = gen.uniform(probs.shape, 0.0, 1.0, dtype=np.float64)
        keys = probs / (-np.log1p(-u)).astype(probs.dtype)
        if num_samples == 1:
            return _make(np.argmax(keys, axis=-1, keepdims=True).astype(np.int64))
        order = np.argsort(-keys, axis=-1, kind="stable")[..., :num_samples]
        return _make(order.astype(np.int64))
    probs = input.numpy(force=True).astype(np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    out = []
    for row in rows:
        weights = row / row.sum()
        u = gen.uniform((num_samples,), 0.0, 1.0, dtype=np.float64)
        if replacement:
            out.append(np.searchsorted(np.cumsum(weights), u, side="right"))
        else:
            keys = np.log(np.maximum(gen.uniform(weights.shape, 0.0, 1.0, dtype=np.float64),
                                     1e-300)) / np.maximum(weights, 1e-300)
            out.append(np.argsort(-keys)[:num_samples])
    result = np.stack(out).astype(np.int64)
    return _make(result.reshape(probs.shape[:-1] + (num_samples,)))
