"""Pooling over the last two dimensions: `F.max_pool2d`, `F.avg_pool2d`,
`F.adaptive_avg_pool2d`, and the composite ops behind them (MaxPool2DWithIndicesBackward0,
AvgPool2DBackward0, AdaptiveAvgPool2DBackward0), written in compiler primitives only.

* A window offset (kh, kw) is one strided slice of the (padded) input, so a pooling forward is
  a chain of elementwise ops over KH*KW slices: the compiler fuses it into one loop nest over
  the output.
* max: PyTorch's CPU kernel scans each window in row-major order and takes an element when it
  is greater than the running maximum or NaN, starting from -inf at the window's first valid
  element: the first maximal element wins a tie, the last NaN wins over everything. The same
  scan, written with `where`, gives the values and the flat indices (h * W + w) PyTorch
  returns; the gradient is scattered back to those indices (scatter_add).
* average: the window sum divided by PyTorch's divisor (count_include_pad, divisor_override,
  windows clipped by ceil_mode). Its gradient is the transpose of the slices: g / divisor,
  spread on a grid dilated by the stride (one pad), read back at KH*KW shifts and summed.
* adaptive average: windows [floor(i*S/O), ceil((i+1)*S/O)); equal windows are an average
  pool, unequal ones two products with 0/1 membership matrices.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np

from ..compiler import dtypes
from ..compiler import primitives as P
from ..compiler.primitive import dtype_of, shape_of
from ..dispatch import Op, apply
from ._conv import _contiguous

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..tensor import Tensor

# ---- geometry ------------------------------------------------------------------------------


def pooling_output_shape(size, kernel, pad, stride, dilation, ceil_mode):
    """ATen's pooling_output_shape, its checks included."""
    if stride == 0:
        raise RuntimeError("stride should not be zero")
    if pad < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {pad}")
    if pad > ((kernel - 1) * dilation + 1) // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                           f"pad={pad}, kernel_size={kernel} and dilation={dilation}")
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) \
        // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _high_padding(size, out, kernel, stride, pad, dilation):
    """Padding past the end that the last window (ceil_mode) reaches."""
    return max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - (size + pad))


def _window_slices(xp, lead, out, kernel, stride, dilation):
    """For every window offset, in row-major order: (offset, the strided slice of the padded
    input `xp` that offset reads for every output position)."""
    nl = len(lead)
    for offset in itertools.product(*(range(k) for k in kernel)):
        starts = (0,) * nl + tuple(o * d for o, d in zip(offset, dilation))
        stops = tuple(lead) + tuple(a + (q - 1) * s + 1 for a, q, s in zip(starts[nl:], out,
                                                                          stride))
        yield offset, P.slice_(xp, starts=starts, stops=stops, steps=(1,) * nl + tuple(stride))


def _padded(x, lead, spatial, out, kernel, stride, padding, dilation, fill):
    config = tuple((p, _high_padding(s, q, k, st, p, d), 0)
                   for s, q, k, st, p, d in zip(spatial, out, kernel, stride, padding, dilation))
    if all(c == (0, 0, 0) for c in config):
        return x
    return P.pad(x, config=((0, 0, 0),) * len(lead) + config, value=fill)


def _spread(g, lead, spatial, out, kernel, stride, padding):
    """The transpose of reading KH*KW strided windows (dilation 1): every input position
    receives the sum of g over the (output position, offset) pairs that read it. g is laid
    on a grid dilated by the stride (D[lo + t*s] = g[t]); position i at offset k reads
    D[lo + i + p - k]."""
    nl = len(lead)
    margins = tuple((max(k - 1 - p, 0), max(s + p - 1 - (q - 1) * st, 0), st - 1)
                    for s, q, k, st, p in zip(spatial, out, kernel, stride, padding))
    d = P.pad(g, config=((0, 0, 0),) * nl + margins) if any(
        m != (0, 0, 0) for m in margins) else g
    total = None
    for offset in itertools.product(*(range(k) for k in kernel)):
        starts = (0,) * nl + tuple(lo + p - o for (lo, _, _), p, o in zip(margins, padding,
                                                                          offset))
        stops = tuple(lead) + tuple(a + s for a, s in zip(starts[nl:], spatial))
        piece = P.slice_(d, starts=starts, stops=stops, steps=(1,) * (nl + len(spatial)))
        total = piece if total is None else total + piece
    return total


def _split(shape):
    return tuple(shape[:-2]), tuple(shape[-2:])


def _is_float(x):
    return dtype_of(x).is_floating_point


# ---- max pooling ---------------------------------------------------------------------------


def _lowest(x):
    dt = dtype_of(x).np
    return float("-inf") if np.issubdtype(dt, np.floating) else int(np.iinfo(dt).min)


def _max_pool_forward(x, kernel, stride, padding, dilation, out_size):
    out = out_size
    lead, spatial = _split(shape_of(x))
    width = spatial[1]
    lowest = _lowest(x)
    xp = _padded(x, lead, spatial, out, kernel, stride, padding, dilation, lowest)
    rows = [np.arange(q) * st - p for q, st, p in zip(out, stride, padding)]
    # PyTorch's starting index: the window's first element inside the input
    first = []
    for r, d in zip(rows, dilation):
        r = r.copy()
        while (r < 0).any():
            r = np.where(r < 0, r + d, r)
        first.append(r)
    start = (first[0][:, None] * width + first[1][None, :]).astype(np.int64)
    best = index = None
    for offset, v in _window_slices(xp, lead, out, kernel, stride, dilation):
        h = rows[0] + offset[0] * dilation[0]
        w = rows[1] + offset[1] * dilation[1]
        position = (h[:, None] * width + w[None, :]).astype(np.int64)
        take = P.gt(v, lowest if best is None else best)
        if _is_float(x):
            take = P.logical_or(take, P.isnan(v))
        if best is None:
            # v > -inf or NaN, else v is -inf (or padding) and so is the running maximum
            best = v
            index = position if np.array_equal(position, start) else P.where(take, position,
                                                                               start)
            continue
        best = P.where(take, v, best)
        index = P.where(take, position, index)
    full = tuple(lead) + tuple(out)
    if shape_of(index) != full:
        index = P.copy(P.broadcast_to(index, shape=full))
    return _contiguous(best), _contiguous(index)


def _max_pool_vjp(g, out, x, kernel, stride, padding, dilation, out_size):
    lead, spatial = _split(shape_of(x))
    n_out = out_size[0] * out_size[1]
    gv = P.reshape(g[0], shape=lead + (n_out,))
    index = P.reshape(out[1], shape=lead + (n_out,))
    base = P.full_like(gv, shape=lead + (spatial[0] * spatial[1],), value=0)
    grad = P.scatter_add(base, index, gv, axis=len(lead))
    return P.reshape(grad, shape=shape_of(x))


MAX_POOL2D = Op("MaxPool2DWithIndicesBackward0", _max_pool_forward, (_max_pool_vjp,),
                saves_out=True, n_outputs=2)


# ---- average pooling -----------------------------------------------------------------------


def _avg_divisors(spatial, out, kernel, stride, padding, count_include_pad, divisor_override):
    """PyTorch's divide factor per output position: a number when it is the same everywhere,
    else an (OH, OW) array."""
    if divisor_override is not None:
        return divisor_override
    per_dim = []
    for s, q, k, st, p in zip(spatial, out, kernel, stride, padding):
        start = np.arange(q) * st - p
        end = np.minimum(start + k, s + p)
        size = end - start
        clipped = np.minimum(end, s) - np.maximum(start, 0)
        per_dim.append(size if count_include_pad else clipped)
    factor = per_dim[0][:, None] * per_dim[1][None, :]
    factor = np.where(factor > 0, factor, 1)  # windows wholly in the padding give 0 anyway
    return int(factor.flat[0]) if (factor == factor.flat[0]).all() else factor


def _divide(total, divisor):
    dt = dtype_of(total)
    if dt.is_floating_point:
        if isinstance(divisor, np.ndarray):
            divisor = divisor.astype(dt.np)
        return P.div(total, divisor)
    # integer tensors: C++ integer division, which truncates toward zero
    quotient = P.trunc(P.div(P.cast(total, dtype=dtypes.float64),
                             np.asarray(divisor, dtype=np.float64)))
    return P.cast(quotient, dtype=dt)


def _avg_pool_forward(x, kernel, stride, padding, out_size, count_include_pad,
                      divisor_override):
    out = out_size
    lead, spatial = _split(shape_of(x))
    xp = _padded(x, lead, spatial, out, kernel, stride, padding, (1, 1), 0)
    total = None
    for _, v in _window_slices(xp, lead, out, kernel, stride, (1, 1)):
        total = v if total is None else total + v
    divisor = _avg_divisors(spatial, out, kernel, stride, padding, count_include_pad,
                            divisor_override)
    return _contiguous(_divide(total, divisor))


def _avg_pool_vjp(g, out, x, kernel, stride, padding, out_size, count_include_pad,
                  divisor_override):
    lead, spatial = _split(shape_of(x))
    divisor = _avg_divisors(spatial, out_size, kernel, stride, padding, count_include_pad,
                            divisor_override)
    g = _divide(g, divisor)
    return _contiguous(_spread(g, lead, spatial, out_size, kernel, stride, padding))


AVG_POOL2D = Op("AvgPool2DBackward0", _avg_pool_forward, (_avg_pool_vjp,))


# ---- adaptive average pooling --------------------------------------------------------------


def _adaptive_windows(size, out):
    starts = [(i * size) // out for i in range(out)]
    ends = [-(-((i + 1) * size) // out) for i in range(out)]
    return starts, ends


def _membership(size, out, dtype):
    starts, ends = _adaptive_windows(size, out)
    m = np.zeros((out, size), dtype=dtype)
    for i, (a, b) in enumerate(zip(starts, ends)):
        m[i, a:b] = 1
    return m, np.asarray([b - a for a, b in zip(starts, ends)])


def _uniform(spatial, out):
    return all(s % q == 0 for s, q in zip(spatial, out))


def _adaptive_forward(x, out_size):
    out = out_size
    lead, spatial = _split(shape_of(x))
    dt = dtype_of(x).np
    if _uniform(spatial, out):
        kernel = tuple(s // q for s, q in zip(spatial, out))
        total = None
        for _, v in _window_slices(x, lead, out, kernel, kernel, (1, 1)):
            total = v if total is None else total + v
        return _contiguous(P.div(P.div(total, kernel[0]), kernel[1]))  # sum / kh / kw
    (mh, kh), (mw, kw) = _membership(spatial[0], out[0], dt), _membership(spatial[1], out[1], dt)
    total = P.matmul(P.matmul(mh, x), np.ascontiguousarray(mw.T))
    return _contiguous(P.div(P.div(total, kh.astype(dt)[:, None]), kw.astype(dt)[None, :]))


def _adaptive_vjp(g, out, x, out_size):
    lead, spatial = _split(shape_of(x))
    dt = dtype_of(g).np
    if _uniform(spatial, out_size):
        kernel = tuple(s // q for s, q in zip(spatial, out_size))
        g = P.div(P.div(g, kernel[0]), kernel[1])
        return _contiguous(_spread(g, lead, spatial, out_size, kernel, kernel, (0, 0)))
    (mh, kh), (mw, kw) = (_membership(spatial[0], out_size[0], dt),
                          _membership(spatial[1], out_size[1], dt))
    g = P.div(P.div(g, kh.astype(dt)[:, None]), kw.astype(dt)[None, :])
    return _contiguous(P.matmul(P.matmul(np.ascontiguousarray(mh.T), g), mw))


ADAPTIVE_AVG_POOL2D = Op("AdaptiveAvgPool2DBackward0", _adaptive_forward, (_adaptive_vjp,))


# ---- argument checking, as ATen's pooling --------------------------------------------------


def _pair_arg(value, name, allow_empty=False):
    """An int or a list of one or two ints; [] (stride omitted) stays []."""
    if isinstance(value, (tuple, list)):
        values = [int(v) for v in value]
    else:
        values = [int(value)]
    return values


def _two(values, default=None):
    if not values:
        return default
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _pool2d_shape_check(input, kernel, stride, padding, dilation, out):
    kh, kw = kernel
    if kw <= 0 or kh <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kh} kW: {kw}")
    if stride[0] <= 0 or stride[1] <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {stride[0]} dW: "
                           f"{stride[1]}")
    if dilation[0] <= 0 or dilation[1] <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: "
                           f"{dilation[0]} dilationW: {dilation[1]}")
    shape = list(input.shape)
    ndim = len(shape)
    valid = ndim >= 3 and shape[1] != 0 and shape[2] != 0
    if not ((ndim == 3 and shape[0] != 0 and valid) or (ndim == 4 and valid and shape[3] != 0)):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                           f"for input, but got:{_shape_str(shape)}")
    if kw // 2 < padding[1] or kh // 2 < padding[0]:
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"padW = {padding[1]}, padH = {padding[0]}, kW = {kw}, kH = {kh}")
    if out[0] < 1 or out[1] < 1:
        raise RuntimeError(f"Given input size: ({shape[-3]}x{shape[-2]}x{shape[-1]}). Calculated "
                           f"output size: ({shape[-3]}x{out[0]}x{out[1]}). Output size is too "
                           f"small")


def _shape_str(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


def _window_args(name, kernel_size, stride, padding):
    """(kernel, stride, padding) of a 2-d pooling call as pairs, with PyTorch's checks and error
    texts (`name` is the function they name; stride defaults to the kernel)."""
    kernel = _pair_arg(kernel_size, "kernel_size")
    if len(kernel) not in (1, 2):
        raise RuntimeError(f"{name}: kernel_size must either be a single int, or a tuple of "
                           "two ints")
    kernel = _two(kernel)
    stride = [] if stride is None else _pair_arg(stride, "stride")
    if len(stride) not in (0, 1, 2):
        raise RuntimeError(f"{name}: stride must either be omitted, a single int, or a tuple "
                           "of two ints")
    stride = _two(stride, kernel)
    padding = _pair_arg(padding, "padding")
    if len(padding) not in (1, 2):
        raise RuntimeError(f"{name}: padding must either be a single int, or a tuple of two "
                           "ints")
    padding = _two(padding)
    return kernel, stride, padding


def max_pool2d_with_indices(input: Tensor, kernel_size: int | Sequence[int],
                            stride: int | Sequence[int] | None = None,
                            padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                            ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """Max over KH x KW windows of the last two dimensions; (values, indices): each maximum's
    flat position h * W + w in its plane."""
    kernel, stride, padding = _window_args("max_pool2d", kernel_size, stride, padding)
    dilation = _pair_arg(dilation, "dilation")
    if len(dilation) not in (1, 2):
        raise RuntimeError("max_pool2d: dilation must be either a single int, or a tuple of two "
                           "ints")
    dilation = _two(dilation)
    if input.ndim not in (3, 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    spatial = tuple(input.shape[-2:])
    out = tuple(pooling_output_shape(s, k, p, st, d, ceil_mode)
                for s, k, p, st, d in zip(spatial, kernel, padding, stride, dilation))
    _pool2d_shape_check(input, kernel, stride, padding, dilation, out)
    values, indices = apply(MAX_POOL2D, (input,),
                            {"kernel": kernel, "stride": stride, "padding": padding,
                             "dilation": dilation, "out_size": out})
    return values, indices


def max_pool2d(input: Tensor, kernel_size: int | Sequence[int],
               stride: int | Sequence[int] | None = None, padding: int | Sequence[int] = 0,
               dilation: int | Sequence[int] = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum over kernel_size windows of the last two dimensions of (N, C, H, W) or (C, H, W)
    input, as F.max_pool2d (stride defaults to kernel_size; padding counts as -inf; ceil_mode
    lets the last window hang over). With return_indices=True, (values, indices) as
    max_pool2d_with_indices; ties and NaN pick PyTorch's index."""
    values, indices = max_pool2d_with_indices(input, kernel_size, stride, padding, dilation,
                                              ceil_mode)
    return (values, indices) if return_indices else values


def avg_pool2d(input: Tensor, kernel_size: int | Sequence[int],
               stride: int | Sequence[int] | None = None, padding: int | Sequence[int] = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over KH x KW windows of the last two dimensions."""
    kernel, stride, padding = _window_args("avg_pool2d", kernel_size, stride, padding)
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError("divisor must be not zero")
    if input.ndim < 3:
        from ..tensor import _wrap_dim

        _wrap_dim(-3, input.ndim)  # PyTorch's IndexError
    spatial = tuple(input.shape[-2:])
    out = tuple(pooling_output_shape(s, k, p, st, 1, ceil_mode)
                for s, k, p, st in zip(spatial, kernel, padding, stride))
    _pool2d_shape_check(input, kernel, stride, padding, (1, 1), out)
    if input.dtype is dtypes.bool_:
        raise NotImplementedError('"avg_pool2d" not implemented for \'Bool\'')
    return apply(AVG_POOL2D, (input,),
                 {"kernel": kernel, "stride": stride, "padding": padding, "out_size": out,
                  "count_include_pad": bool(count_include_pad),
                  "divisor_override": None if divisor_override is None else int(divisor_override)})


def _adaptive_output_size(input, output_size):
    if isinstance(output_size, (tuple, list)):
        sizes = list(output_size)
    else:
        sizes = [output_size, output_size]
    if len(sizes) != 2:
        raise RuntimeError("adaptive_avg_pool2d: output_size must be 2")
    # None keeps the input's size (PyTorch's _list_with_default)
    return [input.shape[-2 + i] if s is None else int(s) for i, s in enumerate(sizes)]


def adaptive_avg_pool2d(input: Tensor, output_size: int | Sequence[int | None]) -> Tensor:
    """Average over windows [floor(i*S/O), ceil((i+1)*S/O)) giving an O_h x O_w output."""
    out = _adaptive_output_size(input, output_size)
    if any(s < 0 for s in out):
        raise RuntimeError(f"adaptive_avg_pool2d: elements of output_size must be greater than or "
                           f"equal to 0 but received {{{out[0]}, {out[1]}}}")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                           f"{_shape_str(list(input.shape))}")
    for i in range(1, input.ndim):
        if input.shape[i] == 0:
            raise RuntimeError(f"adaptive_avg_pool2d(): Expected input to have non-zero size for "
                               f"non-batch dimensions, but input has sizes "
                               f"{_shape_str(list(input.shape))} with dimension {i} being empty")
    if not input.dtype.is_floating_point:
        from ..ops.reduction import _scalar_type_name

        raise NotImplementedError(f'"adaptive_avg_pool2d" not implemented for '
                                  f"'{_scalar_type_name(input.dtype)}'")
    if out == [1, 1]:
        return input.mean((-1, -2), keepdim=True)  # PyTorch's shortcut: MeanBackward1
    if 0 in out:
        return input.new_zeros(tuple(input.shape[:-2]) + tuple(out))
    return apply(ADAPTIVE_AVG_POOL2D, (input,), {"out_size": tuple(out)})
