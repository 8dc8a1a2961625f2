"""Convolution: `F.conv1d`, `F.conv2d` and the composite op behind them (ConvolutionBackward0).

The op is written in compiler primitives only (so eager autograd, `create_graph=True` and the
compiler's autodiff run the same rules). With N the batch, C/O the input/output channels, G the
groups, K the kernel's spatial extents and S/Q the input/output spatial extents:

* forward (im2col): the input is padded once; each kernel offset is one strided slice of it,
  laid out (C, 1, N, *Q); their concat is the column matrix (C, KK, N, *Q) = (G, C/G*KK, N*QQ),
  and one GEMM per group, W (G, O/G, C/G*KK) @ cols, gives the output in (O, N, *Q) layout;
  a permute, which consumers read through, makes it (N, O, *Q), and the bias is added there
  (fused into the output's consumer). The compiler materializes the column matrix once (the
  concat kernel) and calls its packed GEMM on it. A stride-1 2-d convolution whose output is
  wide next to the kernel's reach builds flat columns instead (`_im2col`): each kernel offset
  is one contiguous run of the padded input, over a grid as wide as the padded input; the
  GEMM's extra columns are dropped (forward) or meet zeros (weight gradient).
* weight gradient: g laid out (O, N*QQ) @ cols^T, one GEMM over the whole batch.
* input gradient (col2im): W^T @ D, where D is g laid out (O, N, *Q) and padded (dilated by
  the stride, with the margin the kernel reaches out), gives every kernel offset's
  contribution on a grid where it only needs shifting; the input gradient is the sum of KK
  shifted slices of that product: one fused loop, no scatter.
* bias gradient: g summed over every axis but the channels.
"""
import itertools
import warnings

import numpy as np

from ..compiler import primitives as P
from ..compiler.primitive import dtype_of, numel, shape_of
from ..dispatch import Op, apply

# ---- shapes --------------------------------------------------------------------------------


def output_extent(size, kernel, stride, padding, dilation):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _contiguous(v):
    """Eager results are C-contiguous, as PyTorch's (a `.view` after a conv must work); traced
    values have no layout, so nothing is recorded for them."""
    if type(v) is np.ndarray and not v.flags.c_contiguous:
        return P.copy(v)
    return v


def _geometry(x_shape, w_shape, stride, padding, dilation):
    spatial = tuple(x_shape[2:])
    kernel = tuple(w_shape[2:])
    out = tuple(output_extent(s, k, st, p, d)
                for s, k, st, p, d in zip(spatial, kernel, stride, padding, dilation))
    return spatial, kernel, out


def _offsets(kernel):
    return list(itertools.product(*(range(k) for k in kernel)))


def _flat_columns(spatial, kernel, out, stride, padding):
    """Whether the column matrix of a stride-1 2-d convolution is built over the padded width
    (see `_im2col`): worth it when the extra columns are few."""
    if len(kernel) != 2 or any(s != 1 for s in stride):
        return False
    padded_width = spatial[1] + 2 * padding[1]
    return 4 * (padded_width - out[1]) <= out[1]


def _grid(spatial, kernel, out, stride, padding):
    """The output grid the GEMM computes: the output itself, or for flat columns every
    position of the padded width (the columns past the output's width are discarded)."""
    if _flat_columns(spatial, kernel, out, stride, padding):
        return (out[0], spatial[1] + 2 * padding[1])
    return tuple(out)


def _im2col(x, kernel, out, stride, padding, dilation, groups):
    """The column matrix (G, C/G * KK, N * grid) of `x` (N, C, *S): row c*KK + k holds channel
    c read at kernel offset k, for every batch element and output position.

    A stride-1 2-d convolution reads each kernel offset as one contiguous run of the padded
    input laid flat (row by row, all of the padded width): offset (kh, kw) of output position
    (h, w) is element (h + kh*dh) * Wp + w + kw*dw, so the columns of a (channel, batch
    element) are one slice of length OH * Wp, copied with long vector runs; the outputs at
    w >= OW are computed and dropped."""
    n, c = shape_of(x)[:2]
    spatial = tuple(shape_of(x)[2:])
    nd = len(kernel)
    to_channels_first = (1, 0) + tuple(range(2, 2 + nd))
    pieces = []
    if _flat_columns(spatial, kernel, out, stride, padding):
        (h, _), (ph, pw), (dh, dw) = spatial, padding, dilation
        width = spatial[1] + 2 * pw
        length = out[0] * width
        span = (kernel[0] - 1) * dh * width + (kernel[1] - 1) * dw + length
        rows = max(h + 2 * ph, -(-span // width))
        x = P.pad(x, config=((0, 0, 0), (0, 0, 0), (ph, rows - h - ph, 0), (pw, pw, 0)))
        flat = P.reshape(x, shape=(n, c, rows * width))
        # grid positions past the output's width would read input elements their kernel
        # offset never meets: zeros instead, so an inf or NaN there cannot reach the weight
        # gradient (as 0 * inf) where PyTorch's stays finite
        inside = np.arange(length) % width < out[1]
        for kh, kw in _offsets(kernel):
            start = kh * dh * width + kw * dw
            piece = P.slice_(flat, starts=(0, 0, start), stops=(n, c, start + length),
                             steps=(1, 1, 1))
            piece = P.where(inside, piece, 0)
            piece = P.permute(piece, perm=(1, 0, 2))
            pieces.append(P.reshape(piece, shape=(c, 1, n, length)))
        grid = (length,)
    else:
        if any(padding):
            x = P.pad(x, config=((0, 0, 0), (0, 0, 0)) + tuple((p, p, 0) for p in padding))
        for offset in _offsets(kernel):
            starts = (0, 0) + tuple(o * d for o, d in zip(offset, dilation))
            stops = (n, c) + tuple(a + (q - 1) * s + 1
                                   for a, q, s in zip(starts[2:], out, stride))
            piece = P.slice_(x, starts=starts, stops=stops, steps=(1, 1) + tuple(stride))
            piece = P.permute(piece, perm=to_channels_first)
            pieces.append(P.reshape(piece, shape=(c, 1, n) + tuple(out)))
        grid = tuple(out)
    cols = P.concat(*pieces, axis=1) if len(pieces) > 1 else pieces[0]
    if type(cols) is np.ndarray:
        cols = np.ascontiguousarray(cols)  # eager: the GEMM operand below is a plain matrix
    return P.reshape(cols, shape=(groups, c // groups * numel(kernel), n * numel(grid)))


def _grouped_weight(w, groups):
    o = shape_of(w)[0]
    return P.reshape(w, shape=(groups, o // groups, numel(shape_of(w)[1:])))


def _drop_groups(v, groups):
    """A (1, m, n) operand of a single-group convolution as the (m, n) matrix it is (one GEMM
    call, no batch loop)."""
    return P.reshape(v, shape=shape_of(v)[1:]) if groups == 1 else v


def _weight_matrix(w, groups):
    """The weight as the GEMM's (G, O/G, C/G * KK) operand (a view of it)."""
    o = shape_of(w)[0]
    k = numel(shape_of(w)[1:])
    return P.reshape(w, shape=(o, k) if groups == 1 else (groups, o // groups, k))


def _conv_forward(x, w, b, stride, padding, dilation, groups):
    n = shape_of(x)[0]
    o = shape_of(w)[0]
    spatial, kernel, out = _geometry(shape_of(x), shape_of(w), stride, padding, dilation)
    grid = _grid(spatial, kernel, out, stride, padding)
    cols = _drop_groups(_im2col(x, kernel, out, stride, padding, dilation, groups), groups)
    y = P.reshape(P.matmul(_weight_matrix(w, groups), cols), shape=(o, n) + grid)
    if grid != tuple(out):
        y = P.slice_(y, starts=(0,) * len(shape_of(y)), stops=(o, n) + tuple(out),
                     steps=(1,) * len(shape_of(y)))
    y = P.permute(y, perm=(1, 0) + tuple(range(2, 2 + len(out))))
    if b is not None:
        # added where the output is read (the GEMM's own bias epilogue costs more here)
        y = y + P.reshape(b, shape=(1, o) + (1,) * len(out))
    return _contiguous(y)


def _channels_first(g, grid, groups):
    """g (N, O, *Q) as the matrix (G, O/G, N * grid), in memory (a GEMM operand); positions of
    the grid outside the output are zeros."""
    shape = shape_of(g)
    nd = len(shape) - 2
    gt = P.permute(g, perm=(1, 0) + tuple(range(2, 2 + nd)))
    if grid != tuple(shape[2:]):
        gt = P.pad(gt, config=((0, 0, 0), (0, 0, 0)) + tuple(
            (0, e - q, 0) for e, q in zip(grid, shape[2:])))
    else:
        gt = P.copy(gt)
    return P.reshape(gt, shape=(groups, shape[1] // groups, shape[0] * numel(grid)))


def _conv_vjp_weight(g, out, x, w, b, stride, padding, dilation, groups):
    spatial, kernel, q = _geometry(shape_of(x), shape_of(w), stride, padding, dilation)
    grid = _grid(spatial, kernel, q, stride, padding)
    cols = _drop_groups(_im2col(x, kernel, q, stride, padding, dilation, groups), groups)
    gm = _drop_groups(_channels_first(g, grid, groups), groups)
    return P.reshape(P.matmul(gm, P.transpose_last2(cols)), shape=shape_of(w))


def _conv_vjp_bias(g, out, x, w, b, stride, padding, dilation, groups):
    nd = len(shape_of(g)) - 2
    return P.reduce_sum(g, axes=(0,) + tuple(range(2, 2 + nd)), keepdims=False)


def _conv_vjp_input(g, out, x, w, b, stride, padding, dilation, groups):
    x_shape = shape_of(x)
    n, c = x_shape[:2]
    o = shape_of(w)[0]
    spatial, kernel, q = _geometry(x_shape, shape_of(w), stride, padding, dilation)
    nd = len(kernel)
    # D[lo + t*s] = g[t] along each spatial axis: input position i at kernel offset k reads
    # D[lo + i + p - k*d] (zero where no output position uses that pair).
    margins = []
    for size, k, qq, s, p, d in zip(spatial, kernel, q, stride, padding, dilation):
        lo = max((k - 1) * d - p, 0)
        hi = max(size + p - 1 - (qq - 1) * s, 0)
        margins.append((lo, hi, s - 1))
    gt = P.permute(g, perm=(1, 0) + tuple(range(2, 2 + nd)))  # (O, N, *Q)
    if any(m != (0, 0, 0) for m in margins):
        gt = P.pad(gt, config=((0, 0, 0), (0, 0, 0)) + tuple(margins))
    else:
        gt = P.copy(gt)
    dshape = shape_of(gt)[2:]
    dm = P.reshape(gt, shape=(groups, o // groups, n * numel(dshape)))
    wt = P.transpose_last2(_weight_matrix(w, groups))  # (G, C/G*KK, O/G): a view
    contrib = P.matmul(wt, _drop_groups(dm, groups))
    contrib = P.reshape(contrib, shape=(c,) + tuple(kernel) + (n,) + tuple(dshape))
    total = None
    for offset in _offsets(kernel):
        starts = (0,) + offset + (0,) + tuple(
            lo + p - k * d for (lo, _, _), p, k, d in zip(margins, padding, offset, dilation))
        stops = (c,) + tuple(k + 1 for k in offset) + (n,) + tuple(
            a + size for a, size in zip(starts[2 + nd:], spatial))
        piece = P.slice_(contrib, starts=starts, stops=stops, steps=(1,) * (2 * nd + 2))
        piece = P.reshape(piece, shape=(c, n) + tuple(spatial))
        total = piece if total is None else total + piece
    return _contiguous(P.permute(total, perm=(1, 0) + tuple(range(2, 2 + nd))))


CONVOLUTION = Op("ConvolutionBackward0", _conv_forward,
                 (_conv_vjp_input, _conv_vjp_weight, _conv_vjp_bias), saves=(0, 1))


# ---- argument checking, as ATen's convolution ---------------------------------------------


def _ints(value, n, name):
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _expand(values, name, dim):
    """expand_param_if_needed: one value for every spatial dimension, or one each."""
    values = list(values)
    if len(values) == 1:
        return tuple(values) * dim
    if len(values) != dim:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {dim} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={values}")
    return tuple(values)


def _as_list(value, n=1):
    """An int argument as the binding layer passes it (int[n]: repeated n times), a list as
    given."""
    return list(value) if isinstance(value, (tuple, list)) else [value] * n


def _torch_dtype_name(dtype):
    return {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool"}.get(dtype.name, dtype.name)


def _scalar_name(dtype):
    from ..ops.reduction import _scalar_type_name

    return _scalar_type_name(dtype)


def _sizes(t):
    return list(t.shape)


def _check_shape_forward(input, weight, bias, stride, padding, dilation, groups):
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    k = input.ndim
    wsizes = _sizes(weight)
    if len(wsizes) != k:
        raise RuntimeError(f"Expected {len(wsizes)}-dimensional input for {len(wsizes)}-dimensional "
                           f"weight {wsizes}, but got {k}-dimensional input of size "
                           f"{_sizes(input)} instead")
    if wsizes[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {wsizes} instead")
    if wsizes[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size [{wsizes}] instead")
    if input.shape[1] != wsizes[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {wsizes}, expected input"
                           f"{_sizes(input)} to have {wsizes[1] * groups} channels, but got "
                           f"{input.shape[1]} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != wsizes[0]):
        raise RuntimeError(f"Given weight of size {wsizes}, expected bias to be 1-dimensional with "
                           f"{wsizes[0]} elements, but got bias of size {_sizes(bias)} instead")
    padded = [input.shape[i] + 2 * padding[i - 2] for i in range(2, k)]
    extent = [dilation[i - 2] * (wsizes[i] - 1) + 1 for i in range(2, k)]
    if any(a < b for a, b in zip(padded, extent)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, extent))}). Kernel size can't be greater than "
                           f"actual input size")
    if weight.dtype is not input.dtype:
        raise RuntimeError(f"expected scalar type {_scalar_name(input.dtype)} but found "
                           f"{_scalar_name(weight.dtype)}")


def _same_padding(input, weight, stride, dilation):
    """_convolution_same: each side's padding; the input padded first (ConstantPadNdBackward0)
    where an even kernel needs one more on the right."""
    k = weight.ndim
    dim = k - 2
    if k != input.ndim:
        raise RuntimeError(f"Expected {k}-dimensional input for {k}-dimensional weight"
                           f"{_sizes(weight)}, but got {input.ndim}-dimensional input of size "
                           f"{_sizes(input)} instead")
    if len(stride) not in (dim, 1):
        raise RuntimeError(f"stride cannot broadcast to {dim} dimensions")
    if len(dilation) not in (dim, 1):
        raise RuntimeError(f"dilation cannot broadcast to {dim} dimensions")
    if any(s != 1 for s in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    left, extra = [], []
    for i in range(dim):
        d = dilation[0] if len(dilation) == 1 else dilation[i]
        total = d * (weight.shape[i + 2] - 1)
        left.append(total // 2)
        extra.append(total - total // 2 - total // 2)
    if any(extra):
        _warn_same_once()
        pads = [0] * (2 * dim)
        for i in range(dim):
            pads[2 * (dim - 1 - i) + 1] = extra[i]
        from . import functional as F

        input = F.pad(input, pads)
    return input, tuple(left)


_WARNED = []


def _warn_same_once():
    if not _WARNED:
        _WARNED.append(True)
        warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require "
                      "a zero-padded copy of the input be created", UserWarning, stacklevel=5)


def _convolution(input, weight, bias, stride, padding, dilation, groups, name, spatial_dims):
    if bias is not None and bias.dtype is not input.dtype:
        raise RuntimeError(f"Input type ({_torch_dtype_name(input.dtype)}) and bias type "
                           f"({_torch_dtype_name(bias.dtype)}) should be the same")
    if input.ndim not in (spatial_dims + 1, spatial_dims + 2):
        raise RuntimeError(f"Expected {spatial_dims + 1}D (unbatched) or {spatial_dims + 2}D "
                           f"(batched) input to {name}, but got input of size: {_sizes(input)}")
    batched = input.ndim == spatial_dims + 2
    if not batched:
        input = input.unsqueeze(0)
    if weight.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions")
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    dim = weight.ndim - 2
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * dim
        elif padding == "same":
            input, padding = _same_padding(input, weight, _as_list(stride, spatial_dims),
                                           _as_list(dilation, spatial_dims))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    stride = _expand(_as_list(stride, spatial_dims), "stride", dim)
    padding = _expand(_as_list(padding, spatial_dims), "padding", dim)
    dilation = _expand(_as_list(dilation, spatial_dims), "dilation", dim)
    _check_shape_forward(input, weight, bias, stride, padding, dilation, groups)
    out = apply(CONVOLUTION, (input, weight, bias),
                {"stride": tuple(int(s) for s in stride),
                 "padding": tuple(int(p) for p in padding),
                 "dilation": tuple(int(d) for d in dilation), "groups": groups})
    return out if batched else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution (cross-correlation) over (N, C, L) or (C, L) input."""
    return _convolution(input, weight, bias, stride, padding, dilation, groups, "conv1d", 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) over (N, C, H, W) or (C, H, W) input."""
    return _convolution(input, weight, bias, stride, padding, dilation, groups, "conv2d", 2)
