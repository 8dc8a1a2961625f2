"""Elementwise operations: arithmetic, math functions, activations, comparisons, `where`, `clamp`.

Most are one primitive under PyTorch's node name; activations whose derivative PyTorch defines
its own way at kinks (relu, clamp) carry their own VJP rule.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from ..compiler import dtypes
from ..compiler import primitives as P
from ..compiler.primitive import dtype_of
from ..dispatch import Op, apply, primitive_op
from ..tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._typing import DType, Number, TensorOrNumber


def _float_unary(node_name: str, prim: Any, what: str) -> Callable[[Tensor], Tensor]:
    """An op whose result is floating point (integer input is promoted to the default float
    type); `what` completes its docstring."""
    op = primitive_op(node_name, prim, promote="float")

    def fn(input: Tensor) -> Tensor:
        return apply(op, (input,))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = (f"{what}, elementwise, as torch.{prim.name}; integer and bool input gives the "
                  f"default float type. Returns a new tensor.")
    fn.op = op  # type: ignore[attr-defined]
    return fn


def _same_type_unary(node_name: str, prim: Any, what: str,
                     bool_error: Exception | None = None) -> Callable[[Tensor], Tensor]:
    """An op whose result keeps the input's type; `bool_error`: PyTorch refuses bool input."""
    op = primitive_op(node_name, prim)

    def fn(input: Tensor) -> Tensor:
        if bool_error is not None and _is_bool(input):
            raise bool_error
        return apply(op, (input,))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = f"{what}, elementwise, as torch.{prim.name}. Returns a new tensor."
    fn.op = op  # type: ignore[attr-defined]
    return fn


def _is_bool(value):
    if isinstance(value, Tensor):
        return value._data.dtype.kind == "b"
    return isinstance(value, (bool, np.bool_))


def _not_for_bool(kernel):
    """PyTorch's error for a kernel it has no bool version of."""
    return NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def _refuse_bool_result(kernel, input, other):
    """PyTorch implements these arithmetic ops for no bool computation type."""
    if _is_bool(input) and _is_bool(other):
        raise _not_for_bool(kernel)


def _check_integer_divisor(input, other):
    """Integer division by zero raises in PyTorch (NumPy would quietly give 0)."""
    from ..dispatch import result_type

    if result_type(input, other).is_floating_point:
        return
    if isinstance(other, Tensor):
        data = other._data
        zero = type(data) is np.ndarray and not data.all()  # (a traced divisor is not checked)
    else:
        zero = other == 0
    if zero:
        raise RuntimeError("ZeroDivisionError")  # PyTorch's error, type and message


NEG_BOOL = RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you "
                        "are trying to invert a mask, use the `~` or `logical_not()` operator "
                        "instead.")


def _check_sub_operands(input, other):
    if _is_bool(input) and _is_bool(other):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if _is_bool(input) or _is_bool(other):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


exp = _float_unary("ExpBackward0", P.exp, "e to the power of each element")
log = _float_unary("LogBackward0", P.log, "The natural logarithm")
log1p = _float_unary("Log1PBackward0", P.log1p, "log(1 + x), accurate for small x")
expm1 = _float_unary("Expm1Backward0", P.expm1, "exp(x) - 1, accurate for small x")
sqrt = _float_unary("SqrtBackward0", P.sqrt, "The square root")
rsqrt = _float_unary("RsqrtBackward0", P.rsqrt, "1 / sqrt(x)")
reciprocal = _float_unary("ReciprocalBackward0", P.reciprocal, "1 / x")
sin = _float_unary("SinBackward0", P.sin, "The sine")
cos = _float_unary("CosBackward0", P.cos, "The cosine")
tanh = _float_unary("TanhBackward0", P.tanh, "The hyperbolic tangent")
sigmoid = _float_unary("SigmoidBackward0", P.sigmoid, "The logistic sigmoid 1 / (1 + exp(-x))")
erf = _float_unary("ErfBackward0", P.erf, "The error function")
tan = _float_unary("TanBackward0", P.tan, "The tangent")
sinh = _float_unary("SinhBackward0", P.sinh, "The hyperbolic sine")
cosh = _float_unary("CoshBackward0", P.cosh, "The hyperbolic cosine")
asin = _float_unary("AsinBackward0", P.asin, "The arcsine")
acos = _float_unary("AcosBackward0", P.acos, "The arccosine")
atan = _float_unary("AtanBackward0", P.atan, "The arctangent")
arcsin, arccos, arctan = asin, acos, atan
neg = _same_type_unary("NegBackward0", P.neg, "-x", bool_error=NEG_BOOL)
abs = _same_type_unary("AbsBackward0", P.abs_, "The absolute value",  # noqa: A001
                       bool_error=_not_for_bool("abs_cpu"))
sign = _same_type_unary("SignBackward0", P.sign, "The sign (-1, 0 or 1)")
floor = _same_type_unary("FloorBackward0", P.floor, "Rounded down",
                         bool_error=_not_for_bool("floor_vml_cpu"))
ceil = _same_type_unary("CeilBackward0", P.ceil, "Rounded up",
                        bool_error=_not_for_bool("ceil_vml_cpu"))
round = _same_type_unary("RoundBackward0", P.round_,  # noqa: A001
                         "Rounded to the nearest integer, halves to even",
                         bool_error=_not_for_bool("round_vml_cpu"))
trunc = _same_type_unary("TruncBackward0", P.trunc, "Rounded toward zero",
                         bool_error=_not_for_bool("trunc_vml_cpu"))
negative = neg
absolute = abs


def _log_base_op(node_name, base):
    ln_base = math.log(base)
    return Op(node_name, lambda x: P.log(x) * (1 / ln_base),
              (lambda g, out, x: g / (x * ln_base),), saves=(0,), promote="float")


LOG2 = _log_base_op("Log2Backward0", 2)
LOG10 = _log_base_op("Log10Backward0", 10)


def log2(input: Tensor) -> Tensor:
    """The base-2 logarithm of each element, as torch.log2 (integer input gives the default float
    type)."""
    return apply(LOG2, (input,))


def log10(input: Tensor) -> Tensor:
    """The base-10 logarithm of each element, as torch.log10 (integer input gives the default float
    type)."""
    return apply(LOG10, (input,))


def square(input: Tensor) -> Tensor:
    """Each element squared (`input ** 2`), as torch.square."""
    return pow(input, 2)


# ---- binary arithmetic -------------------------------------------------------------------------

ADD = primitive_op("AddBackward0", P.add, promote="common")
SUB = primitive_op("SubBackward0", P.sub, promote="common")
MUL = primitive_op("MulBackward0", P.mul, promote="common")
DIV = primitive_op("DivBackward0", P.div, promote="float")
# add/sub with a Python alpha: one node, as PyTorch records it (a tensor alpha multiplies first).
ADD_ALPHA = Op("AddBackward0", lambda x, y, alpha: x + y * alpha,
               (lambda g, out, x, y, alpha: g, lambda g, out, x, y, alpha: g * alpha),
               promote="common")
SUB_ALPHA = Op("SubBackward0", lambda x, y, alpha: x - y * alpha,
               (lambda g, out, x, y, alpha: g, lambda g, out, x, y, alpha: g * -alpha),
               promote="common")


def _rsub_forward(x, y, alpha=1):
    return y - (x if alpha == 1 else x * alpha)


def _drsub_input(g, out, x, y, alpha=1):
    return -g if alpha == 1 else g * -alpha


# rsub(tensor, tensor) is RsubBackward0; rsub(tensor, number) (and `number - tensor`) is
# RsubBackward1, with an edge for the tensor only, as in PyTorch.
RSUB = Op("RsubBackward0", _rsub_forward, (_drsub_input, lambda g, out, x, y, alpha=1: g),
          promote="common")
RSUB_SCALAR = Op("RsubBackward1", _rsub_forward, (_drsub_input,), promote="common")
POW = primitive_op("PowBackward0", P.pow_, promote="common")
POW_TENSOR = primitive_op("PowBackward1", P.pow_, promote="common")
POW_SCALAR_BASE = Op("PowBackward2", P.pow_, (None, P.pow_.vjp[1]), saves=(0, 1),
                     saves_out=True, promote="common")
POW_SCALAR_EXPONENT = Op("PowBackward0", P.pow_, (P.pow_.vjp[0], None), saves=(0, 1),
                         saves_out=True, promote="common")
MAXIMUM = primitive_op("MaximumBackward0", P.maximum, promote="common")
MINIMUM = primitive_op("MinimumBackward0", P.minimum, promote="common")
# remainder/fmod: the Tensor-Tensor overloads are *Backward1; with a number as the divisor,
# *Backward0 with one edge (PyTorch's Scalar overloads).
REMAINDER = primitive_op("RemainderBackward1", P.remainder, promote="common")
REMAINDER_SCALAR = Op("RemainderBackward0", P.remainder, (P.remainder.vjp[0],), promote="common")
FMOD = primitive_op("FmodBackward1", P.fmod, promote="common")
FMOD_SCALAR = Op("FmodBackward0", P.fmod, (P.fmod.vjp[0],), promote="common")
FLOOR_DIVIDE = primitive_op("FloorDivideBackward0", P.floor_divide, promote="common")


def _check_operand(other):
    if not isinstance(other, (Tensor, int, float, bool)):
        return NotImplemented
    return other


def is_one(x: object) -> bool:
    """A multiplier that can be skipped. Only a Python number can be: a tensor (a runtime
    learning rate inside llgrad.compile) is always applied."""
    return isinstance(x, (int, float)) and x == 1


def add(input: TensorOrNumber, other: TensorOrNumber, *, alpha: Number = 1) -> Tensor:
    """input + alpha * other, elementwise with broadcasting, as torch.add. `input` and `other` are
    tensors or numbers; the result has their promoted dtype (PyTorch's rules: a number does not
    widen a tensor's float type). `llgrad.add` also takes `out=`."""
    if is_one(alpha):
        return apply(ADD, (input, other))
    if isinstance(alpha, Tensor):
        return apply(ADD, (input, mul(other, alpha)))
    return apply(ADD_ALPHA, (input, other), {"alpha": alpha})


def sub(input: TensorOrNumber, other: TensorOrNumber, *, alpha: Number = 1) -> Tensor:
    """input - alpha * other, elementwise with broadcasting, as torch.sub (bool operands are
    refused, as in PyTorch). `llgrad.sub` also takes `out=`."""
    _check_sub_operands(input, other)
    if is_one(alpha):
        return apply(SUB, (input, other))
    if isinstance(alpha, Tensor):
        return apply(SUB, (input, mul(other, alpha)))
    return apply(SUB_ALPHA, (input, other), {"alpha": alpha})


def rsub(input: TensorOrNumber, other: TensorOrNumber, *, alpha: Number = 1) -> Tensor:
    """other - alpha * input."""
    _check_sub_operands(input, other)
    if isinstance(alpha, Tensor):
        input, alpha = mul(input, alpha), 1
    op = RSUB if isinstance(other, Tensor) else RSUB_SCALAR
    return apply(op, (input, other), {} if is_one(alpha) else {"alpha": alpha})


def mul(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
    """input * other, elementwise with broadcasting, as torch.mul. `llgrad.mul` also takes `out=`.
    """
    return apply(MUL, (input, other))


def _div_rounding_forward(x, y, rounding_mode):
    if rounding_mode == "floor":
        return P.floor_divide(x, y)
    dtype = dtype_of(x if hasattr(x, "dtype") else y)
    quotient = P.trunc(P.div(x, y))
    # Integers divide to floats; the rounded quotient keeps the operands' type.
    return quotient if dtype_of(quotient) is dtype else P.cast(quotient, dtype=dtype)


def _zero_grad(g, out, x, y, rounding_mode):
    return g * 0


# div with a rounding mode: piecewise constant, so PyTorch's DivBackward2 passes zeros.
DIV_ROUNDING = Op("DivBackward2", _div_rounding_forward, (_zero_grad, _zero_grad),
                  promote="common")


def div(input: TensorOrNumber, other: TensorOrNumber, *,
        rounding_mode: str | None = None) -> Tensor:
    """input / other, elementwise with broadcasting, as torch.div: true division (integers give the
    default float type) unless `rounding_mode` is 'trunc' or 'floor'. Integer division by zero
    raises, as in PyTorch. `llgrad.div` also takes `out=`."""
    if rounding_mode is None:
        return apply(DIV, (input, other))
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found '{rounding_mode}'")
    _refuse_bool_result(f"div_{rounding_mode}_cpu", input, other)
    _check_integer_divisor(input, other)
    return apply(DIV_ROUNDING, (input, other), {"rounding_mode": rounding_mode})


def true_divide(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
    """input / other with true division, as torch.true_divide (div without rounding_mode)."""
    return apply(DIV, (input, other))


def floor_divide(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
    """input // other, rounded toward negative infinity, as torch.floor_divide."""
    _refuse_bool_result("div_floor_cpu", input, other)
    _check_integer_divisor(input, other)
    return apply(FLOOR_DIVIDE, (input, other))


def remainder(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
    """The remainder of input / other with the sign of the divisor (Python's %), as
    torch.remainder."""
    _refuse_bool_result("remainder_cpu", input, other)
    _check_integer_divisor(input, other)
    return apply(REMAINDER if isinstance(other, Tensor) else REMAINDER_SCALAR, (input, other))


def pow(input: TensorOrNumber, exponent: TensorOrNumber) -> Tensor:  # noqa: A001 (torch.pow)
    """input ** exponent, elementwise; either may be a number, as torch.pow."""
    if not isinstance(exponent, Tensor):
        if not isinstance(input, Tensor):
            raise TypeError("pow() needs at least one tensor argument")
        if input._data.dtype.kind in "iub" and isinstance(exponent, int) and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return apply(POW_SCALAR_EXPONENT, (input, exponent))
    _refuse_bool_result("pow", input, exponent)
    if not isinstance(input, Tensor):
        return apply(POW_SCALAR_BASE, (input, exponent))
    return apply(POW_TENSOR, (input, exponent))


def _tensors_only(name, input, other):
    for arg, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not "
                            f"{type(value).__name__}")


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise maximum of two tensors (NaN propagates), as torch.maximum."""
    _tensors_only("maximum", input, other)
    return apply(MAXIMUM, (input, other))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """The elementwise minimum of two tensors (NaN propagates), as torch.minimum."""
    _tensors_only("minimum", input, other)
    return apply(MINIMUM, (input, other))


def _xlogy_forward(x, y):
    # 0 where x is 0 (even where log(y) is -inf), unless y is NaN
    zero = P.eq(x, 0)
    if not isinstance(y, (int, float)):
        zero = P.logical_and(zero, P.logical_not(P.isnan(y)))
    return P.where(zero, 0, x * P.log(y))


def _xlogy_dx(g, out, x, y):
    # PyTorch's xlogy(grad, other), zeroed where x == 0 and other <= 0
    dx = _xlogy_forward(g, y)
    if isinstance(y, (int, float)):
        return P.where(P.eq(x, 0), 0, dx) if y <= 0 else dx
    return P.where(P.logical_and(P.eq(x, 0), P.le(y, 0)), 0, dx)


_XLOGY_VJP = (_xlogy_dx, lambda g, out, x, y: g * x / y)
XLOGY = Op("XlogyBackward0", _xlogy_forward, _XLOGY_VJP, saves=(0, 1), promote="float")
XLOGY_SCALAR_SELF = Op("XlogyBackward1", _xlogy_forward, (None, _XLOGY_VJP[1]), saves=(0, 1),
                       promote="float")
XLOGY_SCALAR_OTHER = Op("XlogyBackward2", _xlogy_forward, (_XLOGY_VJP[0], None), saves=(0, 1),
                        promote="float")


def xlogy(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
    """input * log(other), and 0 where input is 0."""
    if not isinstance(input, Tensor):
        return apply(XLOGY_SCALAR_SELF, (input, other))
    return apply(XLOGY if isinstance(other, Tensor) else XLOGY_SCALAR_OTHER, (input, other))


ATAN2 = primitive_op("Atan2Backward0", P.atan2, promote="float")


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point (other, input): the arctangent of input / other in the right
    quadrant, as torch.atan2."""
    _tensors_only("atan2", input, other)
    return apply(ATAN2, (input, other))


arctan2 = atan2


def fmod(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
    """The remainder of input / other with the sign of the dividend (C's fmod), as torch.fmod."""
    _refuse_bool_result("fmod_cpu", input, other)
    _check_integer_divisor(input, other)
    return apply(FMOD if isinstance(other, Tensor) else FMOD_SCALAR, (input, other))


def _lerp_forward(x, end, weight):
    # PyTorch's kernel: from whichever end is nearer, so lerp(a, b, 1) is exactly b.
    diff = end - x
    if isinstance(weight, (int, float)):
        # (-0.5 < w < 0.5: this module's abs is the tensor op)
        return x + diff * weight if -0.5 < weight < 0.5 else end - diff * (1 - weight)
    return P.where(P.lt(P.abs_(weight), 0.5), x + diff * weight, end - diff * (1 - weight))


_LERP_VJP = (lambda g, out, x, end, weight: g * (1 - weight),
             lambda g, out, x, end, weight: g * weight,
             lambda g, out, x, end, weight: g * (end - x))
LERP = Op("LerpBackward0", _lerp_forward, _LERP_VJP[:2], saves=(2,), promote="common")
LERP_TENSOR = Op("LerpBackward1", _lerp_forward, _LERP_VJP, saves=(0, 1, 2), promote="common")


def lerp(input: Tensor, end: Tensor, weight: TensorOrNumber) -> Tensor:
    """Linear interpolation input + weight * (end - input), as torch.lerp; `weight` is a number or
    a tensor."""
    return apply(LERP_TENSOR if isinstance(weight, Tensor) else LERP, (input, end, weight))


def _scaled(t, value):
    # `value` may be a tensor (a runtime scalar inside llgrad.compile): only a Python 1 is skipped.
    return t if is_one(value) else t * value


def _addcmul_forward(x, t1, t2, value):
    return x + _scaled(t1, value) * t2  # PyTorch's kernel order: self + (value * t1) * t2


def _addcdiv_forward(x, t1, t2, value):
    return x + _scaled(t1, value) / t2


# The value is an argument rather than a parameter, so it can be a tensor; it gets no gradient.
ADDCMUL = Op("AddcmulBackward0", _addcmul_forward,
             (lambda g, out, x, t1, t2, value: g,
              lambda g, out, x, t1, t2, value: g * _scaled(t2, value),
              lambda g, out, x, t1, t2, value: g * _scaled(t1, value), None),
             saves=(1, 2, 3), promote="common")
ADDCDIV = Op("AddcdivBackward0", _addcdiv_forward,
             (lambda g, out, x, t1, t2, value: g,
              lambda g, out, x, t1, t2, value: g * (value / t2),
              lambda g, out, x, t1, t2, value: -g * (_scaled(t1, value) / (t2 * t2)), None),
             saves=(1, 2, 3), promote="common")


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor:
    """input + value * tensor1 * tensor2, elementwise, as torch.addcmul."""
    return apply(ADDCMUL, (input, tensor1, tensor2, value))


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Number = 1) -> Tensor:
    """input + value * tensor1 / tensor2, elementwise, as torch.addcdiv."""
    return apply(ADDCDIV, (input, tensor1, tensor2, value))


# ---- comparisons and logic (never differentiable) ----------------------------------------------

def _comparison(prim: Any, what: str) -> Callable[[TensorOrNumber, TensorOrNumber], Tensor]:
    op = primitive_op(prim.name, prim, promote="common")

    def fn(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
        return apply(op, (input, other))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = (f"{what}, elementwise, as torch.{prim.name}: a bool tensor of the broadcast "
                  f"shape (`other` may be a number). Not differentiable.")
    return fn


eq = _comparison(P.eq, "input == other")
ne = _comparison(P.ne, "input != other")
lt = _comparison(P.lt, "input < other")
le = _comparison(P.le, "input <= other")
gt = _comparison(P.gt, "input > other")
ge = _comparison(P.ge, "input >= other")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _comparison(P.logical_and, "Logical AND of the truth values")
logical_or = _comparison(P.logical_or, "Logical OR of the truth values")
logical_xor = _comparison(P.logical_xor, "Logical XOR of the truth values")
logical_not = _same_type_unary("logical_not", P.logical_not,
                               "Logical NOT (True where the element is zero), as a bool tensor")
isnan = _same_type_unary("isnan", P.isnan, "Whether each element is NaN, as a bool tensor")
isinf = _same_type_unary("isinf", P.isinf, "Whether each element is infinite, as a bool tensor")
isfinite = _same_type_unary("isfinite", P.isfinite,
                            "Whether each element is finite, as a bool tensor")


def equal(input: Tensor, other: Tensor) -> bool:
    """True if the two tensors have the same shape and elements, as torch.equal (a Python bool)."""
    return input.shape == other.shape and bool((input == other).all())


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True if every element satisfies |input - other| <= atol + rtol * |other| (NaNs equal only
    with `equal_nan`), as torch.allclose. Reads the values, so it cannot run inside
    llgrad.compile."""
    return bool(np.allclose(input.numpy(force=True), other.numpy(force=True), rtol, atol, equal_nan))


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """The elementwise test of allclose, as a bool tensor, as torch.isclose."""
    from .creation import from_numpy

    return from_numpy(np.isclose(input.numpy(force=True), np.asarray(other), rtol, atol, equal_nan))


# ---- type promotion ----------------------------------------------------------------------------

def result_type(tensor1: TensorOrNumber, tensor2: TensorOrNumber) -> DType:
    """The dtype of an op between the two (tensors or Python numbers), as PyTorch computes it."""
    from ..dispatch import python_scalars
    from ..dispatch import result_type as _result_type

    return _result_type(*python_scalars((tensor1, tensor2)))


def promote_types(type1: DType, type2: DType) -> DType:
    """The dtype two dtypes promote to in an operation, as torch.promote_types."""
    return dtypes.promote(type1, type2)


def can_cast(from_: DType, to: DType) -> bool:
    """Whether PyTorch's casting rules allow from_ -> to: never to a lower category (float to
    integer, number to bool)."""
    return from_.category <= to.category


# ---- bitwise on integer/bool tensors -----------------------------------------------------------

def _bitwise(name: str, prim: Any) -> Callable[[TensorOrNumber, TensorOrNumber], Tensor]:
    op = Op(name, prim, None, promote="common")

    def fn(input: TensorOrNumber, other: TensorOrNumber) -> Tensor:
        return apply(op, (input, other))

    fn.__doc__ = (f"Bitwise {name.split('_')[1].upper()} of integer or bool tensors (`other` may "
                  f"be a number), as torch.{name}. Not differentiable.")
    return fn


bitwise_and = _bitwise("bitwise_and", P.bitwise_and)
bitwise_or = _bitwise("bitwise_or", P.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", P.bitwise_xor)
BITWISE_NOT = Op("bitwise_not", P.bitwise_not, None)


def bitwise_not(input: Tensor) -> Tensor:
    """Bitwise NOT of an integer tensor (logical NOT of a bool one), as torch.bitwise_not."""
    return apply(BITWISE_NOT, (input,))


# ---- where, clamp ------------------------------------------------------------------------------

WHERE = primitive_op("WhereBackward0", P.where)


@overload
def where(condition: Tensor) -> tuple[Tensor, ...]: ...
@overload
def where(condition: Tensor, input: TensorOrNumber, other: TensorOrNumber) -> Tensor: ...


def where(condition: Tensor, input: TensorOrNumber | None = None,
          other: TensorOrNumber | None = None) -> Tensor | tuple[Tensor, ...]:
    """Elements of `input` where `condition` is True and of `other` elsewhere, broadcast together,
    as torch.where; either may be a number. With only `condition`, the indices of its True
    elements as a tuple of 1-d tensors (`nonzero(as_tuple=True)`)."""
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    from ..dispatch import result_type

    if condition.dtype.name != "bool":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {condition.dtype.name.capitalize()}")
    dtype = result_type(input, other)
    input, other = _as_dtype(input, dtype), _as_dtype(other, dtype)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        from .creation import full
        input = full((), input, dtype=dtype)
    return apply(WHERE, (condition, input, other))


def _as_dtype(value, dtype):
    if isinstance(value, Tensor):
        return value if value.dtype is dtype else value.to(dtype)
    return value


def _clamp_forward(x, min=None, max=None):
    if min is not None:
        x = P.maximum(x, min)
    return x if max is None else P.minimum(x, max)


def _clamp_vjp(g, out, x, min=None, max=None):
    # Inside the closed interval the gradient passes; at and beyond the bounds it does not,
    # except exactly at a bound, which PyTorch counts as inside.
    inside = None
    if min is not None:
        inside = P.ge(x, min)
    if max is not None:
        below = P.le(x, max)
        inside = below if inside is None else P.logical_and(inside, below)
    return P.where(inside, g, 0)


CLAMP = Op("ClampBackward1", _clamp_forward, (_clamp_vjp,), saves=(0,))
CLAMP_MIN = Op("ClampMinBackward0", lambda x, min: P.maximum(x, min),
               (lambda g, out, x, min: P.where(P.ge(x, min), g, 0),), saves=(0,))
CLAMP_MAX = Op("ClampMaxBackward0", lambda x, max: P.minimum(x, max),
               (lambda g, out, x, max: P.where(P.le(x, max), g, 0),), saves=(0,))


def _clamp_tensor_dmin(g, out, x, min, max):
    # PyTorch's clamp_backward_min_max: a bound above the other bound loses to it.
    below = P.lt(x, min)
    return P.where(below if max is None else P.logical_and(below, P.lt(min, max)), g, 0)


def _clamp_tensor_dmax(g, out, x, min, max):
    above = P.gt(x, max)
    return P.where(above if min is None else P.logical_or(above, P.lt(max, min)), g, 0)


# clamp with tensor bounds: one node with an edge per bound (None: that bound is absent).
CLAMP_TENSOR = Op("ClampBackward0", _clamp_forward,
                  (_clamp_vjp, _clamp_tensor_dmin, _clamp_tensor_dmax), saves=(0, 1, 2),
                  promote="common")


def _promoted_for_bounds(input, kernel, *bounds):
    """The input in the result type of clamping it to number bounds (an integer tensor and a
    float bound give float); PyTorch has no bool clamp."""
    if input._data.dtype.kind == "f":
        return input  # number bounds cannot change a float tensor's type
    from ..dispatch import result_type

    target = result_type(input, *(b for b in bounds if b is not None))
    if target is dtypes.bool_:
        raise _not_for_bool(kernel)
    return input if target is input.dtype else input.to(target)


def clamp(input: Tensor, min: TensorOrNumber | None = None,
          max: TensorOrNumber | None = None) -> Tensor:
    """Each element limited to [min, max] (either bound may be None, a number or a tensor), as
    torch.clamp. At a bound the gradient goes to the input, as PyTorch's."""
    if not isinstance(input, Tensor):
        raise TypeError(f"clamp(): argument 'input' must be Tensor, not {type(input).__name__}")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return apply(CLAMP_TENSOR, (input, min, max))
    input = _promoted_for_bounds(input, "clamp_scalar_cpu", min, max)
    return apply(CLAMP, (input,), {"min": min, "max": max})


clip = clamp


def clamp_min(input: Tensor, min: TensorOrNumber) -> Tensor:
    """Each element limited from below by `min`, as torch.clamp_min."""
    if isinstance(min, Tensor):
        return clamp(input, min=min)
    input = _promoted_for_bounds(input, "clamp_min_scalar_cpu", min)
    return apply(CLAMP_MIN, (input,), {"min": min})


def clamp_max(input: Tensor, max: TensorOrNumber) -> Tensor:
    """Each element limited from above by `max`, as torch.clamp_max."""
    if isinstance(max, Tensor):
        return clamp(input, max=max)
    input = _promoted_for_bounds(input, "clamp_max_scalar_cpu", max)
    return apply(CLAMP_MAX, (input,), {"max": max})


# ---- activations -------------------------------------------------------------------------------

def _relu_forward(x):
    return P.maximum(x, 0)


# PyTorch's threshold_backward: the gradient passes where the output is positive.
RELU = Op("ReluBackward0", _relu_forward, (lambda g, out, x: P.where(P.gt(out, 0), g, 0),),
          saves_out=True)


def relu(input: Tensor) -> Tensor:
    """max(x, 0) elementwise, as torch.relu (the gradient at 0 is 0, as PyTorch's)."""
    if _is_bool(input):
        raise RuntimeError("Boolean inputs not supported for relu")
    return apply(RELU, (input,))


SQRT_HALF = 1 / math.sqrt(2)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu_forward(x, approximate="none"):
    if approximate == "tanh":
        return x * 0.5 * (1 + P.tanh((x + x * x * x * 0.044715) * SQRT_2_OVER_PI))
    return x * 0.5 * (1 + P.erf(x * SQRT_HALF))


def _gelu_vjp(g, out, x, approximate="none"):
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * SQRT_2_OVER_PI
        t = P.tanh(inner)
        d_inner = (1 + x * x * (3 * 0.044715)) * SQRT_2_OVER_PI
        return g * (0.5 * (1 + t) + x * 0.5 * (1 - t * t) * d_inner)
    cdf = 0.5 * (1 + P.erf(x * SQRT_HALF))
    pdf = P.exp(x * x * -0.5) * INV_SQRT_2PI
    return g * (cdf + x * pdf)


GELU = Op("GeluBackward0", _gelu_forward, (_gelu_vjp,), saves=(0,))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """The Gaussian error linear unit, as torch.nn.functional.gelu: exact (`approximate='none'`) or
    the tanh approximation (`approximate='tanh'`)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return apply(GELU, (input,), {"approximate": approximate})


def _silu_vjp(g, out, x):
    s = P.sigmoid(x)
    return g * (s * (1 + x * (1 - s)))


SILU = Op("SiluBackward0", lambda x: x * P.sigmoid(x), (_silu_vjp,), saves=(0,))


def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x), as torch.nn.functional.silu."""
    return apply(SILU, (input,))


def _leaky_relu_forward(x, negative_slope):
    return P.where(P.gt(x, 0), x, x * negative_slope)


LEAKY_RELU = Op("LeakyReluBackward0", _leaky_relu_forward,
                (lambda g, out, x, negative_slope: P.where(P.gt(x, 0), g, g * negative_slope),),
                saves=(0,))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x, as torch.nn.functional.leaky_relu."""
    return apply(LEAKY_RELU, (input,), {"negative_slope": negative_slope})


def _softplus_forward(x, beta, threshold):
    scaled = x * beta
    return P.where(P.gt(scaled, threshold), x, P.log1p(P.exp(scaled)) / beta)


def _softplus_vjp(g, out, x, beta, threshold):
    scaled = x * beta
    return P.where(P.gt(scaled, threshold), g, g * P.sigmoid(scaled))


SOFTPLUS = Op("SoftplusBackward0", _softplus_forward, (_softplus_vjp,), saves=(0,))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold, as
    torch.nn.functional.softplus."""
    return apply(SOFTPLUS, (input,), {"beta": beta, "threshold": threshold})


def _elu_forward(x, alpha):
    return P.where(P.gt(x, 0), x, P.expm1(x) * alpha)


ELU = Op("EluBackward0", _elu_forward,
         (lambda g, out, x, alpha: P.where(P.gt(x, 0), g, g * (out + alpha)),), saves=(0,),
         saves_out=True)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1), as torch.nn.functional.elu."""
    return apply(ELU, (input,), {"alpha": alpha})
