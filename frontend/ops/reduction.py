"""Reductions: sum, mean, var/std, max/min (values, or values with indices), argmax, logsumexp,
softmax and log_softmax. Composite ones carry their own VJP, written in primitives."""
from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import TYPE_CHECKING

import numpy as np

from ..compiler import dtypes
from ..compiler import primitives as P
from ..compiler.primitive import dtype_of, shape_of
from ..compiler.primitives.reduce import reduced_shape
from ..dispatch import Op, apply, primitive_op
from ..tensor import Tensor, _wrap_dim

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._typing import Dims, DTypeLike, Number, ValuesIndices


def _axes(input, dim):
    """PyTorch's dim argument (None, int, or tuple) as a tuple of non-negative axes."""
    ndim = input.ndim
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    if len(dim) == 0:
        return tuple(range(ndim))  # dim=() reduces every dimension (under the dim node's name)
    axes = tuple(sorted({_wrap_dim(d, ndim) for d in dim}))
    return axes if ndim else ()  # a 0-d tensor accepts dim 0 (or -1): there is nothing to reduce


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


SUM_ALL = primitive_op("SumBackward0", P.reduce_sum)
SUM_DIM = primitive_op("SumBackward1", P.reduce_sum)


def _sum_as_forward(x, axes, keepdims, dtype):
    return P.reduce_sum(P.cast(x, dtype=dtype), axes=axes, keepdims=keepdims)


def _sum_as_vjp(g, out, x, axes, keepdims, dtype):
    return P.expand_back(g, shape_of(x), axes, keepdims)  # cast back by the engine


# sum(dtype=...): the conversion happens inside the one node, as in PyTorch.
SUM_ALL_AS = Op("SumBackward0", _sum_as_forward, (_sum_as_vjp,))
SUM_DIM_AS = Op("SumBackward1", _sum_as_forward, (_sum_as_vjp,))


def sum(input: Tensor, dim: Dims = None, keepdim: bool = False, *,  # noqa: A001 (torch.sum)
        dtype: DTypeLike = None) -> Tensor:
    """The sum over `dim` (an int, a tuple of ints, or None for all), as torch.sum; `keepdim` keeps
    reduced dimensions with size 1. Integer and bool input sums to int64 unless `dtype` says
    otherwise. NumPy's axis=/keepdims= spellings are accepted."""
    if dtype is None and input._data.dtype.kind in "iub":
        dtype = dtypes.int64
    params = {"axes": _axes(input, dim), "keepdims": keepdim}
    if dtype is None or dtype is input.dtype:
        return apply(SUM_ALL if dim is None else SUM_DIM, (input,), params)
    params["dtype"] = dtype
    return apply(SUM_ALL_AS if dim is None else SUM_DIM_AS, (input,), params)


def _mean_forward(x, axes, keepdims, dtype=None):
    if dtype is not None:
        x = P.cast(x, dtype=dtype)
    return P.reduce_sum(x, axes=axes, keepdims=keepdims) / _count(shape_of(x), axes)


def _mean_vjp(g, out, x, axes, keepdims, dtype=None):
    return P.expand_back(g / _count(shape_of(x), axes), shape_of(x), axes, keepdims)


MEAN_ALL = Op("MeanBackward0", _mean_forward, (_mean_vjp,))
MEAN_DIM = Op("MeanBackward1", _mean_forward, (_mean_vjp,))


def _require_float(input, name):
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: "
                           f"{_scalar_type_name(input.dtype)}")


def _scalar_type_name(dtype):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double", "float16": "Half"}[dtype.name]


def mean(input: Tensor, dim: Dims = None, keepdim: bool = False, *,
         dtype: DTypeLike = None) -> Tensor:
    """The mean over `dim` (an int, a tuple, or None for all), as torch.mean; floating-point input
    only unless `dtype` is a float type."""
    params = {"axes": _axes(input, dim), "keepdims": keepdim}
    if dtype is not None and dtype is not input.dtype:
        if not dtype.is_floating_point:
            _require_float(input.to(dtype), "mean")
        params["dtype"] = dtype  # converted inside the node, as in PyTorch
    else:
        _require_float(input, "mean")
    return apply(MEAN_ALL if dim is None else MEAN_DIM, (input,), params)


def _centered(x, axes):
    n = _count(shape_of(x), axes)
    return x - P.reduce_sum(x, axes=axes, keepdims=True) / n


def _dof(x, axes, correction):
    # builtins.max: this module's `max` is torch.max.
    return builtins.max(_count(shape_of(x), axes) - correction, 0)


def _over(numerator, dof):
    """numerator / dof as PyTorch computes it: no degrees of freedom gives inf (then nan)."""
    return numerator / dof if dof else math.inf


def _var_forward(x, axes, keepdims, correction):
    c = _centered(x, axes)
    dof = _dof(x, axes, correction)
    return P.reduce_sum(c * c, axes=axes, keepdims=keepdims) / dof


def _var_vjp(g, out, x, axes, keepdims, correction):
    dof = _dof(x, axes, correction)
    return P.expand_back(g, shape_of(x), axes, keepdims) * _centered(x, axes) * _over(2, dof)


def _std_forward(x, axes, keepdims, correction):
    return P.sqrt(_var_forward(x, axes, keepdims, correction))


def _std_vjp(g, out, x, axes, keepdims, correction):
    dof = _dof(x, axes, correction)
    scale = P.expand_back(g / (out * dof), shape_of(x), axes, keepdims)
    return scale * _centered(x, axes)


VAR = Op("VarBackward0", _var_forward, (_var_vjp,), saves=(0,))
STD = Op("StdBackward0", _std_forward, (_std_vjp,), saves=(0,), saves_out=True)


def _with_mean(forward):
    def both(x, axes, keepdims, correction):
        return forward(x, axes, keepdims, correction), _mean_forward(x, axes, keepdims)

    return both


def _with_mean_vjp(vjp):
    """The VJP of (statistic, mean): either output's cotangent may be absent."""

    def rule(g, out, x, axes, keepdims, correction):
        g_stat, g_mean = g
        total = None
        if g_stat is not None:  # (std's rule reads its output; var's saves none)
            total = vjp(g_stat, None if out is None else out[0], x, axes, keepdims, correction)
        if g_mean is not None:
            from_mean = _mean_vjp(g_mean, None, x, axes, keepdims)
            total = from_mean if total is None else total + from_mean
        return total

    return rule


VAR_MEAN = Op("VarMeanBackward0", _with_mean(_var_forward), (_with_mean_vjp(_var_vjp),),
              saves=(0,), n_outputs=2)
STD_MEAN = Op("StdMeanBackward0", _with_mean(_std_forward), (_with_mean_vjp(_std_vjp),),
              saves=(0,), saves_out=True, n_outputs=2)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def _moment(op, name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(unbiased) positional form
        dim, unbiased = None, dim
    _require_float(input, name)
    params = {"axes": _axes(input, dim), "keepdims": keepdim,
              "correction": _correction(unbiased, correction)}
    return apply(op, (input,), params)


def var(input: Tensor, dim: Dims = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: Number | None = None) -> Tensor:
    """The variance over `dim`, as torch.var: with Bessel's correction (`correction=1`, or
    `unbiased=True`) by default; `correction=0` gives the population variance."""
    return _moment(VAR, "var", input, dim, unbiased, keepdim, correction)


def std(input: Tensor, dim: Dims = None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: Number | None = None) -> Tensor:
    """The standard deviation over `dim`, as torch.std (correction as in var)."""
    return _moment(STD, "std", input, dim, unbiased, keepdim, correction)


def var_mean(input: Tensor, dim: Dims = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: Number | None = None) -> tuple[Tensor, Tensor]:
    """(variance, mean) over `dim` in one pass, as torch.var_mean."""
    return _moment(VAR_MEAN, "var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(input: Tensor, dim: Dims = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: Number | None = None) -> tuple[Tensor, Tensor]:
    """(standard deviation, mean) over `dim` in one pass, as torch.std_mean."""
    return _moment(STD_MEAN, "std_mean", input, dim, unbiased, keepdim, correction)


# ---- max / min ---------------------------------------------------------------------------------

AMAX = primitive_op("AmaxBackward0", P.reduce_max)
AMIN = primitive_op("AminBackward0", P.reduce_min)
MAX_ALL = primitive_op("MaxBackward1", P.reduce_max)
MIN_ALL = primitive_op("MinBackward1", P.reduce_min)

values_indices = namedtuple("values_indices", ["values", "indices"])


class _ValuesIndices(values_indices):
    """`torch.return_types.max`: a named pair `(values, indices)`."""

    __slots__ = ()

    def __repr__(self):
        return (f"{self._kind}(\nvalues={self.values!r},\nindices={self.indices!r})")


def _return_type(kind):
    return type(kind, (_ValuesIndices,), {"__slots__": (), "_kind": f"llgrad.return_types.{kind}"})


max_return = _return_type("max")
min_return = _return_type("min")


def _scatter_along(g, indices, shape, axis, keepdims):
    if not keepdims:
        g = P.reshape(g, shape=shape[:axis] + (1,) + shape[axis + 1:])
        indices = P.reshape(indices, shape=shape[:axis] + (1,) + shape[axis + 1:])
    zeros = P.full_like(g, shape=shape, value=0)
    return P.scatter_add(zeros, indices, g, axis=axis)


def _max_dim_forward(x, axis, keepdims):
    if not shape_of(x):
        return _itself_at_zero(x)
    return P.reduce_max(x, axes=(axis,), keepdims=keepdims), P.argmax(x, axis=axis, keepdims=keepdims)


def _min_dim_forward(x, axis, keepdims):
    if not shape_of(x):
        return _itself_at_zero(x)
    return P.reduce_min(x, axes=(axis,), keepdims=keepdims), P.argmin(x, axis=axis, keepdims=keepdims)


def _itself_at_zero(x):
    """max/min over dim 0 of a 0-d tensor: its value, at index 0."""
    return P.copy(x), P.cast(P.full_like(x, shape=(), value=0), dtype=dtypes.int64)


def _dim_select_vjp(g, out, x, axis, keepdims):
    if not shape_of(x):
        return g[0]
    return _scatter_along(g[0], out[1], shape_of(x), axis, keepdims)


MAX_DIM = Op("MaxBackward0", _max_dim_forward, (_dim_select_vjp,), saves_out=True, n_outputs=2)
MIN_DIM = Op("MinBackward0", _min_dim_forward, (_dim_select_vjp,), saves_out=True, n_outputs=2)


def _reduce_with_indices(input, dim, keepdim, op, full_op, result_type, name):
    from .elementwise import maximum, minimum

    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if name == "max" else minimum)(input, dim)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                               f"== 0. Specify the reduction dim with the 'dim' argument.")
        return apply(full_op, (input,), {"axes": tuple(range(input.ndim)), "keepdims": False})
    axis = _wrap_dim(dim, input.ndim)
    values, indices = apply(op, (input,), {"axis": axis, "keepdims": keepdim})
    return result_type(values, indices)


def max(input: Tensor, dim: int | Tensor | None = None,  # noqa: A001
        keepdim: bool = False) -> Tensor | ValuesIndices:
    """As torch.max: with no `dim`, the largest element (a 0-d tensor); with `dim`, a named pair
    (values, indices) along it; with a tensor as second argument, the elementwise maximum. The
    gradient of a full reduction is shared evenly among tied maxima, as PyTorch's."""
    return _reduce_with_indices(input, dim, keepdim, MAX_DIM, MAX_ALL, max_return, "max")


def min(input: Tensor, dim: int | Tensor | None = None,  # noqa: A001
        keepdim: bool = False) -> Tensor | ValuesIndices:
    """As torch.min: the smallest element, the named pair (values, indices) along `dim`, or the
    elementwise minimum with a tensor."""
    return _reduce_with_indices(input, dim, keepdim, MIN_DIM, MIN_ALL, min_return, "min")


def _dims_or_all(dim):
    """amax/amin's dim: () or [] means every dimension (but 0 is a dimension)."""
    return None if isinstance(dim, (tuple, list)) and len(dim) == 0 else dim


def amax(input: Tensor, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
    """The largest values over `dim` (an int or tuple; all by default), as torch.amax; the gradient
    is shared evenly among ties."""
    return apply(AMAX, (input,), {"axes": _axes(input, _dims_or_all(dim)), "keepdims": keepdim})


def amin(input: Tensor, dim: int | Sequence[int] = (), keepdim: bool = False) -> Tensor:
    """The smallest values over `dim` (an int or tuple; all by default), as torch.amin."""
    return apply(AMIN, (input,), {"axes": _axes(input, _dims_or_all(dim)), "keepdims": keepdim})


ARGMAX = primitive_op("argmax", P.argmax)
ARGMIN = primitive_op("argmin", P.argmin)


def _no_bool_arg(input, name):
    if input._data.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the largest value along `dim` (of the flattened input when None), as
    torch.argmax; the first one among ties."""
    _no_bool_arg(input, "argmax")
    if dim is None:
        return apply(ARGMAX, (input.reshape(-1),), {"axis": 0, "keepdims": False})
    return apply(ARGMAX, (input,), {"axis": _wrap_dim(dim, input.ndim), "keepdims": keepdim})


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index of the smallest value along `dim` (of the flattened input when None), as
    torch.argmin."""
    _no_bool_arg(input, "argmin")
    if dim is None:
        return apply(ARGMIN, (input.reshape(-1),), {"axis": 0, "keepdims": False})
    return apply(ARGMIN, (input,), {"axis": _wrap_dim(dim, input.ndim), "keepdims": keepdim})


def all(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element over `dim` (all by default) is non-zero, as torch.all; a bool
    tensor."""
    from .creation import from_numpy

    axis = None if dim is None else _wrap_dim(dim, input.ndim)
    return from_numpy(np.asarray(np.all(input.numpy(force=True), axis=axis, keepdims=keepdim)))


def any(input: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where any element over `dim` (all by default) is non-zero, as torch.any; a bool tensor.
    """
    from .creation import from_numpy

    axis = None if dim is None else _wrap_dim(dim, input.ndim)
    return from_numpy(np.asarray(np.any(input.numpy(force=True), axis=axis, keepdims=keepdim)))


def count_nonzero(input: Tensor, dim: Dims = None) -> Tensor:
    """The number of non-zero elements over `dim` (all by default), as torch.count_nonzero; int64.
    """
    return sum(input != 0, dim)


# ---- softmax family ----------------------------------------------------------------------------

def _stable_shift(x, axes):
    """max over `axes`, with non-finite maxima replaced by 0 so all -inf rows stay finite."""
    m = P.stop_gradient(P.reduce_max(x, axes=axes, keepdims=True))
    return P.where(P.isfinite(m), m, 0)


def _logsumexp_forward(x, axes, keepdims):
    m = _stable_shift(x, axes)
    s = P.log(P.reduce_sum(P.exp(x - m), axes=axes, keepdims=True)) + m
    if keepdims:
        return s
    return P.reshape(s, shape=reduced_shape(shape_of(x), axes, False))


def _logsumexp_vjp(g, out, x, axes, keepdims):
    shape = shape_of(x)
    return P.expand_back(g, shape, axes, keepdims) * P.exp(x - P.expand_back(out, shape, axes,
                                                                            keepdims))


LOGSUMEXP = Op("LogsumexpBackward0", _logsumexp_forward, (_logsumexp_vjp,), saves=(0,),
               saves_out=True)


def logsumexp(input: Tensor, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over `dim`, computed stably, as torch.logsumexp."""
    if input._data.dtype.kind != "f":
        input = input.float()
    return apply(LOGSUMEXP, (input,), {"axes": _axes(input, dim), "keepdims": keepdim})


def _softmax_forward(x, axis):
    e = P.exp(x - _stable_shift(x, (axis,)))
    return e / P.reduce_sum(e, axes=(axis,), keepdims=True)


def _softmax_vjp(g, out, x, axis):
    return out * (g - P.reduce_sum(g * out, axes=(axis,), keepdims=True))


def _log_softmax_forward(x, axis):
    shifted = x - _stable_shift(x, (axis,))
    return shifted - P.log(P.reduce_sum(P.exp(shifted), axes=(axis,), keepdims=True))


def _log_softmax_vjp(g, out, x, axis):
    return g - P.exp(out) * P.reduce_sum(g, axes=(axis,), keepdims=True)


SOFTMAX = Op("SoftmaxBackward0", _softmax_forward, (_softmax_vjp,), saves_out=True)
LOG_SOFTMAX = Op("LogSoftmaxBackward0", _log_softmax_forward, (_log_softmax_vjp,), saves_out=True)


def _softmax_dim(input, dim):
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return _wrap_dim(dim, input.ndim)


def softmax(input: Tensor, dim: int | None = None, dtype: DTypeLike = None,
            _stacklevel: int = 3) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, as torch.softmax; `dtype` casts the input first. Leaving
    out `dim` warns and picks one, as PyTorch does."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind != "f":
        raise RuntimeError('"softmax_lastdim_kernel_impl" not implemented for '
                           f"'{_scalar_type_name(input.dtype)}'")
    return apply(SOFTMAX, (input,), {"axis": _softmax_dim(input, dim)})


def log_softmax(input: Tensor, dim: int | None = None, dtype: DTypeLike = None,
                _stacklevel: int = 3) -> Tensor:
    """log(softmax(x)) along `dim`, computed stably, as torch.log_softmax."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind != "f":
        raise RuntimeError('"log_softmax_lastdim_kernel_impl" not implemented for '
                           f"'{_scalar_type_name(input.dtype)}'")
    return apply(LOG_SOFTMAX, (input,), {"axis": _softmax_dim(input, dim)})


# ---- prod --------------------------------------------------------------------------------------

def _range_along(x, axis, start, stop):
    shape = shape_of(x)
    starts = tuple(start if d == axis else 0 for d in range(len(shape)))
    stops = tuple(stop if d == axis else n for d, n in enumerate(shape))
    return P.slice_(x, starts=starts, stops=stops, steps=(1,) * len(shape))


def _product_along(x, axis):
    """The product along `axis` (kept with size 1), multiplying halves: log2(n) steps."""
    n = shape_of(x)[axis]
    if n == 0:
        shape = list(shape_of(x))
        shape[axis] = 1
        return P.full_like(x, shape=tuple(shape), value=1)
    while n > 1:
        half = n // 2
        product = _range_along(x, axis, 0, half) * _range_along(x, axis, half, 2 * half)
        if n % 2:
            product = P.concat(product, _range_along(x, axis, 2 * half, n), axis=axis)
        x, n = product, half + n % 2
    return x


def _product(x, axes, keepdims):
    shape = shape_of(x)
    if len(axes) == 1:
        p = _product_along(x, axes[0])
    else:  # every axis
        p = P.reshape(_product_along(P.reshape(x, shape=(_count(shape, axes),)), 0),
                      shape=(1,) * len(shape))
    return p if keepdims else P.reshape(p, shape=reduced_shape(shape, axes, False))


def _prod_forward(x, axes, keepdims):
    return _product(x, axes, keepdims)


def _prod_vjp(g, out, x, axes, keepdims):
    # The product of the other elements, exact with zeros (PyTorch's prod_backward): out / x
    # where the slice has no zero; the product of the rest at a slice's only zero; else 0.
    shape = shape_of(x)
    is_zero = P.eq(x, 0)
    zeros = P.reduce_sum(P.cast(is_zero, dtype=dtype_of(x)), axes=axes, keepdims=keepdims)
    zeros = P.expand_back(zeros, shape, axes, keepdims)
    nonzero = P.where(is_zero, 1, x)
    rest = P.expand_back(_product(nonzero, axes, keepdims), shape, axes, keepdims)
    others = P.where(P.eq(zeros, 0), P.expand_back(out, shape, axes, keepdims) / nonzero,
                     P.where(P.logical_and(is_zero, P.eq(zeros, 1)), rest, 0))
    return P.expand_back(g, shape, axes, keepdims) * others


PROD_ALL = Op("ProdBackward0", _prod_forward, (_prod_vjp,), saves=(0,), saves_out=True)
PROD_DIM = Op("ProdBackward1", _prod_forward, (_prod_vjp,), saves=(0,), saves_out=True)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype: DTypeLike = None) -> Tensor:
    """The product over `dim` (all elements when None), as torch.prod."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "iub":
        input = input.to(dtypes.int64)
    if dim is None:
        return apply(PROD_ALL, (input,), {"axes": tuple(range(input.ndim)), "keepdims": False})
    axes = (_wrap_dim(dim, input.ndim),) if input.ndim else ()
    return apply(PROD_DIM, (input,), {"axes": axes, "keepdims": keepdim})


# ---- cumulative sums ---------------------------------------------------------------------------

def _shifted(x, axis, shift, reverse, fill=0):
    """x moved `shift` places along axis (towards the end, or the start when reversed), `fill`
    (zeros) filling in."""
    n = shape_of(x)[axis]
    config = [(0, 0, 0)] * len(shape_of(x))
    value = {} if fill == 0 else {"value": fill}
    if reverse:
        config[axis] = (0, shift, 0)
        return P.pad(_range_along(x, axis, shift, n), config=tuple(config), **value)
    config[axis] = (shift, 0, 0)
    return P.pad(_range_along(x, axis, 0, n - shift), config=tuple(config), **value)


def _scan_sum(x, axis, reverse=False):
    """Inclusive prefix sums along axis in log2(n) shifted adds (Hillis-Steele); reversed: the
    sums of each element and those after it."""
    n, shift = shape_of(x)[axis], 1
    while shift < n:
        x = x + _shifted(x, axis, shift, reverse)
        shift *= 2
    return x


def _cumsum_forward(x, axis):
    return _scan_sum(x, axis) if shape_of(x) else P.copy(x)


def _cumsum_vjp(g, out, x, axis):
    return _scan_sum(g, axis, reverse=True) if shape_of(x) else g


CUMSUM = Op("CumsumBackward0", _cumsum_forward, (_cumsum_vjp,))


def cumsum(input: Tensor, dim: int, *, dtype: DTypeLike = None) -> Tensor:
    """The cumulative sum along `dim`, as torch.cumsum (integer input accumulates in int64)."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "iub":
        input = input.to(dtypes.int64)
    return apply(CUMSUM, (input,), {"axis": _wrap_dim(dim, input.ndim)})


def _cumprod_forward(x, axis):
    """Inclusive prefix products in log2(n) shifted multiplies, as _scan_sum."""
    if not shape_of(x):
        return P.copy(x)
    n, shift = shape_of(x)[axis], 1
    while shift < n:
        x = x * _shifted(x, axis, shift, reverse=False, fill=1)
        shift *= 2
    return x


def _cumprod_vjp(g, out, x, axis):
    """dx_k = (x_0 ... x_{k-1}) * S_k with S_k = g_k + x_{k+1} S_{k+1}: the exclusive prefix
    product times a reversed linear scan, so zeros in x need no division (PyTorch's
    cumprod_backward is exact there too). The scan composes the steps S_k = b_k + a_k S_{k+s}
    in log2(n) rounds."""
    if not shape_of(x) or not shape_of(x)[axis]:
        return g
    exclusive = _shifted(out, axis, 1, reverse=False, fill=1)
    a, b = _shifted(x, axis, 1, reverse=True), g
    n, shift = shape_of(x)[axis], 1
    while shift < n:
        b = b + a * _shifted(b, axis, shift, reverse=True)
        a = a * _shifted(a, axis, shift, reverse=True)
        shift *= 2
    return exclusive * b


CUMPROD = Op("CumprodBackward0", _cumprod_forward, (_cumprod_vjp,), saves=(0,), saves_out=True)


def cumprod(input: Tensor, dim: int, *, dtype: DTypeLike = None) -> Tensor:
    """The cumulative product along `dim`, as torch.cumprod."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "iub":
        input = input.to(dtypes.int64)
    return apply(CUMPROD, (input,), {"axis": _wrap_dim(dim, input.ndim)})


# ---- vector norms ------------------------------------------------------------------------------

def _norm_forward(x, p, axes, keepdims):
    if p == 2:
        return P.sqrt(P.reduce_sum(x * x, axes=axes, keepdims=keepdims))
    magnitude = P.abs_(x)
    if p == 1:
        return P.reduce_sum(magnitude, axes=axes, keepdims=keepdims)
    if p == math.inf:
        return P.reduce_max(magnitude, axes=axes, keepdims=keepdims)
    if p == -math.inf:
        return P.reduce_min(magnitude, axes=axes, keepdims=keepdims)
    if p == 0:
        nonzero = P.cast(P.ne(x, 0), dtype=dtype_of(x))
        return P.reduce_sum(nonzero, axes=axes, keepdims=keepdims)
    return P.pow_(P.reduce_sum(P.pow_(magnitude, p), axes=axes, keepdims=keepdims), 1 / p)


def _norm_vjp(g, out, x, p, axes, keepdims):
    # PyTorch's linalg_vector_norm_backward, with its choices at 0.
    shape = shape_of(x)
    g = P.expand_back(g, shape, axes, keepdims)
    if p == 0:
        return g * 0
    if p == 1:
        return g * P.sign(x)
    norm = P.expand_back(out, shape, axes, keepdims)
    if p in (math.inf, -math.inf):
        hits = P.cast(P.eq(P.abs_(x), norm), dtype=dtype_of(x))
        count = P.expand_back(P.reduce_sum(hits, axes=axes, keepdims=keepdims), shape, axes,
                              keepdims)
        return g * P.sign(x) * hits / count
    if p == 2:
        return P.where(P.eq(norm, 0), 0, g * (x / norm))
    scale = P.sign(x) * P.pow_(P.abs_(x), p - 1)
    if p < 1:
        scale = P.where(P.eq(x, 0), 0, scale)
    return P.where(P.eq(norm, 0), 0, g * scale / P.pow_(norm, p - 1))


NORM = Op("LinalgVectorNormBackward0", _norm_forward, (_norm_vjp,), saves=(0,), saves_out=True)


def norm(input: Tensor, p: float | str | None = "fro", dim: Dims = None, keepdim: bool = False,
         dtype: DTypeLike = None) -> Tensor:
    """Vector norms (p a number, or "fro": the 2-norm over `dim`, all of it by default)."""
    if p == "nuc":
        raise NotImplementedError("the nuclear norm is not supported by llgrad")
    if p in ("fro", None):
        p = 2
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_scalar_type_name(input.dtype)}")
    params = {"p": float(p), "axes": _axes(input, _dims_or_all(dim)), "keepdims": keepdim}
    return apply(NORM, (input,), params)
