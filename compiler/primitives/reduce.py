"""Reductions over a set of axes: sum, max (ties share the gradient), argmax."""
import numpy as np

from .. import dtypes
from ..primitive import Aval, define, dtype_of, normalize_axes, shape_of
from .elementwise import cast, div, eq
from .movement import broadcast_to, reshape


def reduced_shape(shape, axes, keepdims):
    axes = normalize_axes(axes, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _reduce_abstract(x, axes, keepdims):
    return Aval(reduced_shape(shape_of(x), axes, keepdims), x.dtype)


def expand_back(g, x_shape, axes, keepdims):
    """Undo a reduction's shape change: `g` broadcast back over the reduced axes of `x`."""
    if not keepdims:
        g = reshape(g, shape=reduced_shape(x_shape, axes, True))
    return broadcast_to(g, shape=tuple(x_shape))


def _sum_impl(x, axes, keepdims):
    return np.add.reduce(x, axis=axes, keepdims=keepdims, dtype=x.dtype)


def _sum_vjp(g, out, x, axes, keepdims):
    return expand_back(g, shape_of(x), axes, keepdims)


def _max_impl(x, axes, keepdims):
    return np.maximum.reduce(x, axis=axes, keepdims=keepdims)


def _max_vjp(g, out, x, axes, keepdims):
    # PyTorch's amax: every tied maximum receives an equal share.
    shape = shape_of(x)
    out_full = expand_back(out, shape, axes, keepdims)
    is_max = cast(eq(x, out_full), dtype=dtype_of(x))
    count = expand_back(reduce_sum(is_max, axes=axes, keepdims=keepdims), shape, axes, keepdims)
    return expand_back(g, shape, axes, keepdims) * div(is_max, count)


reduce_sum = define("reduce_sum", _sum_impl, _reduce_abstract, (_sum_vjp,), family="reduce")
reduce_max = define("reduce_max", _max_impl, _reduce_abstract, (_max_vjp,), saves=(0,), saves_out=True,
                    family="reduce")


def _argmax_impl(x, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims)


def _argmax_abstract(x, axis, keepdims):
    axes = None if axis is None else (axis,)
    return Aval(reduced_shape(shape_of(x), axes, keepdims), dtypes.int64)


argmax = define("argmax", _argmax_impl, _argmax_abstract, family="reduce")


def _min_impl(x, axes, keepdims):
    return np.minimum.reduce(x, axis=axes, keepdims=keepdims)


reduce_min = define("reduce_min", _min_impl, _reduce_abstract, (_max_vjp,), saves=(0,),
                    saves_out=True, family="reduce")


def _argmin_impl(x, axis, keepdims):
    return np.argmin(x, axis=axis, keepdims=keepdims)


argmin = define("argmin", _argmin_impl, _argmax_abstract, family="reduce")


def _argsort_impl(x, axis, descending):
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    # Stable descending without negating (uint8 wraps, NaN must come first): sort the
    # reversed array ascending, reverse the result, and map positions back.
    n = x.shape[axis]
    order = np.flip(np.argsort(np.flip(x, axis), axis=axis, kind="stable"), axis)
    return (n - 1) - order


# The permutation that sorts along `axis` (stable: ties keep their order), as int64 indices.
argsort = define("argsort", _argsort_impl,
                 lambda x, axis, descending: Aval(shape_of(x), dtypes.int64), family="reduce")
