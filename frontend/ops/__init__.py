"""User-facing operations, one module per family, and their binding as Tensor methods.

Each op is written once, as a function whose first argument is the tensor; the tables below make
the same function `llgrad.exp(x)` and `x.exp()`, and wire Python's operators.
"""
import builtins
import functools
from typing import TYPE_CHECKING

import numpy as _np  # (underscored: `from .ops import *` feeds llgrad.*)

from ..tensor import Tensor
from . import creation, elementwise, indexing, inplace, linalg, reduction, shape, sorting
# `name as name`: an explicit re-export, as type checkers (mypy --strict, pyright) require of a
# typed package; creation's and elementwise's functions are also added below by module walk.
from .sorting import (
    argsort as argsort, kthvalue as kthvalue, msort as msort, sort as sort, topk as topk,
    unique as unique,
)
from .indexing import (
    argwhere as argwhere, gather as gather, index_select as index_select,
    masked_fill as masked_fill, masked_select as masked_select, nonzero as nonzero,
    scatter as scatter, scatter_add as scatter_add, take_along_dim as take_along_dim,
)
from .linalg import (
    addmm as addmm, bmm as bmm, dot as dot, einsum as einsum, inner as inner, linear as linear,
    matmul as matmul, mm as mm, mv as mv, outer as outer, vdot as vdot,
)
from .reduction import (  # noqa: A004
    all as all, amax as amax, amin as amin, any as any, argmax as argmax, argmin as argmin,
    count_nonzero as count_nonzero, cumprod as cumprod, cumsum as cumsum,
    log_softmax as log_softmax, logsumexp as logsumexp, max as max, mean as mean, min as min,
    norm as norm, prod as prod, softmax as softmax, std as std, std_mean as std_mean, sum as sum,
    var as var, var_mean as var_mean,
)
from .shape import (
    broadcast_tensors as broadcast_tensors, broadcast_to as broadcast_to, cat as cat,
    chunk as chunk, clone as clone, concat as concat, concatenate as concatenate,
    contiguous as contiguous, diag as diag, expand as expand, expand_as as expand_as,
    flatten as flatten, flip as flip, hstack as hstack, moveaxis as moveaxis, movedim as movedim,
    narrow as narrow, permute as permute, repeat_interleave as repeat_interleave,
    reshape as reshape, roll as roll, select as select, split as split, squeeze as squeeze,
    stack as stack, swapaxes as swapaxes, swapdims as swapdims, t as t,
    tensor_split as tensor_split, tile as tile, transpose as transpose, tril as tril, triu as triu,
    unbind as unbind, unflatten as unflatten, unsqueeze as unsqueeze, view as view,
    vstack as vstack,
)
from .creation import (
    arange as arange, as_tensor as as_tensor, asarray as asarray, bernoulli as bernoulli,
    empty as empty, empty_like as empty_like, eye as eye, fma as fma, from_numpy as from_numpy,
    full as full, full_like as full_like, get_rng_state as get_rng_state,
    initial_seed as initial_seed, linspace as linspace, logspace as logspace,
    manual_seed as manual_seed, multinomial as multinomial, normal as normal, ones as ones,
    ones_like as ones_like, rand as rand, rand_like as rand_like, randint as randint,
    randint_like as randint_like, randn as randn, randn_like as randn_like, randperm as randperm,
    scalar_tensor as scalar_tensor, seed as seed, set_rng_state as set_rng_state,
    tensor as tensor, zeros as zeros, zeros_like as zeros_like,
)
from .elementwise import (  # noqa: A004
    abs as abs, absolute as absolute, acos as acos, add as add, addcdiv as addcdiv,
    addcmul as addcmul, allclose as allclose, arccos as arccos, arcsin as arcsin,
    arctan as arctan, arctan2 as arctan2, asin as asin, atan as atan, atan2 as atan2,
    bitwise_and as bitwise_and, bitwise_not as bitwise_not, bitwise_or as bitwise_or,
    bitwise_xor as bitwise_xor, can_cast as can_cast, ceil as ceil, clamp as clamp,
    clamp_max as clamp_max, clamp_min as clamp_min, clip as clip, cos as cos, cosh as cosh,
    div as div, elu as elu, eq as eq, equal as equal, erf as erf, exp as exp, expm1 as expm1,
    floor as floor, floor_divide as floor_divide, fmod as fmod, ge as ge, gelu as gelu,
    greater as greater, greater_equal as greater_equal, gt as gt, isclose as isclose,
    isfinite as isfinite, isinf as isinf, isnan as isnan, le as le, leaky_relu as leaky_relu,
    lerp as lerp, less as less, less_equal as less_equal, log as log, log10 as log10,
    log1p as log1p, log2 as log2, logical_and as logical_and, logical_not as logical_not,
    logical_or as logical_or, logical_xor as logical_xor, lt as lt, maximum as maximum,
    minimum as minimum, mul as mul, ne as ne, neg as neg, negative as negative,
    not_equal as not_equal, pow as pow, promote_types as promote_types,
    reciprocal as reciprocal, relu as relu, remainder as remainder, result_type as result_type,
    round as round, rsqrt as rsqrt, rsub as rsub, sigmoid as sigmoid, sign as sign, silu as silu,
    sin as sin, sinh as sinh, softplus as softplus, sqrt as sqrt, square as square, sub as sub,
    tan as tan, tanh as tanh, true_divide as true_divide, trunc as trunc, where as where,
    xlogy as xlogy,
)

if TYPE_CHECKING:  # out.install adds these at run time (llgrad.multiply, ...)
    multiply, subtract, divide = mul, sub, div

_ew = elementwise


def _where_method(self, condition, other):
    """This tensor where `condition` is True, `other` elsewhere: llgrad.where(condition, self,
    other), as Tensor.where."""
    return _ew.where(condition, self, other)


METHODS = {
    # elementwise
    "exp": _ew.exp, "log": _ew.log, "log1p": _ew.log1p, "log2": _ew.log2, "log10": _ew.log10,
    "expm1": _ew.expm1, "sqrt": _ew.sqrt, "rsqrt": _ew.rsqrt, "reciprocal": _ew.reciprocal,
    "sin": _ew.sin, "cos": _ew.cos, "tanh": _ew.tanh, "sigmoid": _ew.sigmoid, "erf": _ew.erf,
    "tan": _ew.tan, "sinh": _ew.sinh, "cosh": _ew.cosh, "asin": _ew.asin, "acos": _ew.acos,
    "atan": _ew.atan, "arcsin": _ew.asin, "arccos": _ew.acos, "arctan": _ew.atan,
    "atan2": _ew.atan2, "arctan2": _ew.atan2, "xlogy": _ew.xlogy,
    "neg": _ew.neg, "negative": _ew.neg, "abs": _ew.abs, "absolute": _ew.abs, "sign": _ew.sign,
    "floor": _ew.floor, "ceil": _ew.ceil, "round": _ew.round, "trunc": _ew.trunc,
    "square": _ew.square, "relu": _ew.relu,
    "add": _ew.add, "sub": _ew.sub, "subtract": _ew.sub, "mul": _ew.mul, "multiply": _ew.mul,
    "div": _ew.div, "divide": _ew.div, "true_divide": _ew.true_divide,
    "floor_divide": _ew.floor_divide, "remainder": _ew.remainder, "fmod": _ew.fmod,
    "pow": _ew.pow, "maximum": _ew.maximum, "minimum": _ew.minimum, "lerp": _ew.lerp,
    "addcmul": _ew.addcmul, "addcdiv": _ew.addcdiv,
    "clamp": _ew.clamp, "clip": _ew.clamp, "clamp_min": _ew.clamp_min, "clamp_max": _ew.clamp_max,
    "eq": _ew.eq, "ne": _ew.ne, "lt": _ew.lt, "le": _ew.le, "gt": _ew.gt, "ge": _ew.ge,
    "greater": _ew.gt, "less": _ew.lt, "not_equal": _ew.ne, "equal": _ew.equal,
    "logical_and": _ew.logical_and, "logical_or": _ew.logical_or,
    "logical_xor": _ew.logical_xor, "logical_not": _ew.logical_not,
    "isnan": _ew.isnan, "isinf": _ew.isinf, "isfinite": _ew.isfinite,
    "allclose": _ew.allclose, "isclose": _ew.isclose, "where": _where_method,
    "bitwise_and": _ew.bitwise_and, "bitwise_or": _ew.bitwise_or, "bitwise_not": _ew.bitwise_not,
    # reductions
    "sum": reduction.sum, "mean": reduction.mean, "var": reduction.var, "std": reduction.std,
    "max": reduction.max, "min": reduction.min, "amax": reduction.amax, "amin": reduction.amin,
    "argmax": reduction.argmax, "argmin": reduction.argmin, "logsumexp": reduction.logsumexp,
    "softmax": reduction.softmax, "log_softmax": reduction.log_softmax, "prod": reduction.prod,
    "all": reduction.all, "any": reduction.any, "norm": reduction.norm,
    "count_nonzero": reduction.count_nonzero, "cumsum": reduction.cumsum,
    "cumprod": reduction.cumprod,
    # shape
    "reshape": shape.reshape, "view": shape.view, "view_as": shape.view_as,
    "reshape_as": shape.reshape_as, "flatten": shape.flatten, "unflatten": shape.unflatten,
    "squeeze": shape.squeeze, "unsqueeze": shape.unsqueeze, "expand": shape.expand,
    "expand_as": shape.expand_as, "broadcast_to": shape.broadcast_to,
    "permute": shape.permute, "transpose": shape.transpose, "swapaxes": shape.transpose,
    "swapdims": shape.transpose, "t": shape.t, "movedim": shape.movedim,
    "contiguous": shape.contiguous, "clone": shape.clone, "to": shape.to,
    "type_as": shape.type_as, "float": shape.float_, "double": shape.double, "half": shape.half,
    "long": shape.long, "int": shape.int_, "short": shape.short, "char": shape.char,
    "byte": shape.byte, "bool": shape.bool_, "cpu": shape.cpu, "cuda": shape.cuda,
    "split": shape.split, "chunk": shape.chunk, "unbind": shape.unbind,
    "tensor_split": shape.tensor_split, "select": shape.select, "narrow": shape.narrow,
    "flip": shape.flip, "repeat": shape.repeat, "tile": shape.tile,
    "repeat_interleave": shape.repeat_interleave, "diag": shape.diag, "tril": shape.tril,
    "triu": shape.triu, "roll": shape.roll,
    # indexing
    "gather": indexing.gather, "index_select": indexing.index_select,
    "scatter_add": indexing.scatter_add, "masked_fill": indexing.masked_fill,
    "masked_select": indexing.masked_select, "nonzero": indexing.nonzero,
    "scatter": indexing.scatter, "scatter_": inplace.scatter_,
    # linear algebra
    "matmul": linalg.matmul, "mm": linalg.mm, "bmm": linalg.bmm, "dot": linalg.dot,
    "mv": linalg.mv, "outer": linalg.outer, "addmm": linalg.addmm,
    # sorting
    "sort": sorting.sort, "argsort": sorting.argsort, "topk": sorting.topk,
    "kthvalue": sorting.kthvalue, "msort": sorting.msort, "unique": sorting.unique,
    # in place
    "add_": inplace.add_, "sub_": inplace.sub_, "subtract_": inplace.sub_, "mul_": inplace.mul_,
    "multiply_": inplace.mul_, "div_": inplace.div_, "divide_": inplace.div_,
    "pow_": inplace.pow_, "neg_": inplace.neg_, "exp_": inplace.exp_, "log_": inplace.log_,
    "sqrt_": inplace.sqrt_, "sigmoid_": inplace.sigmoid_, "tanh_": inplace.tanh_,
    "relu_": inplace.relu_, "abs_": inplace.abs_, "clamp_": inplace.clamp_,
    "clamp_min_": inplace.clamp_min_, "clamp_max_": inplace.clamp_max_,
    "floor_": inplace.floor_, "round_": inplace.round_, "sign_": inplace.sign_,
    "addcmul_": inplace.addcmul_, "addcdiv_": inplace.addcdiv_, "lerp_": inplace.lerp_,
    "fill_": inplace.fill_, "zero_": inplace.zero_, "copy_": inplace.copy_,
    "masked_fill_": inplace.masked_fill_, "index_add_": inplace.index_add_,
    "scatter_add_": inplace.scatter_add_, "uniform_": inplace.uniform_,
    "normal_": inplace.normal_, "bernoulli_": inplace.bernoulli_, "random_": inplace.random_,
}


def _new_factory(fill, what):
    def new(self, *size, dtype=None, device=None, requires_grad=False, layout=None,
            pin_memory=False, **size_keyword):  # (new_zeros(size=(2, 3)), as the factories)
        return fill(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad,
                    **size_keyword)

    new.__doc__ = (f"A new tensor of {what} with the shape `size`, of this tensor's dtype unless "
                   f"`dtype` is given, as Tensor.new_{fill.__name__}.")
    return new


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False,
              layout=None, pin_memory=False):
    """A new tensor of shape `size` filled with `fill_value`, of this tensor's dtype unless
    `dtype` is given, as Tensor.new_full."""
    return creation.full(size, fill_value, dtype=dtype or self.dtype, device=device,
                         requires_grad=requires_grad)


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False, layout=None,
                pin_memory=False):
    """A new tensor copying `data`, of this tensor's dtype unless `dtype` is given, as
    Tensor.new_tensor."""
    return creation.tensor(data, dtype=dtype or self.dtype, device=device,
                           requires_grad=requires_grad)


def _reflected(fn):
    def method(self, other):
        return fn(other, self)

    return method


def _binary_operator(fn):
    def method(self, other):
        kind = type(other)
        if kind is Tensor or kind is float or kind is int:  # the common case, checked first
            return fn(self, other)
        if isinstance(other, _np.ndarray):  # PyTorch: the array as a tensor (its dtype kept)
            other = creation.as_tensor(other)
        elif not isinstance(other, (Tensor, int, float, bool, _np.number, _np.bool_)):
            return NotImplemented
        return fn(self, other)

    return method


def _rtruediv(self, other):
    return elementwise.reciprocal(self) * other


def _rpow(self, other):
    return elementwise.pow(other, self)


def _invert(self):
    if self.dtype.name == "bool":
        return elementwise.logical_not(self)
    return elementwise.bitwise_not(self)


OPERATORS = {
    "__add__": _binary_operator(elementwise.add),
    "__radd__": _binary_operator(elementwise.add),
    "__iadd__": inplace.add_,
    "__sub__": _binary_operator(elementwise.sub),
    "__rsub__": _binary_operator(elementwise.rsub),
    "__isub__": inplace.sub_,
    "__mul__": _binary_operator(elementwise.mul),
    "__rmul__": _binary_operator(elementwise.mul),
    "__imul__": inplace.mul_,
    "__truediv__": _binary_operator(elementwise.div),
    "__rtruediv__": _binary_operator(_rtruediv),
    "__itruediv__": inplace.div_,
    "__floordiv__": _binary_operator(elementwise.floor_divide),
    "__rfloordiv__": _binary_operator(_reflected(elementwise.floor_divide)),
    "__mod__": _binary_operator(elementwise.remainder),
    "__rmod__": _binary_operator(_reflected(elementwise.remainder)),
    "__pow__": _binary_operator(elementwise.pow),
    "__rpow__": _binary_operator(_rpow),
    "__ipow__": inplace.pow_,
    "__ifloordiv__": inplace.floor_divide_,
    "__imod__": inplace.remainder_,
    "__iand__": inplace.bitwise_and_,
    "__ior__": inplace.bitwise_or_,
    "__ixor__": inplace.bitwise_xor_,
    "__matmul__": linalg.matmul,
    "__rmatmul__": _reflected(linalg.matmul),
    "__neg__": elementwise.neg,
    "__pos__": lambda self: self,
    "__abs__": elementwise.abs,
    "__invert__": _invert,
    "__and__": _binary_operator(elementwise.bitwise_and),
    "__rand__": _binary_operator(elementwise.bitwise_and),
    "__or__": _binary_operator(elementwise.bitwise_or),
    "__ror__": _binary_operator(elementwise.bitwise_or),
    "__xor__": _binary_operator(elementwise.bitwise_xor),
    "__rxor__": _binary_operator(elementwise.bitwise_xor),
    "__eq__": _binary_operator(elementwise.eq),
    "__ne__": _binary_operator(elementwise.ne),
    "__lt__": _binary_operator(elementwise.lt),
    "__le__": _binary_operator(elementwise.le),
    "__gt__": _binary_operator(elementwise.gt),
    "__ge__": _binary_operator(elementwise.ge),
    "__getitem__": indexing.getitem,
    "__setitem__": indexing.setitem,
}

PROPERTIES = {"T": shape.T, "mT": shape.mT}


_NUMPY_SPELLINGS = {"axis": "dim", "keepdims": "keepdim"}
_TAKES_DIM = ("sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
              "logsumexp", "prod", "all", "any", "norm", "cumsum", "cumprod", "softmax",
              "log_softmax", "cat",
              "stack", "squeeze", "unsqueeze", "flip")


def _numpy_kwargs(fn):
    """PyTorch's argument parser accepts NumPy's spellings axis= and keepdims=; so do we."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for alias, name in _NUMPY_SPELLINGS.items():
            if alias in kwargs:
                kwargs[name] = kwargs.pop(alias)
        return fn(*args, **kwargs)

    return wrapper


def _accept_numpy_spellings():
    for name in _TAKES_DIM:
        if name in METHODS:
            METHODS[name] = _numpy_kwargs(METHODS[name])
        if name in globals():
            globals()[name] = _numpy_kwargs(globals()[name])


_accept_numpy_spellings()


def _bind():
    for name, fn in {**METHODS, **OPERATORS}.items():
        setattr(Tensor, name, fn)
    for name, fn in PROPERTIES.items():
        setattr(Tensor, name, builtins.property(fn))
    Tensor.new_zeros = _new_factory(creation.zeros, "zeros")
    Tensor.new_ones = _new_factory(creation.ones, "ones")
    Tensor.new_empty = _new_factory(creation.empty, "zeros (uninitialized in PyTorch)")
    Tensor.new_full = _new_full
    Tensor.new_tensor = _new_tensor


_bind()


def _public_functions(module):
    """The functions a family module defines (not what it imports), for `llgrad.*`."""
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and callable(value) and not isinstance(value, type)
            and getattr(value, "__module__", None) == module.__name__}


globals().update(_public_functions(creation))
globals().update(_public_functions(elementwise))
_EXPLICIT = ["argsort", "kthvalue", "msort", "sort", "topk", "unique", "argwhere", "gather",
             "index_select", "masked_fill", "masked_select", "nonzero", "scatter", "scatter_add",
             "take_along_dim", "addmm", "bmm", "dot", "einsum", "inner", "linear", "matmul", "mm",
             "mv", "outer", "vdot", "all", "amax", "amin", "any", "argmax", "argmin",
             "count_nonzero", "cumprod", "cumsum", "log_softmax",
             "logsumexp", "max", "mean", "min", "norm", "prod", "softmax", "std", "std_mean", "sum",
             "var", "var_mean", "broadcast_tensors", "broadcast_to", "cat", "chunk", "clone",
             "concat", "concatenate", "contiguous", "diag", "expand", "expand_as", "flatten",
             "flip", "hstack", "moveaxis", "movedim", "narrow", "permute", "repeat_interleave",
             "reshape", "roll", "select", "split", "squeeze", "stack", "swapaxes", "swapdims", "t",
             "tensor_split", "tile", "transpose", "tril", "triu", "unbind", "unflatten",
             "unsqueeze", "view", "vstack"]
# Set through globals(): a type checker cannot evaluate this expression and, seeing it, would
# export nothing; without it, it reads the `name as name` imports above.
globals()["__all__"] = sorted(set(_EXPLICIT) | set(_public_functions(creation)) |
                              set(_public_functions(elementwise)))

# out= on the functions PyTorch gives it (llgrad.mul(a, b, out=c)); methods keep the plain ones
from . import out as _out  # noqa: E402

_out.install(globals())
