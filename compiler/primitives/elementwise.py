"""Elementwise primitives: unary math, binary arithmetic with NumPy broadcasting, comparisons,
`where`, and `cast`.

Every primitive sits in one row: name, NumPy reference, VJP (written with primitives and the
arithmetic operators, which every value type supports) and what the VJP reads. Operands of a
binary primitive share one dtype; a Python scalar operand is weak and takes the other's dtype.
The frontend applies PyTorch's type promotion before it calls these.
"""
import math

import numpy as np

from .. import dtypes
from ..primitive import Aval, broadcast_shapes, define, shape_of
from . import special

SQRT_2_OVER_PI = 2.0 / math.sqrt(math.pi)


# ---- shape/dtype rules -------------------------------------------------------------------------

def _dtype_of_operands(args):
    for a in args:
        dtype = getattr(a, "dtype", None)
        if isinstance(dtype, dtypes.DType):
            return dtype
    raise TypeError("an elementwise primitive needs at least one typed operand")


def same_as_input(*args, **_):
    return Aval(broadcast_shapes(*map(shape_of, args)), _dtype_of_operands(args))


def boolean_result(*args, **_):
    return Aval(broadcast_shapes(*map(shape_of, args)), dtypes.bool_)


# ---- unary -------------------------------------------------------------------------------------



def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _rsqrt(x):
    return 1 / np.sqrt(x)


def unary(name, impl, d=None, saves=(), saves_out=False, lower=None):
    """`d(g, out, x)`: the cotangent of x. `lower(ops, x)`: the native code for one element."""
    return define(name, impl, same_as_input, None if d is None else (d,), saves, saves_out,
                  family="unary", lower=lower or _math_lowering(name))


def _math_lowering(name):
    """Transcendental functions lower to the vectorized math library (codegen/mathlib.py)."""
    return lambda ops, x: ops.math(name, x)


neg = unary("neg", np.negative, lambda g, out, x: -g, lower=lambda o, x: o.neg(x))
exp = unary("exp", np.exp, lambda g, out, x: g * out, saves_out=True)
log = unary("log", np.log, lambda g, out, x: g / x, saves=(0,))
log1p = unary("log1p", np.log1p, lambda g, out, x: g / (x + 1), saves=(0,))
expm1 = unary("expm1", np.expm1, lambda g, out, x: g * (out + 1), saves_out=True)
sqrt = unary("sqrt", np.sqrt, lambda g, out, x: g / (out * 2), saves_out=True,
             lower=lambda o, x: o.sqrt(x))
rsqrt = unary("rsqrt", _rsqrt, lambda g, out, x: g * (out * out * out) * -0.5, saves_out=True,
              lower=lambda o, x: o.div(o.const(x, 1), o.sqrt(x)))
reciprocal = unary("reciprocal", np.reciprocal, lambda g, out, x: -g * (out * out),
                   saves_out=True, lower=lambda o, x: o.reciprocal(x))
sin = unary("sin", np.sin, lambda g, out, x: g * cos(x), saves=(0,))
cos = unary("cos", np.cos, lambda g, out, x: g * -sin(x), saves=(0,))
tan = unary("tan", np.tan, lambda g, out, x: g * (1 + out * out), saves_out=True)
sinh = unary("sinh", np.sinh, lambda g, out, x: g * cosh(x), saves=(0,))
cosh = unary("cosh", np.cosh, lambda g, out, x: g * sinh(x), saves=(0,))
asin = unary("asin", np.arcsin, lambda g, out, x: g * rsqrt(-(x * x) + 1), saves=(0,))
acos = unary("acos", np.arccos, lambda g, out, x: -g * rsqrt(-(x * x) + 1), saves=(0,))
atan = unary("atan", np.arctan, lambda g, out, x: g / (x * x + 1), saves=(0,))
tanh = unary("tanh", np.tanh, lambda g, out, x: g * (1 - out * out), saves_out=True)
sigmoid = unary("sigmoid", _sigmoid, lambda g, out, x: g * (out * (1 - out)), saves_out=True)
abs_ = unary("abs", np.abs, lambda g, out, x: g * sign(x), saves=(0,), lower=lambda o, x: o.abs(x))
erf = unary("erf", special.erf, lambda g, out, x: g * (exp(-(x * x)) * SQRT_2_OVER_PI), saves=(0,))
# Piecewise-constant functions: PyTorch gives them a zero gradient rather than none.
def _sign(x):
    return np.sign(x) if x.dtype.kind != "b" else np.array(x, copy=True)  # a bool is its sign


sign = unary("sign", _sign, lambda g, out, x: g * 0, lower=lambda o, x: o.sign(x))
floor = unary("floor", np.floor, lambda g, out, x: g * 0, lower=lambda o, x: o.rounding("floor", x))
ceil = unary("ceil", np.ceil, lambda g, out, x: g * 0, lower=lambda o, x: o.rounding("ceil", x))
round_ = unary("round", np.round, lambda g, out, x: g * 0, lower=lambda o, x: o.rounding("rint", x))
trunc = unary("trunc", np.trunc, lambda g, out, x: g * 0, lower=lambda o, x: o.rounding("trunc", x))
logical_not = define("logical_not", np.logical_not, boolean_result, family="unary",
                     lower=lambda o, x: o.logical_not(x))
isnan = define("isnan", np.isnan, boolean_result, family="unary", lower=lambda o, x: o.isnan(x))
isinf = define("isinf", np.isinf, boolean_result, family="unary", lower=lambda o, x: o.isinf(x))
isfinite = define("isfinite", np.isfinite, boolean_result, family="unary",
                  lower=lambda o, x: o.isfinite(x))


# ---- binary ------------------------------------------------------------------------------------

def _dpow_base(g, out, x, y):
    # PyTorch's pow_backward: zero where the exponent is 0 (even at x == 0, where y * x**(y-1)
    # would be 0 * inf); a Python exponent decides that once, so x ** 3 records no `where`.
    if isinstance(y, (int, float)):
        return g * 0 if y == 0 else g * (y * pow_(x, y - 1))
    return where(eq(y, 0), 0, g * (y * pow_(x, y - 1)))


def _dpow_exponent(g, out, x, y):
    # d/dy x**y = x**y * log(x), taken as 0 where x == 0 and y >= 0 (PyTorch's convention).
    if isinstance(x, (int, float)):
        if x == 0:
            return g * where(ge(y, 0), 0, out * -math.inf)
        return g * (out * (math.log(x) if x > 0 else math.nan))
    return g * where(logical_and(eq(x, 0), ge(y, 0)), 0, out * log(x))


def _select_grad(g, wins, ties):
    # maximum/minimum: the winner takes the gradient; ties split it in half, as in PyTorch.
    return where(wins, g, where(ties, g * 0.5, 0))


def binary(name, impl, dx=None, dy=None, saves=(), saves_out=False, lower=None):
    """`dx(g, out, x, y)`, `dy(g, out, x, y)`: the cotangents of x and y. `lower(ops, x, y)`: the
    native code for one element; by default the instruction helper of the same name."""
    vjp = None if dx is None else (dx, dy)
    return define(name, impl, same_as_input, vjp, saves, saves_out, family="binary",
                  lower=lower or (lambda o, x, y: getattr(o, name)(x, y)))


def compare(name, impl):
    """Comparisons and logical connectives: a boolean result, lowered by `ops.<name>`."""
    return define(name, impl, boolean_result, family="compare",
                  lower=lambda o, x, y: getattr(o, name)(x, y))


add = binary("add", np.add, lambda g, out, x, y: g, lambda g, out, x, y: g)
sub = binary("sub", np.subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g)
mul = binary("mul", np.multiply, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x,
             saves=(0, 1))
div = binary("div", np.true_divide, lambda g, out, x, y: g / y,
             lambda g, out, x, y: -g * ((x / y) / y), saves=(0, 1))
def _power(x, y):
    # NumPy raises booleans to int8; the primitive keeps its operands' type (bool ** bool).
    out = np.power(x, y)
    dtype = getattr(x, "dtype", None) if isinstance(x, np.ndarray) else getattr(y, "dtype", None)
    return out if dtype is None or out.dtype == dtype else out.astype(dtype)


pow_ = binary("pow", _power, _dpow_base, _dpow_exponent, saves=(0, 1), saves_out=True,
              lower=lambda o, x, y: o.power(x, y))
maximum = binary("maximum", np.maximum, lambda g, out, x, y: _select_grad(g, gt(x, y), eq(x, y)),
                 lambda g, out, x, y: _select_grad(g, lt(x, y), eq(x, y)), saves=(0, 1))
minimum = binary("minimum", np.minimum, lambda g, out, x, y: _select_grad(g, lt(x, y), eq(x, y)),
                 lambda g, out, x, y: _select_grad(g, gt(x, y), eq(x, y)), saves=(0, 1))
atan2 = binary("atan2", np.arctan2, lambda g, out, y, x: g * x * reciprocal(y * y + x * x),
               lambda g, out, y, x: g * -y * reciprocal(y * y + x * x), saves=(0, 1),
               lower=lambda o, y, x: o.math("atan2", y, x))
remainder = binary("remainder", np.remainder, lambda g, out, x, y: g,
                   lambda g, out, x, y: -g * floor(x / y), saves=(0, 1))
fmod = binary("fmod", np.fmod, lambda g, out, x, y: g, lambda g, out, x, y: -g * trunc(x / y),
              saves=(0, 1))
floor_divide = binary("floor_divide", np.floor_divide)
bitwise_and = binary("bitwise_and", np.bitwise_and)
bitwise_or = binary("bitwise_or", np.bitwise_or)
bitwise_xor = binary("bitwise_xor", np.bitwise_xor)
bitwise_not = define("bitwise_not", np.invert, same_as_input, family="unary",
                     lower=lambda o, x: o.bitwise_not(x))
logical_and = compare("logical_and", np.logical_and)
logical_or = compare("logical_or", np.logical_or)
logical_xor = compare("logical_xor", np.logical_xor)
eq = compare("eq", np.equal)
ne = compare("ne", np.not_equal)
lt = compare("lt", np.less)
le = compare("le", np.less_equal)
gt = compare("gt", np.greater)
ge = compare("ge", np.greater_equal)


# ---- where, cast -------------------------------------------------------------------------------

def _where_abstract(c, x, y):
    return Aval(broadcast_shapes(shape_of(c), shape_of(x), shape_of(y)), _dtype_of_operands((x, y)))


def _where_impl(c, x, y):
    """np.where, but a select against a literal zero (the gradient of relu, of a mask) runs as a
    multiply by the mask, several times faster in NumPy. The result is the same bit for bit: the
    product's -0.0 become +0.0, and a NaN (a non-finite value on the unselected side) sends us
    back to np.where."""
    result = None
    if type(c) is np.ndarray and c.dtype == np.bool_:
        if _is_zero_literal(y) and _float_array_like(x, c):
            result = _masked(x, c)
        elif _is_zero_literal(x) and _float_array_like(y, c):
            result = _masked(y, ~c)
    return np.where(c, x, y) if result is None else result


def _is_zero_literal(v):
    return type(v) in (int, float) and v == 0


def _float_array_like(v, c):
    return type(v) is np.ndarray and v.dtype.kind == "f" and v.shape == c.shape


def _masked(x, keep):
    result = np.multiply(x, keep)
    if np.isnan(result).any():
        return None
    result += 0.0  # -0.0 * False gives -0.0; np.where would give +0.0
    return result


where = define("where", _where_impl, _where_abstract,
               (None, lambda g, out, c, x, y: where(c, g, 0), lambda g, out, c, x, y: where(c, 0, g)),
               saves=(0,), family="ternary", lower=lambda o, c, x, y: o.select(c, x, y))


def _cast_impl(x, dtype):
    return x.astype(dtype.np)


cast = define("cast", _cast_impl, lambda x, dtype: Aval(shape_of(x), dtype),
              (lambda g, out, x, dtype: g,), family="unary",
              lower=lambda o, x, dtype: o.cast(x, dtype))
