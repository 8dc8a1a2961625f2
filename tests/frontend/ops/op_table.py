"""The one table of ops that drives the op tests: gradcheck, comparison with PyTorch, and
compiled-vs-eager (llgrad.compile's graph against eager, on the same rows and samples).

A row (`OpInfo`) says

* how to call the op: `fn(lib, *args, **kwargs)`, written once against the API llgrad shares with
  PyTorch, so the same expression runs on `llgrad`, on `torch` and inside `llgrad.compile`
  (`torch_fn` only where PyTorch spells the call differently);
* how to build its inputs: `samples(rng)` returns `Sample`s of NumPy arrays (float64; cast to the
  dtype under test) and plain Python values, drawn from a seeded generator away from the points
  where the op is not differentiable (kinks, ties, poles), so finite differences mean something;
* whether it is differentiable, and whether it belongs to the second-derivative subset.

Argument kinds inside a Sample:
  float ndarray    a tensor input; requires grad when the op is differentiable
  Const(ndarray)   a tensor that never requires grad (indices, masks, integer operands)
  list of those    a sequence of tensors (cat, stack)
  anything else    passed through as it is (Python scalars, dims, shapes)

The checks that read the table live in `harness.py`; this module imports neither llgrad nor torch.
"""
import dataclasses
import zlib
from typing import Callable

import numpy as np

FLOAT_DTYPES = ("float32", "float64")


# ---- rows --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Const:
    """A tensor argument that never requires grad."""

    value: np.ndarray


@dataclasses.dataclass
class Sample:
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    desc: str = ""
    torch_differs: str = ""  # why this sample is not compared with PyTorch (llgrad goes further)

    def __repr__(self):
        return f"Sample({self.desc or _describe(self.args)})"


def _describe(args):
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append(f"{a.dtype.name}{list(a.shape)}")
        elif isinstance(a, Const):
            parts.append(f"const {a.value.dtype.name}{list(a.value.shape)}")
        elif isinstance(a, (list, tuple)):
            parts.append("[" + _describe(a) + "]")
        else:
            parts.append(repr(a))
    return ", ".join(parts)


@dataclasses.dataclass(frozen=True)
class OpInfo:
    name: str
    family: str  # elementwise, reduction, shape, indexing, linalg: which test file runs it
    fn: Callable  # fn(lib, *args, **kwargs)
    samples: Callable  # samples(rng) -> list[Sample]
    torch_fn: Callable = None  # when torch spells the call differently
    differentiable: bool = True
    gradgrad: bool = False  # in the second-derivative subset
    gradcheck: bool = True  # False: the op rounds to a narrower float, so finite differences
    #                          in float64 mean nothing (its gradients are compared with torch)
    dtypes: tuple = FLOAT_DTYPES
    tol32: tuple = (1e-5, 1e-6)  # (rtol, atol) against torch in float32
    tol64: tuple = (1e-10, 1e-12)
    noncontiguous: bool = True  # also run on transposed / strided views
    # "full": the whole grad_fn graph (names and edges down to AccumulateGrad) matches PyTorch's;
    # "top": only the result's grad_fn name, where PyTorch's inner nodes are its own kernels'
    # decomposition (see the row's comment).
    graph: str = "full"
    # Whether autograd.grad(create_graph=True) results carry PyTorch's grad_fn names; False
    # where PyTorch records a fused double-backward node (TanhBackwardBackward0, ...) and
    # llgrad records the primitives its VJP rule is written in.
    create_graph_names: bool = True
    # False: llgrad.compile cannot trace the op (boolean masks and writes through tensor indices
    # need their values).
    traceable: bool = True
    # Binary ops for the property tests: input domains, a NumPy reference and its VJP.
    domains: tuple = None
    np_ref: Callable = None
    np_vjp: Callable = None

    def __call__(self, lib, *args, **kwargs):
        fn = self.torch_fn if self.torch_fn is not None and lib.__name__ == "torch" else self.fn
        return fn(lib, *args, **kwargs)

    def rng(self):
        """The op's own seeded generator: each op's inputs are the same run after run."""
        return np.random.default_rng(zlib.crc32(self.name.encode()))

    def sample_list(self):
        return self.samples(self.rng())


def functional(lib):
    """`torch.nn.functional`, or llgrad's counterpart (falling back to top-level functions)."""
    return _Functional(lib)


class _Functional:
    def __init__(self, lib):
        self._lib = lib

    def __getattr__(self, name):
        module = getattr(getattr(self._lib, "nn", None), "functional", None)
        fn = getattr(module, name, None) if module is not None else None
        return fn if fn is not None else getattr(self._lib, name)


# ---- input domains: (rng, shape) -> float64 array ----------------------------------------------

def _array(x):
    return np.asarray(x, dtype=np.float64)


def uniform(rng, shape, low=-2.0, high=2.0):
    return _array(rng.uniform(low, high, shape))


def positive(rng, shape):
    return _array(rng.uniform(0.5, 2.0, shape))


def nonzero(rng, shape):
    """Bounded away from 0: for kinks at 0 (abs, relu) and poles (1/x)."""
    return _array(rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape))


def off_integer(rng, shape):
    """Integers plus a fraction away from 0 and 1/2: floor, round, remainder's quotient."""
    whole = rng.integers(-3, 3, shape)
    frac = rng.uniform(0.1, 0.4, shape) + rng.integers(0, 2, shape) * 0.5
    return _array(whole + frac)


def away_from(*points, low=-2.0, high=2.0, gap=0.1):
    """A domain of values at least `gap` from each of `points` (the bounds of clamp, ...)."""

    def domain(rng, shape):
        x = _array(rng.uniform(low, high, shape))
        for _ in range(1000):
            bad = np.zeros(x.shape, dtype=bool)
            for p in points:
                bad |= np.abs(x - p) < gap
            if not bad.any():
                return x
            x[bad] = rng.uniform(low, high, int(bad.sum()))
        raise AssertionError("could not draw values away from the given points")

    return domain


def distinct(rng, shape):
    """No two values closer than 0.25 (max/min/sort without ties)."""
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2) * 0.3 + rng.uniform(0, 0.05, n)
    return _array(values.reshape(shape))


def _intervals(rng, shape, intervals):
    which = rng.integers(0, len(intervals), shape)
    lows = np.array([a for a, _ in intervals])[which]
    highs = np.array([b for _, b in intervals])[which]
    return _array(rng.uniform(lows, highs))


def low_side(rng, shape):
    """With `high_side`: two disjoint sets, interleaved so either side wins somewhere, at least
    0.1 apart (maximum/minimum without ties)."""
    return _intervals(rng, shape, [(-2.0, -1.1), (0.1, 1.0)])


def high_side(rng, shape):
    return _intervals(rng, shape, [(-1.0, -0.1), (1.1, 2.0)])


def integers(low, high, dtype=np.int64):
    def domain(rng, shape):
        return np.asarray(rng.integers(low, high, shape), dtype=dtype)

    return domain


def with_ties(rng, shape):
    """Small integer-valued floats: comparisons meet equal operands."""
    return _array(rng.integers(-2, 3, shape))


# ---- sample builders ---------------------------------------------------------------------------

UNARY_SHAPES = ((3, 4), (), (2, 1, 3))

# Operand shapes of binary ops: equal, broadcast both ways, 0-d against n-d on either side.
BINARY_SHAPES = (((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((4,), (3, 4)),
                 ((3, 4), ()), ((), (3, 4)), ((), ()))


def unary_samples(domain=uniform, shapes=UNARY_SHAPES, **kwargs):
    def samples(rng):
        return [Sample((domain(rng, s),), dict(kwargs)) for s in shapes]

    return samples


def binary_samples(dx=uniform, dy=uniform, shapes=BINARY_SHAPES, scalar_right=None,
                   scalar_left=None, int_right=None):
    """Tensor pairs over `shapes`, plus Python-scalar operands on either side when given
    (a scalar argument is a function of rng, so it can be drawn from the op's domain)."""

    def samples(rng):
        out = [Sample((dx(rng, sx), dy(rng, sy)), desc=f"{sx} op {sy}") for sx, sy in shapes]
        if scalar_right is not None:
            out.append(Sample((dx(rng, (3, 4)), scalar_right(rng)), desc="tensor op float"))
        if int_right is not None:
            out.append(Sample((dx(rng, (3, 4)), int_right), desc="tensor op int"))
        if scalar_left is not None:
            out.append(Sample((scalar_left(rng), dy(rng, (3, 4))), desc="float op tensor"))
        return out

    return samples


def scalar_from(domain):
    return lambda rng: float(domain(rng, ()))


def quotient_samples(scalar_left=True):
    """Pairs (x, y) with x / y away from integers: remainder, fmod, rounding division."""

    def samples(rng):
        out = []
        for sx, sy in (((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((3, 4), ()),
                       ((), ())):
            y = nonzero(rng, sy)
            out.append(Sample((_array(off_integer(rng, sx) * y), y), desc=f"{sx} op {sy}"))
        out.append(Sample((off_integer(rng, (3, 4)) * 1.3, 1.3), desc="tensor op float"))
        if scalar_left:
            out.append(Sample((2.5, 2.5 / off_integer(rng, (3, 4))), desc="float op tensor",
                              torch_differs="PyTorch does not differentiate number % tensor"))
        return out

    return samples


def fixed(*samples):
    """Samples given directly, as functions of rng."""

    def build(rng):
        return [s(rng) for s in samples]

    return build


def shaped(shape, domain=uniform):
    return lambda rng: domain(rng, shape)


# ---- the table ---------------------------------------------------------------------------------

OPS = []


def op(name, family, fn, samples, **kw):
    entry = OpInfo(name, family, fn, samples, **kw)
    assert all(o.name != name for o in OPS), f"duplicate op {name}"
    OPS.append(entry)
    return entry


def ops_in(family, differentiable=None):
    return [o for o in OPS if o.family == family
            and (differentiable is None or o.differentiable == differentiable)]


def by_name(name):
    return next(o for o in OPS if o.name == name)


def _fn(name, **bound):
    """`lib.name(*args, **bound)`."""
    return lambda lib, *args, **kw: getattr(lib, name)(*args, **bound, **kw)


def _method(name, *bound, **bound_kw):
    """`args[0].name(*bound, *rest, **bound_kw)`."""
    return lambda lib, x, *args, **kw: getattr(x, name)(*bound, *args, **bound_kw, **kw)


def _f(name, **bound):
    """`torch.nn.functional.name(...)`, or llgrad's."""
    return lambda lib, *args, **kw: getattr(functional(lib), name)(*args, **bound, **kw)


# ---- elementwise: unary ------------------------------------------------------------------------

def _above_minus_half(rng, shape):
    return uniform(rng, shape, -0.5, 2.0)


def _inside_unit(rng, shape):
    """Away from asin's and acos's infinite slopes at -1 and 1."""
    return uniform(rng, shape, -0.9, 0.9)


def _away_from_tan_poles(rng, shape):
    return uniform(rng, shape, -1.2, 1.2)


for _name, _domain, _gg in (
        ("exp", uniform, True), ("log", positive, True), ("log1p", _above_minus_half, False),
        ("log2", positive, False), ("log10", positive, False), ("expm1", uniform, False),
        ("sqrt", positive, True), ("rsqrt", positive, False), ("reciprocal", nonzero, True),
        ("sin", uniform, True), ("cos", uniform, False), ("tanh", uniform, "fused"),
        ("sigmoid", uniform, "fused"), ("erf", uniform, True), ("neg", uniform, False),
        ("abs", nonzero, True), ("sign", nonzero, False), ("floor", off_integer, False),
        ("ceil", off_integer, False), ("round", off_integer, False), ("trunc", off_integer, False),
        ("square", uniform, True), ("relu", nonzero, False), ("tan", _away_from_tan_poles, True),
        ("sinh", uniform, False), ("cosh", uniform, True), ("asin", _inside_unit, True),
        ("acos", _inside_unit, False), ("atan", uniform, True)):
    # "fused": PyTorch's double backward is one fused node (TanhBackwardBackward0); ours is
    # the primitives of the VJP rule.
    op(_name, "elementwise", _fn(_name), unary_samples(_domain), gradgrad=bool(_gg),
       create_graph_names=_gg != "fused")

op("neg_operator", "elementwise", lambda lib, x: -x, unary_samples())
op("abs_operator", "elementwise", lambda lib, x: abs(x), unary_samples(nonzero))
op("clamp", "elementwise", _fn("clamp"), unary_samples(away_from(-0.5, 0.5), min=-0.5, max=0.5),
   gradgrad=True)
op("clamp_min", "elementwise", _fn("clamp", min=0.3), unary_samples(away_from(0.3)))
op("clamp_max", "elementwise", _fn("clamp", max=0.3), unary_samples(away_from(0.3)))
op("clamp_min_method", "elementwise", _method("clamp_min", -0.2), unary_samples(away_from(-0.2)))
op("clamp_tensor_bounds", "elementwise",
   lambda lib, x, lo, hi: lib.clamp(x, min=lo, max=hi),
   fixed(lambda rng: Sample((high_side(rng, (3, 4)), low_side(rng, (3, 4)) - 3.0,
                             low_side(rng, (4,)) + 3.0))))
op("gelu", "elementwise", _f("gelu"), unary_samples(), gradgrad=True, create_graph_names=False)
op("gelu_tanh", "elementwise", _f("gelu", approximate="tanh"), unary_samples())
op("silu", "elementwise", _f("silu"), unary_samples(), gradgrad=True)
op("leaky_relu", "elementwise", _f("leaky_relu", negative_slope=0.1), unary_samples(nonzero))
op("softplus", "elementwise", _f("softplus"), unary_samples(lambda r, s: uniform(r, s, -4, 4)))
op("softplus_beta", "elementwise", _f("softplus", beta=2.0, threshold=3.0),
   unary_samples(away_from(1.5, low=-3, high=3)))
op("elu", "elementwise", _f("elu"), unary_samples(nonzero))
op("elu_alpha", "elementwise", _f("elu", alpha=0.5), unary_samples(nonzero))

# ---- elementwise: binary -----------------------------------------------------------------------

_SCALAR = scalar_from(uniform)


def _binary(name, fn, dx=uniform, dy=uniform, np_ref=None, np_vjp=None, scalars=True, **kw):
    samples = binary_samples(dx, dy, scalar_right=scalar_from(dy) if scalars else None,
                             scalar_left=scalar_from(dx) if scalars else None,
                             int_right=kw.pop("int_right", 2) if scalars else None)
    return op(name, "elementwise", fn, samples, domains=(dx, dy), np_ref=np_ref, np_vjp=np_vjp,
              **kw)


_binary("add", lambda lib, x, y: x + y, np_ref=np.add, np_vjp=lambda g, x, y, out: (g, g),
        gradgrad=True)
_binary("sub", lambda lib, x, y: x - y, np_ref=np.subtract, np_vjp=lambda g, x, y, out: (g, -g))
_binary("mul", lambda lib, x, y: x * y, np_ref=np.multiply,
        np_vjp=lambda g, x, y, out: (g * y, g * x), gradgrad=True)
_binary("div", lambda lib, x, y: x / y, dy=nonzero, np_ref=np.true_divide,
        np_vjp=lambda g, x, y, out: (g / y, -g * x / (y * y)), gradgrad=True)
_binary("pow", lambda lib, x, y: x ** y, dx=positive, np_ref=np.power,
        np_vjp=lambda g, x, y, out: (g * y * x ** (y - 1), g * out * np.log(x)), gradgrad=True)
_binary("maximum", _fn("maximum"), dx=low_side, dy=high_side, np_ref=np.maximum,
        np_vjp=lambda g, x, y, out: (g * (x > y), g * (y > x)), scalars=False, gradgrad=True)
_binary("minimum", _fn("minimum"), dx=low_side, dy=high_side, np_ref=np.minimum,
        np_vjp=lambda g, x, y, out: (g * (x < y), g * (y < x)), scalars=False)
_binary("atan2", _fn("atan2"), dx=nonzero, dy=nonzero, np_ref=np.arctan2,
        np_vjp=lambda g, y, x, out: (g * x / (x * x + y * y), -g * y / (x * x + y * y)),
        scalars=False, gradgrad=True)
op("add_fn", "elementwise", _fn("add"), binary_samples(scalar_right=_SCALAR, int_right=3))
op("add_alpha", "elementwise", _fn("add", alpha=2.5), binary_samples(scalar_right=_SCALAR))
op("sub_alpha", "elementwise", _fn("sub", alpha=0.5), binary_samples(scalar_right=_SCALAR))
op("mul_fn", "elementwise", _fn("mul"), binary_samples(scalar_right=_SCALAR, int_right=3))
op("div_fn", "elementwise", _fn("div"), binary_samples(dy=nonzero, scalar_right=lambda r: 1.7,
                                                       int_right=2))
op("true_divide", "elementwise", _fn("true_divide"), binary_samples(dy=nonzero))
op("div_trunc", "elementwise", _fn("div", rounding_mode="trunc"), quotient_samples(False))
op("div_floor", "elementwise", _fn("div", rounding_mode="floor"), quotient_samples(False))
op("rsub", "elementwise", _fn("rsub"), binary_samples(scalar_right=_SCALAR))
op("pow_scalar_exponent", "elementwise", lambda lib, x, e: x ** e,
   fixed(lambda rng: Sample((uniform(rng, (3, 4)), 2)),
         lambda rng: Sample((uniform(rng, (3, 4)), 3)),
         lambda rng: Sample((positive(rng, (3, 4)), 0.5)),
         lambda rng: Sample((nonzero(rng, (3, 4)), -1)), lambda rng: Sample((uniform(rng, ()), 3))),
   gradgrad=True)
op("pow_scalar_base", "elementwise", lambda lib, b, x: b ** x,
   fixed(lambda rng: Sample((2.0, uniform(rng, (3, 4)))),
         lambda rng: Sample((3, uniform(rng, ())))),
   gradgrad=True)
op("pow_fn", "elementwise", _fn("pow"), binary_samples(dx=positive, scalar_right=_SCALAR))
op("remainder", "elementwise", lambda lib, x, y: x % y, quotient_samples())
op("remainder_fn", "elementwise", _fn("remainder"), quotient_samples(False))
op("fmod", "elementwise", _fn("fmod"), quotient_samples(False))
op("floor_divide", "elementwise", lambda lib, x, y: x // y, quotient_samples(),
   differentiable=False)
op("lerp", "elementwise", _fn("lerp"),
   fixed(lambda rng: Sample((uniform(rng, (3, 4)), uniform(rng, (3, 4)), 0.3)),
         lambda rng: Sample((uniform(rng, (3, 1)), uniform(rng, (4,)), uniform(rng, (3, 4)))),
         lambda rng: Sample((uniform(rng, ()), uniform(rng, (2, 3)), uniform(rng, ())))))
op("addcmul", "elementwise", _fn("addcmul"),
   fixed(lambda rng: Sample((uniform(rng, (3, 4)), uniform(rng, (3, 4)), uniform(rng, (4,)))),
         lambda rng: Sample((uniform(rng, (3, 1)), uniform(rng, (3, 4)), uniform(rng, ())),
                            {"value": 0.5})))
op("addcdiv", "elementwise", _fn("addcdiv"),
   fixed(lambda rng: Sample((uniform(rng, (3, 4)), uniform(rng, (3, 4)), nonzero(rng, (4,)))),
         lambda rng: Sample((uniform(rng, (3, 1)), uniform(rng, (3, 4)), nonzero(rng, ())),
                            {"value": -2.0})))
op("where", "elementwise", _fn("where"),
   fixed(lambda rng: Sample((Const(rng.random((3, 4)) > 0.5), uniform(rng, (3, 4)),
                             uniform(rng, (3, 4)))),
         lambda rng: Sample((Const(rng.random((3, 1)) > 0.5), uniform(rng, (1, 4)),
                             uniform(rng, ()))),
         lambda rng: Sample((Const(rng.random((3, 4)) > 0.5), uniform(rng, (3, 4)), 0.0)),
         lambda rng: Sample((Const(rng.random((2, 3)) > 0.5), 1.5, uniform(rng, (3,))))),
   gradgrad=True)
op("where_method", "elementwise", lambda lib, x, c, y: x.where(c, y),
   fixed(lambda rng: Sample((uniform(rng, (3, 4)), Const(rng.random((3, 4)) > 0.5),
                             uniform(rng, (4,))))))
op("masked_fill", "elementwise", _method("masked_fill"),
   fixed(lambda rng: Sample((uniform(rng, (3, 4)), Const(rng.random((3, 4)) > 0.5), 1.5)),
         lambda rng: Sample((uniform(rng, (3, 4)), Const(rng.random((4,)) > 0.5), 0)),
         lambda rng: Sample((uniform(rng, (3, 4)), Const(rng.random((3, 4)) > 0.5),
                             uniform(rng, ())))))

# ---- elementwise: forward only -----------------------------------------------------------------

for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    op(_name, "elementwise", _fn(_name),
       binary_samples(with_ties, with_ties, scalar_right=lambda r: 1.0, int_right=1),
       differentiable=False)
for _name, _sym in (("eq", "=="), ("lt", "<"), ("ge", ">=")):
    op(f"{_name}_operator", "elementwise", eval(f"lambda lib, x, y: x {_sym} y"),
       binary_samples(with_ties, with_ties, scalar_right=lambda r: 0.0, scalar_left=lambda r: 1.0),
       differentiable=False)
_bools = integers(0, 2, np.bool_)
for _name in ("logical_and", "logical_or", "logical_xor"):
    op(_name, "elementwise", _fn(_name),
       fixed(lambda rng: Sample((Const(_bools(rng, (3, 4))), Const(_bools(rng, (4,))))),
             lambda rng: Sample((uniform(rng, (3, 4)), with_ties(rng, (3, 4))))),
       differentiable=False)
op("logical_not", "elementwise", _fn("logical_not"),
   fixed(lambda rng: Sample((Const(_bools(rng, (3, 4))),)),
         lambda rng: Sample((with_ties(rng, (3, 4)),))), differentiable=False)
_SPECIALS = lambda rng: Sample((np.array([[0.0, np.nan, np.inf], [-np.inf, 1.5, -2.0]]),))  # noqa
for _name in ("isnan", "isinf", "isfinite"):
    op(_name, "elementwise", _fn(_name), fixed(_SPECIALS), differentiable=False)
_ints = integers(-20, 20)
_small_ints = integers(1, 6)
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    op(_name, "elementwise", _fn(_name),
       fixed(lambda rng: Sample((Const(_ints(rng, (3, 4))), Const(_ints(rng, (4,))))),
             lambda rng: Sample((Const(_ints(rng, (3, 4))), 5)),
             lambda rng: Sample((Const(_bools(rng, (3, 4))), Const(_bools(rng, (3, 4)))))),
       differentiable=False)
op("bitwise_not", "elementwise", _fn("bitwise_not"),
   fixed(lambda rng: Sample((Const(_ints(rng, (3, 4))),)),
         lambda rng: Sample((Const(_bools(rng, (3, 4))),))), differentiable=False)
op("int_arithmetic", "elementwise",
   lambda lib, x, y: (x + y, x - y, x * y, x // y, x % y, x ** 2, -x, abs(x), x / y, x * 2.5),
   fixed(lambda rng: Sample((Const(_ints(rng, (3, 4))), Const(_small_ints(rng, (4,))))),
         lambda rng: Sample((Const(_ints(rng, (3, 4)).astype(np.int32)),
                             Const(_small_ints(rng, ()))))),
   differentiable=False)
op("int_negative_operands", "elementwise",
   lambda lib, x, y: (x // y, x % y, lib.fmod(x, y), lib.remainder(x, y), x / y),
   fixed(lambda rng: Sample((Const(_ints(rng, (3, 4))), Const(-_small_ints(rng, (4,))))),
         lambda rng: Sample((off_integer(rng, (3, 4)), -1.5))), differentiable=False)
op("int_unary", "elementwise",
   lambda lib, x: (x.sign(), x.abs(), x.neg(), x.floor(), x.ceil(), x.round(), x.trunc(),
                   x.clamp(-3, 4), x.square(), x.relu(), x.exp(), x.sqrt(), x.sigmoid()),
   fixed(lambda rng: Sample((Const(_ints(rng, (3, 4))),))), differentiable=False,
   tol32=(1e-6, 1e-6))
op("equal_allclose", "elementwise",
   lambda lib, x, y: (lib.equal(x, x), lib.equal(x, y), lib.allclose(x, x + 1e-9),
                      lib.allclose(x, y), lib.isclose(x, y)),
   fixed(lambda rng: Sample((with_ties(rng, (3, 4)), with_ties(rng, (3, 4))))),
   differentiable=False)

# ---- reductions --------------------------------------------------------------------------------

_R = "reduction"


def _reduce_samples(domain=uniform, extra=(), zero_d=True):
    """The shapes/dims every reduction meets: all of it, one dim, negative dim, several dims
    with keepdim, and a 0-d input."""
    def samples(rng):
        out = [Sample((domain(rng, (3, 4)),)),
               Sample((domain(rng, (3, 4)),), {"dim": 1}),
               Sample((domain(rng, (2, 3, 4)),), {"dim": -1, "keepdim": True}),
               Sample((domain(rng, (2, 3, 4)),), {"dim": (0, 2)}),
               Sample((domain(rng, (2, 3, 4)),), {"dim": (0, 2), "keepdim": True})]
        if zero_d:
            out.append(Sample((domain(rng, ()),)))
        return out + [Sample((domain(rng, s),), dict(k)) for s, k in extra]

    return samples


op("sum", _R, _method("sum"), _reduce_samples(extra=[((3, 4), {"dim": 0})]), gradgrad=True)
op("sum_fn", _R, _fn("sum"), unary_samples())
op("sum_dtype", _R, lambda lib, x: x.sum(1, dtype=lib.float64), unary_samples(shapes=((3, 4),)))
op("mean", _R, _method("mean"), _reduce_samples(), gradgrad=True)
op("var", _R, _method("var"),
   _reduce_samples(extra=[((3, 4), {"dim": 1, "unbiased": False}),
                          ((3, 4), {"dim": 0, "correction": 0}),
                          ((2, 3, 4), {"dim": (1, 2), "correction": 2, "keepdim": True})],
                   zero_d=False),
   gradgrad=True)
op("std", _R, _method("std"),
   _reduce_samples(extra=[((3, 4), {"dim": 1, "unbiased": False}),
                          ((3, 4), {"dim": 0, "correction": 0})], zero_d=False))
op("var_mean", _R, _fn("var_mean"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)),)),
    lambda rng: Sample((uniform(rng, (3, 4)),), {"dim": 1, "keepdim": True})))
op("std_mean", _R, _fn("std_mean"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)),)),
    lambda rng: Sample((uniform(rng, (3, 4)),), {"dim": 0, "correction": 0})))
op("max_all", _R, _method("max"), unary_samples(distinct))
op("min_all", _R, _method("min"), unary_samples(distinct))
op("max_dim", _R, _method("max"), fixed(
    lambda rng: Sample((distinct(rng, (3, 4)), 1)),
    lambda rng: Sample((distinct(rng, (2, 3, 4)), -1), {"keepdim": True}),
    lambda rng: Sample((distinct(rng, ()), 0))))
op("min_dim", _R, _fn("min"), fixed(
    lambda rng: Sample((distinct(rng, (3, 4)),), {"dim": 0}),
    lambda rng: Sample((distinct(rng, (2, 3, 4)),), {"dim": 1, "keepdim": True})))
op("max_binary", _R, _fn("max"), binary_samples(low_side, high_side, shapes=BINARY_SHAPES[:3]))
op("amax", _R, _method("amax"), fixed(
    lambda rng: Sample((distinct(rng, (3, 4)),)),
    lambda rng: Sample((distinct(rng, (3, 4)), 1)),
    lambda rng: Sample((distinct(rng, (2, 3, 4)), (0, 2)), {"keepdim": True})))
op("amin", _R, _fn("amin"), fixed(
    lambda rng: Sample((distinct(rng, (3, 4)),), {"dim": 0})))
op("argmax", _R, _method("argmax"), fixed(
    lambda rng: Sample((distinct(rng, (3, 4)),)),
    lambda rng: Sample((distinct(rng, (3, 4)),), {"dim": 1}),
    lambda rng: Sample((distinct(rng, (2, 3, 4)),), {"dim": -1, "keepdim": True}),
    lambda rng: Sample((Const(np.array([1, 5, 5, 2])),))), differentiable=False)
op("argmin", _R, _fn("argmin"), fixed(
    lambda rng: Sample((distinct(rng, (3, 4)),)),
    lambda rng: Sample((distinct(rng, (3, 4)),), {"dim": 0}),
    lambda rng: Sample((Const(np.array([3.0, 1.0, 1.0, 2.0])),))), differentiable=False)
op("logsumexp", _R, _method("logsumexp"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), 1)),
    lambda rng: Sample((uniform(rng, (2, 3, 4)), (0, 2))),
    lambda rng: Sample((uniform(rng, (3, 4)), -1), {"keepdim": True})), gradgrad=True)
op("softmax", _R, _method("softmax"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), 1)),
    lambda rng: Sample((uniform(rng, (2, 3, 4)), 0)),
    lambda rng: Sample((uniform(rng, (5,)), -1))), gradgrad=True, create_graph_names=False)
op("log_softmax", _R, _method("log_softmax"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), 1)),
    lambda rng: Sample((uniform(rng, (2, 3, 4)), 1))), gradgrad=True, create_graph_names=False)
op("softmax_functional", _R, _f("softmax"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)),), {"dim": -1})))
op("prod", _R, _method("prod"), fixed(
    lambda rng: Sample((nonzero(rng, (3, 4)),)),
    lambda rng: Sample((nonzero(rng, (3, 4)), 1)),
    lambda rng: Sample((nonzero(rng, (2, 3, 4)), 0), {"keepdim": True}),
    lambda rng: Sample((nonzero(rng, ()),))), gradgrad=True)
op("norm", _R, _method("norm"), fixed(
    lambda rng: Sample((nonzero(rng, (3, 4)),)),
    lambda rng: Sample((nonzero(rng, (3, 4)),), {"dim": 1}),
    lambda rng: Sample((nonzero(rng, (3, 4)),), {"p": 1}),
    lambda rng: Sample((nonzero(rng, (3, 4)),), {"p": 3, "dim": 0, "keepdim": True}),
    lambda rng: Sample((distinct(rng, (3, 4)) + 0.11,), {"p": float("inf")})))
op("cumsum", _R, _method("cumsum"), fixed(
    lambda rng: Sample((uniform(rng, (3, 5)), 1)), lambda rng: Sample((uniform(rng, (4, 2)), 0)),
    lambda rng: Sample((uniform(rng, (2, 7, 3)), -2)), lambda rng: Sample((uniform(rng, ()), 0))),
   gradgrad=True)
op("cumsum_fn", _R, _fn("cumsum"), fixed(lambda rng: Sample((uniform(rng, (9,)),), {"dim": 0})))


def _with_zeros(rng, shape):
    """Exact zeros (two in one row), where a gradient by division would fail."""
    x = uniform(rng, shape)
    x[0, 1] = x[1, 2] = x[1, 3] = 0.0
    return x


op("cumprod", _R, _method("cumprod"), fixed(
    lambda rng: Sample((uniform(rng, (3, 5)), 1)), lambda rng: Sample((uniform(rng, (4, 2)), 0)),
    lambda rng: Sample((_with_zeros(rng, (2, 5)), 1)), lambda rng: Sample((uniform(rng, ()), 0)),
    lambda rng: Sample((uniform(rng, (2, 7, 3)), -2))))
op("cumprod_int", _R, lambda lib, x: (lib.cumprod(x, 0), x.cumprod(1), (x > 0).cumprod(1)),
   fixed(lambda rng: Sample((Const(_ints(rng, (3, 4))),))), differentiable=False)
op("unique", _R,
   lambda lib, x: (lib.unique(x), x.unique(return_inverse=True, return_counts=True),
                   lib.unique(x, dim=0, return_inverse=True), lib.unique(x, sorted=False, dim=1)),
   fixed(lambda rng: Sample((with_ties(rng, (4, 3)),)),
         lambda rng: Sample((Const(np.array([[1, 2], [1, 2], [0, 5]])),))), differentiable=False)
op("sort", _R, _method("sort"), fixed(
    lambda rng: Sample((distinct(rng, (3, 5)),)),
    lambda rng: Sample((distinct(rng, (3, 5)), 0), {"descending": True}),
    lambda rng: Sample((distinct(rng, (6,)),), {"stable": True})))
op("argsort", _R, _method("argsort"), fixed(
    lambda rng: Sample((distinct(rng, (3, 5)),)),
    lambda rng: Sample((Const(np.array([3, 1, 3, 2, 1])),), {"stable": True})),
   differentiable=False)
op("topk", _R, _method("topk"), fixed(
    lambda rng: Sample((distinct(rng, (3, 5)), 2)),
    lambda rng: Sample((distinct(rng, (4, 3)), 3, 0), {"largest": False})))
op("kthvalue", _R, _method("kthvalue"), fixed(
    lambda rng: Sample((distinct(rng, (3, 5)), 2)),
    lambda rng: Sample((distinct(rng, (4, 3)), 1, 0), {"keepdim": True})))
op("reductions_forward", _R,
   lambda lib, x: (x.all(), x.any(), x.all(1), x.any(0), x.count_nonzero(), x.count_nonzero(1),
                   (x > 0).sum(), (x > 0).sum(1), (x > 0).long().prod(1), x.bool().all(),
                   x.argmax(1), x.argmin(0)),
   fixed(lambda rng: Sample((with_ties(rng, (3, 4)),))), differentiable=False)
op("sum_int", _R, lambda lib, x: (x.sum(), x.sum(0), x.max(), x.amax(1), x.max(1)),
   fixed(lambda rng: Sample((Const(_ints(rng, (3, 4)).astype(np.int32)),)),
         lambda rng: Sample((Const(_bools(rng, (3, 4))),))), differentiable=False)

# ---- shape and layout --------------------------------------------------------------------------

_S = "shape"


def _on(shape, *args, domain=uniform, **kwargs):
    """One sample: an input of `shape` followed by fixed arguments."""
    return lambda rng: Sample((domain(rng, shape),) + args, kwargs)


op("reshape", _S, _method("reshape"), fixed(_on((3, 4), 2, 6), _on((3, 4), (-1,)),
                                            _on((2, 3, 4), (4, -1)), _on((), (1, 1))),
   gradgrad=True)
op("view", _S, _method("view"), fixed(_on((3, 4), 12), _on((2, 3, 4), -1, 4)), noncontiguous=False)
op("view_as", _S, lambda lib, x, y: x.view_as(y),
   fixed(lambda rng: Sample((uniform(rng, (3, 4)), Const(np.zeros((2, 6)))))),
   noncontiguous=False)
op("flatten", _S, _method("flatten"), fixed(_on((2, 3, 4)), _on((2, 3, 4), 1), _on((2, 3, 4), 0, 1),
                                            _on(())))
op("unflatten", _S, _method("unflatten"), fixed(_on((3, 4), 1, (2, 2)), _on((6,), 0, (3, -1))))
op("squeeze", _S, _method("squeeze"), fixed(_on((3, 1, 4, 1)), _on((3, 1, 4), 1), _on((3, 4), 0),
                                            _on((1, 3, 1), (0, 2))))
op("unsqueeze", _S, _method("unsqueeze"), fixed(_on((3, 4), 0), _on((3, 4), -1), _on((), 0)))
op("expand", _S, _method("expand"), fixed(_on((3, 1), 3, 4), _on((4,), 2, 3, -1), _on((), (2, 2))),
   gradgrad=True)
op("expand_as", _S, lambda lib, x, y: x.expand_as(y),
   fixed(lambda rng: Sample((uniform(rng, (1, 4)), Const(np.zeros((3, 4)))))))
op("broadcast_to", _S, _fn("broadcast_to"), fixed(_on((3, 1), (2, 3, 4))))
op("broadcast_tensors", _S, _fn("broadcast_tensors"),
   fixed(lambda rng: Sample((uniform(rng, (3, 1)), uniform(rng, (4,)), uniform(rng, ())))))
op("permute", _S, _method("permute"), fixed(_on((2, 3, 4), 2, 0, 1), _on((2, 3, 4), (1, 0, 2))))
op("transpose", _S, _method("transpose"), fixed(_on((2, 3, 4), 0, 2), _on((3, 4), -1, 0)))
op("t", _S, _method("t"), fixed(_on((3, 4)), _on((4,))))
op("T", _S, lambda lib, x: x.T, fixed(_on((3, 4))))
op("mT", _S, lambda lib, x: x.mT, fixed(_on((2, 3, 4))))
op("movedim", _S, _method("movedim"), fixed(_on((2, 3, 4), 0, 2), _on((2, 3, 4), (0, 1), (2, 0))))
op("contiguous", _S, lambda lib, x: x.t().contiguous(), fixed(_on((3, 4))))
op("clone", _S, _method("clone"), fixed(_on((3, 4)), _on(())))
op("to_float64", _S, lambda lib, x: x.to(lib.float64) * 1.0, fixed(_on((3, 4))),
   dtypes=("float32",))
op("to_float32", _S, lambda lib, x: x.to(lib.float32), fixed(_on((3, 4))), dtypes=("float64",),
   gradcheck=False)
op("double_method", _S, lambda lib, x: x.double(), fixed(_on((3, 4))), dtypes=("float32",))
op("type_as", _S, lambda lib, x: x.type_as(lib.zeros(2, dtype=lib.float64)), fixed(_on((3, 4))),
   dtypes=("float32",))
op("to_float16", _S, lambda lib, x: x.half().float(), fixed(_on((3, 4))), dtypes=("float32",),
   tol32=(1e-3, 1e-3), gradcheck=False)
op("to_int", _S, lambda lib, x: (x.long(), x.int(), x.to(lib.int16), x.bool(), x.byte()),
   fixed(_on((3, 4), domain=off_integer)), differentiable=False)
op("cat", _S, _fn("cat"), fixed(
    lambda rng: Sample(([uniform(rng, (2, 3)), uniform(rng, (1, 3)), uniform(rng, (4, 3))],)),
    lambda rng: Sample(([uniform(rng, (2, 3)), uniform(rng, (2, 1))],), {"dim": 1}),
    lambda rng: Sample(([uniform(rng, (2, 3)), uniform(rng, (2, 3))], -1))), gradgrad=True)
op("cat_mixed_dtypes", _S, lambda lib, x, y: lib.cat([x, y]),
   fixed(lambda rng: Sample((uniform(rng, (2, 3)), Const(_ints(rng, (1, 3)))))))
op("stack", _S, _fn("stack"), fixed(
    lambda rng: Sample(([uniform(rng, (2, 3)), uniform(rng, (2, 3))],)),
    lambda rng: Sample(([uniform(rng, (2, 3)), uniform(rng, (2, 3)), uniform(rng, (2, 3))], -1)),
    lambda rng: Sample(([uniform(rng, ()), uniform(rng, ())],))))
op("hstack", _S, _fn("hstack"), fixed(
    lambda rng: Sample(([uniform(rng, (2, 3)), uniform(rng, (2, 1))],)),
    lambda rng: Sample(([uniform(rng, (3,)), uniform(rng, (2,))],))))
op("vstack", _S, _fn("vstack"), fixed(
    lambda rng: Sample(([uniform(rng, (2, 3)), uniform(rng, (3,))],))))
op("split", _S, _method("split"), fixed(_on((5, 3), 2), _on((5, 3), [1, 4]), _on((3, 4), 2, 1)))
op("chunk", _S, _method("chunk"), fixed(_on((5, 3), 2), _on((3, 6), 3, 1)))
op("unbind", _S, _method("unbind"), fixed(_on((3, 4)), _on((3, 4), 1)))
op("tensor_split", _S, _method("tensor_split"), fixed(_on((5, 3), 2), _on((5, 3), [1, 3])))
op("select", _S, _method("select"), fixed(_on((3, 4), 1, 2), _on((3, 4), 0, -1)))
op("narrow", _S, _method("narrow"), fixed(_on((3, 4), 1, 1, 2), _on((5, 2), 0, 0, 3)))
op("roll", _S, lambda lib, x, *args: lib.roll(x, *args), fixed(
    _on((3, 4), 1), _on((3, 4), (1, -2), (0, 1)), _on((5,), 7, 0), _on((2, 3, 4), -1, 2),
    _on((), 2)))
op("roll_method", _S, _method("roll", 2, -1), fixed(_on((3, 4))))
op("flip", _S, _method("flip"), fixed(_on((3, 4), 0), _on((2, 3, 4), (0, 2))))
op("repeat", _S, _method("repeat"), fixed(_on((2, 3), 2, 1), _on((3,), 2, 2), _on((), 3)))
op("tile", _S, _method("tile"), fixed(_on((2, 3), (2,)), _on((2, 3), (2, 1, 2))))
op("repeat_interleave", _S, _method("repeat_interleave"),
   fixed(_on((2, 3), 2), _on((2, 3), 2, dim=1), _on((2, 3), 3, dim=0)))
op("diag", _S, _fn("diag"), fixed(_on((3,)), _on((3, 4)), _on((3,), 1), _on((2,), -2),
                                  _on((3, 4), 1), _on((4, 3), -1), _on((3, 4), 5)))
op("tril", _S, _method("tril"), fixed(_on((3, 4)), _on((2, 3, 4), 1), _on((4, 3), -1)))
op("triu", _S, _fn("triu"), fixed(_on((3, 4)), _on((2, 3, 4), -1), _on((4, 3), 2)))

# ---- indexing ----------------------------------------------------------------------------------

_I = "indexing"


def _idx(*values):
    return Const(np.array(values, dtype=np.int64))


_GETITEM = {
    "int": lambda lib, x: x[1],
    "negative_int": lambda lib, x: x[-1, 2],
    "slice": lambda lib, x: x[1:3],
    "slice_step": lambda lib, x: x[::2, 1:4:2],
    "slice_negative": lambda lib, x: x[-2:, :-1],
    "slice_empty": lambda lib, x: x[2:1],
    "none": lambda lib, x: x[None, 1],
    "none_middle": lambda lib, x: x[:, None, ::2],
    "ellipsis": lambda lib, x: x[..., 1],
    "ellipsis_none": lambda lib, x: x[1, ..., None],
    "ellipsis_only": lambda lib, x: x[...],
    "full_slice": lambda lib, x: x[:],
    "list": lambda lib, x: x[[0, 2]],
    "list_repeated": lambda lib, x: x[[0, 2, 0, 0]],
    "list_negative": lambda lib, x: x[:, [-1, 0]],
    "tensor": lambda lib, x: x[lib.tensor([2, 0])],
    "tensor_2d": lambda lib, x: x[lib.tensor([[0, 1], [2, 2]])],
    "tensor_0d": lambda lib, x: x[lib.tensor(1)],
    "two_tensors": lambda lib, x: x[lib.tensor([0, 2]), lib.tensor([1, 3])],
    "two_tensors_broadcast": lambda lib, x: x[lib.tensor([[0], [2]]), lib.tensor([1, 3, 3])],
    "tensor_then_slice": lambda lib, x: x[lib.tensor([0, 2]), 1:3],
    "slice_then_tensor": lambda lib, x: x[:, lib.tensor([0, 3, 3])],
    "int_and_tensor": lambda lib, x: x[1, lib.tensor([0, 2])],
    "separated_tensors": lambda lib, x: x[lib.tensor([0, 2]), :, lib.tensor([1, 4])],
    "separated_by_int": lambda lib, x: x[lib.tensor([0, 2]), 1, lib.tensor([1, 4])],
    "mask": lambda lib, x: x[x > 0],
    "mask_first_dim": lambda lib, x: x[lib.tensor([True, False, True])],
    "mask_2d_then_slice": lambda lib, x: x[(x > 0).any(2), ::2],
    "slice_then_mask": lambda lib, x: x[:, lib.tensor([True, False, True, True])],
    "none_ellipsis_tensor": lambda lib, x: x[None, ..., lib.tensor([1, 0])],
    "step_none_list": lambda lib, x: x[::2, None, [1, 2]],
}
for _name, _read in _GETITEM.items():
    op(f"getitem_{_name}", _I, _read,
       fixed(lambda rng: Sample((uniform(rng, (3, 4, 5)),))),
       gradgrad=_name in ("slice_step", "two_tensors", "mask"),
       traceable="mask" not in _name)  # a mask's result shape depends on the data


def _setitem(index_fn):
    """`y = x.clone(); y[index] = v`: a pure function of x and v, so gradcheck and compile see a
    write through the same code path as user code."""

    def fn(lib, x, v):
        y = x.clone()
        y[index_fn(lib, x)] = v
        return y

    return fn


_SETITEM = {
    "int": (lambda lib, x: 1, (4, 5)),
    "slice_step": (lambda lib, x: (slice(None, None, 2), 1), (5,)),
    "value_leading_ones": (lambda lib, x: 1, (1, 1, 5)),
    "list_value_leading_ones": (lambda lib, x: [0, 2], (1, 4, 5)),
    "int_then_list": (lambda lib, x: (1, slice(None), [0, 2]), (4, 2)),
    "ellipsis_only": (lambda lib, x: Ellipsis, (5,)),
    "full_slice": (lambda lib, x: slice(None), (3, 4, 5)),
    "zero_d_value": (lambda lib, x: (slice(0, 2), 1), ()),
    "ellipsis": (lambda lib, x: (Ellipsis, 0), (3, 4)),
    "broadcast_value": (lambda lib, x: slice(0, 2), (5,)),
    "list": (lambda lib, x: [0, 2], (2, 4, 5)),
    "tensor_pairs": (lambda lib, x: (lib.tensor([0, 2]), lib.tensor([1, 3])), (2, 5)),
    "mask": (lambda lib, x: x > 0.5, ()),
    "mask_rows": (lambda lib, x: lib.tensor([True, False, True]), (4, 5)),
}
for _name, (_where, _vshape) in _SETITEM.items():
    op(f"setitem_{_name}", _I, _setitem(_where),
       fixed(lambda rng, _vshape=_vshape: Sample((uniform(rng, (3, 4, 5)), uniform(rng, _vshape)))),
       traceable=not any(word in _name for word in ("tensor", "mask")))
op("setitem_scalar", _I, lambda lib, x: _setitem(lambda lib, x: (1, slice(None, 2)))(lib, x, 2.5),
   fixed(lambda rng: Sample((uniform(rng, (3, 4, 5)),))))
op("setitem_mask_scalar", _I, lambda lib, x: _setitem(lambda lib, x: x > 0)(lib, x, 0.0),
   fixed(lambda rng: Sample((uniform(rng, (3, 4, 5)),))), traceable=False)
op("gather", _I, _fn("gather"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), 1, _idx([0, 3], [1, 1], [2, 0]))),
    lambda rng: Sample((uniform(rng, (3, 4)), 0, _idx([0, 2, 1, 0], [2, 2, 0, 1]))),
    lambda rng: Sample((uniform(rng, (3, 4)), 1, _idx([3], [0])))), gradgrad=True)
op("take_along_dim", _I, _fn("take_along_dim"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), _idx([0, 3], [1, 1], [2, 0])), {"dim": 1})))
op("index_select", _I, _fn("index_select"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), 1, _idx(3, 0, 0))),
    lambda rng: Sample((uniform(rng, (3, 4)), 0, _idx(2,))),
    lambda rng: Sample((uniform(rng, (3, 4)), -1, _idx()))))
op("scatter_add", _I, _fn("scatter_add"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), 1, _idx([0, 3], [1, 1], [2, 0]),
                        uniform(rng, (3, 2)))),
    lambda rng: Sample((uniform(rng, (3, 4)), 0, _idx([0, 2, 1, 0]), uniform(rng, (1, 4)))),
    lambda rng: Sample((uniform(rng, (3, 4)), 0, _idx([0, 2, 1, 0]), uniform(rng, (2, 5))),
                       torch_differs="PyTorch's backward needs src shaped like index")))
op("scatter", _I, _fn("scatter"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), 1, _idx([0, 3], [1, 2], [2, 0]),
                        uniform(rng, (3, 2)))),
    lambda rng: Sample((uniform(rng, (3, 4)), 0, _idx([0, 2, 1, 1]), uniform(rng, (1, 4)))),
    lambda rng: Sample((uniform(rng, (3, 4)), 0, _idx([0, 2, 1, 1]), uniform(rng, (2, 5))),
                       torch_differs="PyTorch's backward needs src shaped like index")))
op("scatter_value", _I, lambda lib, x, i: x.scatter(1, i, -1.5), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), _idx([0, 3], [1, 1], [2, 0]))),
    lambda rng: Sample((uniform(rng, (2, 3, 4)), _idx([[1]], [[2]])))))
op("masked_select", _I, _fn("masked_select"), fixed(
    lambda rng: Sample((uniform(rng, (3, 4)), Const(rng.random((3, 4)) > 0.5))),
    lambda rng: Sample((uniform(rng, (3, 4)), Const(rng.random((4,)) > 0.5)))))
op("index_reads_int", _I,
   lambda lib, x, i: (x[i], x[1:, i], x[x > 3], x.gather(1, lib.tensor([[0], [1], [2]]))),
   fixed(lambda rng: Sample((Const(_ints(rng, (3, 4))), Const(np.array([2, 0]))))),
   differentiable=False)
op("nonzero", _I, lambda lib, x: (x.nonzero(), lib.nonzero(x, as_tuple=True), lib.argwhere(x)),
   fixed(lambda rng: Sample((with_ties(rng, (3, 4)),)),
         lambda rng: Sample((with_ties(rng, (5,)),))), differentiable=False)

# ---- linear algebra ----------------------------------------------------------------------------

_L = "linalg"


def _pair(sa, sb, const=""):
    """Operands of shapes sa, sb; `const` names one that does not require grad."""

    def sample(rng):
        a, b = uniform(rng, sa), uniform(rng, sb)
        return Sample((Const(a) if const == "a" else a, Const(b) if const == "b" else b),
                      desc=f"{sa} @ {sb}")

    return sample


op("matmul", _L, _fn("matmul"), fixed(
    _pair((3,), (3,)), _pair((2, 3), (3,)), _pair((3,), (3, 4)), _pair((2, 3), (3, 4)),
    _pair((2, 2, 3), (3, 4)), _pair((2, 3), (2, 3, 4)), _pair((2, 1, 2, 3), (3, 3, 2)),
    _pair((3,), (2, 3, 4)), _pair((2, 3, 4), (4,)), _pair((2, 3, 4), (1, 4, 5)),
    _pair((1, 3, 4), (2, 4, 5)), _pair((2, 2, 3), (2, 3, 4))), gradgrad=True,
   create_graph_names=False)  # mv's double backward: PyTorch calls mv, llgrad's rule matmul
# Which operand requires grad steers PyTorch's choice between folding and batching.
op("matmul_lhs_grad_only", _L, _fn("matmul"), fixed(
    _pair((2, 3, 4), (4, 5), const="b"), _pair((2, 3, 4), (4,), const="b"),
    _pair((2, 3), (2, 3, 4), const="b"), _pair((3,), (2, 3, 4), const="b")))
op("matmul_rhs_grad_only", _L, _fn("matmul"), fixed(
    _pair((2, 3, 4), (4, 5), const="a"), _pair((2, 3), (2, 3, 4), const="a"),
    _pair((3,), (2, 3, 4), const="a")))
op("matmul_operator", _L, lambda lib, a, b: a @ b, fixed(_pair((2, 3), (3, 4)),
                                                         _pair((2, 2, 3), (2, 3, 4))))
op("mm", _L, _fn("mm"), fixed(_pair((2, 3), (3, 4)), _pair((1, 1), (1, 5))))
op("bmm", _L, _fn("bmm"), fixed(_pair((2, 2, 3), (2, 3, 4))))
op("mv", _L, _fn("mv"), fixed(_pair((2, 3), (3,))))
op("dot", _L, _fn("dot"), fixed(_pair((4,), (4,))))
op("inner", _L, _fn("inner"), fixed(_pair((4,), (4,)), _pair((2, 4), (3, 4))),
   graph="top")  # PyTorch's tensordot picks other kernels for strided inputs
op("vdot", _L, _fn("vdot"), fixed(_pair((4,), (4,))))
op("outer", _L, _fn("outer"), fixed(_pair((3,), (4,))))
op("addmm", _L, _fn("addmm"), fixed(
    lambda rng: Sample((uniform(rng, (2, 4)), uniform(rng, (2, 3)), uniform(rng, (3, 4)))),
    lambda rng: Sample((uniform(rng, (4,)), uniform(rng, (2, 3)), uniform(rng, (3, 4))),
                       {"beta": 0.5, "alpha": 2.0})), gradgrad=True,
   create_graph_names=False)  # PyTorch's formula scales by alpha with C++ mul (MulBackward1)
op("linear_2d_bias", _L, _f("linear"), fixed(
    lambda rng: Sample((uniform(rng, (2, 3)), uniform(rng, (4, 3)), uniform(rng, (2, 4))))))
op("linear", _L, _f("linear"), fixed(
    lambda rng: Sample((uniform(rng, (2, 3)), uniform(rng, (4, 3)), uniform(rng, (4,)))),
    lambda rng: Sample((uniform(rng, (2, 3)), uniform(rng, (4, 3)))),
    lambda rng: Sample((uniform(rng, (3,)), uniform(rng, (4, 3)), uniform(rng, (4,)))),
    lambda rng: Sample((uniform(rng, (2, 2, 3)), uniform(rng, (4, 3)), uniform(rng, (4,))))))

# einsum is composed of permutes, reshapes and one bmm per pair of operands; PyTorch's own
# decomposition has other inner nodes (unsqueezes, extra permutes), so only the result's name is
# compared.
op("einsum", _L, lambda lib, equation, *operands: lib.einsum(equation, *operands), fixed(
    lambda rng: Sample(("ij,jk->ik", uniform(rng, (2, 3)), uniform(rng, (3, 4)))),
    lambda rng: Sample(("bij,bjk->bik", uniform(rng, (2, 2, 3)), uniform(rng, (2, 3, 4)))),
    lambda rng: Sample(("bhqd,bhkd->bhqk", uniform(rng, (2, 2, 3, 4)), uniform(rng, (2, 2, 5, 4)))),
    lambda rng: Sample(("i,i->", uniform(rng, (4,)), uniform(rng, (4,)))),
    lambda rng: Sample(("i,j->ij", uniform(rng, (3,)), uniform(rng, (4,)))),
    lambda rng: Sample(("bi,bj->bij", uniform(rng, (2, 3)), uniform(rng, (2, 4)))),
    lambda rng: Sample(("ij,j->i", uniform(rng, (3, 4)), uniform(rng, (4,)))),
    lambda rng: Sample(("ij,kj", uniform(rng, (2, 3)), uniform(rng, (4, 3)))),
    lambda rng: Sample(("ij,jk,kl->il", uniform(rng, (2, 3)), uniform(rng, (3, 4)),
                        uniform(rng, (4, 2))))), graph="top")
op("einsum_one_operand", _L, lambda lib, equation, x: lib.einsum(equation, x), fixed(
    lambda rng: Sample(("ij->ji", uniform(rng, (2, 3)))),
    lambda rng: Sample(("ij->", uniform(rng, (2, 3)))),
    lambda rng: Sample(("ijk->ki", uniform(rng, (2, 3, 4))))), graph="top")
