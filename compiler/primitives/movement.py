"""Movement primitives: they move or select elements without arithmetic.

Each VJP is the movement's transpose: broadcast <-> sum, slice <-> pad, take <-> index_add,
gather <-> scatter_add, concat <-> slices.
"""
import numpy as np

from ..primitive import Aval, define, shape_of


def sum_to(g, shape):
    """Sum a broadcast cotangent back down to `shape` (the transpose of broadcasting)."""
    from .reduce import reduce_sum

    g_shape = shape_of(g)
    shape = tuple(shape)
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and g_shape[i + lead] != 1)
    # As PyTorch's at::sum_to: keep the reduced dims, then drop leading ones with a reshape, so
    # create_graph records the same nodes (SumBackward1, then ViewBackward0 only if needed).
    if axes:
        g = reduce_sum(g, axes=axes, keepdims=True)
    return reshape(g, shape=shape) if shape_of(g) != shape else g


# ---- broadcast, reshape, permute ---------------------------------------------------------------

def _broadcast_impl(x, shape):
    return np.broadcast_to(x, shape)


broadcast_to = define("broadcast_to", _broadcast_impl,
                      lambda x, shape: Aval(shape, x.dtype),
                      (lambda g, out, x, shape: sum_to(g, shape_of(x)),), family="movement")


def _reshape_impl(x, shape):
    return np.reshape(x, shape)


reshape = define("reshape", _reshape_impl, lambda x, shape: Aval(shape, x.dtype),
                 (lambda g, out, x, shape: reshape(g, shape=shape_of(x)),), family="movement")


def inverse_permutation(perm):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return tuple(inverse)


def _permute_impl(x, perm):
    return np.transpose(x, perm)


permute = define("permute", _permute_impl,
                 lambda x, perm: Aval(tuple(shape_of(x)[p] for p in perm), x.dtype),
                 (lambda g, out, x, perm: permute(g, perm=inverse_permutation(perm)),),
                 family="movement")


def _copy_impl(x):
    return np.array(x, copy=True, order="C")


copy = define("copy", _copy_impl, lambda x: Aval(shape_of(x), x.dtype),
              (lambda g, out, x: g,), family="movement")


# ---- slice <-> pad -----------------------------------------------------------------------------

def slice_length(start, stop, step):
    return max(0, (stop - start + step - 1) // step)


def _slice_impl(x, starts, stops, steps):
    return x[tuple(slice(a, b, s) for a, b, s in zip(starts, stops, steps))]


def _slice_abstract(x, starts, stops, steps):
    return Aval(tuple(map(slice_length, starts, stops, steps)), x.dtype)


def _slice_vjp(g, out, x, starts, stops, steps):
    config = []
    for dim, start, stop, step in zip(shape_of(x), starts, stops, steps):
        n = slice_length(start, stop, step)
        last = start + (n - 1) * step + 1 if n else start
        config.append((start, dim - last, step - 1))
    return pad(g, config=tuple(config))


slice_ = define("slice", _slice_impl, _slice_abstract, (_slice_vjp,), family="movement")


def padded_shape(shape, config):
    return tuple(lo + hi + d + max(d - 1, 0) * interior for d, (lo, hi, interior) in zip(shape, config))


def _pad_impl(x, config, value=0):
    out = np.full(padded_shape(x.shape, config), value, dtype=x.dtype)
    out[tuple(slice(lo, lo + (d - 1) * (i + 1) + 1 if d else lo, i + 1)
              for d, (lo, _, i) in zip(x.shape, config))] = x
    return out


def _pad_vjp(g, out, x, config, value=0):
    starts, stops, steps = [], [], []
    for d, (lo, _, interior) in zip(shape_of(x), config):
        starts.append(lo)
        stops.append(lo + (d - 1) * (interior + 1) + 1 if d else lo)
        steps.append(interior + 1)
    return slice_(g, starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))


pad = define("pad", _pad_impl,
             lambda x, config, value=0: Aval(padded_shape(shape_of(x), config), x.dtype),
             (_pad_vjp,), family="movement")


# ---- concat ------------------------------------------------------------------------------------

def _concat_impl(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _concat_abstract(*xs, axis):
    shape = list(shape_of(xs[0]))
    shape[axis] = sum(shape_of(x)[axis] for x in xs)
    return Aval(shape, xs[0].dtype)


def _concat_vjp(g, out, *xs, axis):
    shape = shape_of(g)
    grads, offset = [], 0
    for x in xs:
        n = shape_of(x)[axis]
        starts = tuple(offset if i == axis else 0 for i in range(len(shape)))
        stops = tuple(offset + n if i == axis else d for i, d in enumerate(shape))
        grads.append(slice_(g, starts=starts, stops=stops, steps=(1,) * len(shape)))
        offset += n
    return tuple(grads)


concat = define("concat", _concat_impl, _concat_abstract, _concat_vjp, family="movement")


# ---- take <-> index_add (index_select, advanced indexing on one axis) --------------------------

def _take_impl(x, idx, axis):
    return np.take(x, idx, axis=axis)


def _take_abstract(x, idx, axis):
    shape = shape_of(x)
    return Aval(shape[:axis] + shape_of(idx) + shape[axis + 1:], x.dtype)


def _take_vjp(g, out, x, idx, axis):
    return index_add(full_like(g, shape=shape_of(x), value=0), idx, g, axis=axis)


def _full_like_impl(like, shape, value):
    return np.full(shape, value, dtype=like.dtype)


# `like` only lends its dtype (and, for traced values, the graph): no data flows from it.
full_like = define("full_like", _full_like_impl,
                   lambda like, shape, value: Aval(shape, like.dtype), family="movement")


take = define("take", _take_impl, _take_abstract, (_take_vjp, None), saves=(1,), family="movement")


def _index_add_impl(base, idx, src, axis):
    out = np.array(base, copy=True)
    moved = np.moveaxis(out, axis, 0)
    src_moved = np.moveaxis(src, list(range(axis, axis + np.ndim(idx))), list(range(np.ndim(idx))))
    np.add.at(moved, idx, src_moved)
    return out


index_add = define("index_add", _index_add_impl,
                   lambda base, idx, src, axis: Aval(shape_of(base), base.dtype),
                   (lambda g, out, base, idx, src, axis: g, None,
                    lambda g, out, base, idx, src, axis: take(g, idx, axis=axis)),
                   saves=(1,), family="movement")


# ---- gather <-> scatter_add (torch.gather / scatter_add along one axis) -------------------------

def _along(idx, axis):
    """The NumPy index that reads `idx` along `axis` and position i elsewhere: torch.gather's and
    scatter_add's addressing, where idx may be smaller than the tensor in every dimension."""
    grids = np.indices(idx.shape, sparse=True)
    return tuple(idx if i == axis else grids[i] for i in range(idx.ndim))


def _gather_impl(x, idx, axis):
    return x[_along(idx, axis)]


def _gather_vjp(g, out, x, idx, axis):
    return scatter_add(full_like(g, shape=shape_of(x), value=0), idx, g, axis=axis)


gather = define("gather", _gather_impl, lambda x, idx, axis: Aval(shape_of(idx), x.dtype),
                (_gather_vjp, None), saves=(1,), family="movement")


def _scatter_add_impl(base, idx, src, axis):
    out = np.array(base, copy=True)
    np.add.at(out, _along(idx, axis), src[tuple(slice(0, d) for d in idx.shape)])
    return out


def _scatter_add_vjp_src(g, out, base, idx, src, axis):
    # Only src's leading idx-shaped corner is read; the rest of src gets zeros.
    picked = gather(g, idx, axis=axis)
    if shape_of(idx) == shape_of(src):
        return picked
    return pad(picked, config=tuple((0, s - i, 0) for s, i in zip(shape_of(src), shape_of(idx))))


scatter_add = define("scatter_add", _scatter_add_impl,
                     lambda base, idx, src, axis: Aval(shape_of(base), base.dtype),
                     (lambda g, out, base, idx, src, axis: g, None, _scatter_add_vjp_src),
                     saves=(1,), family="movement")


def _scatter_impl(base, idx, src, axis):
    """torch.scatter: base with src (its leading idx-shaped corner, or a number) written at idx
    along axis; where idx repeats a position, the last write wins, as in PyTorch's CPU kernel."""
    out = np.array(base, copy=True)
    if np.ndim(src):
        src = src[tuple(slice(0, d) for d in idx.shape)]
    out[_along(idx, axis)] = src
    return out


def _scatter_vjp_src(g, out, base, idx, src, axis):
    picked = gather(g, idx, axis=axis)
    if shape_of(idx) == shape_of(src):
        return picked
    return pad(picked, config=tuple((0, s - i, 0) for s, i in zip(shape_of(src), shape_of(idx))))


scatter = define("scatter", _scatter_impl,
                 lambda base, idx, src, axis: Aval(shape_of(base), base.dtype),
                 (lambda g, out, base, idx, src, axis: scatter(g, idx, 0, axis=axis), None,
                  _scatter_vjp_src),
                 saves=(1,), family="movement")
