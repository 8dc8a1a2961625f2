"""In-place operations (`add_`, `mul_`, `zero_`, `copy_`, `x += y`, ...).

Without autograd involvement they write into the storage with NumPy and bump the version
counter, which is how optimizers update parameters under no_grad. When autograd must see the
change, the op is recorded out of place and the result written back, and the tensor's history
moves to the new node (PyTorch's "rebase"). A saved input is cloned first so the node keeps the
value it was computed from.
"""
import numpy as np

from .. import epoch, tracing
from ..tracing import active_tracer
from ..autograd.grad_mode import STATE
from ..compiler import dtypes
from ..compiler import primitives as P
from ..compiler.primitive import dtype_of, shape_of
from ..dispatch import Op, apply, result_type
from ..tensor import Tensor
from . import elementwise as ew


def check_inplace(tensor):
    """Raises PyTorch's error for an in-place op on a leaf that requires grad (or a view of one),
    outside no_grad."""
    if not STATE.enabled:
        return
    if tensor.grad_fn is None and tensor._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    base = tensor._base
    if base is not None and base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def write_data(tensor, result):
    """Store `result`'s values in `tensor`'s storage (or, while tracing, rebind its value)."""
    data = tensor._data
    if type(data) is np.ndarray and active_tracer() is None:
        np.copyto(data, result._data, casting="unsafe")
        tensor._bump_version()
    else:
        tracing.rebind(tensor, result)


def rebase_history(tensor, result):
    """After an in-place op recorded for autograd: `tensor` takes `result`'s grad_fn, as PyTorch
    rebases a modified tensor's history."""
    if result.grad_fn is None:
        return
    if tensor._base is not None and type(tensor._data) is np.ndarray:
        raise RuntimeError(
            "llgrad does not record in-place operations on views of tensors that take part in "
            "autograd; write it out of place (y = y * w) or run it under llgrad.no_grad().")
    old_grad_fn, old_output_nr = tensor.grad_fn, tensor._output_nr
    tensor.grad_fn = result.grad_fn
    tensor._output_nr = result._output_nr
    if not tensor._requires_grad:
        epoch.bump()
    tensor._requires_grad = True
    if type(tensor._data) is np.ndarray:
        tensor._rebased(old_grad_fn, old_output_nr)


def _needs_autograd(tensor, others):
    """True when the update must be recorded (out of place, then written back) rather than done
    directly in the storage: autograd must see it, or a trace is recording it."""
    if active_tracer() is not None:
        return True
    if not STATE.enabled:
        return False
    return tensor._requires_grad or any(isinstance(o, Tensor) and o._requires_grad for o in others)


def _check_castable(tensor, *others, to_float=False):
    if tensor._data.dtype.kind == "f" and all(
            type(o) in (float, int, bool) or (isinstance(o, Tensor) and o._data.dtype.kind == "f")
            for o in others):
        return  # nothing can raise a float tensor's category
    target = result_type(tensor, *others)
    if to_float and not target.is_floating_point:
        target = dtypes.DEFAULT_FLOAT  # true division
    own = tensor.dtype
    if target.category > own.category:
        raise RuntimeError(f"result type {_type_word(target)} can't be cast to the desired output "
                           f"type {_type_word(own)}")


def _type_word(dtype):
    from .reduction import _scalar_type_name

    return _scalar_type_name(dtype)


def _inplace_binary(fn, ufunc, saves_self, to_float=False):
    def method(self, other, *args, **kwargs):
        if type(self._data) is not np.ndarray or _needs_autograd(self, (other,)):
            return _recorded(self, fn, (other,) + args, kwargs, saves_self)
        _check_castable(self, other, to_float=to_float)
        value = other._data if isinstance(other, Tensor) else other
        alpha = kwargs.get("alpha", 1)
        if isinstance(alpha, Tensor):
            alpha = alpha.item()
        if not ew.is_one(alpha):
            value = value * alpha
        ufunc(self._data, value, out=self._data, casting="unsafe")
        self._bump_version()
        return self

    method.__doc__ = _INPLACE_DOC.format(name=fn.__name__)
    return method


_INPLACE_DOC = ("In place: this tensor becomes {name}(self, ...) (see llgrad.{name}), keeping its "
                "dtype; returns this tensor. As in PyTorch, refused on a leaf that requires grad "
                "(outside no_grad) and when the result's dtype cannot be cast to this one's.")


def _recorded(self, fn, args, kwargs, saves_self):
    check_inplace(self)
    tracer = active_tracer()
    if tracer is not None:
        tracer.value_of(self)  # lift first: the update rebinds the lifted value
    records = STATE.enabled and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    source = _copy_in_place_of(self) if saves_self and records else self
    result = fn(source, *args, **kwargs)
    if result.dtype is not self.dtype:
        if result.dtype.category > self.dtype.category:
            raise RuntimeError(f"result type {_type_word(result.dtype)} can't be cast to the "
                               f"desired output type {_type_word(self.dtype)}")
        result = result.to(self.dtype)
    write_data(self, result)
    rebase_history(self, result)
    return self


def _copy_in_place_of(tensor):
    """The tensor's value in new storage, standing at the tensor's place in the graph: the op
    saves this copy, which the write into the tensor leaves intact. (PyTorch keeps the original
    value out of sight too; a clone() would add a CloneBackward0 node to the graph.)"""
    data = tensor._data
    if type(data) is not np.ndarray:
        return tensor  # a traced value is never overwritten: the update rebinds the tensor
    source = Tensor._wrap(data.copy())
    source._requires_grad = tensor._requires_grad
    source.grad_fn = tensor.grad_fn
    source._output_nr = tensor._output_nr
    return source


add_ = _inplace_binary(ew.add, np.add, saves_self=False)
sub_ = _inplace_binary(ew.sub, np.subtract, saves_self=False)
mul_ = _inplace_binary(ew.mul, np.multiply, saves_self=True)
div_ = _inplace_binary(ew.div, np.true_divide, saves_self=True, to_float=True)
pow_ = _inplace_binary(ew.pow, np.power, saves_self=True)
floor_divide_ = _inplace_binary(ew.floor_divide, np.floor_divide, saves_self=False)
remainder_ = _inplace_binary(ew.remainder, np.remainder, saves_self=False)
bitwise_and_ = _inplace_binary(ew.bitwise_and, np.bitwise_and, saves_self=False)
bitwise_or_ = _inplace_binary(ew.bitwise_or, np.bitwise_or, saves_self=False)
bitwise_xor_ = _inplace_binary(ew.bitwise_xor, np.bitwise_xor, saves_self=False)
subtract_ = sub_
multiply_ = mul_
divide_ = div_
true_divide_ = div_


def _inplace_unary(fn, saves_self=True):
    def method(self, *args, **kwargs):
        return _recorded(self, fn, args, kwargs, saves_self)

    method.__doc__ = _INPLACE_DOC.format(name=fn.__name__)
    return method


neg_ = _inplace_unary(ew.neg, saves_self=False)
exp_ = _inplace_unary(ew.exp)
log_ = _inplace_unary(ew.log)
sqrt_ = _inplace_unary(ew.sqrt)
sigmoid_ = _inplace_unary(ew.sigmoid)
tanh_ = _inplace_unary(ew.tanh)
relu_ = _inplace_unary(ew.relu)
abs_ = _inplace_unary(ew.abs)
clamp_ = _inplace_unary(ew.clamp)
clamp_min_ = _inplace_unary(ew.clamp_min)
clamp_max_ = _inplace_unary(ew.clamp_max)
floor_ = _inplace_unary(ew.floor, saves_self=False)
round_ = _inplace_unary(ew.round, saves_self=False)
sign_ = _inplace_unary(ew.sign, saves_self=False)


def _records(self, *others):
    return type(self._data) is not np.ndarray or _needs_autograd(self, others)


def addcmul_(self, tensor1, tensor2, *, value=1):
    """In place: self += value * tensor1 * tensor2 (see llgrad.addcmul); returns this tensor."""
    if _records(self, tensor1, tensor2):  # one AddcmulBackward0 node, as in PyTorch
        return _recorded(self, ew.addcmul, (tensor1, tensor2), {"value": value}, False)
    # PyTorch's kernel order, self + (value * t1) * t2, so float rounding matches
    return add_(self, ew.mul(ew.mul(tensor1, value), tensor2))


def addcdiv_(self, tensor1, tensor2, *, value=1):
    """In place: self += value * tensor1 / tensor2 (see llgrad.addcdiv); returns this tensor."""
    if _records(self, tensor1, tensor2):
        return _recorded(self, ew.addcdiv, (tensor1, tensor2), {"value": value}, False)
    # PyTorch's kernel order, self + (value * t1) / t2, so float rounding matches
    return add_(self, ew.div(ew.mul(tensor1, value), tensor2))


def lerp_(self, end, weight):
    """In place: self += weight * (end - self) (see llgrad.lerp); returns this tensor."""
    if _records(self, end, weight):  # (a tensor weight's rule reads self)
        return _recorded(self, ew.lerp, (end, weight), {}, isinstance(weight, Tensor))
    return add_(self, ew.mul(ew.sub(end, self), weight))


def _fill_forward(x, value):
    if isinstance(value, (bool, int, float)):
        return P.full_like(x, shape=shape_of(x), value=value)
    return P.broadcast_to(P.cast(value, dtype=dtype_of(x)), shape=shape_of(x))


def _overwritten(g, out, x, *_):
    return g * 0  # the old contents are gone: a zero gradient, as PyTorch passes


# What PyTorch records for the in-place fills and copies: fill_ with a number (FillBackward2) or
# a 0-d tensor (FillBackward3, whose gradient is the sum), zero_, and copy_ from a tensor that
# broadcasts (its gradient is summed back to its shape and type by the engine).
FILL = Op("FillBackward2", _fill_forward, (_overwritten,))
FILL_TENSOR = Op("FillBackward3", _fill_forward,
                 (_overwritten, lambda g, out, x, value: P.reduce_sum(g, axes=None,
                                                                      keepdims=False)))
ZERO = Op("ZeroBackward0", lambda x: _fill_forward(x, 0), (_overwritten,))
COPY = Op("CopyBackwards", _fill_forward, (_overwritten, lambda g, out, x, src: g))


def _recorded_fill(self, op, args):
    check_inplace(self)
    tracer = active_tracer()
    if tracer is not None:
        tracer.value_of(self)
    result = apply(op, (self,) + args)
    write_data(self, result)
    rebase_history(self, result)
    return self


def fill_(self, value):
    """Fills this tensor in place with `value` (a number or a 0-d tensor); returns it."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        if _records(self, value):
            return _recorded_fill(self, FILL_TENSOR, (value,))
    elif _records(self):
        return _recorded_fill(self, FILL, (value,))
    return copy_(self, value)


def zero_(self):
    """Fills this tensor in place with zeros; returns it."""
    if _records(self):
        return _recorded_fill(self, ZERO, ())
    return fill_(self, 0)


def copy_(self, src, non_blocking=False):
    """Copy `src` (broadcast, cast) into this tensor's storage."""
    if _records(self, src):
        if isinstance(src, Tensor):
            from ..compiler.primitive import broadcast_shapes

            shape = broadcast_shapes(tuple(src.shape), tuple(self.shape))
            if shape != tuple(self.shape):
                raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                                   f"broadcast shape {list(shape)}")
            return _recorded_fill(self, COPY, (src,))
        return _recorded_fill(self, FILL, (src,))
    value = src._data if isinstance(src, Tensor) else src
    try:
        np.copyto(self._data, value, casting="unsafe")
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({self.shape[-1] if self.ndim else 1}) must match "
                           f"the size of tensor b ({np.shape(value)[-1] if np.ndim(value) else 1}) "
                           f"at non-singleton dimension {max(self.ndim - 1, 0)}") from None
    self._bump_version()
    return self


def masked_fill_(self, mask, value):
    """In place: `value` where the bool `mask` is True (see llgrad.masked_fill); returns this
    tensor."""
    from .indexing import masked_fill

    if type(self._data) is not np.ndarray or _needs_autograd(self, (value,)):
        return _recorded(self, masked_fill, (mask, value), {}, saves_self=False)
    mask_data = mask._data
    self._data[np.broadcast_to(mask_data, self._data.shape)] = (
        value._data if isinstance(value, Tensor) else value)
    self._bump_version()
    return self


def index_add_(self, dim, index, source, *, alpha=1):
    """In place: adds alpha * `source`'s slices into this tensor at `index` along `dim` (repeated
    indices add up), as Tensor.index_add_; returns it."""
    from ..compiler import primitives as P
    from ..tensor import _wrap_dim

    if _needs_autograd(self, (source,)) or type(self._data) is not np.ndarray:
        raise NotImplementedError("index_add_ with autograd is not supported; use index_add")
    axis = _wrap_dim(dim, self.ndim)
    value = source._data * alpha if alpha != 1 else source._data
    np.copyto(self._data, P.index_add.impl(self._data, index._data, value, axis))
    self._bump_version()
    return self


def scatter_add_(self, dim, index, src):
    """In place: adds `src` at the positions `index` gives along `dim` (see llgrad.scatter_add);
    returns this tensor."""
    from .indexing import scatter_add

    return _recorded(self, scatter_add, (dim, index, src), {}, saves_self=False) \
        if _needs_autograd(self, (src,)) else _direct_scatter_add(self, dim, index, src)


def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    """In place: writes `src` (or `value`) at the positions `index` gives along `dim` (see
    llgrad.scatter; `reduce` 'add' or 'multiply'); returns this tensor."""
    from .indexing import scatter

    if src is None:
        src = value
    if _needs_autograd(self, (src,)):
        return _recorded(self, scatter, (dim, index, src), {"reduce": reduce}, saves_self=False)
    result = scatter(self, dim, index, src, reduce=reduce)
    np.copyto(self._data, result._data)
    self._bump_version()
    return self


def _direct_scatter_add(self, dim, index, src):
    from ..compiler import primitives as P
    from ..tensor import _wrap_dim

    axis = _wrap_dim(dim, self.ndim)
    np.copyto(self._data, P.scatter_add.impl(self._data, index._data, src._data, axis))
    self._bump_version()
    return self


def _random_fill(sample, doc):
    def method(self, *args, generator=None, **kwargs):
        from .. import random as rng

        gen = generator or rng.default_generator
        with_values = sample(gen, tuple(self.shape), self.dtype.np, *args, **kwargs)
        if type(self._data) is not np.ndarray:
            raise RuntimeError("in-place random fills are not supported under llgrad.compile")
        np.copyto(self._data, with_values, casting="unsafe")
        self._bump_version()
        return self

    method.__doc__ = doc
    return method


uniform_ = _random_fill(lambda g, shape, dtype, a=0.0, b=1.0: g.uniform(shape, a, b, dtype=dtype),
                        "Fills this tensor in place with uniform numbers in [a, b) (default [0, 1)), "
                        "as Tensor.uniform_ (bounds positional: uniform_(-1, 1)); returns it.")
normal_ = _random_fill(lambda g, shape, dtype, mean=0.0, std=1.0: g.normal(shape, mean, std,
                                                                            dtype=dtype),
                       "Fills this tensor in place with normal numbers (mean, std; default 0, 1), "
                       "as Tensor.normal_; returns it.")
bernoulli_ = _random_fill(lambda g, shape, dtype, p=0.5: g.bernoulli(shape, p, dtype=dtype),
                          "Fills this tensor in place with 0 or 1, 1 with probability p "
                          "(default 0.5), as Tensor.bernoulli_; returns it.")


def random_(self, low=0, high=None, *, generator=None):
    """Fills this tensor in place with random integers in [low, high) (`random_(high)` for [0,
    high); no bounds: the whole range of its dtype), as Tensor.random_; returns it."""
    from .. import random as rng

    gen = generator or rng.default_generator
    if high is None and low == 0:  # no bounds: the whole range of the dtype, as PyTorch
        np.copyto(self._data, gen.random_full(tuple(self.shape), self.dtype.np))
        self._bump_version()
        return self
    if high is None:
        low, high = 0, low
    np.copyto(self._data, gen.randint(low, high, tuple(self.shape)), casting="unsafe")
    self._bump_version()
    return self
