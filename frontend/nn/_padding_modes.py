"""`F.pad` with mode "reflect", "replicate" or "circular" (what Conv's padding_mode uses).

Each mode maps every output position along a padded dimension to the input position it copies:
reflect mirrors about the edge element, replicate clamps to the edge, circular wraps around. So
the pad is `take` along each padded dimension with a constant index map, and its gradient is
`index_add` back through the same maps (repeated positions sum), one autograd node with
PyTorch's name: ReflectionPad{1,2,3}DBackward0, ReplicationPad{1,2,3}DBackward0. PyTorch's
circular pad is a chain of slice copies whose last node is CopySlices; here it is one node
named so.
"""
import numpy as np

from ..compiler import primitives as P
from ..compiler.primitive import shape_of
from ..dispatch import Op, apply


def _index_map(mode, size, lo, hi):
    positions = np.arange(-lo, size + hi)
    if mode == "reflect":
        positions = np.abs(positions)
        positions = np.where(positions >= size, 2 * (size - 1) - positions, positions)
    elif mode == "replicate":
        positions = np.clip(positions, 0, size - 1)
    else:  # PyTorch crops first (negative padding), then wraps around what is left
        start, kept = max(-lo, 0), size - max(-lo, 0) - max(-hi, 0)
        positions = start + (np.arange(size + lo + hi) - max(lo, 0)) % kept
    return tuple(int(p) for p in positions)


def _forward(x, maps):
    if not maps:
        return P.copy(x)
    for axis, positions in maps:
        x = P.take(x, np.asarray(positions, dtype=np.int64), axis=axis)
    return x


def _vjp(g, out, x, maps):
    shapes = [tuple(shape_of(x))]
    for axis, positions in maps[:-1]:
        shape = list(shapes[-1])
        shape[axis] = len(positions)
        shapes.append(tuple(shape))
    for (axis, positions), shape in zip(reversed(maps), reversed(shapes)):
        zeros = P.full_like(g, shape=shape, value=0)
        g = P.index_add(zeros, np.asarray(positions, dtype=np.int64), g, axis=axis)
    return g


_OPS = {}


def _op(mode, dims):
    name = "CopySlices" if mode == "circular" else (
        f"{'Reflection' if mode == 'reflect' else 'Replication'}Pad{dims}DBackward0")
    op = _OPS.get(name)
    if op is None:
        op = _OPS[name] = Op(name, _forward, (_vjp,))
    return op


def _unsupported(pad, ndim):
    return NotImplementedError(
        f"Padding size {len(pad)} is not supported for {ndim}D input tensor.\n"
        "Supported combinations for non-constant padding:\n"
        "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
        "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
        "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def pad(input, pad, mode, value=None):
    """F.pad for the non-constant modes (pad runs from the last dimension backwards)."""
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    ndim = input.ndim
    dims = len(pad) // 2
    if dims not in (1, 2, 3) or ndim not in (dims + 1, dims + 2):
        raise _unsupported(pad, ndim)
    shape = list(input.shape)
    if mode != "circular" and 0 in shape[-(dims + 1):]:
        raise RuntimeError(_empty_message(dims, shape))
    maps = []
    for i in range(dims):
        axis = ndim - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        size = shape[axis]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {axis} of input {shape}")
        if mode == "circular" and (lo > size or hi > size):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if size + lo + hi < 0 or (mode == "replicate" and size + lo + hi <= 0):
            raise RuntimeError(f"input (H: {size}) is too small. Calculated output H: "
                               f"{size + lo + hi}")
        if lo or hi:
            maps.append((axis, _index_map(mode, size, lo, hi)))
    return apply(_op(mode, dims), (input,), {"maps": tuple(maps)})


def _empty_message(dims, shape):
    if dims == 1:
        kind = "2D or 3D"
    elif dims == 2:
        kind = "3D or 4D"
    else:
        kind = "4D or 5D"
    return (f"Expected {kind} (batch mode) tensor with possibly 0 batch size and other non-zero "
            f"dimensions for input, but got: {shape}")
