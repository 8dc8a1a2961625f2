"""Shape and layout operations: views (reshape, permute, expand, squeeze, ...), copies (clone,
contiguous, dtype conversion), and joining or splitting (cat, stack, split, chunk, unbind).

Views share storage and the version counter with their base, as in PyTorch, so an in-place
change through either is seen by both and by autograd's saved-tensor checks.
"""
from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from .._device import check_device
from ..compiler import dtypes
from ..compiler import primitives as P
from ..compiler.primitive import broadcast_shapes, numel as _numel, shape_of
from ..dispatch import Op, apply, primitive_op
from ..tensor import Tensor, _wrap_dim
from . import _args

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NoReturn

    from .._typing import DeviceLike, DType, DTypeLike, Number


def as_view(result: Tensor, base: Tensor) -> Tensor:
    """Mark `result` as a view of `base` when NumPy gave a view (not a copy). A traced result
    is always marked: an in-place update through it must not silently miss its base."""
    data = result._data
    if type(data) is not np.ndarray:
        result._base = base if base._base is None else base._base
        result._view_source = result._base._data
    elif data.base is not None:
        result._vbox = base._version_box()
        result._base = base if base._base is None else base._base
    return result


_sizes = _args.sizes  # f(2, 3), f((2, 3)), f([2, 3]), f(x.shape), 0-d integer tensors


def infer_shape(shape: Sequence[int], numel: int) -> tuple[int, ...]:
    """Resolve one -1 in `shape`, with PyTorch's errors."""
    shape = list(shape)
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for d in shape:
        if d != -1:
            if d < 0:
                raise RuntimeError(f"invalid shape dimension {d}")
            known *= d
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel}")
        shape[unknown[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


VIEW = primitive_op("ViewBackward0", P.reshape)
UNSQUEEZE = primitive_op("UnsqueezeBackward0", P.reshape)
SQUEEZE_ALL = primitive_op("SqueezeBackward0", P.reshape)
SQUEEZE_DIM = primitive_op("SqueezeBackward1", P.reshape)
SQUEEZE_DIMS = primitive_op("SqueezeBackward2", P.reshape)
# reshape of a non-contiguous tensor, as PyTorch records it: a strided alias when the strides
# allow one, else a contiguous copy and a view of the copy.
RESHAPE_ALIAS = primitive_op("ReshapeAliasBackward0", P.reshape)
UNSAFE_VIEW = primitive_op("UnsafeViewBackward0", P.reshape)


def _reshape_with(op, input, shape):
    return as_view(apply(op, (input,), {"shape": tuple(shape)}), input)


def reshape(input: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """`input` with a new shape of the same number of elements (one size may be -1), as
    torch.reshape: a view when the strides allow it, else a copy. Sizes as separate arguments or
    one sequence."""
    shape = infer_shape(_sizes(shape, "reshape", "shape"), input.numel())
    data = input._data
    if type(data) is np.ndarray and not data.flags.c_contiguous:
        if _viewable(data, shape):
            return _reshape_with(RESHAPE_ALIAS, input, shape)
        return unsafe_view(clone(input), shape)
    return _reshape_with(VIEW, input, shape)


def unsafe_view(input: Tensor, shape: Sequence[int]) -> Tensor:
    """A view of a tensor the caller just made (PyTorch's _unsafe_view: UnsafeViewBackward0)."""
    return _reshape_with(UNSAFE_VIEW, input, tuple(shape))


def view(input: Tensor, *shape: int | Sequence[int]) -> Tensor:
    """A view of `input` with a new shape (one size may be -1), as Tensor.view: it shares storage,
    so the strides must allow it (else use reshape). view(dtype) is not supported."""
    if len(shape) == 1 and isinstance(shape[0], dtypes.DType):
        raise NotImplementedError("view(dtype) reinterprets bits; llgrad does not support it")
    shape = infer_shape(_sizes(shape, "view"), input.numel())
    data = input._data
    if type(data) is np.ndarray and not _viewable(data, shape):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return _reshape_with(VIEW, input, shape)


def _viewable(data, shape):
    if data.flags.c_contiguous or data.size <= 1:
        return True
    return _view_strides(data.shape, data.strides, shape) is not None


def _view_strides(old_shape, old_strides, new_shape):
    """Strides that give `new_shape` over the same memory, or None when a view cannot (PyTorch's
    rule: each run of dimensions that is contiguous in memory may be re-split freely, runs may
    not be merged). Computed rather than asked of NumPy, whose `.shape` setter is deprecated."""
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = old_strides[-1]  # the stride of the innermost element of the current run
    run_numel = view_numel = 1
    for d in reversed(range(len(old_shape))):
        run_numel *= old_shape[d]
        run_ends = d == 0 or (old_shape[d - 1] != 1 and old_strides[d - 1] != run_numel * base)
        if not run_ends:
            continue
        while view_d >= 0 and (view_numel < run_numel or new_shape[view_d] == 1):
            new_strides[view_d] = view_numel * base
            view_numel *= new_shape[view_d]
            view_d -= 1
        if view_numel != run_numel:
            return None
        if d > 0:
            base, run_numel, view_numel = old_strides[d - 1], 1, 1
    return new_strides if view_d == -1 else None


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """`input` viewed with `other`'s shape, as Tensor.view_as."""
    return view(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """`input` reshaped to `other`'s shape, as Tensor.reshape_as."""
    return reshape(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dimensions start_dim..end_dim merged into one, as torch.flatten."""
    ndim = input.ndim
    if ndim == 0:
        return reshape(input, 1)
    start, end = _wrap_dim(start_dim, ndim), _wrap_dim(end_dim, ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if start == end:
        return input
    shape = tuple(input.shape)
    middle = 1
    for d in shape[start:end + 1]:
        middle *= d
    return reshape(input, shape[:start] + (middle,) + shape[end + 1:])


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    """Dimension `dim` split into `sizes` (one may be -1), as torch.unflatten."""
    dim = _wrap_dim(dim, input.ndim)
    shape = tuple(input.shape)
    sizes = infer_shape(sizes, shape[dim])
    return view(input, shape[:dim] + sizes + shape[dim + 1:])


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """A view with a new dimension of size 1 inserted at `dim`, as torch.unsqueeze."""
    ndim = input.ndim
    dim = _wrap_dim(dim, ndim + 1)
    shape = tuple(input.shape)
    return _reshape_with(UNSQUEEZE, input, shape[:dim] + (1,) + shape[dim:])


def squeeze(input: Tensor, dim: int | Sequence[int] | None = None) -> Tensor:
    """A view without dimensions of size 1 (all, or those in `dim`, an int or tuple), as
    torch.squeeze."""
    shape = tuple(input.shape)
    if dim is None:
        return _reshape_with(SQUEEZE_ALL, input, tuple(d for d in shape if d != 1))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    axes = {_wrap_dim(d, len(shape)) for d in dims} if shape else set()
    new_shape = tuple(d for i, d in enumerate(shape) if not (i in axes and d == 1))
    op = SQUEEZE_DIMS if isinstance(dim, (tuple, list)) else SQUEEZE_DIM
    return _reshape_with(op, input, new_shape)


EXPAND = primitive_op("ExpandBackward0", P.broadcast_to)


def expand(input: Tensor, *sizes: int | Sequence[int]) -> Tensor:
    """A view broadcasting size-1 dimensions to `sizes` (-1 keeps a size; new leading dimensions
    may be added) without copying, as Tensor.expand."""
    sizes = _sizes(sizes, "expand")
    shape = tuple(input.shape)
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({_type_name(input)}{{{list(shape)}}}, size={list(sizes)}): the "
                           f"number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = []
    for i, s in enumerate(sizes):
        current = shape[i - lead] if i >= lead else 1
        if s == -1:
            if i < lead:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            s = current
        elif current != 1 and current != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size "
                               f"({current}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(shape)}")
        target.append(s)
    return as_view(apply(EXPAND, (input,), {"shape": tuple(target)}), input)


def _type_name(input):
    from ..tensor import torch_type_name

    return torch_type_name(input.dtype.np).replace("llgrad.", "")


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """`input` expanded to `other`'s shape, as Tensor.expand_as."""
    return expand(input, other.shape)


def broadcast_to(input: Tensor, shape: Sequence[int]) -> Tensor:
    """`input` broadcast to `shape` (a view), as torch.broadcast_to."""
    return expand(input, shape)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors broadcast to their common shape, as torch.broadcast_tensors: a tuple of views."""
    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


PERMUTE = primitive_op("PermuteBackward0", P.permute)
TRANSPOSE = primitive_op("TransposeBackward0", P.permute)
T_OP = primitive_op("TBackward0", P.permute)


def permute(input: Tensor, *dims: int | Sequence[int]) -> Tensor:
    """A view with the dimensions reordered as `dims`, as torch.permute."""
    dims = _sizes(dims, "permute", "dims")
    ndim = input.ndim
    if len(dims) != ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not "
                           f"match the length of the desired ordering of dimensions i.e. input.dim()"
                           f" = {ndim} is not equal to len(dims) = {len(dims)}")
    perm = tuple(_wrap_dim(d, ndim) for d in dims)
    if sorted(perm) != list(range(ndim)):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return as_view(apply(PERMUTE, (input,), {"perm": perm}), input)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with dimensions `dim0` and `dim1` swapped, as torch.transpose."""
    ndim = input.ndim
    perm = list(range(ndim))
    if ndim:
        a, b = _wrap_dim(dim0, ndim), _wrap_dim(dim1, ndim)
        perm[a], perm[b] = perm[b], perm[a]
    return as_view(apply(TRANSPOSE, (input,), {"perm": tuple(perm)}), input)


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """The transpose of a matrix (a 0-d or 1-d tensor is returned as is), as torch.t."""
    ndim = input.ndim
    if ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {ndim}D")
    perm = (1, 0) if ndim == 2 else tuple(range(ndim))
    return as_view(apply(T_OP, (input,), {"perm": perm}), input)


def T(input: Tensor) -> Tensor:  # noqa: N802 (property .T)
    """Tensor.T: the dimensions reversed (PyTorch deprecates it for other than 2-d tensors)."""
    return permute(input, tuple(reversed(range(input.ndim))))


def mT(input: Tensor) -> Tensor:  # noqa: N802
    """Tensor.mT: the last two dimensions swapped (a batch of matrices transposed)."""
    return transpose(input, -2, -1)


def movedim(input: Tensor, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    """A view with dimensions `source` moved to positions `destination`, as torch.movedim."""
    ndim = input.ndim
    src = [_wrap_dim(s, ndim) for s in (source if isinstance(source, (tuple, list)) else [source])]
    dst = [_wrap_dim(d, ndim) for d in
           (destination if isinstance(destination, (tuple, list)) else [destination])]
    order = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order)


moveaxis = movedim


CLONE = primitive_op("CloneBackward0", P.copy)


def clone(input: Tensor, *, memory_format: object = None) -> Tensor:
    """A copy of `input` with its own storage, recorded by autograd (its gradient flows back), as
    torch.clone."""
    return apply(CLONE, (input,))


def contiguous(input: Tensor, memory_format: object = None) -> Tensor:
    """`input` itself if its elements are in row-major order, else a contiguous copy, as
    Tensor.contiguous."""
    if type(input._data) is not np.ndarray or input._data.flags.c_contiguous:
        return input  # (a traced value has no layout to fix)
    return clone(input)


TO_COPY = primitive_op("ToCopyBackward0", P.cast)


def to(input: Tensor, *args: DType | DeviceLike | Tensor, dtype: DTypeLike = None,
       device: DeviceLike = None, copy: bool = False, non_blocking: bool = False,
       memory_format: object = None) -> Tensor:
    """`.to(dtype)`, `.to(device)`, `.to(other)`; only the CPU exists here."""
    for a in args:
        if isinstance(a, dtypes.DType):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif a is not None and not isinstance(a, bool):
            device = a
    check_device(device)
    if dtype is None or dtype is input.dtype:
        return clone(input) if copy else input
    return apply(TO_COPY, (input,), {"dtype": dtype})


def type_as(input: Tensor, other: Tensor) -> Tensor:
    """`input` converted to `other`'s dtype, as Tensor.type_as."""
    return to(input, other.dtype)


def _converter(dtype: DType) -> Callable[..., Tensor]:
    def convert(input: Tensor, memory_format: object = None) -> Tensor:
        return to(input, dtype)

    convert.__doc__ = (f"The tensor converted to {dtype.name} (itself if it already is), as "
                       f"Tensor.to(llgrad.{dtype.name}).")
    return convert


float_ = _converter(dtypes.float32)
double = _converter(dtypes.float64)
half = _converter(dtypes.float16)
long = _converter(dtypes.int64)
int_ = _converter(dtypes.int32)
short = _converter(dtypes.int16)
char = _converter(dtypes.int8)
byte = _converter(dtypes.uint8)
bool_ = _converter(dtypes.bool_)


def cpu(input: Tensor, memory_format: object = None) -> Tensor:
    """`input` itself: llgrad tensors always live on the CPU."""
    return input


def cuda(input: Tensor, *args: Any, **kwargs: Any) -> NoReturn:
    """Raises AssertionError, as PyTorch built without CUDA does: llgrad runs on the CPU only."""
    check_device("cuda")


# ---- joining and splitting ---------------------------------------------------------------------

CAT = Op("CatBackward0", lambda *xs, axis: P.concat(*xs, axis=axis), P.concat.vjp,
         promote="common")


def _joined_into(name, out, join, tensors, dim):
    """cat/stack with out=: joined without autograd (PyTorch refuses it), then cast into out."""
    from .out import check_out_type, store

    check_out_type(name, out)
    _args.check_out_autograd(name, out, tensors)
    from ..dispatch import result_type

    if result_type(*tensors).category > out.dtype.category:  # PyTorch's canCast
        raise TypeError(f"torch.{name}(): input types can't be cast to the desired output type "
                        f"{_scalar_type_name(out.dtype)}")
    return store(out, join(tensors, dim))  # (resized with PyTorch's warning)


def _scalar_type_name(dtype):
    from .reduction import _scalar_type_name as name

    return name(dtype)


def cat(tensors: Sequence[Tensor], dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """The tensors joined along an existing dimension `dim`, as torch.cat (dtypes promote as in
    PyTorch; 1-d empty tensors are skipped). `out=` is supported."""
    if out is not None:
        return _joined_into("cat", out, cat, list(tensors), dim)
    tensors = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or list(tensors)[:1]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    axis = _wrap_dim(dim, ndim)
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ndim} and "
                               f"{t.ndim}")
        for d in range(ndim):
            if d != axis and t.shape[d] != tensors[0].shape[d]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. "
                                   f"Expected size {tensors[0].shape[d]} but got size {t.shape[d]} "
                                   f"for tensor number {i} in the list.")
    return apply(CAT, tuple(tensors), {"axis": axis})


concat = concatenate = cat


def _stack_forward(*xs, axis):
    return P.concat(*(P.reshape(x, shape=_with_unit_axis(shape_of(x), axis)) for x in xs), axis=axis)


def _with_unit_axis(shape, axis):
    return tuple(shape[:axis]) + (1,) + tuple(shape[axis:])


def _stack_vjp(g, out, *xs, axis):
    shape = shape_of(g)
    grads = []
    for i, x in enumerate(xs):
        starts = tuple(i if d == axis else 0 for d in range(len(shape)))
        stops = tuple(i + 1 if d == axis else n for d, n in enumerate(shape))
        piece = P.slice_(g, starts=starts, stops=stops, steps=(1,) * len(shape))
        grads.append(P.reshape(piece, shape=shape_of(x)))
    return tuple(grads)


STACK = Op("StackBackward0", _stack_forward, _stack_vjp, promote="common")


def stack(tensors: Sequence[Tensor], dim: int = 0, *, out: Tensor | None = None) -> Tensor:
    """The tensors (of one shape) joined along a new dimension `dim`, as torch.stack."""
    if out is not None:
        return _joined_into("stack", out, stack, list(tensors), dim)
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} "
                               f"at entry 0 and {list(t.shape)} at entry {i}")
    axis = _wrap_dim(dim, len(shape) + 1)
    return apply(STACK, tuple(tensors), {"axis": axis})


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """The tensors joined column-wise (along dim 1, or dim 0 for 1-d ones), as torch.hstack."""
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """The tensors joined row-wise (1-d ones become rows), as torch.vstack."""
    return cat([unsqueeze(t, 0) if t.ndim == 1 else t for t in tensors], 0)  # atleast_2d


def _split_forward(x, axis, sections):
    outs, start = [], 0
    ndim = len(shape_of(x))
    for n in sections:
        starts = tuple(start if d == axis else 0 for d in range(ndim))
        stops = tuple(start + n if d == axis else s for d, s in enumerate(shape_of(x)))
        outs.append(P.slice_(x, starts=starts, stops=stops, steps=(1,) * ndim))
        start += n
    return tuple(outs)


def _split_vjp(g, out, x, axis, sections):
    pieces = []
    for piece_g, n in zip(g, sections):
        if piece_g is None:
            shape = list(shape_of(x))
            shape[axis] = n
            like = next(p for p in g if p is not None)
            piece_g = P.full_like(like, shape=tuple(shape), value=0)
        pieces.append(piece_g)
    return P.concat(*pieces, axis=axis)


def _split_op(name, n):
    key = (name, n)
    op = _SPLIT_OPS.get(key)
    if op is None:
        op = _SPLIT_OPS[key] = Op(name, _split_forward, (_split_vjp,), n_outputs=n)
    return op


_SPLIT_OPS = {}


def _split_sections(input, axis, sections, name):
    if len(sections) == 1:
        return (input,) if name != "UnbindBackward0" else None
    outs = apply(_split_op(name, len(sections)), (input,),
                 {"axis": axis, "sections": tuple(sections)})
    return tuple(as_view(o, input) for o in outs)


def split(input: Tensor, split_size_or_sections: int | Sequence[int],
          dim: int = 0) -> tuple[Tensor, ...]:
    """`input` cut along `dim` into pieces of `split_size_or_sections` (an int: the last may be
    smaller; a list: the sizes), as torch.split: a tuple of views."""
    axis = _wrap_dim(dim, input.ndim)
    size = input.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        sections = [min(step, size - i) for i in range(0, size, step)] or [0]
        name = "SplitBackward0"
    else:
        sections = list(split_size_or_sections)
        if sum(sections) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {axis}), but got split_sizes="
                               f"{sections}")
        name = "SplitWithSizesBackward0"
    return _split_sections(input, axis, sections, name)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """`input` cut along `dim` into at most `chunks` pieces of equal size (the last may be
    smaller), as torch.chunk."""
    axis = _wrap_dim(dim, input.ndim)
    size = input.shape[axis]
    step = -(-size // chunks) if size else 1
    return split(input, step, dim)


def tensor_split(input: Tensor, sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """`input` cut along `dim` into `sections` nearly equal pieces, or at the indices in a list, as
    torch.tensor_split."""
    axis = _wrap_dim(dim, input.ndim)
    size = input.shape[axis]
    if isinstance(sections, int):
        base, extra = divmod(size, sections)
        sizes = [base + 1] * extra + [base] * (sections - extra)
        bounds = [0]
        for n in sizes:
            bounds.append(bounds[-1] + n)
    else:
        bounds = [0] + [builtins.min(builtins.max(b, 0), size) for b in sections] + [size]
    # PyTorch's tensor_split returns slices (SliceBackward0), not one split node.
    pieces = []
    for start, stop in zip(bounds, bounds[1:]):
        pieces.append(narrow(input, axis, start, builtins.max(stop - start, 0)))
    return tuple(pieces)


def _unbind_forward(x, axis):
    shape = shape_of(x)
    rest = shape[:axis] + shape[axis + 1:]
    return tuple(P.reshape(piece, shape=rest)
                 for piece in _split_forward(x, axis, (1,) * shape[axis]))


def _unbind_vjp(g, out, x, axis):
    shape = shape_of(x)
    with_unit = shape[:axis] + (1,) + shape[axis + 1:]
    like = next(p for p in g if p is not None)
    pieces = [P.full_like(like, shape=with_unit, value=0) if piece is None
              else P.reshape(piece, shape=with_unit) for piece in g]
    return P.concat(*pieces, axis=axis)


_UNBIND_OPS = {}


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of `input` along `dim`, without that dimension, as torch.unbind: a tuple."""
    axis = _wrap_dim(dim, input.ndim)
    n = input.shape[axis]
    op = _UNBIND_OPS.get(n)
    if op is None:
        op = _UNBIND_OPS[n] = Op("UnbindBackward0", _unbind_forward, (_unbind_vjp,), n_outputs=n)
    if n == 0:
        return ()
    outs = apply(op, (input,), {"axis": axis})
    return tuple(as_view(o, input) for o in (outs if n > 1 else (outs,)))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at `index` along `dim`, without that dimension (a view), as torch.select."""
    from .indexing import getitem

    axis = _wrap_dim(dim, input.ndim)
    return getitem(input, (slice(None),) * axis + (index,))


def narrow(input: Tensor, dim: int, start: int | Tensor, length: int) -> Tensor:
    """The `length` entries from `start` along `dim` (a view), as torch.narrow."""
    from .indexing import getitem

    axis = _wrap_dim(dim, input.ndim)
    size = input.shape[axis]
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    start = start % size if start < 0 else start
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


def _flip_forward(x, axes):
    for axis in axes:
        n = shape_of(x)[axis]
        x = P.take(x, np.arange(n - 1, -1, -1, dtype=np.int64), axis=axis)
    return x


FLIP = Op("FlipBackward0", _flip_forward, (lambda g, out, x, axes: _flip_forward(g, axes),))


def flip(input: Tensor, dims: int | Sequence[int]) -> Tensor:
    """`input` with the order of elements reversed along `dims`, as torch.flip (a copy)."""
    if isinstance(dims, int):
        dims = (dims,)
    axes = tuple(sorted({_wrap_dim(d, input.ndim) for d in dims}))
    return apply(FLIP, (input,), {"axes": axes})


def _roll_forward(x, shifts, axes):
    """x rotated by shifts[i] along axes[i]; no axes: rotated as if flattened."""
    shape = shape_of(x)
    if not axes:
        flat = P.reshape(x, shape=(builtins.max(_numel(shape), 1),) if shape else (1,))
        return P.reshape(_roll_forward(flat, shifts, (0,)), shape=shape)
    for shift, axis in zip(shifts, axes):
        n = shape[axis]
        shift = shift % n if n else 0
        if shift:
            x = P.concat(_range_on(x, axis, n - shift, n), _range_on(x, axis, 0, n - shift),
                         axis=axis)
    return x


def _range_on(x, axis, start, stop):
    shape = shape_of(x)
    starts = tuple(start if d == axis else 0 for d in range(len(shape)))
    stops = tuple(stop if d == axis else n for d, n in enumerate(shape))
    return P.slice_(x, starts=starts, stops=stops, steps=(1,) * len(shape))


ROLL = Op("RollBackward0", _roll_forward,
          (lambda g, out, x, shifts, axes: _roll_forward(g, tuple(-s for s in shifts), axes),))


def roll(input: Tensor, shifts: int | Sequence[int],
         dims: int | Sequence[int] | None = None) -> Tensor:
    """Elements shifted by `shifts` along `dims` (the flattened tensor if None), wrapping around,
    as torch.roll."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        return apply(ROLL, (input,), {"shifts": shifts, "axes": ()})
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    axes = tuple(_wrap_dim(d, input.ndim) for d in dims)
    return apply(ROLL, (input,), {"shifts": shifts, "axes": axes})


def _interleave(outer, inner):
    return tuple(d for pair in zip(outer, inner) for d in pair)


def _repeat_forward(x, repeats):
    # (d0, d1) -> (1, d0, 1, d1) -> broadcast to (r0, d0, r1, d1) -> (r0 * d0, r1 * d1)
    shape = (1,) * (len(repeats) - len(shape_of(x))) + tuple(shape_of(x))
    x = P.reshape(x, shape=_interleave((1,) * len(shape), shape))
    x = P.broadcast_to(x, shape=_interleave(repeats, shape))
    return P.reshape(x, shape=tuple(r * d for r, d in zip(repeats, shape)))


def _repeat_vjp(g, out, x, repeats):
    shape = (1,) * (len(repeats) - len(shape_of(x))) + tuple(shape_of(x))
    g = P.reshape(g, shape=_interleave(repeats, shape))
    g = P.reduce_sum(g, axes=tuple(range(0, 2 * len(shape), 2)), keepdims=False)
    return P.reshape(g, shape=shape_of(x))


REPEAT = Op("RepeatBackward0", _repeat_forward, (_repeat_vjp,))


def repeat(input: Tensor, *sizes: int | Sequence[int]) -> Tensor:
    """`input` tiled `sizes` times along each dimension (more sizes add leading dimensions), as
    Tensor.repeat."""
    sizes = _sizes(sizes, "repeat", "repeats")
    if len(sizes) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    return apply(REPEAT, (input,), {"repeats": sizes})


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """`input` repeated `dims` times along each dimension, as torch.tile (fewer dims than the
    tensor's are padded with 1s)."""
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input: Tensor, repeats: int | Tensor, dim: int | None = None) -> Tensor:
    """Each element repeated `repeats` times (an int or a tensor of counts) along `dim` (the
    flattened input if None), as torch.repeat_interleave."""
    if dim is None:
        input, dim = input.reshape(-1), 0
    axis = _wrap_dim(dim, input.ndim)
    x = unsqueeze(input, axis + 1)
    shape = list(x.shape)
    shape[axis + 1] = repeats
    x = expand(x, shape)
    out_shape = list(input.shape)
    out_shape[axis] *= repeats
    return view(contiguous(x), out_shape)  # PyTorch's steps, so grad_fn chains match


def _diagonal_positions(rows, cols, offset):
    """Flat positions of the offset diagonal of a (rows, cols) matrix."""
    i = np.arange(max(0, -offset), max(0, min(rows, cols - offset)), dtype=np.int64)
    return i * cols + i + offset


def _diag_embed_forward(v, offset):
    n = shape_of(v)[0]
    m = n + abs(offset)
    positions = _diagonal_positions(m, m, offset)
    flat = P.index_add(P.full_like(v, shape=(m * m,), value=0), positions, v, axis=0)
    return P.reshape(flat, shape=(m, m))


def _diag_embed_vjp(g, out, v, offset):
    m = shape_of(g)[0]
    return P.take(P.reshape(g, shape=(m * m,)), _diagonal_positions(m, m, offset), axis=0)


def _diagonal_forward(x, offset):
    rows, cols = shape_of(x)
    return P.take(P.reshape(x, shape=(rows * cols,)), _diagonal_positions(rows, cols, offset),
                  axis=0)


def _diagonal_vjp(g, out, x, offset):
    rows, cols = shape_of(x)
    flat = P.index_add(P.full_like(g, shape=(rows * cols,), value=0),
                       _diagonal_positions(rows, cols, offset), g, axis=0)
    return P.reshape(flat, shape=(rows, cols))


def _triangle_mask(shape, diagonal, upper):
    rows, cols = shape[-2], shape[-1]
    offset = np.arange(cols)[None, :] - np.arange(rows)[:, None]
    return offset >= diagonal if upper else offset <= diagonal


def _triangle_forward(x, diagonal, upper):
    zero = P.full_like(x, shape=(), value=0)  # of x's type (a bare 0 would make bools int64)
    return P.where(_triangle_mask(shape_of(x), diagonal, upper), x, zero)


def _triangle_vjp(g, out, x, diagonal, upper):
    return P.where(_triangle_mask(shape_of(x), diagonal, upper), g, 0)


TRIL = Op("TrilBackward0", _triangle_forward, (_triangle_vjp,))
TRIU = Op("TriuBackward0", _triangle_forward, (_triangle_vjp,))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (on and below the `diagonal`-th diagonal) of the last two dims."""
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return apply(TRIL, (input,), {"diagonal": diagonal, "upper": False})


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (on and above diagonal `diagonal`) of the last two dimensions, the rest
    zero, as torch.triu."""
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return apply(TRIU, (input,), {"diagonal": diagonal, "upper": True})


DIAG_EMBED = Op("DiagEmbedBackward0", _diag_embed_forward, (_diag_embed_vjp,))
DIAGONAL_COPY = Op("DiagonalBackward0_copy", _diagonal_forward, (_diagonal_vjp,))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-D input's values on a diagonal of a square matrix; a matrix's diagonal as 1-D."""
    if input.ndim == 1:
        return apply(DIAG_EMBED, (input,), {"offset": diagonal})
    if input.ndim != 2:
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " f"{input.ndim}D")
    return apply(DIAGONAL_COPY, (input,), {"offset": diagonal})
