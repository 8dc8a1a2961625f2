"""`llgrad.nn.functional`: activations, losses, normalization, embedding, dropout, padding.

Argument checking and PyTorch's decompositions live here; the differentiable work is done by
llgrad ops (`llgrad.ops`) and by the composite ops of `llgrad.nn._ops`.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import random as _random
from .. import tracing
from ..autograd.grad_mode import no_grad
from ..compiler import dtypes
from ..compiler.primitive import broadcast_shapes
from ..dispatch import apply
from ..ops import creation, elementwise, indexing, shape
from ..ops import reduction as _red
from ..ops.linalg import linear  # noqa: F401 (F.linear)
from ..tensor import _wrap_dim
from . import _ops
from ._conv import conv1d, conv2d  # noqa: F401
from ._pooling import (adaptive_avg_pool2d, avg_pool2d, max_pool2d,  # noqa: F401
                       max_pool2d_with_indices)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._typing import DTypeLike
    from ..tensor import Tensor


# ---- activations -------------------------------------------------------------------------------

sigmoid = elementwise.sigmoid
tanh = elementwise.tanh


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise (in place with `inplace=True`), as torch.nn.functional.relu."""
    return input.relu_() if inplace else elementwise.relu(input)


def relu_(input: Tensor) -> Tensor:
    """relu in place: `input` becomes max(input, 0); returns it."""
    return input.relu_()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """The Gaussian error linear unit x * Phi(x): exact (`approximate='none'`) or with PyTorch's
    tanh approximation (`approximate='tanh'`), as F.gelu."""
    return elementwise.gelu(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (the swish), as F.silu."""
    out = elementwise.silu(input)
    return input.copy_(out) if inplace else out


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x, as F.leaky_relu."""
    out = elementwise.leaky_relu(input, negative_slope)
    return input.copy_(out) if inplace else out


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1), as F.elu."""
    out = elementwise.elu(input, alpha)
    return input.copy_(out) if inplace else out


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold, as F.softplus."""
    return elementwise.softplus(input, beta, threshold)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val], as F.hardtanh (the gradient is zero outside the interval
    and at its ends, as PyTorch's)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    out = apply(_ops.HARDTANH, (input,), {"min_val": min_val, "max_val": max_val})
    return input.copy_(out) if inplace else out


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6), as F.relu6."""
    return hardtanh(input, 0.0, 6.0, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed stably, as F.logsigmoid."""
    return apply(_ops.LOG_SIGMOID, (input,))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|), as F.softsign."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x), as F.tanhshrink."""
    return input - input.tanh()


def _implicit_dim_warning(name):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", UserWarning, stacklevel=3)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: DTypeLike = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim`, as F.softmax; `dtype` casts the input first. Without `dim`
    it warns and picks one, as PyTorch."""
    if dim is None:
        _implicit_dim_warning("softmax")
    return _red.softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: DTypeLike = None) -> Tensor:
    """softmax(-x) along `dim`, as F.softmin."""
    if dim is None:
        _implicit_dim_warning("softmin")
    return _red.softmax(-input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: DTypeLike = None) -> Tensor:
    """log(softmax(x)) along `dim`, computed stably, as F.log_softmax; pair it with nll_loss (or
    use cross_entropy)."""
    if dim is None:
        _implicit_dim_warning("log_softmax")
    return _red.log_softmax(input, dim, dtype=dtype)


# ---- dropout -----------------------------------------------------------------------------------

def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p), drawing the same
    mask as PyTorch on the CPU for the same seed; the result is `input * mask` (MulBackward0)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        mask = creation.zeros((), dtype=input.dtype)
    else:
        shape_, dtype = tuple(input.shape), input.dtype
        # Drawn now in eager mode; inside llgrad.compile, drawn afresh at every call.
        mask = tracing.random_tensor(lambda: _random.default_generator.dropout_mask(
            shape_, p, dtype.np, scaled=True), shape_, dtype)
    return input.mul_(mask) if inplace else input * mask


# ---- linear algebra helpers --------------------------------------------------------------------

def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p over dim, eps)."""
    denom = _vector_norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is not None:  # PyTorch: torch.div(input, denom, out=out)
        from ..ops import _args

        _args.check_out_autograd("div", out, (input, denom))
        return _args.write_out(out, input / denom)
    return input / denom


def _vector_norm(input, ord, dim, keepdim):
    axes = (tuple(range(input.ndim)) if dim is None else
            tuple(sorted({_wrap_dim(d, input.ndim) for d in
                          (dim if isinstance(dim, (tuple, list)) else (dim,))})))
    return apply(_ops.VECTOR_NORM, (input,), {"ord": ord, "axes": axes, "keepdims": keepdim})


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (an int64 tensor) as one-hot int64 vectors of length `num_classes` (-1: the
    largest index + 1), a new last dimension, as F.one_hot."""
    if tensor.dtype is not dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    data = tensor._concrete("one_hot()")
    if data.size and data.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes != -1 and data.size and data.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return indexing.one_hot(tensor, num_classes)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad (or, with negative sizes, crop) the last len(pad)//2 dimensions; constant mode."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    if mode != "constant":
        from ._padding_modes import pad as _pad_mode

        return _pad_mode(input, pad, mode, value)
    shape_ = tuple(input.shape)
    for i in range(len(pad) // 2):
        d = input.ndim - 1 - i
        new = shape_[d] + pad[2 * i] + pad[2 * i + 1]
        if new < 0:
            raise RuntimeError(f"The input size {shape_[d]}, plus negative padding "
                               f"{pad[2 * i]} and {pad[2 * i + 1]} resulted in a negative output "
                               f"size, which is invalid. Check dimension {d} of your input.")
    fill = 0 if value is None else value
    return apply(_ops.CONSTANT_PAD, (input,), {"pads": pad, "value": fill})


# ---- normalization, embedding ------------------------------------------------------------------

def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalizes over the last dimensions `normalized_shape` to zero mean and unit variance
    (biased variance, `eps` added), then scales by `weight` and shifts by `bias` if given, as
    F.layer_norm."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with "
                           f"shape [*, {', '.join(map(str, normalized_shape))}], but got input of "
                           f"size{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(normalized_shape)}")
    axes = tuple(range(input.ndim - k, input.ndim))
    return apply(_ops.LAYER_NORM, (input, weight, bias), {"axes": axes, "eps": eps})


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel (dim 1): by the batch's statistics when training (then updating
    the running statistics given, in place), by the running statistics otherwise."""
    if training:
        size = list(input.shape)
        values = size[0]
        for d in size[2:]:
            values *= d
        if values == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    axes = (0,) + tuple(range(2, input.ndim))
    channels = input.shape[1] if input.ndim > 1 else 0
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    if training or running_mean is None or running_var is None:
        if training and running_mean is not None and running_var is not None:
            _update_running_stats(input, running_mean, running_var, axes, momentum)
        return apply(_ops.BATCH_NORM_TRAIN, (input, weight, bias), {"axes": axes, "eps": eps})
    return apply(_ops.BATCH_NORM_EVAL, (input, weight, bias, running_mean, running_var),
                 {"axes": axes, "eps": eps})


def _update_running_stats(input, running_mean, running_var, axes, momentum):
    """running = (1 - momentum) * running + momentum * batch statistic, the variance unbiased
    (PyTorch's update), in place and outside autograd."""
    with no_grad():
        x = input.detach()
        running_mean.mul_(1 - momentum).add_(_red.mean(x, axes) * momentum)
        running_var.mul_(1 - momentum).add_(_red.var(x, axes, correction=1) * momentum)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` at the integer indices `input` (a lookup table), as F.embedding.
    `padding_idx`'s row gets no gradient; `max_norm` renormalizes the rows used, in place;
    `scale_grad_by_freq` divides each row's gradient by its count in the batch. `sparse` is
    accepted and ignored: the gradient is always dense."""
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= weight.size(0):
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -weight.size(0):
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = weight.size(0) + padding_idx
    if input.dtype not in (dtypes.int64, dtypes.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the "
                           "following scalar types: Long, Int; but got "
                           f"{_type_name(input)} instead (while checking arguments for "
                           "embedding)")
    indices = input._data
    if type(indices) is np.ndarray and indices.size and (
            indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    return apply(_ops.EMBEDDING, (weight, input),
                 {"padding_idx": padding_idx, "scale_grad_by_freq": scale_grad_by_freq})


def _type_name(t):
    from ..tensor import torch_type_name

    return torch_type_name(t.dtype.np)


def _embedding_renorm_(weight, input, max_norm, norm_type):
    """Rescale, in place and without autograd, the rows `input` reads whose norm exceeds
    max_norm (embedding_renorm_)."""
    with no_grad():
        rows = np.unique(input._concrete("embedding(max_norm=...)"))
        data = weight._concrete("embedding(max_norm=...)")
        for row in rows:
            norm = np.linalg.norm(data[row].astype(np.float64), ord=norm_type)
            if norm > max_norm:
                data[row] *= data.dtype.type(max_norm / (norm + 1e-7))
        weight._bump_version()


# ---- losses ------------------------------------------------------------------------------------

_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce):
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='"
                  f"{_legacy_string(size_average, reduce)}' instead.", UserWarning, stacklevel=3)
    return _legacy_string(size_average, reduce)


def _legacy_string(size_average, reduce):
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduction(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _check_reduction(reduction)


def _warn_size_mismatch(input, target):
    if target.size() != input.size():
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size "
                      f"({input.size()}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)


def _broadcast_pair(a, b):
    """broadcast_tensors that leaves a tensor alone when it already has the shape, as ATen's
    expand_outplace does (so no ExpandBackward0 appears for equal shapes)."""
    target = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    a = a if tuple(a.shape) == target else a.expand(target)
    b = b if tuple(b.shape) == target else b.expand(target)
    return a, b


def _weighted_loss(errors, weight, input, reduction):
    if weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")
    weighted = errors * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return _sum(weighted)
    return _sum(weighted) / _sum(weight)


def _sum(t):
    return _red.sum(t)


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """The squared error (input - target)^2, averaged (`reduction='mean'`), summed ('sum') or per
    element ('none'), as F.mse_loss; `weight` scales each element. `size_average`/`reduce` are
    PyTorch's deprecated spellings of `reduction`."""
    _warn_size_mismatch(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target)
    if weight is not None:
        return _weighted_loss((input - target) ** 2, weight, input, reduction)
    return apply(_ops.MSE_LOSS, (input, target), {"reduction": reduction})


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """The absolute error |input - target|, reduced as `reduction` says, as F.l1_loss."""
    _warn_size_mismatch(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target)
    errors = (input - target).abs()
    if weight is not None:
        return _weighted_loss(errors, weight, input, reduction)
    if reduction == "none":
        return errors
    return errors.sum() if reduction == "sum" else errors.mean()


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """The Huber-like loss: 0.5 (x - y)^2 / beta where |x - y| < beta, |x - y| - beta / 2
    elsewhere, reduced as `reduction` says, as F.smooth_l1_loss."""
    _warn_size_mismatch(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    input, target = _broadcast_pair(input, target)
    if beta == 0.0:
        return l1_loss(input, target, reduction=reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return apply(_ops.SMOOTH_L1_LOSS, (input, target), {"reduction": reduction, "beta": beta})


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """The Huber loss: 0.5 (x - y)^2 where |x - y| < delta, delta (|x - y| - delta / 2) elsewhere,
    reduced as `reduction` says, as F.huber_loss."""
    _warn_size_mismatch(input, target)
    input, target = _broadcast_pair(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if weight is None:
        return apply(_ops.HUBER_LOSS, (input, target),
                     {"reduction": _check_reduction(reduction), "delta": delta})
    if weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")
    weighted = apply(_ops.HUBER_LOSS, (input, target), {"reduction": "none", "delta": delta}) \
        * weight
    if reduction == "none":
        return weighted
    if reduction == "sum":
        return _sum(weighted)
    if reduction == "mean":
        return weighted.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL(target || input) pointwise, with `input` given as log-probabilities (and `target` too
    when log_target), as PyTorch decomposes it."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = elementwise.exp(target) * (target - input)
    else:
        loss = elementwise.xlogy(target, target) - target * input
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    total = _sum(loss)
    return total / input.shape[0] if reduction == "batchmean" and input.ndim else total


def _check_not_requiring_grad(tensor, arg, function):
    if tensor is not None and tensor.requires_grad:
        from ..autograd.grad_mode import STATE

        if STATE.enabled:
            raise RuntimeError(f"The function '{function}' is not differentiable with respect to "
                               f"argument '{arg}'. This input cannot have requires_grad True.")


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(t log(p) + (1 - t) log(1 - p)) for probabilities `input` and targets `target` (logs
    clamped at -100, as PyTorch), optionally weighted, reduced as `reduction` says, as
    F.binary_cross_entropy."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.size() != input.size():
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input "
                         f"size ({input.size()}) is deprecated. Please ensure they have the same "
                         f"size.")
    _check_not_requiring_grad(weight, "weight", "binary_cross_entropy")
    data = input._data
    if type(data) is np.ndarray and data.size and not ((data >= 0) & (data <= 1)).all():
        raise RuntimeError("all elements of input should be between 0 and 1")
    tdata = target._data
    if type(tdata) is np.ndarray and tdata.size and not ((tdata >= 0) & (tdata <= 1)).all():
        raise RuntimeError("all elements of target should be between 0 and 1")
    if weight is not None:
        weight = weight.expand(broadcast_shapes(tuple(target.shape), tuple(weight.shape)))
    return apply(_ops.BINARY_CROSS_ENTROPY, (input, target, weight), {"reduction": reduction})


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """binary_cross_entropy of sigmoid(input), computed stably from the logits; `pos_weight` weighs
    the positive term per class, as F.binary_cross_entropy_with_logits."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.size() != input.size():
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    _check_not_requiring_grad(weight, "weight", "binary_cross_entropy_with_logits")
    _check_not_requiring_grad(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
    return apply(_ops.BINARY_CROSS_ENTROPY_WITH_LOGITS, (input, target, weight, pos_weight),
                 {"reduction": reduction})


def _scalar_name(dtype):
    return _red._scalar_type_name(dtype)


def _nll_checks(input, target, weight):
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim != 1 and (target.ndim == 0 or input.shape[0] != target.shape[0]):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.ndim else 0}).")
    if input.ndim <= 2 and target.ndim > 1:  # (before the dtype: PyTorch's order)
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target.dtype not in (dtypes.int64, dtypes.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_scalar_name(target.dtype)}")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight is not None:
        if weight.ndim != 1 or weight.numel() != n_classes:
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        if weight.dtype is not input.dtype:
            raise RuntimeError(f"expected scalar type {_scalar_name(input.dtype)} but found "
                               f"{_scalar_name(weight.dtype)}")
    return n_classes


def _check_targets(target, n_classes, ignore_index):
    data = target._data
    if type(data) is not np.ndarray or data.size == 0:
        return
    bad = (data != ignore_index) & ((data < 0) | (data >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(data[bad].flat[0])} is out of bounds.")


def _nll_loss_nd(input, target, weight, reduction, ignore_index):
    """at::nll_loss_nd: 1-D/2-D inputs use NllLossBackward0, 4-D NllLoss2DBackward0, other
    ranks are viewed as 4-D."""
    n_classes = _nll_checks(input, target, weight)
    _check_targets(target, n_classes, ignore_index)
    _check_not_requiring_grad(weight, "weight", "nll_loss_forward")
    params = {"reduction": reduction, "ignore_index": ignore_index}
    if input.ndim <= 2:
        return apply(_ops.NLL_LOSS, (input, target, weight), params)
    if input.ndim == 4:
        return apply(_ops.NLL_LOSS_2D, (input, target, weight), params)
    n, c = input.shape[0], input.shape[1]
    out_size = (n,) + tuple(target.shape[1:])
    if tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {list(out_size)}, got {list(target.shape)}")
    if input.numel() > 0:
        input_ = input.contiguous().view(n, c, 1, -1)
    else:
        input_ = input.contiguous().view(n, c, 0, 0)
    target_ = target.contiguous().view(n, 1, -1) if target.numel() > 0 else \
        target.contiguous().view(n, 0, 0)
    out = apply(_ops.NLL_LOSS_2D, (input_, target_, weight), params)
    return out if reduction != "none" else out.view(out_size)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
             reduction: str = "mean") -> Tensor:
    """The negative log-likelihood -input[n, target[n]] for log-probabilities `input` of shape (N,
    C) or (N, C, d1, ...) and class indices `target`, optionally weighted per class; targets
    equal to `ignore_index` are left out (also of the mean's denominator), as F.nll_loss."""
    reduction = _reduction(size_average, reduce, reduction)
    return _nll_loss_nd(input, target, weight, reduction, ignore_index)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dimension, then nll_loss (class indices) or the soft-target
    sum (probabilities), with ATen's label smoothing."""
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    if tuple(target.shape) == tuple(input.shape):
        # PyTorch reads the target by its shape: the input's shape means class probabilities
        # (which must be floats); any other shape, class indices (which must be Long).
        if not target.dtype.is_floating_point:
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {_scalar_name(target.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing,
                                            class_dim)
    log_probs = _log_softmax(input, class_dim)
    if label_smoothing > 0.0:
        return _cross_entropy_smoothed(log_probs, target, weight, reduction, ignore_index,
                                       label_smoothing, class_dim)
    return _nll_loss_nd(log_probs, target, weight, reduction, ignore_index)


def _log_softmax(input, dim):
    return _red.log_softmax(input, dim)


def _weight_view(weight, ndim, class_dim):
    if ndim <= 1:
        return weight
    shape_ = [1] * ndim
    shape_[class_dim] = weight.shape[0]
    return weight.view(shape_)


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing, class_dim):
    if input.shape != target.shape:
        raise RuntimeError(f"Expected target size {list(input.shape)}, got {list(target.shape)}")
    n_classes = input.shape[class_dim]
    log_probs = _red.log_softmax(input, class_dim)
    if label_smoothing > 0.0:
        target = apply(_ops.MUL_SCALAR, (target, 1 - label_smoothing)) + label_smoothing / n_classes
    product = log_probs * target
    if weight is not None:
        product = product * _weight_view(weight, input.ndim, class_dim)
    if reduction == "none":
        return -product.sum(class_dim)
    total = -product.sum()
    if reduction == "sum":
        return total
    if input.numel() == 0:
        return total.fill_(float("nan"))
    return apply(_ops.DIV_SCALAR, (total, input.numel() // n_classes))


def _cross_entropy_smoothed(log_probs, target, weight, reduction, ignore_index, label_smoothing,
                            class_dim):
    n_classes = log_probs.shape[class_dim]
    nll = _nll_loss_nd(log_probs, target, weight, reduction, ignore_index)
    ignore_mask = target == ignore_index
    if weight is not None:
        smooth = -(log_probs * _weight_view(weight, log_probs.ndim, class_dim)).sum(class_dim)
    else:
        smooth = -log_probs.sum(class_dim)
    smooth = smooth.masked_fill(ignore_mask, 0.0)
    if reduction == "mean":
        if weight is not None:
            kept = target[~ignore_mask].flatten()
            ret = smooth.sum() / weight.gather(0, kept).sum()
        else:
            ret = smooth.sum() / (~ignore_mask).sum()
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth
    return (apply(_ops.MUL_SCALAR, (nll, 1 - label_smoothing))
            + apply(_ops.MUL_SCALAR, (ret, label_smoothing / n_classes)))


# ---- misc --------------------------------------------------------------------------------------

def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dimensions start_dim..end_dim merged into one, as torch.flatten."""
    return shape.flatten(input, start_dim, end_dim)



# A name PyTorch has here and llgrad does not: an AttributeError saying it is not provided yet.
from .._missing import missing_attributes as _missing_attributes  # noqa: E402

__getattr__ = _missing_attributes(__name__)
