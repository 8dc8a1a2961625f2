"""The composite ops behind `nn.functional`: losses, layer_norm, embedding, constant padding,
vector norms.

Each is one autograd node with PyTorch's name. Forwards and VJP rules are written only with
compiler primitives and arithmetic operators, so the same rules run eagerly on arrays, on
tensors under `create_graph=True`, and on graph values in the compiler. A rule receives the
arrays (or tensors) the op saved; inputs it does not save arrive as shape-and-dtype stand-ins.
"""
from ..compiler import primitives as P
from ..compiler.primitive import dtype_of, numel as _numel, shape_of
from ..dispatch import Op


def _all_axes(x):
    return tuple(range(len(shape_of(x))))


def _sum_all(x):
    return P.reduce_sum(x, axes=_all_axes(x), keepdims=False)


def _reduce(loss, reduction):
    """apply_loss_reduction: none keeps the elements, sum adds them, mean divides the sum."""
    if reduction == "none":
        return loss
    total = _sum_all(loss)
    if reduction == "sum":
        return total
    return total / _numel(shape_of(loss))


def _broadcast_shape(x, y):
    from ..compiler.primitive import broadcast_shapes

    return broadcast_shapes(shape_of(x), shape_of(y))


# ---- scalar arithmetic under the names C++ composites record -----------------------------------

# `tensor * number` / `tensor / number` inside ATen composites record MulBackward1/DivBackward1
# (from Python the number becomes a tensor and the node is MulBackward0/DivBackward0).
MUL_SCALAR = Op("MulBackward1", P.mul.impl, (lambda g, out, x, s: g * s, None), saves=(1,),
                promote="common")
DIV_SCALAR = Op("DivBackward1", P.div.impl, (lambda g, out, x, s: g / s, None), saves=(1,),
                promote="float")


# ---- mean squared error ------------------------------------------------------------------------

def _mse_forward(x, y, reduction):
    d = x - y
    return _reduce(d * d, reduction)


def _mse_vjp_input(g, out, x, y, reduction):
    shape = _broadcast_shape(x, y)
    scale = 2 / _numel(shape) if reduction == "mean" else 2
    return (x - y) * scale * g


def _mse_vjp_target(g, out, x, y, reduction):
    shape = _broadcast_shape(x, y)
    scale = 2 / _numel(shape) if reduction == "mean" else 2
    return (y - x) * scale * g


MSE_LOSS = Op("MseLossBackward0", _mse_forward, (_mse_vjp_input, _mse_vjp_target), saves=(0, 1),
             promote="common")


# ---- negative log likelihood -------------------------------------------------------------------

def _class_axis(x):
    return 0 if len(shape_of(x)) == 1 else 1


def _with_class_axis(shape, axis):
    return tuple(shape[:axis]) + (1,) + tuple(shape[axis:])


def _nll_targets(target, weight, ignore_index, dtype):
    """Which targets count, the class index to read for each, and each target's weight."""
    valid = P.ne(target, ignore_index)
    safe = P.where(valid, target, 0)
    if weight is None:
        w = P.cast(valid, dtype=dtype)
    else:
        w = P.where(valid, P.take(weight, safe, axis=0), 0)
    return valid, safe, w


def _nll_forward(x, target, weight, reduction, ignore_index):
    axis = _class_axis(x)
    t_shape = shape_of(target)
    valid, safe, w = _nll_targets(target, weight, ignore_index, dtype_of(x))
    picked = P.reshape(P.gather(x, P.reshape(safe, shape=_with_class_axis(t_shape, axis)),
                                axis=axis), shape=t_shape)
    losses = P.where(valid, -picked * w, 0)
    if reduction == "none":
        return losses
    total = _sum_all(losses)
    if reduction == "sum":
        return total
    return total / _sum_all(w)


def _nll_vjp(g, out, x, target, weight, reduction, ignore_index):
    # d loss / d x[i, t_i] = -w[t_i] (divided by the total weight for mean); zero elsewhere.
    axis = _class_axis(x)
    t_shape = shape_of(target)
    valid, safe, w = _nll_targets(target, weight, ignore_index, dtype_of(g))
    coef = -(g / _sum_all(w)) if reduction == "mean" else -g
    src = P.reshape(coef * w, shape=_with_class_axis(t_shape, axis))
    zeros = P.full_like(g, shape=shape_of(x), value=0)
    index = P.reshape(safe, shape=_with_class_axis(t_shape, axis))
    return P.scatter_add(zeros, index, src, axis=axis)


NLL_LOSS = Op("NllLossBackward0", _nll_forward, (_nll_vjp, None, None), saves=(1, 2))
NLL_LOSS_2D = Op("NllLoss2DBackward0", _nll_forward, (_nll_vjp, None, None), saves=(1, 2))


# ---- binary cross entropy ----------------------------------------------------------------------

def _bce_forward(x, y, weight, reduction):
    # PyTorch clamps each log term at -100 so that x = 0 or 1 gives a finite loss.
    log_x = P.maximum(P.log(x), -100)
    log_1mx = P.maximum(P.log1p(-x), -100)
    loss = (y - 1) * log_1mx - y * log_x
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _bce_vjp_input(g, out, x, y, weight, reduction):
    grad = g * (x - y) / P.maximum((1 - x) * x, 1e-12)
    if weight is not None:
        grad = grad * weight
    return grad / _numel(shape_of(x)) if reduction == "mean" else grad


def _bce_vjp_target(g, out, x, y, weight, reduction):
    # d/dy = -logit(x) = log(1 - x) - log(x)
    grad = -P.log(x / (1 - x)) * g
    if weight is not None:
        grad = grad * weight
    return grad / _numel(shape_of(y)) if reduction == "mean" else grad


BINARY_CROSS_ENTROPY = Op("BinaryCrossEntropyBackward0", _bce_forward,
                          (_bce_vjp_input, _bce_vjp_target, None), saves=(0, 1, 2))


def _log_sigmoid(x):
    return P.minimum(x, 0) - P.log1p(P.exp(-P.abs_(x)))


def _bce_logits_forward(x, y, weight, pos_weight, reduction):
    log_sigmoid_x = _log_sigmoid(x)
    if pos_weight is not None:
        log_sigmoid_x = log_sigmoid_x * ((pos_weight - 1) * y + 1)
    loss = (1 - y) * x - log_sigmoid_x
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _bce_logits_vjp_input(g, out, x, y, weight, pos_weight, reduction):
    if pos_weight is not None:
        t = pos_weight * y
        grad = (t + 1 - y) * P.sigmoid(x) - t
    else:
        grad = P.sigmoid(x) - y
    grad = grad * g
    if weight is not None:
        grad = grad * weight
    return grad / _numel(_broadcast_shape(x, y)) if reduction == "mean" else grad


def _bce_logits_vjp_target(g, out, x, y, weight, pos_weight, reduction):
    if pos_weight is not None:
        grad = _log_sigmoid(-x) - _log_sigmoid(x) * pos_weight
    else:
        grad = -x
    grad = grad * g
    if weight is not None:
        grad = grad * weight
    return grad / _numel(_broadcast_shape(x, y)) if reduction == "mean" else grad


BINARY_CROSS_ENTROPY_WITH_LOGITS = Op(
    "BinaryCrossEntropyWithLogitsBackward0", _bce_logits_forward,
    (_bce_logits_vjp_input, _bce_logits_vjp_target, None, None), saves=(0, 1, 2, 3))


# ---- layer norm --------------------------------------------------------------------------------

def _moments(x, axes):
    """Mean and 1/std over the normalized axes (kept as size-1 dimensions)."""
    n = _numel([shape_of(x)[a] for a in axes])
    mean = P.reduce_sum(x, axes=axes, keepdims=True) / n
    centered = x - mean
    var = P.reduce_sum(centered * centered, axes=axes, keepdims=True) / n
    return centered, var, n


def _layer_norm_forward(x, weight, bias, axes, eps):
    centered, var, _ = _moments(x, axes)
    out = centered * P.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def _layer_norm_vjp_input(g, out, x, weight, bias, axes, eps):
    # dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * weight, means over `axes`.
    centered, var, n = _moments(x, axes)
    rstd = P.rsqrt(var + eps)
    x_hat = centered * rstd
    gw = g * weight if weight is not None else g
    mean_gw = P.reduce_sum(gw, axes=axes, keepdims=True) / n
    mean_gw_xhat = P.reduce_sum(gw * x_hat, axes=axes, keepdims=True) / n
    return (gw - mean_gw - x_hat * mean_gw_xhat) * rstd


def _layer_norm_vjp_weight(g, out, x, weight, bias, axes, eps):
    centered, var, _ = _moments(x, axes)
    return g * (centered * P.rsqrt(var + eps))  # summed over the batch axes by the engine


def _layer_norm_vjp_bias(g, out, x, weight, bias, axes, eps):
    return g


LAYER_NORM = Op("NativeLayerNormBackward0", _layer_norm_forward,
                (_layer_norm_vjp_input, _layer_norm_vjp_weight, _layer_norm_vjp_bias),
                saves=(0, 1))


# ---- batch norm --------------------------------------------------------------------------------
# Channels on axis 1, statistics over every other axis. Per-channel parameters (C,) are viewed
# as (1, C, 1, ...) to broadcast, and their cotangents summed back to (C,) by the rules.

def _channel_view(p, x):
    shape = shape_of(x)
    return P.reshape(p, shape=(1, shape[1]) + (1,) * (len(shape) - 2))


def _per_channel(t, axes):
    return P.reduce_sum(t, axes=axes, keepdims=False)


def _batch_norm_train_forward(x, weight, bias, axes, eps):
    centered, var, _ = _moments(x, axes)
    out = centered * P.rsqrt(var + eps)
    if weight is not None:
        out = out * _channel_view(weight, x)
    return out if bias is None else out + _channel_view(bias, x)


def _batch_norm_train_vjp_input(g, out, x, weight, bias, axes, eps):
    # As layer norm's rule, with the statistics over the batch (and spatial) axes.
    centered, var, n = _moments(x, axes)
    rstd = P.rsqrt(var + eps)
    x_hat = centered * rstd
    gw = g * _channel_view(weight, x) if weight is not None else g
    mean_gw = P.reduce_sum(gw, axes=axes, keepdims=True) / n
    mean_gw_xhat = P.reduce_sum(gw * x_hat, axes=axes, keepdims=True) / n
    return (gw - mean_gw - x_hat * mean_gw_xhat) * rstd


def _batch_norm_train_vjp_weight(g, out, x, weight, bias, axes, eps):
    centered, var, _ = _moments(x, axes)
    return _per_channel(g * (centered * P.rsqrt(var + eps)), axes)


BATCH_NORM_TRAIN = Op("NativeBatchNormBackward0", _batch_norm_train_forward,
                      (_batch_norm_train_vjp_input, _batch_norm_train_vjp_weight,
                       lambda g, out, x, weight, bias, axes, eps: _per_channel(g, axes)),
                      saves=(0, 1))


def _batch_norm_eval_forward(x, weight, bias, running_mean, running_var, axes, eps):
    out = (x - _channel_view(running_mean, x)) * P.rsqrt(_channel_view(running_var, x) + eps)
    if weight is not None:
        out = out * _channel_view(weight, x)
    return out if bias is None else out + _channel_view(bias, x)


def _batch_norm_eval_vjp_input(g, out, x, weight, bias, running_mean, running_var, axes, eps):
    scale = P.rsqrt(_channel_view(running_var, x) + eps)
    if weight is not None:
        scale = scale * _channel_view(weight, x)
    return g * scale


def _batch_norm_eval_vjp_weight(g, out, x, weight, bias, running_mean, running_var, axes, eps):
    x_hat = (x - _channel_view(running_mean, x)) * P.rsqrt(_channel_view(running_var, x) + eps)
    return _per_channel(g * x_hat, axes)


# With running statistics (eval mode) they are inputs without gradients, as in PyTorch.
BATCH_NORM_EVAL = Op("NativeBatchNormBackward0", _batch_norm_eval_forward,
                     (_batch_norm_eval_vjp_input, _batch_norm_eval_vjp_weight,
                      lambda g, out, x, weight, bias, running_mean, running_var, axes, eps:
                      _per_channel(g, axes), None, None), saves=(0, 1, 3, 4))


# ---- smooth L1 and Huber losses ----------------------------------------------------------------

def _mean_scale(x, y, reduction):
    return 1 / _numel(_broadcast_shape(x, y)) if reduction == "mean" else 1


def _smooth_l1_forward(x, y, reduction, beta):
    d = x - y
    z = P.abs_(d)
    return _reduce(P.where(P.lt(z, beta), d * d * 0.5 / beta, z - 0.5 * beta), reduction)


def _smooth_l1_slope(x, y, beta):
    d = x - y
    return P.where(P.lt(d, -beta), -1, P.where(P.gt(d, beta), 1, d / beta))


SMOOTH_L1_LOSS = Op(
    "SmoothL1LossBackward0", _smooth_l1_forward,
    (lambda g, out, x, y, reduction, beta:
     _smooth_l1_slope(x, y, beta) * (g * _mean_scale(x, y, reduction)),
     lambda g, out, x, y, reduction, beta:
     -_smooth_l1_slope(x, y, beta) * (g * _mean_scale(x, y, reduction))),
    saves=(0, 1), promote="common")


def _huber_forward(x, y, reduction, delta):
    d = x - y
    z = P.abs_(d)
    return _reduce(P.where(P.lt(z, delta), d * d * 0.5, (z - 0.5 * delta) * delta), reduction)


def _huber_slope(x, y, delta):
    d = x - y
    return P.where(P.lt(d, -delta), -delta, P.where(P.gt(d, delta), delta, d))


HUBER_LOSS = Op(
    "HuberLossBackward0", _huber_forward,
    (lambda g, out, x, y, reduction, delta:
     _huber_slope(x, y, delta) * (g * _mean_scale(x, y, reduction)),
     lambda g, out, x, y, reduction, delta:
     -_huber_slope(x, y, delta) * (g * _mean_scale(x, y, reduction))),
    saves=(0, 1), promote="common")


# ---- embedding ---------------------------------------------------------------------------------

def _embedding_forward(weight, indices, padding_idx, scale_grad_by_freq):
    return P.take(weight, indices, axis=0)


def _embedding_vjp(g, out, weight, indices, padding_idx, scale_grad_by_freq):
    # Rows gathered by the forward receive their gradients back, summed over repeats; the
    # padding row receives none.
    n_rows = shape_of(weight)[0]
    if padding_idx is not None:
        hit = P.reshape(P.eq(indices, padding_idx), shape=shape_of(indices) + (1,))
        g = P.where(hit, 0, g)
    if scale_grad_by_freq:
        ones = P.full_like(g, shape=shape_of(indices), value=1)
        counts = P.index_add(P.full_like(g, shape=(n_rows,), value=0), indices, ones, axis=0)
        g = g / P.reshape(P.take(counts, indices, axis=0), shape=shape_of(indices) + (1,))
    zeros = P.full_like(g, shape=shape_of(weight), value=0)
    return P.index_add(zeros, indices, g, axis=0)


EMBEDDING = Op("EmbeddingBackward0", _embedding_forward, (_embedding_vjp, None), saves=(1,))


# ---- constant padding (negative pads crop) -----------------------------------------------------

def _pad_plan(shape, pads):
    """Per dimension: the crop (slice start/stop) and the padding (lo, hi, interior) that
    together apply PyTorch's pad list, which runs from the last dimension backwards."""
    ndim = len(shape)
    lo_hi = [(0, 0)] * ndim
    for i in range(len(pads) // 2):
        lo_hi[ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    starts = tuple(max(-lo, 0) for lo, _ in lo_hi)
    stops = tuple(d - max(-hi, 0) for d, (_, hi) in zip(shape, lo_hi))
    config = tuple((max(lo, 0), max(hi, 0), 0) for lo, hi in lo_hi)
    return starts, stops, config


def _constant_pad_forward(x, pads, value):
    starts, stops, config = _pad_plan(shape_of(x), pads)
    cropped = P.slice_(x, starts=starts, stops=stops, steps=(1,) * len(starts))
    return P.pad(cropped, config=config, value=value)


def _constant_pad_vjp(g, out, x, pads, value):
    # The transpose of crop-then-pad: cut the padding off g, then pad the cropped parts with 0.
    shape = shape_of(x)
    starts, stops, config = _pad_plan(shape, pads)
    inner_starts = tuple(lo for lo, _, _ in config)
    inner_stops = tuple(lo + (b - a) for (lo, _, _), a, b in zip(config, starts, stops))
    inner = P.slice_(g, starts=inner_starts, stops=inner_stops, steps=(1,) * len(shape))
    uncrop = tuple((a, d - b, 0) for a, b, d in zip(starts, stops, shape))
    return P.pad(inner, config=uncrop)


CONSTANT_PAD = Op("ConstantPadNdBackward0", _constant_pad_forward, (_constant_pad_vjp,))


# ---- vector norm -------------------------------------------------------------------------------

def _vector_norm_forward(x, ord, axes, keepdims):
    a = P.abs_(x)
    if ord == 2:
        return P.sqrt(P.reduce_sum(a * a, axes=axes, keepdims=keepdims))
    if ord == 1:
        return P.reduce_sum(a, axes=axes, keepdims=keepdims)
    if ord == float("inf"):
        return P.reduce_max(a, axes=axes, keepdims=keepdims)
    return P.pow_(P.reduce_sum(P.pow_(a, ord), axes=axes, keepdims=keepdims), 1.0 / ord)


def _vector_norm_vjp(g, out, x, ord, axes, keepdims):
    shape = shape_of(x)
    g = P.expand_back(g, shape, axes, keepdims)
    norm = P.expand_back(out, shape, axes, keepdims)
    if ord == 2:
        # x / norm, and 0 where the norm is 0 (PyTorch's subgradient choice)
        return x * P.where(P.eq(norm, 0), 0, g / norm)
    if ord == 1:
        return P.sign(x) * g
    if ord == float("inf"):
        a = P.abs_(x)
        is_max = P.cast(P.eq(a, norm), dtype=dtype_of(x))
        count = P.expand_back(P.reduce_sum(is_max, axes=axes, keepdims=keepdims), shape, axes,
                              keepdims)
        return P.sign(x) * is_max / count * g
    a = P.abs_(x)
    scale = P.where(P.eq(norm, 0), 0, g / P.pow_(norm, ord - 1))
    return P.sign(x) * P.pow_(a, ord - 1) * scale


VECTOR_NORM = Op("LinalgVectorNormBackward0", _vector_norm_forward, (_vector_norm_vjp,),
                 saves=(0,), saves_out=True)


# ---- activations PyTorch records as their own nodes --------------------------------------------

def _hardtanh_forward(x, min_val, max_val):
    return P.minimum(P.maximum(x, min_val), max_val)


def _hardtanh_vjp(g, out, x, min_val, max_val):
    # hardtanh_backward: no gradient at or beyond either bound
    inside = P.logical_and(P.gt(x, min_val), P.lt(x, max_val))
    return P.where(inside, g, 0)


HARDTANH = Op("HardtanhBackward0", _hardtanh_forward, (_hardtanh_vjp,), saves=(0,))


def _log_sigmoid_vjp(g, out, x):
    # d/dx log(sigmoid(x)) = 1 - sigmoid(x), written PyTorch's overflow-free way
    z = P.exp(-P.abs_(x))
    s = z / (z + 1)  # sigmoid(-|x|)
    return g * P.where(P.lt(x, 0), 1 - s, s)


LOG_SIGMOID = Op("LogSigmoidBackward0", _log_sigmoid, (_log_sigmoid_vjp,), saves=(0,))
