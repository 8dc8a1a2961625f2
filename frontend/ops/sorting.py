"""Sorting: sort, argsort, topk, kthvalue, unique. Values are gathered by the sorting
permutation, so their gradient flows back to the positions they came from (scattered by the same
indices); unique runs eagerly only."""
from __future__ import annotations

from collections import namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compiler import primitives as P
from ..compiler.primitive import shape_of
from ..dispatch import Op, apply
from ..tensor import _wrap_dim

if TYPE_CHECKING:
    from .._typing import ValuesIndices
    from ..tensor import Tensor


class _Named(namedtuple("values_indices", ["values", "indices"])):
    __slots__ = ()

    def __repr__(self):
        return f"{self._kind}(\nvalues={self.values!r},\nindices={self.indices!r})"


def _return_type(kind):
    return type(kind, (_Named,), {"__slots__": (), "_kind": f"llgrad.return_types.{kind}"})


sort_return, topk_return, kthvalue_return = (_return_type(k) for k in ("sort", "topk", "kthvalue"))


def _take_sorted(x, axis, descending, k):
    order = P.argsort(x, axis=axis, descending=descending)
    if k is not None:
        shape = shape_of(x)
        stops = tuple(k if d == axis else n for d, n in enumerate(shape))
        order = P.slice_(order, starts=(0,) * len(shape), stops=stops, steps=(1,) * len(shape))
    return P.gather(x, order, axis=axis), order


def _scatter_back(g, out, x, axis, descending, k):
    return P.scatter_add(P.full_like(g[0], shape=shape_of(x), value=0), out[1], g[0], axis=axis)


SORT = Op("SortBackward0", _take_sorted, (_scatter_back,), saves_out=True, n_outputs=2)
SORT_STABLE = Op("SortBackward1", _take_sorted, (_scatter_back,), saves_out=True, n_outputs=2)
TOPK = Op("TopkBackward0", _take_sorted, (_scatter_back,), saves_out=True, n_outputs=2)


def sort(input: Tensor, dim: int = -1, descending: bool = False,
         stable: bool | None = None) -> ValuesIndices:
    """The elements sorted along `dim` (ascending, or descending), as torch.sort: a named pair
    (values, indices). NaN sorts as the largest value; `stable=True` keeps the order of equal
    elements."""
    axis = _wrap_dim(dim, input.ndim)
    if input.ndim == 0:
        return sort_return(input, input.new_zeros(()).long())
    # Passing `stable` selects PyTorch's sort.stable overload (SortBackward1).
    op = SORT if stable is None else SORT_STABLE
    values, indices = apply(op, (input,), {"axis": axis, "descending": descending, "k": None})
    return sort_return(values, indices)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort `input` along `dim`, as torch.argsort."""
    return sort(input, dim, descending, stable).indices


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True,  # noqa: A002 (torch's name)
         sorted: bool = True) -> ValuesIndices:
    """The `k` largest (or, with largest=False, smallest) elements along `dim`, as torch.topk: a
    named pair (values, indices), in sorted order by default."""
    axis = _wrap_dim(dim, input.ndim)
    n = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    values, indices = apply(TOPK, (input,), {"axis": axis, "descending": largest, "k": k})
    return topk_return(values, indices)


def _kth_forward(x, axis, k, keepdims):
    values, order = _take_sorted(x, axis, False, None)
    shape = shape_of(x)
    starts = tuple(k - 1 if d == axis else 0 for d in range(len(shape)))
    stops = tuple(k if d == axis else n for d, n in enumerate(shape))
    picked = [P.slice_(v, starts=starts, stops=stops, steps=(1,) * len(shape))
              for v in (values, order)]
    if not keepdims:
        picked = [P.reshape(v, shape=shape[:axis] + shape[axis + 1:]) for v in picked]
    return tuple(picked)


def _kth_vjp(g, out, x, axis, k, keepdims):
    from .reduction import _scatter_along

    return _scatter_along(g[0], out[1], shape_of(x), axis, keepdims)


KTHVALUE = Op("KthvalueBackward0", _kth_forward, (_kth_vjp,), saves_out=True, n_outputs=2)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """The k-th smallest element along `dim` (k counts from 1), as torch.kthvalue: a named pair
    (values, indices)."""
    axis = _wrap_dim(dim, input.ndim)
    n = input.shape[axis] if input.ndim else 1
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {axis}")
    value, index = apply(KTHVALUE, (input,), {"axis": axis, "k": k, "keepdims": keepdim})
    return kthvalue_return(value, index)


def msort(input: Tensor) -> Tensor:
    """`input` sorted along its first dimension, as torch.msort."""
    return sort(input, 0).values


# ---- unique (eager only: its size depends on the values) ---------------------------------------

def _unique_forward(x, axis):
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=axis)
    if axis is None:
        inverse = inverse.reshape(np.shape(x))
    return values, inverse.reshape(-1) if axis is not None else inverse, counts


def _no_derivative(name):
    def rule(g, out, x, axis):
        raise NotImplementedError(f"the derivative for '{name}' is not implemented.")

    return rule


# PyTorch records these nodes but has no backward for them; neither do we.
UNIQUE = Op("Unique2Backward0", _unique_forward, (_no_derivative("_unique2"),), n_outputs=3)
UNIQUE_DIM = Op("UniqueDimBackward0", _unique_forward, (_no_derivative("unique_dim"),),
                n_outputs=3)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct values (always sorted, which sorted=False allows), with the index of each
    input element's value (`return_inverse`) and how often each value occurs (`return_counts`)."""
    input._concrete("unique() (its result's size depends on the values)")
    axis = None if dim is None else _wrap_dim(dim, input.ndim)
    if axis is None and input.ndim == 0:
        values, inverse, counts = unique(input.reshape(1), sorted, True, True)
        inverse = inverse.reshape(())
    else:
        values, inverse, counts = apply(UNIQUE if axis is None else UNIQUE_DIM, (input,),
                                        {"axis": axis})
    result = (values,) + ((inverse,) if return_inverse else ()) + \
        ((counts,) if return_counts else ())
    return result[0] if len(result) == 1 else result
