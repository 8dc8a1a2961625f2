"""Reductions: sum, mean, var/std, max/min (values, or values with indices), argmax, logsumexp,
softmax and log_softmax. Composite ones carry their own VJP, written in primitives."""
import builtins
from collections import namedtuple

import numpy as np

from ..compiler import dtypes
from ..compiler import primitives as P
from ..compiler.primitive import shape_of
from ..compiler.primitives.reduce import reduced_shape
from ..dispatch import Op, apply, primitive_op
from ..tensor import Tensor, _wrap_dim


def _axes(input, dim):
    """PyTorch's dim argument (None, int, or tuple) as a tuple of non-negative axes."""
    ndim = input.ndim
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(sorted({_wrap_dim(d, ndim) for d in dim}))


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


SUM_ALL = primitive_op("SumBackward0", P.reduce_sum)
SUM_DIM = primitive_op("SumBackward1", P.reduce_sum)


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001 (torch.sum)
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "iub":
        input = input.to(dtypes.int64)
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    op = SUM_ALL if dim is None else SUM_DIM
    return apply(op, (input,), {"axes": _axes(input, dim), "keepdims": keepdim})


def _mean_forward(x, axes, keepdims):
    return P.reduce_sum(x, axes=axes, keepdims=keepdims) / _count(shape_of(x), axes)


def _mean_vjp(g, out, x, axes, keepdims):
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


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    _require_float(input, "mean")
    op = MEAN_ALL if dim is None else MEAN_DIM
    return apply(op, (input,), {"axes": _axes(input, dim), "keepdims": keepdim})


def _centered(x, axes):
    n = _count(shape_of(x), axes)
    return x - P.reduce_sum(x, axes=axes, keepdims=True) / n


def _dof(x, axes, correction):
    # builtins.max: this module's `max` is torch.max.
    return builtins.max(_count(shape_of(x), axes) - correction, 0)


def _var_forward(x, axes, keepdims, correction):
    c = _centered(x, axes)
    dof = _dof(x, axes, correction)
    return P.reduce_sum(c * c, axes=axes, keepdims=keepdims) / dof


def _var_vjp(g, out, x, axes, keepdims, correction):
    dof = _dof(x, axes, correction)
    return P.expand_back(g, shape_of(x), axes, keepdims) * _centered(x, axes) * (2 / dof)


def _std_forward(x, axes, keepdims, correction):
    return P.sqrt(_var_forward(x, axes, keepdims, correction))


def _std_vjp(g, out, x, axes, keepdims, correction):
    dof = _dof(x, axes, correction)
    scale = P.expand_back(g / (out * dof), shape_of(x), axes, keepdims)
    return scale * _centered(x, axes)


VAR = Op("VarBackward0", _var_forward, (_var_vjp,), saves=(0,))
STD = Op("StdBackward0", _std_forward, (_std_vjp,), saves=(0,), saves_out=True)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):  # var(unbiased) positional form
        dim, unbiased = None, dim
    _require_float(input, "var")
    params = {"axes": _axes(input, dim), "keepdims": keepdim,
              "correction": _correction(unbiased, correction)}
    return apply(VAR, (input,), params)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    _require_float(input, "std")
    params = {"axes": _axes(input, dim), "keepdims": keepdim,
              "correction": _correction(unbiased, correction)}
    return apply(STD, (input,), params)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


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
    return P.reduce_max(x, axes=(axis,), keepdims=keepdims), P.argmax(x, axis=axis, keepdims=keepdims)


def _min_dim_forward(x, axis, keepdims):
    return P.reduce_min(x, axes=(axis,), keepdims=keepdims), P.argmin(x, axis=axis, keepdims=keepdims)


def _dim_select_vjp(g, out, x, axis, keepdims):
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
    if input.ndim == 0:
        return result_type(input, _zeros_index(input))
    values, indices = apply(op, (input,), {"axis": axis, "keepdims": keepdim})
    return result_type(values, indices)


def _zeros_index(input):
    from .creation import zeros

    return zeros((), dtype=dtypes.int64)


def max(input, dim=None, keepdim=False):  # noqa: A001
    return _reduce_with_indices(input, dim, keepdim, MAX_DIM, MAX_ALL, max_return, "max")


def min(input, dim=None, keepdim=False):  # noqa: A001
    return _reduce_with_indices(input, dim, keepdim, MIN_DIM, MIN_ALL, min_return, "min")


def _dims_or_all(dim):
    """amax/amin's dim: () or [] means every dimension (but 0 is a dimension)."""
    return None if isinstance(dim, (tuple, list)) and len(dim) == 0 else dim


def amax(input, dim=(), keepdim=False):
    return apply(AMAX, (input,), {"axes": _axes(input, _dims_or_all(dim)), "keepdims": keepdim})


def amin(input, dim=(), keepdim=False):
    return apply(AMIN, (input,), {"axes": _axes(input, _dims_or_all(dim)), "keepdims": keepdim})


ARGMAX = primitive_op("argmax", P.argmax)
ARGMIN = primitive_op("argmin", P.argmin)


def argmax(input, dim=None, keepdim=False):
    if dim is None:
        return apply(ARGMAX, (input.reshape(-1),), {"axis": 0, "keepdims": False})
    return apply(ARGMAX, (input,), {"axis": _wrap_dim(dim, input.ndim), "keepdims": keepdim})


def argmin(input, dim=None, keepdim=False):
    if dim is None:
        return apply(ARGMIN, (input.reshape(-1),), {"axis": 0, "keepdims": False})
    return apply(ARGMIN, (input,), {"axis": _wrap_dim(dim, input.ndim), "keepdims": keepdim})


def all(input, dim=None, keepdim=False):  # noqa: A001
    from .creation import from_numpy

    axis = None if dim is None else _wrap_dim(dim, input.ndim)
    return from_numpy(np.asarray(np.all(input.numpy(force=True), axis=axis, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):  # noqa: A001
    from .creation import from_numpy

    axis = None if dim is None else _wrap_dim(dim, input.ndim)
    return from_numpy(np.asarray(np.any(input.numpy(force=True), axis=axis, keepdims=keepdim)))


def count_nonzero(input, dim=None):
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


def logsumexp(input, dim, keepdim=False):
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


def softmax(input, dim=None, dtype=None, _stacklevel=3):
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind != "f":
        raise RuntimeError('"softmax_lastdim_kernel_impl" not implemented for '
                           f"'{_scalar_type_name(input.dtype)}'")
    return apply(SOFTMAX, (input,), {"axis": _softmax_dim(input, dim)})


def log_softmax(input, dim=None, dtype=None, _stacklevel=3):
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind != "f":
        raise RuntimeError('"log_softmax_lastdim_kernel_impl" not implemented for '
                           f"'{_scalar_type_name(input.dtype)}'")
    return apply(LOG_SOFTMAX, (input,), {"axis": _softmax_dim(input, dim)})


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product by repeated multiplication, so the gradient is exact even with zeros."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.shape[0] == 0:
            return input.new_ones(())
        result = flat[0]
        for i in range(1, flat.shape[0]):
            result = result * flat[i]
        return result
    axis = _wrap_dim(dim, input.ndim)
    pieces = input.unbind(axis)
    result = pieces[0]
    for piece in pieces[1:]:
        result = result * piece
    return result.unsqueeze(axis) if keepdim else result


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    if p in ("fro", 2, 2.0, None):
        return sqrt_sum_sq(input, dim, keepdim)
    if p in (1, 1.0):
        return sum(input.abs(), dim, keepdim)
    if p == float("inf"):
        return amax(input.abs(), dim or (), keepdim)
    return sum(input.abs() ** p, dim, keepdim) ** (1.0 / p)


def sqrt_sum_sq(input, dim, keepdim):
    return (input * input).sum(dim, keepdim).sqrt()
