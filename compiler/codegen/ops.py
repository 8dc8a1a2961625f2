"""Typed instruction helpers: what a primitive's lowering calls to emit one element's worth of
LLVM IR (or one vector's worth: every helper works on scalars and vectors alike).

NumPy is the reference, so each helper reproduces NumPy's result for its dtype: NaN-propagating
maximum/minimum with NumPy's choice on ties, floor division and remainder with Python's signs,
integer division by zero giving 0, float-to-integer casts that give what x86's truncating
conversion gives NumPy (the minimum integer for NaN and out-of-range values, then truncated to
8 or 16 bits), booleans as i1 in registers.
"""
from llvmlite import ir

from .. import dtypes
from .types import (
    I1, constant, element_type, intrinsic, is_float_type, lanes_of, value_type, vector_of)

# fadd/fmul may be contracted into fma: that only removes a rounding, within every tolerance the
# tests use. No nnan/ninf: NaN and inf must propagate as in eager.
FAST = ("contract",)


class Ops:
    def __init__(self, builder):
        self.b = builder
        self.dtype = None  # llgrad dtype of the (first) operand: signedness, bool, float16

    # ---- properties of the current operands --------------------------------------------------

    def _is_float(self, x):
        return is_float_type(x.type)

    def _is_bool(self, x):
        return element_type(x.type) == I1

    def _unsigned(self):
        return self.dtype is not None and self.dtype.name in ("uint8", "bool")

    def const(self, like, value):
        return constant(like, value)

    # ---- arithmetic ----------------------------------------------------------------------------

    def add(self, x, y):
        if self._is_float(x):
            return self.b.fadd(x, y, flags=FAST)
        return self.b.or_(x, y) if self._is_bool(x) else self.b.add(x, y)

    def sub(self, x, y):
        if self._is_float(x):
            return self.b.fsub(x, y, flags=FAST)
        return self.b.xor(x, y) if self._is_bool(x) else self.b.sub(x, y)

    def mul(self, x, y):
        if self._is_float(x):
            return self.b.fmul(x, y, flags=FAST)
        return self.b.and_(x, y) if self._is_bool(x) else self.b.mul(x, y)

    def div(self, x, y):
        if self._is_float(x):
            return self.b.fdiv(x, y)
        # True division of integers (the frontend promotes first; kept for completeness).
        f = vector_of(ir.DoubleType(), lanes_of(x))
        q = self.b.fdiv(self._int_to_float(x, f), self._int_to_float(y, f))
        return self._float_to_int(q, x.type)

    def reciprocal(self, x):
        return self.div(self.const(x, 1), x)

    def neg(self, x):
        if self._is_float(x):
            return self.b.fneg(x)
        return x if self._is_bool(x) else self.b.sub(self.const(x, 0), x)

    def abs(self, x):
        if self._is_float(x):
            return intrinsic(self.b, "fabs", [x])
        if self._is_bool(x) or self._unsigned():
            return x
        negative = self.b.icmp_signed("<", x, self.const(x, 0))
        return self.b.select(negative, self.b.sub(self.const(x, 0), x), x)

    def sign(self, x):
        if self._is_bool(x):
            return x
        zero, one = self.const(x, 0), self.const(x, 1)
        if self._is_float(x):
            positive = self.b.fcmp_ordered(">", x, zero)
            negative = self.b.fcmp_ordered("<", x, zero)
            result = self.b.select(positive, one, self.b.select(negative, self.const(x, -1), zero))
            return self.b.select(self.isnan(x), x, result)  # NaN stays NaN; +-0 give +0
        positive = self.gt(x, zero)
        if self._unsigned():
            return self.b.select(positive, one, zero)
        return self.b.select(positive, one, self.b.select(self.lt(x, zero), self.const(x, -1), zero))

    def sqrt(self, x):
        return intrinsic(self.b, "sqrt", [x])

    def rounding(self, name, x):
        """floor, ceil, trunc, rint (round half to even, as np.round); integers are unchanged."""
        return intrinsic(self.b, name, [x]) if self._is_float(x) else x

    def math(self, name, *args):
        if not self._is_float(args[0]):
            raise TypeError(f"{name} of an integer tensor reached code generation; the frontend "
                            f"promotes it to float first")
        from . import mathlib

        if element_type(args[0].type) == ir.HalfType():  # half: computed in float32
            wide = [self.b.fpext(a, vector_of(ir.FloatType(), lanes_of(a))) for a in args]
            return self.b.fptrunc(mathlib.call(self.b, name, wide), args[0].type)
        return mathlib.call(self.b, name, list(args))

    def power(self, x, y):
        if self._is_float(x):
            return self.math("pow", x, y)
        return self._integer_power(x, y)

    def _integer_power(self, x, y):
        """x ** y for integers by squaring: 64 rounds cover every exponent of every width
        (negative exponents, an error in NumPy, give 0 here except for bases 1 and -1)."""
        result, base, exponent = self.const(x, 1), x, y
        for _ in range(x.type.width if not isinstance(x.type, ir.VectorType)
                       else x.type.element.width):
            bit = self.b.trunc(exponent, vector_of(I1, lanes_of(x)))
            result = self.b.select(bit, self.b.mul(result, base), result)
            base = self.b.mul(base, base)
            exponent = self.b.lshr(exponent, self.const(exponent, 1))
        if self._unsigned():
            return result
        negative = self.b.icmp_signed("<", y, self.const(y, 0))
        one = self.b.icmp_signed("==", x, self.const(x, 1))
        minus_one = self.b.icmp_signed("==", x, self.const(x, -1))
        odd = self.b.trunc(y, vector_of(I1, lanes_of(y)))
        special = self.b.select(one, self.const(x, 1), self.b.select(
            minus_one, self.b.select(odd, self.const(x, -1), self.const(x, 1)), self.const(x, 0)))
        return self.b.select(negative, special, result)

    # ---- choosing between two values ---------------------------------------------------------

    def blend(self, c, x, y):
        """select(c, x, y) of vectors, with both arms frozen. Without it LLVM's x86 back end
        turns `store (select c, (load p), y), p` (a column max accumulating in memory, an
        in-place `where`) into a masked store (vmaskmov), which Zen 3 runs microcoded: a
        column max ran 3x slower than a column sum. `freeze` of a loaded number is that number,
        and hides the load from the pattern: a blend and a plain store are emitted instead."""
        if isinstance(x.type, ir.VectorType):
            x, y = _freeze(self.b, x), _freeze(self.b, y)
        return self.b.select(c, x, y)

    # ---- maximum, minimum: NaN propagates; on ties NumPy returns the second operand ----------

    def maximum(self, x, y):
        if self._is_float(x):
            take_x = self.b.or_(self.isnan(x), self.b.fcmp_ordered(">", x, y))
            return self.blend(take_x, x, y)
        if self._is_bool(x):
            return self.b.or_(x, y)
        return self.blend(self.gt(x, y), x, y)

    def minimum(self, x, y):
        if self._is_float(x):
            take_x = self.b.or_(self.isnan(x), self.b.fcmp_ordered("<", x, y))
            return self.blend(take_x, x, y)
        if self._is_bool(x):
            return self.b.and_(x, y)
        return self.blend(self.lt(x, y), x, y)

    # ---- division with Python's rounding (NumPy's floor_divide, remainder, fmod) --------------

    def fmod(self, x, y):
        if self._is_float(x):
            return self.b.frem(x, y)
        return self._int_rem(x, y)

    def remainder(self, x, y):
        if self._is_float(x):
            mod = self.b.frem(x, y)
            zero = self.const(x, 0)
            nonzero = self.b.fcmp_ordered("!=", mod, zero)
            signs_differ = self.b.xor(self.b.fcmp_ordered("<", y, zero),
                                      self.b.fcmp_ordered("<", mod, zero))
            adjusted = self.b.select(self.b.and_(nonzero, signs_differ),
                                     self.b.fadd(mod, y), mod)
            # An exact zero takes the divisor's sign, as in Python and NumPy.
            signed_zero = intrinsic(self.b, "copysign", [zero, y])
            result = self.b.select(nonzero, adjusted, signed_zero)
            return self.b.select(self.b.fcmp_unordered("uno", mod, mod), mod, result)
        if self._unsigned():
            return self._safe_unsigned(x, y, self.b.urem)
        rem = self._int_rem(x, y)
        zero = self.const(x, 0)
        fix = self.b.and_(self.b.icmp_signed("!=", rem, zero),
                          self.b.xor(self.b.icmp_signed("<", rem, zero),
                                     self.b.icmp_signed("<", y, zero)))
        return self.b.select(fix, self.b.add(rem, y), rem)

    def floor_divide(self, x, y):
        if self._is_float(x):
            return self._float_floor_divide(x, y)
        if self._unsigned():
            return self._safe_unsigned(x, y, self.b.udiv)
        quotient = self._int_div(x, y)
        rem = self._int_rem(x, y)
        zero = self.const(x, 0)
        fix = self.b.and_(self.b.icmp_signed("!=", rem, zero),
                          self.b.xor(self.b.icmp_signed("<", rem, zero),
                                     self.b.icmp_signed("<", y, zero)))
        return self.b.select(fix, self.b.sub(quotient, self.const(x, 1)), quotient)

    def _float_floor_divide(self, x, y):
        """NumPy's npy_floor_divide: from fmod, so that x == y * q + mod holds as in Python."""
        b = self.b
        zero, one = self.const(x, 0), self.const(x, 1)
        mod = b.frem(x, y)
        div = b.fdiv(b.fsub(x, mod), y)
        # C's `if (mod)` and `if (div)`: NaN counts as nonzero (unordered !=).
        signs_differ = b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero))
        fix = b.and_(b.fcmp_unordered("!=", mod, zero), signs_differ)
        div = b.select(fix, b.fsub(div, one), div)
        floor = intrinsic(b, "floor", [div])
        floor = b.select(b.fcmp_ordered(">", b.fsub(div, floor), self.const(x, 0.5)),
                         b.fadd(floor, one), floor)
        result = b.select(b.fcmp_unordered("!=", div, zero), floor,
                          intrinsic(b, "copysign", [zero, b.fdiv(x, y)]))
        return b.select(b.fcmp_ordered("==", y, zero), b.fdiv(x, y), result)

    def _int_guarded(self, x, y, op, on_minus_one):
        """op(x, y) with the divisors that trap on x86 (0, and -1 against the minimum integer)
        replaced by 1; the result for those is patched afterwards."""
        zero, minus_one = self.const(y, 0), self.const(y, -1)
        is_zero = self.b.icmp_signed("==", y, zero)
        is_minus_one = self.b.icmp_signed("==", y, minus_one)
        safe = self.b.select(self.b.or_(is_zero, is_minus_one), self.const(y, 1), y)
        result = op(x, safe)
        result = self.b.select(is_minus_one, on_minus_one(x), result)
        return self.b.select(is_zero, self.const(x, 0), result)

    def _int_div(self, x, y):
        return self._int_guarded(x, y, self.b.sdiv, lambda v: self.b.sub(self.const(v, 0), v))

    def _int_rem(self, x, y):
        if self._unsigned():
            return self._safe_unsigned(x, y, self.b.urem)
        return self._int_guarded(x, y, self.b.srem, lambda v: self.const(v, 0))

    def _safe_unsigned(self, x, y, op):
        is_zero = self.b.icmp_unsigned("==", y, self.const(y, 0))
        result = op(x, self.b.select(is_zero, self.const(y, 1), y))
        return self.b.select(is_zero, self.const(x, 0), result)

    # ---- bits and logic ----------------------------------------------------------------------

    def bitwise_and(self, x, y):
        return self.b.and_(x, y)

    def bitwise_or(self, x, y):
        return self.b.or_(x, y)

    def bitwise_xor(self, x, y):
        return self.b.xor(x, y)

    def bitwise_not(self, x):
        return self.b.xor(x, self.const(x, -1 if not self._is_bool(x) else 1))

    def truth(self, x):
        """NumPy's truth of a value: nonzero (NaN is true)."""
        if self._is_bool(x):
            return x
        if self._is_float(x):
            return self.b.fcmp_unordered("!=", x, self.const(x, 0))
        return self.b.icmp_unsigned("!=", x, self.const(x, 0))

    def logical_and(self, x, y):
        return self.b.and_(self.truth(x), self.truth(y))

    def logical_or(self, x, y):
        return self.b.or_(self.truth(x), self.truth(y))

    def logical_xor(self, x, y):
        return self.b.xor(self.truth(x), self.truth(y))

    def logical_not(self, x):
        return self.b.xor(self.truth(x), self.const(vector_of(I1, lanes_of(x)), 1))

    # ---- comparisons: ordered (false with NaN) except !=, as in NumPy --------------------------

    def _compare(self, op, x, y):
        if self._is_float(x):
            if op == "!=":
                return self.b.fcmp_unordered("!=", x, y)
            return self.b.fcmp_ordered(op, x, y)
        if self._unsigned() or self._is_bool(x):
            return self.b.icmp_unsigned(op, x, y)
        return self.b.icmp_signed(op, x, y)

    def eq(self, x, y):
        return self._compare("==", x, y)

    def ne(self, x, y):
        return self._compare("!=", x, y)

    def lt(self, x, y):
        return self._compare("<", x, y)

    def le(self, x, y):
        return self._compare("<=", x, y)

    def gt(self, x, y):
        return self._compare(">", x, y)

    def ge(self, x, y):
        return self._compare(">=", x, y)

    def isnan(self, x):
        if not self._is_float(x):
            return self.const(vector_of(I1, lanes_of(x)), 0)
        return self.b.fcmp_unordered("uno", x, x)

    def isinf(self, x):
        if not self._is_float(x):
            return self.const(vector_of(I1, lanes_of(x)), 0)
        return self.b.fcmp_ordered("==", intrinsic(self.b, "fabs", [x]),
                                   self.const(x, float("inf")))

    def isfinite(self, x):
        if not self._is_float(x):
            return self.const(vector_of(I1, lanes_of(x)), 1)
        return self.b.fcmp_ordered("<", intrinsic(self.b, "fabs", [x]),
                                   self.const(x, float("inf")))

    def select(self, c, x, y):
        return self.blend(self.truth(c) if not self._is_bool(c) else c, x, y)

    # ---- casts ---------------------------------------------------------------------------------

    def cast(self, x, dtype):
        """x (of self.dtype) converted to `dtype` as NumPy's astype does."""
        source = self.dtype
        target = vector_of(value_type(dtype), lanes_of(x))
        if source is dtype:
            return x
        if dtype is dtypes.bool_:
            return self.truth(x)
        if self._is_bool(x):
            return self.b.uitofp(x, target) if dtype.is_floating_point else self.b.zext(x, target)
        if self._is_float(x):
            if dtype.is_floating_point:
                wider = dtype.itemsize > source.itemsize
                return self.b.fpext(x, target) if wider else self.b.fptrunc(x, target)
            return self._float_to_int(x, target)
        if dtype.is_floating_point:
            return self._int_to_float(x, target)
        if dtype.itemsize > source.itemsize:
            return self.b.zext(x, target) if self._unsigned() else self.b.sext(x, target)
        if dtype.itemsize < source.itemsize:
            return self.b.trunc(x, target)
        return x  # int8 <-> uint8: the same bits

    def _int_to_float(self, x, target):
        return self.b.uitofp(x, target) if self._unsigned() else self.b.sitofp(x, target)

    def _float_to_int(self, x, target):
        """x86's cvtt semantics, which NumPy's casts inherit: conversion to 32 bits (64 for
        int64), the minimum integer for NaN or out-of-range values, then truncation."""
        width = 64 if element_type(target).width == 64 else 32
        wide = vector_of(ir.IntType(width), lanes_of(x))
        limit = float(2 ** (width - 1))
        in_range = self.b.and_(self.b.fcmp_ordered(">=", x, self.const(x, -limit)),
                               self.b.fcmp_ordered("<", x, self.const(x, limit)))
        converted = self.b.fptosi(x, wide)
        result = self.b.select(in_range, converted, self.const(wide, -(2 ** (width - 1))))
        if element_type(target).width < width:
            return self.b.trunc(result, target)
        return result


def identity_constant(like, combine, dtype):
    """The identity element of a reduction's combine step (starts partial sums)."""
    if combine == "add":
        return constant(like, -0.0 if dtype.is_floating_point else 0)
    if combine in ("or",):
        return constant(like, 0)
    if combine in ("and",):
        return constant(like, 1)
    big = combine == "min"
    if dtype.is_floating_point:
        return constant(like, float("inf") if big else float("-inf"))
    if dtype is dtypes.bool_:
        return constant(like, 1 if big else 0)
    info_bits = dtype.itemsize * 8
    if dtype.name == "uint8":
        return constant(like, 255 if big else 0)
    return constant(like, 2 ** (info_bits - 1) - 1 if big else -(2 ** (info_bits - 1)))


def combine(ops, how, acc, value):
    """One step of a reduction: acc (+|max|min|or|and) value."""
    if how == "add":
        return ops.add(acc, value)
    if how == "max":
        return ops.maximum(acc, value)
    if how == "min":
        return ops.minimum(acc, value)
    if how == "or":
        return ops.b.or_(acc, value)
    if how == "and":
        return ops.b.and_(acc, value)
    raise ValueError(f"unknown reduction {how!r}")



def _freeze(builder, value):
    """`freeze value` (llvmlite's IRBuilder has no method for it)."""
    instruction = ir.instructions.Instruction(builder.block, value.type, "freeze", [value])
    builder._insert(instruction)
    return instruction
