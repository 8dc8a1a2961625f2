"""Indexing: `x[...]` reads and writes, gather/scatter, index_select, masked_fill, nonzero.

Reads follow PyTorch's decomposition, so `grad_fn` chains look the same: basic components apply
left to right (an int is a SelectBackward0, a slice a SliceBackward0, None an
UnsqueezeBackward0), then all tensor indices together as one IndexBackward0. Advanced indexing
becomes a `take` on a flattened view: the integer indices are folded into one linear index.
"""
from __future__ import annotations

import numpy as np
from typing import TYPE_CHECKING, Any

from ..compiler import dtypes
from ..compiler import primitives as P
from ..compiler.primitive import numel as _numel, shape_of
from ..compiler.primitives.movement import inverse_permutation
from ..dispatch import Op, apply, primitive_op
from ..tensor import Tensor, _wrap_dim
from .. import tracing
from ..tracing import active_tracer
from .shape import as_view, unsqueeze

if TYPE_CHECKING:
    from .._typing import Number, TensorOrNumber


def from_numpy_constant(array: np.ndarray) -> Tensor:
    """An index array computed on the host: a graph constant while tracing."""
    from .creation import from_numpy

    return from_numpy(np.ascontiguousarray(array) if array.ndim else np.array(array))


def _select_forward(x, axis, index):
    shape = shape_of(x)
    ndim = len(shape)
    starts = tuple(index if d == axis else 0 for d in range(ndim))
    stops = tuple(index + 1 if d == axis else n for d, n in enumerate(shape))
    piece = P.slice_(x, starts=starts, stops=stops, steps=(1,) * ndim)
    return P.reshape(piece, shape=shape[:axis] + shape[axis + 1:])


def _select_vjp(g, out, x, axis, index):
    shape = shape_of(x)
    g = P.reshape(g, shape=shape[:axis] + (1,) + shape[axis + 1:])
    config = tuple((index, n - index - 1, 0) if d == axis else (0, 0, 0) for d, n in enumerate(shape))
    return P.pad(g, config=config)


SELECT = Op("SelectBackward0", _select_forward, (_select_vjp,))
SLICE = primitive_op("SliceBackward0", P.slice_)


def _select(x, axis, index):
    n = x.shape[axis]
    if not -n <= index < n:
        raise IndexError(f"index {index} is out of bounds for dimension {axis} with size {n}")
    return as_view(apply(SELECT, (x,), {"axis": axis, "index": index % n}), x)


def _slice(x, axis, sl):
    n = x.shape[axis]
    start, stop, step = sl.indices(n)
    if step <= 0:
        raise ValueError("step must be greater than zero")
    stop = max(stop, start)
    ndim = x.ndim
    starts = tuple(start if d == axis else 0 for d in range(ndim))
    stops = tuple(stop if d == axis else s for d, s in enumerate(x.shape))
    steps = tuple(step if d == axis else 1 for d in range(ndim))
    return as_view(apply(SLICE, (x,), {"starts": starts, "stops": stops, "steps": steps}), x)


def _is_advanced(item):
    return isinstance(item, (Tensor, list, np.ndarray, range)) or (
        isinstance(item, bool))


def _normalize_index(index):
    if not isinstance(index, tuple):
        index = (index,)
    return index


def _expand_ellipsis(index, ndim):
    consumed = 0
    for item in index:
        if item is None or item is Ellipsis:
            continue
        if isinstance(item, (Tensor, np.ndarray)) and item.dtype in (dtypes.bool_, np.bool_):
            consumed += max(item.ndim, 1)
        elif isinstance(item, bool):
            continue
        else:
            consumed += 1
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    if any(item is Ellipsis for item in index):
        # The first ellipsis stands for the unindexed dims; PyTorch lets later ones stand for none.
        at = next(i for i, item in enumerate(index) if item is Ellipsis)
        rest = tuple(item for item in index[at + 1:] if item is not Ellipsis)
        index = index[:at] + (slice(None),) * (ndim - consumed) + rest
    return index


def _is_int_scalar(item):
    """An int, or a 0-d integer tensor: PyTorch selects with both (SelectBackward0)."""
    if isinstance(item, Tensor):
        # A traced 0-d index has no value to select with yet: it takes the tensor-index path.
        return item.ndim == 0 and item.dtype.kind in "iu" and type(item._data) is np.ndarray
    return isinstance(item, (int, np.integer)) and not isinstance(item, bool)


def getitem(x: Tensor, index: Any) -> Tensor:
    """`tensor[index]`: PyTorch's (and NumPy's) basic and advanced indexing, with integers, slices,
    None, Ellipsis, integer tensors and boolean masks. Basic indexing gives a view. Inside
    llgrad.compile a boolean mask is refused (the result's shape would depend on the data)."""
    index = _normalize_index(index)
    if not index or (len(index) == 1 and index[0] is Ellipsis):
        return as_view(apply(SLICE_ALIAS, (x,)), x)  # x[...]: an alias (AliasBackward0)
    index = _expand_ellipsis(index, x.ndim)
    if all(isinstance(i, slice) and i == slice(None) for i in index):
        # x[:] (and x[:, :]) is recorded as a full slice, like PyTorch does.
        if x.ndim == 0:
            return as_view(apply(SLICE_ALIAS, (x,)), x)
        return _slice(x, 0, slice(None))
    out = x
    dim = 0
    advanced = []  # (dim in `out`, index) for tensor/list indices, applied last
    for item in index:
        if item is None:
            out = unsqueeze(out, dim)
            dim += 1
        elif isinstance(item, slice):
            if item != slice(None):
                out = _slice(out, dim, item)
            dim += 1
        elif _is_int_scalar(item):
            out = _select(out, dim, int(item))
        elif _is_advanced(item):
            advanced.append((dim, item))
            dim += _index_ndim_consumed(item)
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                             f"Variables are valid indices (got {type(item).__name__})")
    if advanced:
        out = _advanced_index(out, advanced)
    return out


SLICE_ALIAS = Op("AliasBackward0", lambda x: P.reshape(x, shape=shape_of(x)), (lambda g, out, x: g,))


def _index_ndim_consumed(item):
    if isinstance(item, (Tensor, np.ndarray)) and item.dtype in (dtypes.bool_, np.bool_):
        return max(item.ndim, 1)
    if isinstance(item, bool):
        return 0
    return 1


def _as_index_array(item):
    if isinstance(item, Tensor):
        return item._concrete("indexing with a tensor")
    if isinstance(item, bool):
        return np.asarray(item)
    array = np.asarray(item)
    if array.dtype.kind == "f":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return array


def _advanced_index(x, advanced):
    """Apply tensor indices (at their dims of x) as a single take on a flattened view."""
    shape = tuple(x.shape)
    if active_tracer() is not None:
        dims, indices = _traced_indices(shape, advanced)
    else:
        dims, indices = _concrete_indices(shape, advanced)
    perm = None
    if dims != list(range(dims[0], dims[0] + len(dims))):
        # NumPy/PyTorch move the indexed dims to the front when they are not next to each other
        # (inside the one IndexBackward0 node, as in PyTorch).
        perm = tuple(dims) + tuple(d for d in range(len(shape)) if d not in dims)
        shape = tuple(shape[p] for p in perm)
        dims = list(range(len(dims)))
    params = {"axis": dims[0], "n_dims": len(dims), "perm": perm}
    return apply(INDEX, (x, _linear_index(shape, dims, indices)), params)


def _linear_index(shape, dims, indices):
    """The row-major position within the indexed dims, negative indices wrapped. Written in
    arithmetic that NumPy arrays (eager) and traced tensors (compiled) both do, broadcasting
    the indices against each other."""
    linear, stride = None, 1
    for d, index in zip(reversed(dims), reversed(indices)):
        term = _wrapped(index, shape[d], d) * stride
        linear = term if linear is None else linear + term
        stride *= shape[d]
    if isinstance(linear, Tensor):
        return linear
    return Tensor._wrap(np.asarray(linear, dtype=np.int64))


def _wrapped(index, size, dim):
    """`index` (along a dim of `size`, the `dim`-th) with negative entries wrapped once. Eager
    indices are checked already (`_concrete_indices`); a traced one is looked up in 0..size-1
    along `dim`, whose bounds check raises eager's IndexError in compiled code too (a bare
    `index % size` would wrap an out-of-range index onto some other element)."""
    if not isinstance(index, Tensor):
        return index % size
    positions = Tensor._wrap(np.arange(size, dtype=np.int64).reshape((1,) * dim + (size,)))
    found = apply(INDEX_SELECT, (positions, index.reshape(-1)), {"axis": dim})
    return found.reshape(index.shape)


def _concrete_indices(shape, advanced):
    """(dims, int64 index arrays), masks expanded to the positions they select, checked
    against the dims' sizes with PyTorch's errors."""
    dims, arrays = [], []
    for dim, item in advanced:
        array = _as_index_array(item)
        if array.dtype == np.bool_:
            if array.ndim == 0:
                raise IndexError("indexing with a 0-d boolean is not supported")
            if array.shape != shape[dim:dim + array.ndim]:
                raise IndexError(f"The shape of the mask {list(array.shape)} at index {dim} does "
                                 f"not match the shape of the indexed tensor {list(shape)}")
            for k, positions in enumerate(np.nonzero(array)):
                dims.append(dim + k)
                arrays.append(positions)
        else:
            if array.dtype.kind not in "iu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            dims.append(dim)
            arrays.append(array.astype(np.int64, copy=False))
    for d, a in zip(dims, arrays):
        n = shape[d]
        bad = (a >= n) | (a < -n)
        if bad.any():
            raise IndexError(f"index {int(a[bad].flat[0])} is out of bounds for dimension {d} "
                             f"with size {n}")
    return dims, arrays


def _traced_indices(shape, advanced):
    """(dims, int64 index tensors) inside llgrad.compile, where index values are only known
    at run time. Boolean masks select a data-dependent number of elements, which a compiled
    graph cannot have."""
    from .creation import from_numpy

    dims, indices = [], []
    for dim, item in advanced:
        t = item if isinstance(item, Tensor) else from_numpy(np.asarray(item))
        if t.dtype is dtypes.bool_:
            raise tracing.TracingError(
                "indexing with a boolean mask selects a data-dependent number of elements, which "
                "llgrad.compile cannot trace; use llgrad.where(mask, x, 0) or x.masked_fill(...) "
                "to keep the shape fixed")
        if t.dtype.kind not in "iu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        dims.append(dim)
        indices.append(t.long())
    return dims, indices


def _merged_shape(shape, axis, n_dims):
    merged = 1
    for d in shape[axis:axis + n_dims]:
        merged *= d
    return tuple(shape[:axis]) + (merged,) + tuple(shape[axis + n_dims:])


def _index_forward(x, linear, axis, n_dims, perm=None):
    if perm is not None:
        x = P.permute(x, perm=perm)
    flat = P.reshape(x, shape=_merged_shape(shape_of(x), axis, n_dims))
    return P.take(flat, linear, axis=axis)


def _index_vjp(g, out, x, linear, axis, n_dims, perm=None):
    shape = shape_of(x)
    if perm is not None:
        shape = tuple(shape[p] for p in perm)
    zeros = P.full_like(g, shape=_merged_shape(shape, axis, n_dims), value=0)
    grad = P.reshape(P.index_add(zeros, linear, g, axis=axis), shape=shape)
    if perm is not None:
        grad = P.permute(grad, perm=inverse_permutation(perm))
    return grad


INDEX = Op("IndexBackward0", _index_forward, (_index_vjp, None), saves=(1,))


# ---- writes ------------------------------------------------------------------------------------

def _positions(shape, index):
    """The flat positions `x[index]` selects, as an int64 array shaped like the selection."""
    grid = Tensor._wrap(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape))
    return getitem(grid, index)._data


def _flat(x):
    return P.reshape(x, shape=(_numel(shape_of(x)),))


def _written(flat_positions, n):
    """Which of the n flat positions an index_put writes."""
    counts = P.index_add(P.full_like(flat_positions, shape=(n,), value=0), flat_positions,
                         P.full_like(flat_positions, shape=shape_of(flat_positions), value=1),
                         axis=0)
    return P.gt(counts, 0)


def _index_put_forward(x, positions, value):
    flat, flat_positions = _flat(x), _flat(positions)
    n = _numel(shape_of(x))
    values = _flat(P.broadcast_to(value, shape=shape_of(positions)))
    scattered = P.index_add(P.full_like(flat, shape=(n,), value=0), flat_positions, values, axis=0)
    return P.reshape(P.where(_written(flat_positions, n), scattered, flat), shape=shape_of(x))


def _index_put_vjp_x(g, out, x, positions, value):
    flat_g = _flat(g)
    hit = _written(_flat(positions), _numel(shape_of(g)))
    return P.reshape(P.where(hit, 0, flat_g), shape=shape_of(g))


def _index_put_vjp_value(g, out, x, positions, value):
    return P.take(_flat(g), positions, axis=0)


def _index_put_op(name):
    return Op(name, _index_put_forward, (_index_put_vjp_x, None, _index_put_vjp_value),
              saves=(1,), promote=None)


# x[index] = value records PyTorch's node for how PyTorch performs the write: into a view of x
# (CopySlices), with tensor indices on x itself (IndexPutBackward0), or over all of x
# (x[...] = v: CopyBackwards, or FillBackward3 for a 0-d value).
INDEX_PUT = {name: _index_put_op(name)
             for name in ("CopySlices", "IndexPutBackward0", "CopyBackwards", "FillBackward3")}


def _write_node_name(x, index, value):
    """(node name, whether the write goes through index_put) of `x[index] = value`."""
    items = _normalize_index(index)
    items = () if items == (Ellipsis,) else _expand_ellipsis(items, x.ndim)
    through_view = any(item is None or _is_int_scalar(item)
                       or (isinstance(item, slice) and item != slice(None)) for item in items)
    advanced = any(_is_advanced(item) and not _is_int_scalar(item) for item in items)
    if through_view:
        return "CopySlices", advanced
    if advanced:
        return "IndexPutBackward0", advanced
    return ("FillBackward3" if value.ndim == 0 else "CopyBackwards"), advanced


def _broadcast_value(value, selection_shape, advanced):
    """PyTorch's preparation of the value: leading 1s dropped by a view; for a write through a
    view, then expanded to the selection (index_put broadcasts by itself)."""
    from .shape import expand, view

    shape = tuple(value.shape)
    stripped = shape
    while stripped and stripped[0] == 1:
        stripped = stripped[1:]
    if advanced:
        return view(value, stripped) if stripped != shape else value
    if shape == tuple(selection_shape) or not shape:
        return value
    return expand(view(value, stripped), tuple(selection_shape))


def setitem(x: Tensor, index: Any, value: TensorOrNumber) -> None:
    """`tensor[index] = value`: writes `value` (a tensor or a number, broadcast) in place at
    `index`, recorded for autograd as PyTorch records it."""
    from .inplace import check_inplace, rebase_history, write_data
    from ..autograd.grad_mode import STATE

    if isinstance(value, Tensor) and value.dtype is not x.dtype:
        value = value.to(x.dtype)
    data = x._data
    needs_grad = STATE.enabled and (x._requires_grad or (isinstance(value, Tensor)
                                                         and value._requires_grad))
    if type(data) is not np.ndarray or needs_grad or active_tracer() is not None:
        if STATE.enabled and x.grad_fn is None and x._requires_grad:
            # x[i] = v writes through a view of x, which is how PyTorch words the error
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        check_inplace(x)
        with tracing.outside_trace():
            positions = _positions(tuple(x.shape), index)
        positions = from_numpy_constant(positions)
        if not isinstance(value, Tensor):
            from .creation import full

            value = full((), value, dtype=x.dtype)
        name, advanced = _write_node_name(x, index, value)
        value = _broadcast_value(value, positions.shape, advanced)
        result = apply(INDEX_PUT[name], (x, positions, value))
        write_data(x, result)
        rebase_history(x, result)
        return
    np_index = _numpy_index(index)
    try:
        data[np_index] = value._data if isinstance(value, Tensor) else value
    except ValueError as error:
        raise RuntimeError(str(error)) from None
    x._bump_version()


def _numpy_index(index):
    if isinstance(index, tuple):
        return tuple(_numpy_index_item(i) for i in index)
    return _numpy_index_item(index)


def _numpy_index_item(item):
    if isinstance(item, Tensor):
        return item._concrete("indexing with a tensor")
    return item


# ---- gather / scatter / index_select / masked ops ----------------------------------------------

GATHER = primitive_op("GatherBackward0", P.gather)
INDEX_SELECT = Op("IndexSelectBackward0", lambda x, idx, axis: P.take(x, idx, axis=axis),
                  (P.take.vjp[0], None), saves=(1,))
SCATTER_ADD = primitive_op("ScatterAddBackward0", P.scatter_add)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """Values of `input` along `dim` at the positions `index` holds, as torch.gather: out[i][j] =
    input[index[i][j]][j] for dim 0. `index` is an int64 tensor with as many dimensions as
    `input`."""
    axis = _wrap_dim(dim, input.ndim)
    return apply(GATHER, (input, index), {"axis": axis})


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of `input` at the 1-d integer `index` along `dim`, as torch.index_select."""
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    axis = _wrap_dim(dim, input.ndim)
    n = input.shape[axis] if input.ndim else 1
    idx = index._data
    if type(idx) is np.ndarray and idx.size and (idx.max() >= n or idx.min() < 0):
        raise IndexError("index out of range in self")
    if input.ndim == 0:
        return input.reshape(1)[index.reshape(-1)].reshape(index.shape)
    return apply(INDEX_SELECT, (input, index.reshape(-1)), {"axis": axis})


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of `input` with `src` added at the positions `index` gives along `dim` (repeated
    indices add up), as torch.scatter_add."""
    return apply(SCATTER_ADD, (input, index, src), {"axis": _wrap_dim(dim, input.ndim)})


SCATTER = primitive_op("ScatterBackward0", P.scatter)
# A number as the value: an edge for the input only (PyTorch's value overload).
SCATTER_VALUE = Op("ScatterBackward1", P.scatter, (P.scatter.vjp[0], None, None), saves=(1,))


def scatter(input: Tensor, dim: int, index: Tensor, src: TensorOrNumber | None = None, *,
            value: Number | None = None, reduce: str | None = None) -> Tensor:
    """`input` with `src` (a tensor, or a number) written at `index` along `dim`."""
    if src is None:
        src = value
    if reduce is not None:
        raise NotImplementedError("scatter(..., reduce=...) is not supported by llgrad; use "
                                  "scatter_add for reduce='add'")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    axis = _wrap_dim(dim, input.ndim)
    _check_scatter_index(input, index, axis)
    if isinstance(src, Tensor):
        if src.dtype is not input.dtype:
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
        return apply(SCATTER, (input, index, src), {"axis": axis})
    return apply(SCATTER_VALUE, (input, index, _as_scalar_of(input, src)), {"axis": axis})


def _check_scatter_index(input, index, axis):
    data = index._data
    if type(data) is not np.ndarray or not data.size:
        return
    n = input.shape[axis] if input.ndim else 1
    if data.max() >= n or data.min() < 0:
        bad = data[(data >= n) | (data < 0)].flat[0]
        raise RuntimeError(f"index {bad} is out of bounds for dimension {axis} with size {n}")


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """Values of `input` at `indices` along `dim` (the flattened input when `dim` is None), as
    torch.take_along_dim; `indices` broadcasts against `input`."""
    if dim is None:  # PyTorch: the flattened input, gathered at the flattened indices
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    from ..compiler.primitive import broadcast_shapes
    from .shape import broadcast_to

    # PyTorch's helper: indices and input broadcast against each other except along dim.
    axis = _wrap_dim(dim, input.ndim)
    sizes = list(input.shape)
    sizes[axis] = indices.shape[axis]
    indices = broadcast_to(indices, broadcast_shapes(tuple(sizes), tuple(indices.shape)))
    sizes = list(indices.shape)
    sizes[axis] = input.shape[axis]
    input = broadcast_to(input, broadcast_shapes(tuple(sizes), tuple(input.shape)))
    return gather(input, axis, indices)


def _masked_fill_forward(x, mask, value):
    return P.where(mask, value, x)


def _masked_fill_dinput(g, out, x, mask, value):
    return P.where(mask, 0, g)


def _masked_fill_dvalue(g, out, x, mask, value):
    return P.reduce_sum(P.where(mask, g, 0), axes=None, keepdims=False)


# A number as the value: MaskedFillBackward0 with an edge for the input only; a 0-d tensor:
# MaskedFillBackward1, with an edge for the value too (PyTorch's Scalar/Tensor overloads).
MASKED_FILL = Op("MaskedFillBackward0", _masked_fill_forward, (_masked_fill_dinput,), saves=(1,))
MASKED_FILL_TENSOR = Op("MaskedFillBackward1", _masked_fill_forward,
                        (_masked_fill_dinput, None, _masked_fill_dvalue), saves=(1,))


def masked_fill(input: Tensor, mask: Tensor, value: TensorOrNumber) -> Tensor:
    """A copy of `input` with `value` (a number or a 0-d tensor) where the bool `mask` is True, as
    torch.masked_fill."""
    if mask.dtype is not dtypes.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype.name}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        value = value.to(input.dtype)
        return apply(MASKED_FILL_TENSOR, (input, mask, value))
    return apply(MASKED_FILL, (input, mask, _as_scalar_of(input, value)))


def _as_scalar_of(input, value):
    """A Python number converted to the tensor's type, as PyTorch fills with it (1.5 into an
    integer tensor is 1, 2 into a bool tensor is True)."""
    kind = input._data.dtype.kind
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    return value


def _masked_select_forward(x, positions, shape):
    flat = P.reshape(P.broadcast_to(x, shape=shape), shape=(_numel(shape),))
    return P.take(flat, positions, axis=0)


def _masked_select_vjp(g, out, x, positions, shape):
    flat = P.index_add(P.full_like(g, shape=(_numel(shape),), value=0), positions, g, axis=0)
    return P.sum_to(P.reshape(flat, shape=shape), shape_of(x))


MASKED_SELECT = Op("MaskedSelectBackward0", _masked_select_forward, (_masked_select_vjp, None),
                   saves=(1,))


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements where the mask (broadcast with the input) is True, as a 1-D tensor."""
    from ..compiler.primitive import broadcast_shapes

    if mask.dtype is not dtypes.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    mask_data = mask._concrete("masked_select (its result's size depends on the mask)")
    positions = np.flatnonzero(np.broadcast_to(mask_data, shape)).astype(np.int64)
    return apply(MASKED_SELECT, (input, from_numpy_constant(positions)), {"shape": shape})


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the non-zero elements, as torch.nonzero: an (n, ndim) int64 tensor, or with
    `as_tuple=True` one 1-d tensor per dimension. Data-dependent: not inside llgrad.compile."""
    from .creation import from_numpy

    data = input._concrete("nonzero()")
    positions = np.nonzero(data)
    if as_tuple:
        return tuple(from_numpy(p.astype(np.int64)) for p in positions)
    return from_numpy(np.stack(positions, axis=1).astype(np.int64) if positions
                      else np.zeros((int(data.size != 0 and bool(data)), 0), dtype=np.int64))


def argwhere(input: Tensor) -> Tensor:
    """The indices of the non-zero elements as an (n, ndim) tensor, as torch.argwhere."""
    return nonzero(input)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices as one-hot int64 vectors of length `num_classes` (-1: one more than
    the largest index), as torch.nn.functional.one_hot."""
    from .creation import arange

    if num_classes == -1:
        num_classes = int(tensor.max().item()) + 1
    return (tensor.unsqueeze(-1) == arange(num_classes)).long()
