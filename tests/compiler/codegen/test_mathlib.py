"""The vectorized math library (compiler/codegen/mathlib.py), compiled into loop kernels and
compared with NumPy.

Accuracy is measured in ulps of the result type against a more precise reference: NumPy in
float64 for float32 results, NumPy in long double (x87, 64-bit mantissa) for float64 results.
Inputs sweep the whole range: float32 bit patterns 0, s, 2s, ... (mod 2**32) for a stride s,
float64 patterns likewise, plus hand-picked edges (zeros, infinities, NaN, subnormals, the
overflow and underflow thresholds of each function and their neighbours). Results must have the
reference's class exactly (NaN, +-inf, sign of zero) and be within the stated bound otherwise.

The default run uses about 130 thousand float32 and 65 thousand float64 inputs per function;
`-m slow` runs about 4 million float32 inputs, a million float64 ones, and every float32 in
[0, 2**24) for sin/cos/tan (several minutes).
"""
import ctypes
import functools
import math

import numpy as np
import pytest
from llvmlite import ir

from llgrad.compiler.codegen import mathlib
from llgrad.compiler.codegen.types import F32, F64, I64, VOID
from llgrad.runtime.llvm import compile_module, emit_assembly, target

# Max ulp each function may show, (f32, f64): the measured maxima stated in mathlib's docstrings
# plus headroom. exp, log, tanh and sigmoid must stay within 2 ulp in float32, 4 in float64.
BOUNDS = {
    "exp": (1.5, 1.5), "log": (1.5, 1.5), "log1p": (1.5, 1.5), "expm1": (2.0, 2.0),
    "tanh": (2.0, 1.5), "sigmoid": (1.5, 1.5), "erf": (1.5, 1.5), "sin": (3.0, 2.5),
    "cos": (3.0, 2.5), "tan": (4.5, 4.0), "sinh": (2.0, 2.0), "cosh": (2.0, 2.0),
    "asin": (3.0, 2.5), "acos": (1.5, 1.5), "atan": (2.5, 2.5), "atan2": (2.5, 3.0),
    "pow": (2.0, 2.0),
}
# sin, cos and tan are accurate for |x| below these (Cody-Waite reduction); see mathlib._trig.
TRIG_BOUND = {np.float32: 2.0 ** 24, np.float64: 2.0 ** 52}
REQUIRED = {"exp": 1, "log": 1, "log1p": 1, "expm1": 1, "tanh": 1, "sigmoid": 1, "erf": 1,
            "sin": 1, "cos": 1, "tan": 1, "sinh": 1, "cosh": 1, "asin": 1, "acos": 1,
            "atan": 1, "atan2": 2, "pow": 2}
DTYPES = [np.float32, np.float64]


# ---------------------------------------------------------------------------------------------
# Kernels: void k_<name>(T* x, [T* y,] T* out, i64 n), vectors of `lanes` then a scalar loop

def _loop_kernel(module, name, t, lanes):
    """lanes = 0: the scalar loop only."""
    arity = mathlib.FUNCTIONS[name]
    fn = ir.Function(module, ir.FunctionType(VOID, [t.as_pointer()] * (arity + 1) + [I64]),
                     f"k_{name}")
    for arg in fn.args[:-1]:
        arg.add_attribute("noalias")
    *ins, out, n = fn.args
    entry, vhead, vbody, shead, sbody, done = (fn.append_basic_block(label) for label in (
        "entry", "vhead", "vbody", "shead", "sbody", "done"))
    b = ir.IRBuilder(entry)
    n_vec = b.mul(b.udiv(n, I64(lanes)), I64(lanes)) if lanes else I64(0)
    b.branch(vhead)
    b.position_at_end(vhead)
    i = b.phi(I64)
    i.add_incoming(I64(0), entry)
    b.cbranch(b.icmp_signed("<", i, n_vec), vbody, shead)
    b.position_at_end(vbody)
    if lanes:
        vt = ir.VectorType(t, lanes).as_pointer()
        align = 8 if t == F64 else 4
        args = [b.load(b.bitcast(b.gep(p, [i]), vt), align=align) for p in ins]
        b.store(mathlib.call(b, name, args), b.bitcast(b.gep(out, [i]), vt), align=align)
    i.add_incoming(b.add(i, I64(max(lanes, 1))), vbody)
    b.branch(vhead)
    b.position_at_end(shead)
    j = b.phi(I64)
    j.add_incoming(i, vhead)
    b.cbranch(b.icmp_signed("<", j, n), sbody, done)
    b.position_at_end(sbody)
    b.store(mathlib.call(b, name, [b.load(b.gep(p, [j])) for p in ins]), b.gep(out, [j]))
    j.add_incoming(b.add(j, I64(1)), sbody)
    b.branch(shead)
    b.position_at_end(done)
    b.ret_void()


def kernel_module(dtype, lanes, names=None):
    module = ir.Module(name=f"mathlib_test_{np.dtype(dtype).name}_{lanes}")
    t = F32 if np.dtype(dtype) == np.float32 else F64
    for name in names or mathlib.FUNCTIONS:
        _loop_kernel(module, name, t, lanes)
    return module


@functools.lru_cache(maxsize=None)
def compiled(dtype_name, target_name="host", lanes=None):
    """All kernels of one dtype compiled for a target; lanes defaults to the target's."""
    tgt = target(target_name)
    dtype = np.dtype(dtype_name)
    lanes = tgt.lanes(dtype.itemsize) if lanes is None else lanes
    return compile_module(str(kernel_module(dtype, lanes)), tgt)


def run(name, *xs, target_name="host", lanes=None):
    xs = [np.ascontiguousarray(x) for x in xs]
    code = compiled(xs[0].dtype.name, target_name, lanes)
    out = np.empty_like(xs[0])
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * (len(xs) + 1), ctypes.c_int64)(
        code.address(f"k_{name}"))
    fn(*[x.ctypes.data for x in xs], out.ctypes.data, out.size)
    return out


# ---------------------------------------------------------------------------------------------
# References and ulp errors

_LD = np.longdouble
_SQRT_PI_LD = np.sqrt(_LD("3.14159265358979323846264338327950288"))


def _erf_reference(x):
    """erf in the precision of x: 2/sqrt(pi) exp(-x**2) sum 2**n x**(2n+1) / (2n+1)!! (all terms
    positive, so no cancellation); 1 beyond |x| = 7."""
    x = np.asarray(x)
    a = np.minimum(np.abs(np.where(np.isnan(x), 0, x)), 7)
    term, total, a2 = a.copy(), a.copy(), a * a
    for n in range(1, 140):
        term = term * 2 * a2 / (2 * n + 1)
        total += term
    out = np.where(a >= 7, 1, 2 / _SQRT_PI_LD.astype(x.dtype) * np.exp(-a2) * total)
    return np.where(np.isnan(x), np.nan, np.copysign(out, x))


def _erf_f64(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


_REFERENCE = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "sinh": np.sinh, "cosh": np.cosh, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "atan2": np.arctan2, "pow": np.power,
}


def reference(name, *xs):
    """float64 reference for float32 inputs, long double for float64."""
    if xs[0].dtype == np.float64 and np.finfo(_LD).nmant < 63:
        pytest.skip("float64 references need an 80-bit long double (x86)")
    wide = np.float64 if xs[0].dtype == np.float32 else _LD
    with np.errstate(all="ignore"):
        if name == "erf":
            return _erf_f64(xs[0]) if wide is np.float64 else _erf_reference(xs[0].astype(wide))
        return _REFERENCE[name](*[x.astype(wide) for x in xs])


def ulp_error(got, ref, dtype):
    """|got - ref| in ulps of `dtype` at ref (ref more precise). inf where the class after
    rounding ref to dtype differs (NaN, +inf, -inf, finite) or zeros differ in sign."""
    info = np.finfo(dtype)
    wide = ref.dtype.type
    with np.errstate(all="ignore"):
        rounded = ref.astype(dtype)
        exponent = np.frexp(np.abs(ref))[1]
        ulp = np.maximum(np.ldexp(wide(1), (exponent - 1 - info.nmant).astype(np.int32)),
                         np.ldexp(wide(1), info.minexp - info.nmant))
        err = (np.abs(got.astype(wide) - ref) / ulp).astype(np.float64)
    err = np.where(np.isfinite(rounded) & np.isfinite(got), err, np.inf)
    same_special = (np.isnan(rounded) & np.isnan(got)) | (np.isinf(rounded) & (got == rounded))
    err = np.where(same_special, 0.0, err)
    zero_sign = (rounded == 0) & (got == 0) & (np.signbit(rounded) != np.signbit(got))
    return np.where(zero_sign, np.inf, err)


def ulp_distance(got, ref, dtype):
    """Distance in representable numbers between got and ref rounded to dtype (finite only)."""
    itype = np.int32 if np.dtype(dtype) == np.float32 else np.int64

    def ordered(v):
        i = v.astype(dtype).view(itype).astype(np.int64)
        return np.where(i < 0, np.iinfo(itype).min - i, i)

    with np.errstate(all="ignore"):
        rounded = ref.astype(dtype)
    ok = np.isfinite(rounded) & np.isfinite(got)
    return np.abs(ordered(np.where(ok, got, 0)) - ordered(np.where(ok, rounded, 0)))


# ---------------------------------------------------------------------------------------------
# Inputs

def bit_sweep(dtype, count, offset=0):
    """`count` bit patterns spread evenly over all patterns of dtype (an odd stride)."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    step = ((1 << width) // count) | 1
    idx = np.arange(count, dtype=np.uint64)
    bits = idx * np.uint64(step) + np.uint64(offset)  # wraps modulo 2**64
    if width == 32:
        return (bits % np.uint64(1 << 32)).astype(np.uint32).view(np.float32)
    return bits.view(np.float64)


def edge_values(dtype):
    """Special values, extremes and each function's thresholds, with neighbours, both signs."""
    f = np.finfo(dtype)
    big = float(f.max)
    sub = float(f.smallest_subnormal)
    points = [
        0.0, 1.0, 0.5, 2.0, 3.0, 10.0, big, float(f.tiny), sub, float(f.tiny) - sub, float(f.eps),
        1e-4, 1e-8, 1e-20, math.log(big), math.log(float(f.tiny)), math.log(sub),
        math.log(sub) - 0.7, math.log(2 * big), 9.01, 19.06, 17.33, 37.43, 3.92, 5.93, 0.55,
        0.875, 1 - 2 ** -0.5, 2 ** 0.5 - 1, math.pi / 4, math.pi / 2, math.pi, 1e4, 2.0 ** 24,
        2.0 ** 52, 1e30, 2 ** 125, 2 ** 1021,
    ]
    values = []
    with np.errstate(all="ignore"):
        for p in points:
            v = np.array([p, -p], dtype=dtype)
            values += [v, np.nextafter(v, np.inf).astype(dtype),
                       np.nextafter(v, -np.inf).astype(dtype)]
    return np.concatenate(values + [np.array([np.inf, -np.inf, np.nan], dtype)])


def one_arg_inputs(dtype, count):
    return np.concatenate([edge_values(dtype), bit_sweep(dtype, count)])


def pair_inputs(name, dtype, count, seed=0):
    """(first, second) operand arrays: all pairs of edge values, random bit patterns, and for
    pow pairs whose result spans the whole range (x**y from underflow to overflow, x near 1
    with large y, negative x with integer y); for atan2 pairs of similar magnitude."""
    rng = np.random.default_rng(seed)
    f = np.finfo(dtype)
    edges = edge_values(dtype)
    a, b = (e.ravel() for e in np.meshgrid(edges, edges))
    itype = np.uint32 if np.dtype(dtype) == np.float32 else np.uint64
    width = 32 if itype is np.uint32 else 64

    def random_bits(k):
        return rng.integers(0, 1 << width, k, dtype=np.uint64).astype(itype).view(dtype)

    k = count // 4
    xs, ys = [a, random_bits(count)], [b, random_bits(count)]
    with np.errstate(all="ignore"):
        if name == "pow":
            lo, hi = f.minexp - f.nmant - 2, f.maxexp + 1
            x1 = np.exp2(rng.uniform(f.minexp - f.nmant, f.maxexp, k))
            x2 = 1 + rng.uniform(-2 ** -6, 2 ** -6, k) * np.exp2(-rng.integers(0, 20, k))
            x3 = -np.exp2(rng.uniform(-20, 20, k))
            xs += [x1, x2, x3, rng.uniform(0, 10, k)]
            integers = rng.uniform(-1, 1, k) * (hi + 10) / np.maximum(np.abs(np.log2(-x3)), 1e-3)
            ys += [rng.uniform(lo, hi, k) / np.log2(x1), rng.uniform(lo, hi, k) / np.log2(x2),
                   np.round(integers), rng.uniform(-40, 40, k)]
        else:
            x = random_bits(count)
            xs.append(x)
            ys.append(x * rng.uniform(0.3, 3, count))
    return (np.concatenate(xs).astype(dtype), np.concatenate(ys).astype(dtype))


# ---------------------------------------------------------------------------------------------
# Accuracy checks

def check_accuracy(name, dtype, args, target_name="host"):
    """Run `name` on args, return the ulp errors after asserting the bound."""
    got = run(name, *args, target_name=target_name)
    err = ulp_error(got, reference(name, *args), dtype)
    if name in ("sin", "cos", "tan"):  # accuracy is promised below the reduction's bound
        beyond = np.abs(args[0]) > TRIG_BOUND[dtype]
        assert np.all(np.isfinite(got[beyond & np.isfinite(args[0])]))
        if name != "tan":
            assert np.all(np.abs(got[beyond & np.isfinite(args[0])]) <= 1)
        err = np.where(beyond, 0.0, err)
    bound = BOUNDS[name][dtype == np.float64]
    worst = int(np.argmax(err))
    assert err[worst] <= bound, (
        f"{name} {np.dtype(dtype).name}: {err[worst]:.3f} ulp > {bound} at "
        f"{[a[worst] for a in args]}: got {got[worst]!r}, "
        f"reference {reference(name, *[a[worst:worst + 1] for a in args])}")
    if name in ("exp", "log", "tanh", "sigmoid"):
        limit = 2 if dtype == np.float32 else 4
        assert ulp_distance(got, reference(name, *args), dtype).max() <= limit
    return err


def args_for(name, dtype, count):
    if REQUIRED[name] == 1:
        return (one_arg_inputs(dtype, count),)
    return pair_inputs(name, dtype, count)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(REQUIRED))
def test_accuracy_sample(name, dtype):
    check_accuracy(name, dtype, args_for(name, dtype, 1 << 17 if dtype == np.float32 else 1 << 16))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(REQUIRED))
def test_accuracy_sweep(name, dtype):
    count = (1 << 32) // 1031 if dtype == np.float32 else 1 << 20
    err = check_accuracy(name, dtype, args_for(name, dtype, count))
    print(f"{name} {np.dtype(dtype).name}: max {err.max():.3f} ulp over {err.size} inputs")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_float32_exhaustive_below_bound(name):
    """Every float32 in [0, 2**24) (negative x is the same computation with the sign flipped)."""
    worst = 0.0
    stop = int(np.float32(TRIG_BOUND[np.float32]).view(np.uint32))
    for start in range(0, stop, 1 << 24):
        x = np.arange(start, min(start + (1 << 24), stop), dtype=np.uint32).view(np.float32)
        worst = max(worst, check_accuracy(name, np.float32, (x,)).max())
    print(f"{name} float32 [0, 2**24): max {worst:.3f} ulp")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_float64_large_arguments(name):
    """float64 up to the bound: log-uniform samples, and the doubles nearest to multiples of
    pi/2 (the hardest to reduce)."""
    rng = np.random.default_rng(5)
    x = np.exp2(rng.uniform(0, 52, 1 << 20))
    n = rng.integers(1, 1 << 40, 1 << 18).astype(_LD)
    near = (n * _LD("1.57079632679489661923132169163975144")).astype(np.float64)
    x = np.concatenate([x, near, np.nextafter(near, 0), np.nextafter(near, np.inf)])
    err = check_accuracy(name, np.float64, (x,))
    print(f"{name} float64 |x| < 2**52: max {err.max():.3f} ulp")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(REQUIRED))
def test_generic_x86_64_build(name, dtype):
    """Compiled for plain x86-64 (SSE2, 128-bit vectors; no FMA, so llvm.fma becomes libm's fma
    there): same bounds, and the very same bits as the host build (only IEEE operations and fma,
    so no result depends on the target)."""
    args = args_for(name, dtype, 1 << 12)
    check_accuracy(name, dtype, args, target_name="generic")
    generic, host = run(name, *args, target_name="generic"), run(name, *args)
    np.testing.assert_array_equal(generic.view(np.uint8), host.view(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("lanes", [0, 1, 16], ids=["scalar", "1", "16"])
def test_any_lane_count_gives_the_same_bits(lanes, dtype):
    """Scalars, <1 x T> and wider-than-register vectors compute the very same results."""
    for name in REQUIRED:
        args = args_for(name, dtype, 1 << 10)
        np.testing.assert_array_equal(run(name, *args, lanes=lanes).view(np.uint8),
                                      run(name, *args).view(np.uint8), err_msg=name)


# ---------------------------------------------------------------------------------------------
# Special values, exactly

INF, NAN, SUB = np.inf, np.nan, "smallest subnormal"
SPECIAL = [  # (function, arguments, exact results)
    ("exp", [-INF, INF, NAN, 0.0, -0.0, 1e-30, -1e4, 1e4], [0, INF, NAN, 1, 1, 1, 0, INF]),
    ("log", [0.0, -0.0, -1.0, INF, -INF, NAN, 1.0], [-INF, -INF, NAN, INF, NAN, NAN, 0]),
    ("log1p", [-1.0, -2.0, INF, NAN, 0.0, -0.0, SUB], [-INF, NAN, INF, NAN, 0.0, -0.0, SUB]),
    ("expm1", [-INF, INF, NAN, 0.0, -0.0, SUB, -1e4], [-1, INF, NAN, 0.0, -0.0, SUB, -1]),
    ("tanh", [INF, -INF, NAN, 0.0, -0.0, 1e4, -1e4, SUB], [1, -1, NAN, 0.0, -0.0, 1, -1, SUB]),
    ("sigmoid", [-INF, INF, NAN, 0.0, -0.0, 1e4, -1e4], [0, 1, NAN, 0.5, 0.5, 1, 0]),
    ("erf", [INF, -INF, NAN, 0.0, -0.0, 10.0, -10.0], [1, -1, NAN, 0.0, -0.0, 1, -1]),
    ("sin", [INF, -INF, NAN, 0.0, -0.0, SUB], [NAN, NAN, NAN, 0.0, -0.0, SUB]),
    ("tan", [INF, -INF, NAN, 0.0, -0.0, SUB], [NAN, NAN, NAN, 0.0, -0.0, SUB]),
    ("cos", [INF, -INF, NAN, 0.0, -0.0], [NAN, NAN, NAN, 1, 1]),
    ("sinh", [INF, -INF, NAN, 0.0, -0.0, 1e4, -1e4], [INF, -INF, NAN, 0.0, -0.0, INF, -INF]),
    ("cosh", [INF, -INF, NAN, 0.0, -0.0, 1e4], [INF, INF, NAN, 1, 1, INF]),
    ("asin", [1.0, -1.0, 1.5, -INF, NAN, 0.0, -0.0],
     [np.pi / 2, -np.pi / 2, NAN, NAN, NAN, 0.0, -0.0]),
    ("acos", [1.0, -1.0, 1.5, INF, NAN, 0.0], [0.0, np.pi, NAN, NAN, NAN, np.pi / 2]),
    ("atan", [INF, -INF, NAN, 0.0, -0.0, SUB], [np.pi / 2, -np.pi / 2, NAN, 0.0, -0.0, SUB]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name, args, results", SPECIAL, ids=[row[0] for row in SPECIAL])
def test_special_values(name, args, results, dtype):
    sub = np.finfo(dtype).smallest_subnormal
    x, expected = (np.array([sub if v is SUB else v for v in vs], dtype) for vs in (args, results))
    got = run(name, x)
    np.testing.assert_array_equal(got, expected)
    number = ~np.isnan(expected)  # a NaN's sign means nothing
    np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(expected[number]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["pow", "atan2"])
def test_two_argument_special_cases_match_numpy(name, dtype):
    """Every pair of special operands gives exactly NumPy's result (numpy.power/arctan2 in the
    same dtype; C99 Annex F), signed zeros and NaN included."""
    inf, nan = np.inf, np.nan
    special = np.array([0.0, -0.0, inf, -inf, nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0,
                        1.5, -1.5, 0.25, 1e10, -1e10, 2.0 ** 60, -(2.0 ** 60),
                        np.finfo(dtype).smallest_subnormal], dtype)
    x, y = (g.ravel() for g in np.meshgrid(special, special))
    got = run(name, x, y)
    with np.errstate(all="ignore"):
        expected = (np.power if name == "pow" else np.arctan2)(x, y)
    angles = np.array([np.pi, np.pi / 2, np.pi / 4, 3 * np.pi / 4], dtype)
    exact = (~np.isfinite(expected) | (expected == 0) | np.isin(np.abs(expected), special)
             | np.isin(np.abs(expected), angles))
    np.testing.assert_array_equal(got[exact], expected[exact])
    number = exact & ~np.isnan(expected)
    np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(expected[number]))
    assert ulp_error(got, reference(name, x, y), dtype).max() <= BOUNDS[name][dtype == np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_pow_exact_integer_results(dtype):
    rng = np.random.default_rng(1)
    base = rng.integers(-30, 31, 4000).astype(dtype)
    expo = rng.integers(-8, 9, 4000).astype(dtype)
    with np.errstate(all="ignore"):
        expected = np.power(base.astype(np.float64), expo.astype(np.float64)).astype(dtype)
    exact = np.isfinite(expected) & (expo >= 0) & (np.abs(expected) < 2.0 ** 24)
    np.testing.assert_array_equal(run("pow", base, expo)[exact], expected[exact])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_subnormal_results_and_arguments(dtype):
    """exp and sigmoid going down through the subnormals to 0; log of subnormals."""
    f = np.finfo(dtype)
    lo, hi = math.log(float(f.smallest_subnormal)) - 1, math.log(float(f.tiny)) + 1
    x = np.linspace(hi, lo, 20001).astype(dtype)
    for name in ("exp", "sigmoid"):
        got = run(name, x)
        assert np.all(np.diff(got) <= 0) and got[-1] == 0 and got[0] > f.tiny
        assert ulp_error(got, reference(name, x), dtype).max() <= BOUNDS[name][dtype == np.float64]
    tiny = (np.arange(1, 20001) * f.smallest_subnormal * 997).astype(dtype)
    err = ulp_error(run("log", tiny), reference("log", tiny), dtype)
    assert err.max() <= BOUNDS["log"][dtype == np.float64]


# ---------------------------------------------------------------------------------------------
# The API and the generated code

def test_functions_table():
    assert mathlib.FUNCTIONS == REQUIRED


def test_call_defines_each_function_once_per_type_inlinable():
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(VOID, [F32, ir.VectorType(F32, 8)]), "f")
    b = ir.IRBuilder(fn.append_basic_block())
    for _ in range(2):
        mathlib.call(b, "exp", [fn.args[0]])
        mathlib.call(b, "exp", [fn.args[1]])
    b.ret_void()
    defined = {f.name: f for f in module.functions if f.name.startswith("llgrad.")}
    assert set(defined) == {"llgrad.exp.f32", "llgrad.exp.v8f32"}
    for f in defined.values():
        assert f.linkage == "internal"
        assert {"alwaysinline", "nounwind"} <= set(f.attributes)


def test_call_rejects_bad_arguments():
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(VOID, [F32, F64, I64]), "f")
    b = ir.IRBuilder(fn.append_basic_block())
    with pytest.raises(ValueError):
        mathlib.call(b, "gamma", [fn.args[0]])
    with pytest.raises(TypeError):
        mathlib.call(b, "exp", [fn.args[0], fn.args[0]])
    with pytest.raises(TypeError):
        mathlib.call(b, "pow", [fn.args[0], fn.args[1]])
    with pytest.raises(TypeError):
        mathlib.call(b, "exp", [fn.args[2]])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_host_code_is_vector_code_without_calls(dtype):
    """Every kernel compiles to straight-line vector code: no call (no libm), and full-width
    registers (ymm with AVX2, zmm with AVX-512)."""
    tgt = target("host")
    asm = emit_assembly(str(kernel_module(dtype, tgt.lanes(np.dtype(dtype).itemsize))), tgt)
    calls = [line for line in asm.splitlines() if line.split()[:1] in (["call"], ["callq"])]
    assert not calls, calls[:5]
    register = {512: "zmm", 256: "ymm", 128: "xmm"}[tgt.vector_bits]
    assert f"%{register}" in asm
