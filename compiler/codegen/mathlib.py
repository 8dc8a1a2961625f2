"""Vectorized math functions written in LLVM IR, for the kernels codegen emits.

LLVM has no vector math library here (no SVML, libmvec is an outside library, `llvm.exp` on a
vector becomes one libm call per lane), so each function is written out from plain IR: fadd/fmul,
compares, selects, bit casts and shifts, and intrinsics x86 lowers inline (fma, rint, floor, fabs,
copysign, sqrt). Nothing calls libm, so loops stay vectorized.

`call(builder, name, args)` emits a call of function `name`; the function is defined once per
module and type (float, double or a vector of either, any lane count) as an internal,
alwaysinline, nounwind function named like `llgrad.exp.v8f32`, so LLVM inlines it into the loop.
`FUNCTIONS` maps every name to its arity.

Float32 is computed in float32 (no round trip through double: half the lanes); both types share
each algorithm and differ in constants and polynomial degrees. No fast-math flags: NaN
propagates, infinities and overflow/underflow follow NumPy (which follows C99 Annex F).
Everything is IEEE arithmetic and fma, so results are the same bits on every target and lane
count. (On x86-64 without FMA, the tests' "generic" target, LLVM lowers llvm.fma, and floor/rint
without SSE4.1, to libm calls per lane: same bits, but slow. AVX2 and AVX-512 have it all inline.)

Max error in ulp, measured against NumPy over the whole range (tests/compiler/codegen/
test_mathlib.py; float32 against float64, float64 against long double):

    function  f32   f64      function  f32   f64      function  f32   f64
    exp       1.00  0.92     sinh      1.47  1.22     sin       2.39  1.9   (|x| < 2**24 / 2**52)
    expm1     1.49  1.60     cosh      1.44  1.33     cos       2.40  1.9   (same)
    log       0.82  0.71     asin      2.20  1.77     tan       3.70  3.2   (same)
    log1p     0.81  0.71     acos      1.01  0.99     erf       0.97  0.91
    tanh      1.43  1.21     atan      2.02  2.10     pow       1.20  1.64
    sigmoid   0.98  0.88     atan2     2.13  2.33

Methods: Cody-Waite range reduction (constants split in two or three parts, reduced with fma),
polynomials in Horner form with fma, 2**n built from exponent bits and applied as two
multiplications (so subnormal results round once), log by splitting exponent and mantissa with
integer ops on the bits. Polynomial coefficients are minimax fits of our own (weighted Remez in
mpmath, coefficients rounded to the type); `python -m llgrad.compiler.codegen.mathlib` re-derives
them (needs mpmath). Each function's docstring states its error, measured against NumPy
(float64 for float32 results; long double for float64 results) over samples of the whole range
by tests/compiler/codegen/test_mathlib.py.
"""
import decimal
import functools
import math
import struct

from llvmlite import ir

from .types import constant, element_type, intrinsic, mangled


# ---------------------------------------------------------------------------------------------
# Constants

def _round(value, f64):
    """`value` rounded to the nearest float64, or float32."""
    return float(value) if f64 else struct.unpack("<f", struct.pack("<f", float(value)))[0]


@functools.lru_cache(maxsize=None)
def _parts(name, f64, count=2, lead_bits=None):
    """Constant `name` as `count` floats whose sum carries `count` times the type's precision
    (Cody-Waite splitting). `lead_bits` shortens the first part so that its products with
    integers of up to (precision - lead_bits) bits are exact."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        rest = decimal.Decimal(_DIGITS[name])
        out = []
        for i in range(count):
            part = _round(rest, f64)
            if i == 0 and lead_bits:
                scale = 2.0 ** (lead_bits - math.frexp(part)[1])
                part = round(part * scale) / scale
            out.append(part)
            rest -= decimal.Decimal(part)
    return tuple(out)


_DIGITS = {
    "ln2": "0.6931471805599453094172321214581765680755",
    "log2e": "1.442695040888963407359924681001892137427",
    "pi": "3.141592653589793238462643383279502884197",
    "pio2": "1.570796326794896619231321691639751442099",
    "pio4": "0.7853981633974483096156608458198757210493",
    "3pio4": "2.356194490192344928846982537459627163148",
    "2opi": "0.6366197723675813430755350534900574481378",
    "sqrt_half": "0.7071067811865475244008443621048490392848",
}


def _hex(*values):
    return tuple(float.fromhex(v) for v in values)


# Polynomial coefficients, lowest degree first: weighted minimax fits (derived by _derive below),
# rounded to the type. "fit error" is the weighted error of the rounded polynomial in exact
# arithmetic; the evaluation's own roundings come on top.
_COEFFS = {
    # expm1(r) = r + r^2 P(r), |r| <= ln2/2, relative error; fit error 32: 1.7e-08, 64: 8.4e-19
    "expm1": {
        "float32": _hex("0x1.fffffep-2", "0x1.5554aep-3", "0x1.555676p-5", "0x1.122886p-7",
            "0x1.6bebdcp-10"),
        "float64": _hex("0x1p-1", "0x1.5555555555559p-3", "0x1.555555555553ep-5",
            "0x1.111111110f673p-7", "0x1.6c16c16c1f27dp-10", "0x1.a01a01b001f9ap-13",
            "0x1.a01a017b5c927p-16", "0x1.71ddf7fe48e74p-19", "0x1.27e5369d46d84p-22",
            "0x1.af5f68a2ebccp-26", "0x1.1ee8853086365p-29"),
    },
    # log1p(f) = f + f^2 P(f), f in [sqrt(1/2)-1, sqrt(2)-1], relative error; fit error 32: 4.6e-09
    "log1p": {
        "float32": _hex("-0x1.fffff8p-2", "0x1.55555p-2", "-0x1.00042ep-2", "0x1.99a406p-3",
            "-0x1.5425fp-3", "0x1.226f18p-3", "-0x1.0f4234p-3", "0x1.085e62p-3", "-0x1.382fccp-4"),
    },
    # 2 atanh(s) = 2s + s z P(z), z = s^2 <= ((sqrt2-1)/(sqrt2+1))^2 (fdlibm's R(z)/z);
    # fit error 64: 3.3e-18
    "log_r": {
        "float64": _hex("0x1.5555555555593p-1", "0x1.999999997f8a7p-2", "0x1.249249423e516p-2",
            "0x1.c71c51c66dcfcp-3", "0x1.74664d76955b8p-3", "0x1.39a02edf435edp-3",
            "0x1.2f15bc20735cap-3"),
    },
    # tanh(x) = x + x^3 P(x^2), |x| <= 0.55, relative error; fit error 32: 4.4e-09, 64: 2.4e-18
    "tanh": {
        "float32": _hex("-0x1.55554ap-2", "0x1.110d26p-3", "-0x1.b9287ap-5", "0x1.593d08p-6",
            "-0x1.9b304cp-8"),
        "float64": _hex("-0x1.555555555554fp-2", "0x1.111111111079fp-3", "-0x1.ba1ba1b97d88ep-5",
            "0x1.664f485970a0fp-6", "-0x1.226e2f147a6f8p-7", "0x1.d6d29b96d11dep-9",
            "-0x1.7d8fd3ac62c2ep-10", "0x1.3483ae88109a9p-11", "-0x1.e96fc59497cdp-13",
            "0x1.5d74596aac8d2p-14", "-0x1.471108e5efabdp-16"),
    },
    # sinh(x) = x + x^3 P(x^2), |x| <= 1, relative error; fit error 32: 5.2e-09, 64: 9.5e-18
    "sinh": {
        "float32": _hex("0x1.555556p-3", "0x1.111134p-7", "0x1.9ffe92p-13", "0x1.7a15b6p-19"),
        "float64": _hex("0x1.5555555555556p-3", "0x1.11111111110a6p-7", "0x1.a01a01a02899dp-13",
            "0x1.71de3a465b211p-19", "0x1.ae64671b16e13p-26", "0x1.611a561e4a85bp-33",
            "0x1.b4c75a7b43a5fp-41"),
    },
    # erf(x) = x + x P(x^2), |x| <= 0.875, relative error; fit error 32: 9.5e-09, 64: 2.7e-17
    "erf_small": {
        "float32": _hex("0x1.06eba8p-3", "-0x1.812744p-2", "0x1.ce2e84p-4", "-0x1.b819a6p-6",
            "0x1.553abap-8", "-0x1.ae7f92p-11", "0x1.6bdf5p-14"),
        "float64": _hex("0x1.06eba8214db69p-3", "-0x1.812746b0379e4p-2", "0x1.ce2f21a042991p-4",
            "-0x1.b82ce3127ababp-6", "0x1.565bcd0bae918p-8", "-0x1.c02db35e6676fp-11",
            "0x1.f9a30f2ed9b42p-14", "-0x1.f4d00cfebcbdcp-17", "0x1.b9c055a6ff316p-20",
            "-0x1.5dca51d16967ep-23", "0x1.e517c1db91802p-27", "-0x1.dbd1ec5f2ebc7p-31"),
    },
    # log(erfc(x)) = P(x), 0.875 <= x <= 4 (f32) / 6 (f64), error weighted by erfc(x);
    # fit error 32: 5.7e-09, 64: 2.9e-18
    "erf_tail": {
        "float32": _hex("0x1.4573dep-14", "-0x1.21019p+0", "-0x1.450f3ep-1", "-0x1.b21572p-4",
            "0x1.77f1aep-6", "-0x1.7356a6p-9", "-0x1.ac93e4p-14", "0x1.de5bbep-14",
            "-0x1.451adep-16", "0x1.435998p-20"),
        "float64": _hex("0x1.9f9caa68e6185p-27", "-0x1.20dd77bee2bcap+0", "-0x1.45f2e42ba4493p-1",
            "-0x1.a4f9373436705p-4", "0x1.3997503248e11p-6", "0x1.832f9d5ffa43bp-13",
            "-0x1.b210a936e6b84p-10", "0x1.19aed4d5b1bfap-11", "0x1.f7d99acd1121bp-16",
            "-0x1.d85b2be1a0ec1p-14", "0x1.0a02373a31a0dp-14", "-0x1.779fbb2b402b4p-16",
            "0x1.70f08838956a2p-18", "-0x1.ccaeae3ab2825p-21", "0x1.e000ecb613a6ep-26",
            "0x1.f939401733c29p-26", "-0x1.63a720ff7325ep-27", "0x1.1c547a53031e8p-29",
            "-0x1.38f0dc10121c2p-32", "0x1.e5af29dae9d5p-36", "-0x1.0061f7df0bd5p-39",
            "0x1.4c81060a4aa7ep-44", "-0x1.912865a953bc9p-50"),
    },
    # sin(r) = r + r^3 P(r^2), |r| <= 1.02 pi/4, relative error; fit error 32: 3.6e-09, 64: 6.3e-18
    "sin": {
        "float32": _hex("-0x1.555556p-3", "0x1.111108p-7", "-0x1.a00ea2p-13", "0x1.6c9ddp-19"),
        "float64": _hex("-0x1.5555555555555p-3", "0x1.1111111111109p-7", "-0x1.a01a01a0185a9p-13",
            "0x1.71de3a52ce1b7p-19", "-0x1.ae64520ddc0f5p-26", "0x1.61203b5c8db4p-33",
            "-0x1.aa7a5d91f136ep-41"),
    },
    # cos(r) = 1 - r^2/2 + r^4 P(r^2), |r| <= 1.02 pi/4; fit error 32: 7.9e-10, 64: 1.3e-18
    "cos": {
        "float32": _hex("0x1.555556p-5", "-0x1.6c16b6p-10", "0x1.a0101cp-16", "-0x1.23f73ap-22"),
        "float64": _hex("0x1.5555555555555p-5", "-0x1.6c16c16c16c0dp-10", "0x1.a01a01a018881p-16",
            "-0x1.27e4fb75a38d3p-22", "0x1.1eed8c4166d0ep-29", "-0x1.9392cbc69e2c7p-37",
            "0x1.aa95f97966d3dp-45"),
    },
    # asin(x) = x + x^3 P(x^2), |x| <= 1/2, relative error; fit error 32: 1.1e-09, 64: 2.2e-18
    "asin": {
        "float32": _hex("0x1.55554cp-3", "0x1.33387cp-4", "0x1.6caed2p-5", "0x1.0491a2p-5",
            "0x1.d91fap-7", "0x1.3355c2p-5"),
        "float64": _hex("0x1.5555555555577p-3", "0x1.333333332e1p-4", "0x1.6db6db7214326p-5",
            "0x1.f1c71a9462e4ap-6", "0x1.6e8bdeee04992p-6", "0x1.1c49ef80bd8f5p-6",
            "0x1.ca1fa01d60119p-7", "0x1.7584fd5de25aep-7", "0x1.613f65b54d25ap-7",
            "0x1.e5cd4bb150442p-9", "0x1.63a7f58b2b9a7p-6", "-0x1.580ce4cdbbd77p-6",
            "0x1.0b4b51277930dp-5"),
    },
    # atan(t) = t + t^3 P(t^2), |t| <= tan(pi/8), relative error; fit error 32: 1.8e-09, 64: 4.6e-19
    "atan": {
        "float32": _hex("-0x1.555554p-2", "0x1.99990cp-3", "-0x1.247d7p-3", "0x1.c43f6ap-4",
            "-0x1.5a5c4p-4", "0x1.811858p-5"),
        "float64": _hex("-0x1.5555555555554p-2", "0x1.999999999959p-3", "-0x1.249249246fb54p-3",
            "0x1.c71c71b485af5p-4", "-0x1.745d14568ea8ap-4", "0x1.3b13657cafe26p-4",
            "-0x1.110bf37b48e97p-4", "0x1.e168569c51fe9p-5", "-0x1.ab3fcf2c7f321p-5",
            "0x1.6ff46fb24a4b3p-5", "-0x1.0ff8fc65291cbp-5", "0x1.e8dbe9b7e11ep-7"),
    },
    # log1p(z) = z - z^2/2 + z^3 P(z), |z| <= 2^(1/2J) - 1 (J = 5 f32, 9 f64), relative;
    # fit error 32: 3.8e-11, 64: 1.7e-20
    "pow_log": {
        "float32": _hex("0x1.555556p-2", "-0x1p-2", "0x1.9997acp-3", "-0x1.55532ap-3",
            "0x1.26f5c8p-3", "-0x1.025adep-3"),
        "float64": _hex("0x1.5555555555556p-2", "-0x1.0000000000001p-2", "0x1.99999999979d3p-3",
            "-0x1.55555555526e3p-3", "0x1.249249399612fp-3", "-0x1.00000019d637ap-3",
            "0x1.c71bafe3864a2p-4", "-0x1.9998c66fb26f9p-4", "0x1.75f2c024359b8p-4",
            "-0x1.56e925d6dbceap-4"),
    },
}


# ---------------------------------------------------------------------------------------------
# The emitter: IR shorthand for one builder and one float type

class _Emitter:
    """Builds IR on one float type (scalar or vector); operands may be IR values or Python
    numbers (made constants of the type, splatted over vectors). Integer helpers work on the
    integer type of the same width and lane count, for bit manipulation."""

    def __init__(self, builder, t):
        self.b = builder
        self.t = t
        self.f64 = isinstance(element_type(t), ir.DoubleType)
        self.key = "float64" if self.f64 else "float32"
        self.width = 64 if self.f64 else 32
        self.mant = 52 if self.f64 else 23  # stored mantissa bits
        self.bias = 1023 if self.f64 else 127
        integer = ir.IntType(self.width)
        self.it = ir.VectorType(integer, t.count) if isinstance(t, ir.VectorType) else integer
        self.sign = -(1 << (self.width - 1))  # the sign bit, as a signed integer
        self.magic = 1.5 * 2.0 ** self.mant  # adding it rounds to an integer, kept in the low bits
        self.magic_bits = self.bits_of(self.magic)
        self.inf = float("inf")

    # constants ------------------------------------------------------------------------------
    def v(self, x):
        return x if isinstance(x, ir.Value) else constant(self.t, x)

    def i(self, x):
        return x if isinstance(x, ir.Value) else constant(self.it, x)

    def bits_of(self, value):
        """The bit pattern of a Python float in this type, as a signed integer."""
        if self.f64:
            return struct.unpack("<q", struct.pack("<d", value))[0]
        return struct.unpack("<i", struct.pack("<f", value))[0]

    def parts(self, name, count=2, lead_bits=None):
        return _parts(name, self.f64, count, lead_bits)

    def const(self, name):
        """Constant `name` rounded to the type."""
        return _parts(name, self.f64, 1)[0]

    def coeffs(self, name):
        return _COEFFS[name][self.key]

    # float arithmetic -----------------------------------------------------------------------
    def add(self, a, b):
        return self.b.fadd(self.v(a), self.v(b))

    def sub(self, a, b):
        return self.b.fsub(self.v(a), self.v(b))

    def mul(self, a, b):
        return self.b.fmul(self.v(a), self.v(b))

    def div(self, a, b):
        return self.b.fdiv(self.v(a), self.v(b))

    def neg(self, a):
        return self.b.fneg(self.v(a))

    def fma(self, a, b, c):
        return intrinsic(self.b, "fma", [self.v(a), self.v(b), self.v(c)])

    def intrinsic(self, name, *args):
        return intrinsic(self.b, name, [self.v(a) for a in args])

    def fabs(self, a):
        return self.intrinsic("fabs", a)

    def floor(self, a):
        return self.intrinsic("floor", a)

    def copysign(self, a, sign):
        return self.intrinsic("copysign", a, sign)

    def poly(self, x, name):
        """Horner's rule with fma on the coefficients `name`."""
        c = self.coeffs(name)
        acc = self.v(c[-1])
        for ck in reversed(c[:-1]):
            acc = self.fma(acc, x, ck)
        return acc

    # compares and selects -------------------------------------------------------------------
    def cmp(self, op, a, b):
        """Ordered compare: false where either side is NaN."""
        return self.b.fcmp_ordered(op, self.v(a), self.v(b))

    def lt(self, a, b):
        return self.cmp("<", a, b)

    def gt(self, a, b):
        return self.cmp(">", a, b)

    def ge(self, a, b):
        return self.cmp(">=", a, b)

    def eq(self, a, b):
        return self.cmp("==", a, b)

    def ne(self, a, b):
        return self.cmp("!=", a, b)

    def unordered(self, op, a, b):
        """Unordered compare: true where either side is NaN."""
        return self.b.fcmp_unordered(op, self.v(a), self.v(b))

    def isnan(self, a, b=None):
        return self.unordered("uno", a, a if b is None else b)

    def sel(self, cond, a, b):
        return self.b.select(cond, self.v(a), self.v(b))

    def and_(self, *masks):
        out = masks[0]
        for m in masks[1:]:
            out = self.b.and_(out, m)
        return out

    def or_(self, *masks):
        out = masks[0]
        for m in masks[1:]:
            out = self.b.or_(out, m)
        return out

    # bits -----------------------------------------------------------------------------------
    def bits(self, x):
        return self.b.bitcast(self.v(x), self.it)

    def flt(self, i):
        return self.b.bitcast(i, self.t)

    def iadd(self, a, b):
        return self.b.add(self.i(a), self.i(b))

    def isub(self, a, b):
        return self.b.sub(self.i(a), self.i(b))

    def iand(self, a, b):
        return self.b.and_(self.i(a), self.i(b))

    def ixor(self, a, b):
        return self.b.xor(self.i(a), self.i(b))

    def shl(self, a, n):
        return self.b.shl(self.i(a), self.i(n))

    def ashr(self, a, n):
        return self.b.ashr(self.i(a), self.i(n))

    def lshr(self, a, n):
        return self.b.lshr(self.i(a), self.i(n))

    def isel(self, cond, a, b):
        return self.b.select(cond, self.i(a), self.i(b))

    def signbit(self, x):
        """True where x has its sign bit set (negative numbers, -0, NaNs with the bit)."""
        return self.b.icmp_signed("<", self.bits(x), self.i(0))

    def flip_sign(self, x, mask_bits):
        """x with its sign bit flipped where `mask_bits` (an integer: 0 or the sign bit) has it."""
        return self.flt(self.ixor(self.bits(x), mask_bits))


# ---------------------------------------------------------------------------------------------
# Shared pieces

def _clamp(E, x, lo, hi):
    """x limited to [lo, hi]; NaN becomes lo (callers give NaN back with _nan_through)."""
    x = E.sel(E.gt(x, lo), x, lo)
    return E.sel(E.lt(x, hi), x, hi)


def _nan_through(E, x, y):
    """y, except NaN where x is NaN."""
    return E.sel(E.isnan(x), E.add(x, x), y)


def _pow2(E, n):
    """2**n for integers n (an integer vector) of the normal exponent range, from exponent bits."""
    return E.flt(E.shl(E.iadd(n, E.bias), E.mant))


def _scale_factors(E, n):
    """2**(n//2) and 2**(n - n//2): each is a normal number for n up to twice the exponent
    range; multiplying by both rounds a subnormal result once."""
    half = E.ashr(n, 1)
    return _pow2(E, half), _pow2(E, E.isub(n, half))


def _scale(E, p, n):
    """p * 2**n (see _scale_factors)."""
    f1, f2 = _scale_factors(E, n)
    return E.mul(E.mul(p, f1), f2)


def _reduce_ln2(E, x):
    """x = n ln2 + r with |r| <= ln2/2, for clamped finite x: (n as integer, n as float, r).

    fma(x, log2e, magic) rounds x/ln2 to an integer once and leaves it in the low bits; the first
    reduction step is exact (fma, and x - n ln2_hi is small and on the grid of both), the second
    adds the low part of ln2."""
    t = E.fma(x, E.const("log2e"), E.magic)
    n = E.sub(t, E.magic)
    ni = E.isub(E.bits(t), E.magic_bits)
    hi, lo = E.parts("ln2")
    return ni, n, E.fma(n, -lo, E.fma(n, -hi, x))


def _expm1_poly(E, r):
    """expm1(r) for |r| <= ln2/2, to a relative 1.7e-8 (f32) / 8.4e-19 (f64)."""
    return E.fma(E.mul(r, r), E.poly(r, "expm1"), r)


_EXP_RANGE = {False: (-104.0, 89.0), True: (-746.0, 710.0)}  # beyond: 0 / inf


def _exp_core(E, x):
    """exp(x) for x not NaN."""
    ni, _, r = _reduce_ln2(E, _clamp(E, x, *_EXP_RANGE[E.f64]))
    return _scale(E, E.add(_expm1_poly(E, r), 1.0), ni)


def _expm1_core(E, x):
    """expm1(x) for x not NaN (nor subnormal: 0.5 e would round): 2 (2**(n-1) e + 2**(n-1) - 1/2)
    with e = expm1(r): one rounding in the fma, and 2**(n-1) stays finite up to the overflow."""
    lo, hi = (-40.0, 710.0) if E.f64 else (-20.0, 89.0)
    ni, _, r = _reduce_ln2(E, _clamp(E, x, lo, hi))
    s = _pow2(E, E.isub(ni, 1))
    return E.mul(E.fma(s, _expm1_poly(E, r), E.sub(s, 0.5)), 2.0)


def _log_split(E, x, subnormal=True):
    """x = 2**k m with m in [sqrt(1/2), sqrt(2)), for positive finite x: (k as float, m).

    Integer ops on the bits: subtracting the bits of sqrt(1/2) moves the exponent boundary there,
    so one shift gives k and a mask gives m; k becomes a float by the magic-number trick (no
    sitofp: AVX2 has no vector int64 -> double). Subnormal x is first scaled by 2**mant."""
    c = E.bits_of(E.const("sqrt_half"))
    offset = E.magic + E.bias
    if subnormal:
        tiny = E.lt(x, 2.0 ** (1 - E.bias))
        x = E.sel(tiny, E.mul(x, 2.0 ** E.mant), x)
        offset = E.sel(tiny, offset + E.mant, offset)
    i = E.isub(E.bits(x), c)
    k_biased = E.lshr(E.iadd(i, E.bias << E.mant), E.mant)  # k + bias >= 0: logical shift
    m = E.flt(E.iadd(E.iand(i, (1 << E.mant) - 1), c))
    return E.sub(E.flt(E.iadd(k_biased, E.magic_bits)), offset), m


def _log_core(E, k, f, extra=0.0):
    """k ln2 + log1p(f) + extra, for f in [sqrt(1/2)-1, sqrt(2)-1] and a small correction
    `extra`. Float32: one polynomial in f. Float64: fdlibm's form with s = f/(2+f), whose
    polynomial in s**2 needs 7 terms where one in f would need about 20."""
    hi, lo = E.parts("ln2")
    if not E.f64:
        small = E.fma(k, lo, E.fma(E.mul(f, f), E.poly(f, "log1p"), extra))
        return E.fma(k, hi, E.add(small, f))
    s = E.div(f, E.add(f, 2.0))
    z = E.mul(s, s)
    hfsq = E.mul(E.mul(f, f), 0.5)
    small = E.fma(s, E.fma(z, E.poly(z, "log_r"), hfsq), E.fma(k, lo, extra))
    return E.fma(k, hi, E.sub(f, E.sub(hfsq, small)))


# ---------------------------------------------------------------------------------------------
# The functions. Each docstring gives the error measured by the tests: max ulp over the whole
# range against NumPy's float64 (float32) or long double (float64) result.

def _exp(E, x):
    """exp. Error: f32 1.0, f64 0.92 ulp."""
    return _nan_through(E, x, _exp_core(E, x))


def _expm1(E, x):
    """expm1. Error: f32 1.49, f64 1.60 ulp."""
    tiny = E.unordered("<", E.fabs(x), 2.0 ** -(E.mant + 2))  # or NaN: expm1(x) rounds to x
    return E.sel(tiny, x, _expm1_core(E, x))


def _log(E, x):
    """log. Error: f32 0.82, f64 0.71 ulp."""
    k, m = _log_split(E, x)
    y = _log_core(E, k, E.sub(m, 1.0))
    special = E.sel(E.eq(x, 0.0), -E.inf, E.sel(E.gt(x, 0.0), x, float("nan")))
    return E.sel(E.and_(E.gt(x, 0.0), E.lt(x, E.inf)), y, special)


def _log1p(E, x):
    """log1p. Error: f32 0.81, f64 0.71 ulp.

    For x in [sqrt(1/2)-1, sqrt(2)-1] the core runs on f = x itself (relative accuracy near 0);
    elsewhere on u = 1 + x, whose rounding error c (exact, Fast2Sum) enters as c/u."""
    u = E.add(x, 1.0)
    c = E.sel(E.gt(x, 1.0), E.sub(1.0, E.sub(u, x)), E.sub(x, E.sub(u, 1.0)))
    k, m = _log_split(E, u, subnormal=False)
    sqrt_half = E.const("sqrt_half")
    near0 = E.and_(E.gt(x, sqrt_half - 1.0), E.lt(x, 2.0 * sqrt_half - 1.0))
    k = E.sel(near0, 0.0, k)
    f = E.sel(near0, x, E.sub(m, 1.0))
    c = E.sel(near0, 0.0, E.div(c, u))
    y = _log_core(E, k, f, c)
    special = E.sel(E.eq(x, -1.0), -E.inf, E.sel(E.gt(x, -1.0), x, float("nan")))
    ok = E.and_(E.gt(x, -1.0), E.lt(x, E.inf), E.ne(x, 0.0))  # x = +-0 and inf are `special`
    return E.sel(ok, y, special)


def _tanh(E, x):
    """tanh. Error: f32 1.43, f64 1.21 ulp.

    |x| < 0.55: x + x**3 P(x**2). Above, with e = expm1(2|x|): 1 - 2 / (e + 2); |x| is clamped
    at 20, where that rounds to 1 in both types."""
    a = _clamp(E, E.fabs(x), 0.0, 20.0)
    e = _expm1_core(E, E.add(a, a))
    large = E.add(E.div(-2.0, E.add(e, 2.0)), 1.0)
    small = E.fma(E.mul(a, E.mul(a, a)), E.poly(E.mul(a, a), "tanh"), a)
    return _nan_through(E, x, E.copysign(E.sel(E.lt(a, 0.55), small, large), x))


def _sigmoid(E, x):
    """sigmoid 1 / (1 + exp(-x)). Error: f32 0.98, f64 0.88 ulp.

    With e = exp(-|x|) in (0, 1]: 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, so large
    negative x gives exp(x)'s subnormals instead of overflowing exp(-x). e is kept as hi + lo
    (the rounding of 1 + expm1(r) is not lost), 1 + e too, and the quotient is corrected by its
    residual: the only roundings left are the polynomial's and the last one."""
    ni, _, r = _reduce_ln2(E, _clamp(E, E.neg(E.fabs(x)), _EXP_RANGE[E.f64][0], 0.0))
    em1 = _expm1_poly(E, r)
    p = E.add(em1, 1.0)
    p_lo = E.add(E.sub(1.0, p), em1)  # Fast2Sum: 1 + em1 = p + p_lo exactly
    f1, f2 = _scale_factors(E, ni)
    e, e_lo = E.mul(E.mul(p, f1), f2), E.mul(E.mul(p_lo, f1), f2)
    d = E.add(e, 1.0)
    d_lo = E.add(E.add(E.sub(1.0, d), e), e_lo)  # 1 + e + e_lo = d + d_lo
    negative = E.lt(x, 0.0)
    num, num_lo = E.sel(negative, e, 1.0), E.sel(negative, e_lo, 0.0)
    q = E.div(num, d)
    residual = E.add(E.fma(E.neg(q), d, num), E.fma(E.neg(q), d_lo, num_lo))
    y = E.fma(residual, E.fma(d, -0.5, 1.5), q)  # 1.5 - d/2 ~ 1/d to 12 %: enough for a correction
    return _nan_through(E, x, y)


def _erf(E, x):
    """erf. Error: f32 0.97, f64 0.91 ulp.

    |x| < 0.875: x + x P(x**2). Above: 1 - exp(Q(|x|)) = -expm1(Q(|x|)) with Q a polynomial
    approximation of log(erfc(x)), up to 4 (f32) / 6 (f64) beyond which erf rounds to 1."""
    a = _clamp(E, E.fabs(x), 0.0, 6.0 if E.f64 else 4.0)
    small = E.fma(a, E.poly(E.mul(a, a), "erf_small"), a)
    tail = E.neg(_expm1_core(E, E.poly(a, "erf_tail")))
    return _nan_through(E, x, E.copysign(E.sel(E.lt(a, 0.875), small, tail), x))


# sin, cos, tan -------------------------------------------------------------------------------

def _trig(E, x, kind):
    """sin, cos or tan of x: |x| = n pi/2 + r, |r| <= pi/4 (pi/2 in three parts, fma), then
    polynomials for sin r and cos r and the quadrant n mod 4 picks and signs them.

    The reduction is accurate for |x| < 2**24 (f32) / 2**52 (f64), where n is still an integer
    of the type: a few ulp (see sin, cos, tan). Beyond, it is not (no Payne-Hanek reduction):
    r is clamped to [-0.8, 0.8] so results stay finite (in [-1, 1] for sin and cos) but are
    not accurate. inf and NaN give NaN."""
    a = E.fabs(x)
    # n = nearest integer to a 2/pi: the product as hi + lo (fma) decides the half-way cases
    k_hi, k_lo = E.parts("2opi")
    p = E.mul(a, k_hi)
    n = E.intrinsic("rint", p)
    frac = E.add(E.sub(p, n), E.fma(a, k_lo, E.fma(a, k_hi, E.neg(p))))
    n = E.add(n, E.sel(E.gt(frac, 0.5), 1.0, E.sel(E.lt(frac, -0.5), -1.0, 0.0)))
    r = a
    for part in E.parts("pio2", 3):
        r = E.fma(n, -part, r)
    # The polynomials cover |r| <= 1.02 pi/4, a margin for the roundings above; beyond the bound
    # r is clamped (NaN stays NaN).
    r = E.sel(E.gt(r, 0.8), 0.8, r)
    r = E.sel(E.lt(r, -0.8), -0.8, r)
    z = E.mul(r, r)
    s = E.fma(E.mul(r, z), E.poly(z, "sin"), r)
    c = E.fma(z, E.fma(z, E.poly(z, "cos"), -0.5), 1.0)
    half = E.mul(n, 0.5)
    odd = E.ne(E.floor(half), half)

    def upper_half(m):  # m mod 4 in {2, 3}
        quarter_m = E.mul(m, 0.25)
        return E.ge(E.sub(quarter_m, E.floor(quarter_m)), 0.5)

    x_sign = E.iand(E.bits(x), E.sign)
    if kind == "tan":
        return E.flip_sign(E.div(E.sel(odd, E.neg(c), s), E.sel(odd, s, c)), x_sign)
    if kind == "sin":
        return E.flip_sign(E.sel(odd, c, s), E.ixor(E.isel(upper_half(n), E.sign, 0), x_sign))
    return E.flip_sign(E.sel(odd, s, c), E.isel(upper_half(E.add(n, 1.0)), E.sign, 0))


def _sin(E, x):
    """sin. Error: f32 2.39 ulp for |x| < 2**24 (every float32 checked), f64 1.9 ulp for
    |x| < 2**52 (sampled); beyond, finite values in [-1, 1] that are not accurate."""
    return _trig(E, x, "sin")


def _cos(E, x):
    """cos. Error: f32 2.40 ulp for |x| < 2**24 (every float32 checked), f64 1.9 ulp for
    |x| < 2**52 (sampled); beyond, finite values in [-1, 1] that are not accurate."""
    return _trig(E, x, "cos")


def _tan(E, x):
    """tan = sin/cos (or -cos/sin in odd quadrants). Error: f32 3.70 ulp for |x| < 2**24 (every
    float32 checked), f64 3.2 ulp for |x| < 2**52 (sampled); beyond, finite values that are not
    accurate."""
    return _trig(E, x, "tan")


# hyperbolic ----------------------------------------------------------------------------------

def _exp_halves(E, a):
    """For a >= 0 (not NaN): (e**a / 2, e**a, expm1(a)) from one reduction. e**a / 2 is right up
    to its overflow; e**a and expm1(a) only while 2**n is finite (callers use them below 9 / 19).
    """
    ni, _, r = _reduce_ln2(E, _clamp(E, a, 0.0, 711.0 if E.f64 else 90.0))
    e = _expm1_poly(E, r)
    half = _scale(E, E.add(e, 1.0), E.isub(ni, 1))
    s = _pow2(E, E.isub(ni, 1))
    em1 = E.mul(E.fma(s, e, E.sub(s, 0.5)), 2.0)
    return half, E.mul(half, 2.0), em1


def _sinh(E, x):
    """sinh. Error: f32 1.47, f64 1.22 ulp.

    |x| < 1: x + x**3 P(x**2). Up to 9 (f32) / 19 (f64), with t = expm1(|x|): (t + t / (t + 1)) / 2
    (no cancellation); above, e**|x| / 2 computed without overflowing first."""
    a = E.fabs(x)
    half, _, t = _exp_halves(E, a)
    z = E.mul(a, a)
    small = E.fma(E.mul(a, z), E.poly(z, "sinh"), a)
    mid = E.mul(E.add(t, E.div(t, E.add(t, 1.0))), 0.5)
    y = E.sel(E.lt(a, 1.0), small, E.sel(E.lt(a, 19.0 if E.f64 else 9.0), mid, half))
    return _nan_through(E, x, E.copysign(y, x))


def _cosh(E, x):
    """cosh. Error: f32 1.44, f64 1.33 ulp. (e + 1/e) / 2 below |x| = 9 / 19, e**|x| / 2
    above."""
    a = E.fabs(x)
    half, e, _ = _exp_halves(E, a)
    small = E.fma(e, 0.5, E.div(0.5, e))
    return _nan_through(E, x, E.sel(E.lt(a, 19.0 if E.f64 else 9.0), small, half))


# inverse trigonometric -----------------------------------------------------------------------

def _asin_core(E, x):
    """(big, p) with big = |x| > 1/2 and p = asin(s): s = sqrt((1 - |x|) / 2) where big (then
    asin|x| = pi/2 - 2p), s = x elsewhere. |x| > 1 gives NaN (sqrt of a negative)."""
    a = E.fabs(x)
    big = E.gt(a, 0.5)
    z = E.sel(big, E.mul(E.sub(1.0, a), 0.5), E.mul(x, x))
    s = E.sel(big, E.intrinsic("sqrt", z), x)
    return big, E.fma(E.mul(s, z), E.poly(z, "asin"), s)


def _asin(E, x):
    """asin. Error: f32 2.20, f64 1.77 ulp."""
    big, p = _asin_core(E, E.fabs(x))
    hi, lo = E.parts("pio2")
    return E.copysign(E.sel(big, E.sub(hi, E.fma(p, 2.0, -lo)), p), x)


def _acos(E, x):
    """acos. Error: f32 1.01, f64 0.99 ulp. pi/2 - asin(x) for |x| <= 1/2, 2 asin(s) for
    x > 1/2 and pi - 2 asin(s) for x < -1/2, as base_hi - (coef p - base_lo)."""
    big, p = _asin_core(E, x)
    neg = E.lt(x, 0.0)
    pio2, pi = E.parts("pio2"), E.parts("pi")
    base_hi = E.sel(big, E.sel(neg, pi[0], 0.0), pio2[0])
    base_lo = E.sel(big, E.sel(neg, pi[1], 0.0), pio2[1])
    coef = E.sel(big, E.sel(neg, 2.0, -2.0), 1.0)
    return E.sub(base_hi, E.fma(coef, p, E.neg(base_lo)))


def _atan_ratio(E, u, v, flip):
    """atan(u / v) for u, v >= 0 (pi - atan(u / v) where `flip`), with a single division:
    u/v <= tan(pi/8): t = u/v; up to tan(3pi/8): t = (u - v)/(u + v), plus pi/4;
    above: t = -v/u, plus pi/2. Then |t| <= tan(pi/8) and atan(t) = t + t**3 P(t**2)."""
    tan_pio8 = _round(2.0 ** 0.5 - 1.0, E.f64)
    c1 = E.gt(u, E.mul(v, tan_pio8))
    c2 = E.gt(u, E.mul(v, _round(2.0 ** 0.5 + 1.0, E.f64)))
    num = E.sel(c2, E.neg(v), E.sel(c1, E.sub(u, v), u))
    den = E.sel(c2, u, E.sel(c1, E.add(u, v), v))
    t = E.div(num, den)
    z = E.mul(t, t)
    p = E.fma(E.mul(t, z), E.poly(z, "atan"), t)
    pio2, pio4, pi3o4, pi = (E.parts(k) for k in ("pio2", "pio4", "3pio4", "pi"))
    base = [E.sel(c2, pio2[i], E.sel(c1, pio4[i], 0.0)) for i in (0, 1)]
    if flip is not None:
        flipped = [E.sel(c2, pio2[i], E.sel(c1, pi3o4[i], pi[i])) for i in (0, 1)]
        base = [E.sel(flip, f, b) for f, b in zip(flipped, base)]
        p = E.sel(flip, E.neg(p), p)
    return E.add(base[0], E.add(p, base[1]))


def _atan(E, x):
    """atan. Error: f32 2.02, f64 2.10 ulp."""
    return E.copysign(_atan_ratio(E, E.fabs(x), E.v(1.0), None), x)


def _atan2(E, y, x):
    """atan2(y, x), numpy.arctan2's conventions (signed zeros pick the half plane). Error:
    f32 2.13, f64 2.33 ulp. Both operands are first scaled by a power of 2: by 1/4 when
    huge (u + v must not overflow), up when tiny (the region tests multiply |x| by tan(pi/8),
    which must not round in the subnormals)."""
    u, v = E.fabs(y), E.fabs(x)
    larger = E.sel(E.gt(u, v), u, v)
    half_range = 2.0 ** (E.bias // 2)
    scale = E.sel(E.gt(larger, 2.0 ** (E.bias - 2)), 0.25,
                  E.sel(E.lt(larger, 1 / half_range), half_range, 1.0))
    u, v = E.mul(u, scale), E.mul(v, scale)
    flip = E.signbit(x)
    res = _atan_ratio(E, u, v, flip)
    res = E.sel(E.eq(u, 0.0), E.sel(flip, E.const("pi"), 0.0), res)
    both_inf = E.and_(E.eq(u, E.inf), E.eq(v, E.inf))
    corner = E.sel(flip, E.const("3pio4"), E.const("pio4"))
    res = E.copysign(E.sel(both_inf, corner, res), y)
    return E.sel(E.isnan(x, y), E.add(x, y), res)


# pow -----------------------------------------------------------------------------------------

_POW_TABLE_SIZE = {False: 5, True: 9}  # odd: the middle center is 1, no cancellation near x = 1


@functools.lru_cache(maxsize=None)
def _pow_table(f64):
    """Rows (1/c, -log(1/c) high, low) for J centers c = 2**(j/J) (|j| <= (J-1)/2) splitting
    [sqrt(1/2), sqrt(2)) into intervals of equal log width, and the J - 1 boundaries between
    them. 1/c is rounded to the type; its log is exact to twice the precision."""
    size = _POW_TABLE_SIZE[f64]
    rows = []
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        for j in range(size):
            inv = _round(2.0 ** ((size - 1) / (2 * size) - j / size), f64)
            log = -decimal.Decimal(inv).ln()
            hi = _round(log, f64)
            rows.append((inv, hi, _round(log - decimal.Decimal(hi), f64)))
    bounds = [_round(2.0 ** (j / size - 0.5), f64) for j in range(1, size)]
    return rows, bounds


def _two_sum(E, a, b):
    s = E.add(a, b)
    bb = E.sub(s, a)
    return s, E.add(E.sub(a, E.sub(s, bb)), E.sub(b, bb))


def _log_double(E, x):
    """log(x) for positive finite x as hi + lo, to about 2**-(2p-12) relative.

    x = 2**k m; m times a table value 1/c (chosen by selects, no gathers) is 1 + z with
    |z| <= 2**(1/2J) - 1, computed exactly as a double-word with fma; log1p(z) = z - z**2/2 +
    z**3 P(z) with the first two terms kept exact; then k ln2 + log(c) + log1p(z) summed with
    error-free transformations."""
    k, m = _log_split(E, x)
    rows, bounds = _pow_table(E.f64)
    cols = [E.v(c) for c in rows[0]]
    for j, bound in enumerate(bounds, 1):
        above = E.ge(m, bound)
        cols = [E.sel(above, row_value, col) for row_value, col in zip(rows[j], cols)]
    inv, c_hi, c_lo = cols
    ph = E.mul(m, inv)
    pl = E.fma(m, inv, E.neg(ph))
    f = E.sub(ph, 1.0)  # exact
    zh = E.add(f, pl)
    zl = E.add(E.sub(f, zh), pl)
    hz = E.mul(zh, 0.5)
    sq = E.mul(zh, hz)
    sq_err = E.fma(zh, hz, E.neg(sq))  # zh**2 / 2 = sq + sq_err exactly
    t = E.sub(zh, sq)
    t_err = E.sub(E.sub(zh, t), sq)
    cube = E.mul(E.mul(zh, zh), zh)
    lo = E.add(t_err, E.fma(cube, E.poly(zh, "pow_log"), E.sub(zl, E.fma(zh, zl, sq_err))))
    ln2_hi, ln2_lo = E.parts("ln2", lead_bits=E.mant + 1 - 12)  # k ln2_hi exact, |k| < 2**11
    a = E.mul(k, ln2_hi)
    s1 = E.add(a, c_hi)
    e1 = E.add(E.sub(a, s1), c_hi)  # Fast2Sum: |a| >= |c_hi| unless k = 0
    s2, e2 = _two_sum(E, s1, t)
    lo = E.add(E.add(lo, E.add(e1, e2)), E.fma(k, ln2_lo, c_lo))
    hi = E.add(s2, lo)
    return hi, E.sub(lo, E.sub(hi, s2))


def _pow_positive(E, x, y):
    """x**y for positive finite x and finite y: exp(y log x) with y log x as a double-word."""
    hi, lo = _log_double(E, x)
    eh = E.mul(y, hi)
    el = E.fma(y, lo, E.fma(y, hi, E.neg(eh)))
    ehc = _clamp(E, eh, *_EXP_RANGE[E.f64])
    el = E.sel(E.eq(eh, ehc), el, 0.0)  # saturated: the low part no longer matters
    ni, _, r = _reduce_ln2(E, ehc)
    return _scale(E, E.add(_expm1_poly(E, E.add(r, el)), 1.0), ni)


def _pow(E, x, y):
    """x**y with numpy.power's (C99's) special cases. Error: f32 1.20, f64 1.64 ulp.

    |x|**y from exp(y log|x|) carried in double-word arithmetic; zeros, infinities and infinite
    y get their magnitude from the rules (0 or inf by whether |x| > 1 and y > 0); the sign
    is x's for odd integer y; NaN for finite x < 0 with finite non-integer y or any NaN operand;
    then pow(x, +-0) = 1 and pow(1, y) = 1 whatever the other operand."""
    ax, ay = E.fabs(x), E.fabs(y)
    regular = E.and_(E.gt(ax, 0.0), E.lt(ax, E.inf), E.lt(ay, E.inf))
    mag = _pow_positive(E, E.sel(regular, ax, 1.0), E.sel(regular, y, 0.0))
    limit = E.sel(E.b.xor(E.gt(ax, 1.0), E.gt(y, 0.0)), 0.0, E.inf)
    mag = E.sel(regular, mag, limit)
    mag = E.sel(E.eq(ax, 1.0), 1.0, mag)
    y_int = E.eq(E.floor(y), y)
    half = E.mul(y, 0.5)
    y_odd = E.and_(y_int, E.ne(E.floor(half), half))
    res = E.flip_sign(mag, E.isel(E.and_(E.signbit(x), y_odd), E.sign, 0))
    negative_base = E.and_(E.lt(x, 0.0), E.gt(x, -E.inf), E.lt(ay, E.inf), E.b.not_(y_int))
    res = E.sel(E.or_(negative_base, E.isnan(x, y)), float("nan"), res)
    return E.sel(E.or_(E.eq(y, 0.0), E.eq(x, 1.0)), 1.0, res)


# ---------------------------------------------------------------------------------------------
# The API

_EMITTERS = {
    "exp": _exp, "log": _log, "log1p": _log1p, "expm1": _expm1, "tanh": _tanh,
    "sigmoid": _sigmoid, "erf": _erf, "sin": _sin, "cos": _cos, "tan": _tan, "sinh": _sinh,
    "cosh": _cosh, "asin": _asin, "acos": _acos, "atan": _atan, "atan2": _atan2, "pow": _pow,
}

FUNCTIONS = {**{name: 1 for name in _EMITTERS}, "atan2": 2, "pow": 2}


def call(builder, name, args):
    """Emit a call of math function `name` on llvmlite IR values `args` (all the same type:
    float, double, or a vector <N x float>/<N x double>). Returns the result value (same type).
    The function is defined once per module and type (internal linkage, alwaysinline, nounwind),
    named e.g. llgrad.exp.v8f32, so LLVM inlines it into the loop."""
    if name not in _EMITTERS:
        raise ValueError(f"unknown math function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
    args = list(args)
    if len(args) != FUNCTIONS[name]:
        raise TypeError(f"{name} takes {FUNCTIONS[name]} argument(s), got {len(args)}")
    t = args[0].type
    if not isinstance(element_type(t), (ir.FloatType, ir.DoubleType)):
        raise TypeError(f"{name}: arguments must be float or double (or vectors of them), got {t}")
    if any(a.type != t for a in args):
        raise TypeError(f"{name}: arguments differ in type: {[str(a.type) for a in args]}")
    module = builder.module
    fname = f"llgrad.{name}.{mangled(t)}"
    fn = module.globals.get(fname)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(t, [t] * len(args)), fname)
        fn.linkage = "internal"
        fn.attributes.add("alwaysinline")
        fn.attributes.add("nounwind")
        body = ir.IRBuilder(fn.append_basic_block("entry"))
        body.ret(_EMITTERS[name](_Emitter(body, t), *fn.args))
    return builder.call(fn, args)


# ---------------------------------------------------------------------------------------------
# Deriving the coefficients: python -m llgrad.compiler.codegen.mathlib (needs mpmath; prints
# the _COEFFS entries). Not used at run time.

def _remez(mp, g, w, a, b, degree, grid=2000, iterations=60):
    """Coefficients (lowest first) of the degree-`degree` polynomial P minimizing
    max |w(v) (P(v) - g(v))| over [a, b], and that max: the exchange algorithm, with extrema
    searched on a fixed Chebyshev-spaced grid."""
    import numpy as np

    a, b = mp.mpf(a), mp.mpf(b)
    xs = [a + (b - a) * (1 - mp.cos(mp.pi * i / (grid - 1))) / 2 for i in range(grid)]
    xs = [x if x != 0 else mp.mpf(10) ** -30 for x in xs]  # the forms are 0/0 at v = 0
    gs, ws = [g(x) for x in xs], [w(x) for x in xs]
    m = degree + 2
    ref = [xs[int(round(i))] for i in np.linspace(0, grid - 1, m)]
    best = None
    for _ in range(iterations):
        matrix = mp.matrix([[x ** k for k in range(degree + 1)] + [(-1) ** i / w(x)]
                            for i, x in enumerate(ref)])
        sol = mp.lu_solve(matrix, mp.matrix([g(x) for x in ref]))
        coeffs, level = [sol[k] for k in range(degree + 1)], abs(sol[degree + 1])
        err = np.array([float(wi * (mp.polyval(coeffs[::-1], x) - gi))
                        for x, gi, wi in zip(xs, gs, ws)])
        worst = float(np.max(np.abs(err)))
        if best is None or worst < best[1]:
            best = (coeffs, worst)
        if worst <= float(level) * 1.0001:
            break
        # new reference: the local extrema, one per run of equal sign, the largest kept
        peaks = [0] + [i for i in range(1, grid - 1)
                       if (err[i] - err[i - 1]) * (err[i + 1] - err[i]) <= 0] + [grid - 1]
        alternating = []
        for i in peaks:
            if alternating and np.sign(err[i]) == np.sign(err[alternating[-1]]):
                if abs(err[i]) > abs(err[alternating[-1]]):
                    alternating[-1] = i
            else:
                alternating.append(i)
        while len(alternating) > m:
            alternating.pop(0 if abs(err[alternating[0]]) < abs(err[alternating[-1]]) else -1)
        if len(alternating) < m:
            break
        ref = [xs[i] for i in alternating]
    return best


def _fits(mp):
    """name -> (g, w, a, b, {dtype: degree}): fit P(v) to g(v) on [a, b] with error weight w."""
    sq = mp.sqrt

    def cube(z):
        return sq(z) ** 3

    def log1p_width(size):  # |z| bound of pow's reduced argument, with a margin
        return mp.mpf(2) ** (mp.mpf(1) / (2 * size)) - 1 + mp.mpf("0.002")

    s2 = sq(2)
    p4 = mp.pi / 4 * mp.mpf("1.02")
    half_ln2 = mp.log(2) / 2 * mp.mpf("1.002")
    s_max = (s2 - 1) / (s2 + 1) * mp.mpf("1.001")
    t_max = (s2 - 1) * mp.mpf("1.01")
    z5, z9 = log1p_width(5), log1p_width(9)
    pow_log = (lambda z: (mp.log1p(z) - z + z * z / 2) / z ** 3,
               lambda z: abs(z ** 3 / mp.log1p(z)))
    return {
        "expm1": (lambda r: (mp.expm1(r) - r) / r ** 2, lambda r: abs(r ** 2 / mp.expm1(r)),
                  -half_ln2, half_ln2, {"float32": 4, "float64": 10}),
        "log1p": (lambda f: (mp.log1p(f) - f) / f ** 2, lambda f: abs(f ** 2 / mp.log1p(f)),
                  (1 / s2 - 1) * mp.mpf("1.001"), (s2 - 1) * mp.mpf("1.001"), {"float32": 8}),
        "log_r": (lambda z: (2 * mp.atanh(sq(z)) - 2 * sq(z)) / sq(z) / z, lambda z: z,
                  0, s_max ** 2, {"float64": 6}),
        "tanh": (lambda z: (mp.tanh(sq(z)) - sq(z)) / cube(z), lambda z: cube(z) / mp.tanh(sq(z)),
                 0, mp.mpf("0.55") ** 2, {"float32": 4, "float64": 10}),
        "sinh": (lambda z: (mp.sinh(sq(z)) - sq(z)) / cube(z), lambda z: cube(z) / mp.sinh(sq(z)),
                 0, 1, {"float32": 3, "float64": 6}),
        "erf_small": (lambda z: (mp.erf(sq(z)) - sq(z)) / sq(z), lambda z: sq(z) / mp.erf(sq(z)),
                      0, mp.mpf("0.875") ** 2, {"float32": 6, "float64": 11}),
        "erf_tail": [(lambda x: mp.log(mp.erfc(x)), mp.erfc, mp.mpf("0.875"), 4, {"float32": 9}),
                     (lambda x: mp.log(mp.erfc(x)), mp.erfc, mp.mpf("0.875"), 6, {"float64": 22})],
        "sin": (lambda z: (mp.sin(sq(z)) - sq(z)) / cube(z), lambda z: abs(cube(z) / mp.sin(sq(z))),
                0, p4 ** 2, {"float32": 3, "float64": 6}),
        "cos": (lambda z: (mp.cos(sq(z)) - 1 + z / 2) / z ** 2, lambda z: z ** 2 / mp.cos(sq(z)),
                mp.mpf("1e-8"), p4 ** 2, {"float32": 3, "float64": 6}),
        "asin": (lambda z: (mp.asin(sq(z)) - sq(z)) / cube(z), lambda z: cube(z) / mp.asin(sq(z)),
                 0, mp.mpf("0.25"), {"float32": 5, "float64": 12}),
        "atan": (lambda z: (mp.atan(sq(z)) - sq(z)) / cube(z), lambda z: cube(z) / mp.atan(sq(z)),
                 0, t_max ** 2, {"float32": 5, "float64": 11}),
        "pow_log": [(*pow_log, -z5, z5, {"float32": 5}), (*pow_log, -z9, z9, {"float64": 9})],
    }


def _derive():
    import mpmath as mp

    mp.mp.dps = 50
    for name, specs in _fits(mp).items():
        print(f'    "{name}": {{')
        for g, w, a, b, degrees in specs if isinstance(specs, list) else [specs]:
            for dtype, degree in degrees.items():
                coeffs, err = _remez(mp, g, w, a, b, degree)
                values = [_round(c, dtype == "float64").hex() for c in coeffs]
                print(f"        # max weighted error before rounding the coefficients: {err:.1e}")
                quoted = ", ".join(f'"{v}"' for v in values)
                print(f'        "{dtype}": _hex({quoted}),')
        print("    },")


if __name__ == "__main__":
    _derive()
