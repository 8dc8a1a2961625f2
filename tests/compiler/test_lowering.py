"""Every primitive, for every dtype it takes, lowered to native code and compared with its NumPy
reference (the interpreter), on the host CPU and built for AVX2-only and generic x86-64 targets.

Each test builds one graph holding a whole family of primitives (one compile per family, dtype
and target keeps the suite fast), feeds it values that include the edges (NaN, infinities, signed
zeros, denormals, the integer extremes) and checks every output: integers and booleans exactly,
floats exactly for arithmetic and within a few ulps for the math library.
"""
import math
import warnings

import numpy as np
import pytest

from llgrad.compiler import dtypes
from llgrad.compiler import primitives as P
from llgrad.compiler.interpreter import run
from llgrad.compiler.ir import Graph
from llgrad.compiler.primitive import Aval
from llgrad.runtime import llvm
from llgrad.runtime.native import compile_graph

FLOATS = ("float32", "float64")
INTS = ("int64", "int32", "int16", "int8", "uint8")
ALL = FLOATS + INTS + ("bool",)
TARGETS = ("host", "avx2", "generic")
# The portable targets run on a few dtypes by default; every dtype with `-m slow`.
QUICK_DTYPES = ("float32", "float64", "int32", "uint8", "bool")


def cases(dtype_list):
    """(dtype, target) pairs: the host for every dtype, the portable targets for the quick ones
    (the rest marked slow)."""
    params = []
    for dtype in dtype_list:
        for target in TARGETS:
            marks = () if target == "host" or dtype in QUICK_DTYPES else (pytest.mark.slow,)
            params.append(pytest.param(dtype, target, marks=marks, id=f"{dtype}-{target}"))
    return params
SHAPE = (3, 11)  # 33 elements: whole vectors and a remainder on every target

UNARY_ARITHMETIC = ["neg", "abs", "sign", "floor", "ceil", "round", "trunc", "sqrt", "rsqrt",
                    "reciprocal", "isnan", "isinf", "isfinite", "logical_not"]
UNARY_MATH = ["exp", "log", "log1p", "expm1", "tanh", "sigmoid", "erf", "sin", "cos", "tan",
              "sinh", "cosh", "asin", "acos", "atan"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "floor_divide", "remainder", "fmod",
          "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"]
BITWISE = ["bitwise_and", "bitwise_or", "bitwise_xor"]


def values(dtype, shape=SHAPE, seed=0, edges=True):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        x = (rng.standard_normal(n) * 3).astype(np_dtype)
        if edges:
            info = np.finfo(np_dtype)
            special = [np.nan, np.inf, -np.inf, 0.0, -0.0, info.tiny / 4, -info.tiny,
                       info.max, 1.0, -1.0, 0.5, 2.5, -2.5, 1e-30]
            x[:min(n, len(special))] = np.array(special[:n], dtype=np.float64).astype(np_dtype)
        return x.reshape(shape)
    info = np.iinfo(np_dtype)
    x = rng.integers(info.min, int(info.max) + 1, n, dtype=np.int64).astype(np_dtype)
    if edges:
        special = [info.min, info.max, 0, 1, -1 if info.min < 0 else 2, 7, -7 if info.min < 0 else 9]
        x[:min(n, len(special))] = np.array(special[:n]).astype(np_dtype)
    return x.reshape(shape)


def compile_and_compare(graph, inputs, target, math_ulps=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = run(graph, inputs)
    step = compile_graph(graph, target=llvm.target(target))
    got = step([np.array(a, copy=True) for a in inputs])
    for k, (g, w) in enumerate(zip(got, want)):
        node = graph.outputs[k].node
        what = f"{node.prim.name if node else 'input'} output {k} on {target}"
        assert g.dtype == w.dtype and g.shape == w.shape, what
        if w.dtype.kind == "f" and math_ulps is not None:
            assert_close_ulps(g, w, math_ulps, what)
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)
    return step


def assert_close_ulps(got, want, ulps, what):
    """Same NaN positions, same infinities, finite values within `ulps` units in the last place
    of the reference (at least the smallest normal's spacing)."""
    got, want = np.asarray(got), np.asarray(want)
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{what}: NaN positions differ"
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)]), \
        f"{what}: infinities differ"
    spacing = np.maximum(np.spacing(np.abs(want[finite])), np.finfo(want.dtype).tiny)
    error = np.abs(got[finite].astype(np.float64) - want[finite]) / spacing
    assert error.max(initial=0) <= ulps, f"{what}: {error.max():.1f} ulps"


def graph_of(dtypes_of_inputs, shapes=None):
    g = Graph()
    shapes = shapes or [SHAPE] * len(dtypes_of_inputs)
    xs = [g.add_input(Aval(s, dtypes.from_name(d))) for d, s in zip(dtypes_of_inputs, shapes)]
    return g, xs


# ---- elementwise -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, target", cases(ALL))
def test_unary_arithmetic(dtype, target):
    g, (x,) = graph_of([dtype])
    names = [n for n in UNARY_ARITHMETIC
             if dtype in FLOATS or n not in ("sqrt", "rsqrt", "reciprocal")]
    if dtype == "bool":  # NumPy rounds booleans to float16; the frontend never asks
        names = [n for n in names if n not in ("neg", "floor", "ceil", "round", "trunc")]
    g.outputs = [getattr(P, n if n not in ("abs", "round") else n + "_")(x) for n in names]
    compile_and_compare(g, [values(dtype)], target)


@pytest.mark.parametrize("dtype, target", cases(FLOATS))
def test_unary_math_library(dtype, target):
    g, (x,) = graph_of([dtype])
    g.outputs = [getattr(P, n)(x) for n in UNARY_MATH]
    x_values = values(dtype)
    # sin, cos and tan reduce their argument accurately up to 2**24 (float32) / 2**52: the
    # largest finite float is out of that range (mathlib's docstrings state it).
    x_values[np.abs(x_values) == np.finfo(x_values.dtype).max] = 1e6
    step = compile_graph(g, target=llvm.target(target))
    got = step([x_values])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = run(g, [x_values])
    exact_erf = np.vectorize(math.erf, otypes=[np.float64])(x_values.astype(np.float64))
    want[UNARY_MATH.index("erf")] = exact_erf.astype(x_values.dtype)  # the NumPy reference's
    for name, a, b in zip(UNARY_MATH, got, want):              # erf is good to 1e-14 only
        assert_close_ulps(a, b, 4, f"{name} ({dtype}) on {target}")


@pytest.mark.parametrize("dtype, target", cases(ALL))
def test_binary(dtype, target):
    g, (x, y) = graph_of([dtype, dtype])
    names = [n for n in BINARY if not (dtype == "bool" and n in (
        "sub", "div", "floor_divide", "remainder", "fmod"))]
    if dtype in INTS:
        names = [n for n in names if n != "div"]
    names += BITWISE if dtype not in FLOATS else []
    g.outputs = [getattr(P, n)(x, y) for n in names]
    a, b = values(dtype, seed=1), values(dtype, seed=2)
    if dtype != "bool":
        b.reshape(-1)[-5:] = a.reshape(-1)[-5:]  # ties for maximum/minimum and comparisons
    compile_and_compare(g, [a, b], target)


@pytest.mark.parametrize("dtype, target", cases(FLOATS))
def test_binary_math_library(dtype, target):
    g, (x, y) = graph_of([dtype, dtype])
    g.outputs = [P.pow_(x, y), P.atan2(x, y)]
    a, b = values(dtype, seed=3), values(dtype, seed=4)
    b.reshape(-1)[20:26] = [2.0, 3.0, 0.5, -1.0, 0.0, 1.0]
    compile_and_compare(g, [a, b], target, math_ulps=4)


@pytest.mark.parametrize("dtype, target", cases(INTS))
def test_integer_power(dtype, target):
    g, (x, y) = graph_of([dtype, dtype])
    g.outputs = [P.pow_(x, y)]
    rng = np.random.default_rng(5)
    base = values(dtype, seed=5)
    exponent = rng.integers(0, 9, SHAPE).astype(dtype)
    compile_and_compare(g, [base, exponent], target)


@pytest.mark.parametrize("source, target", cases(ALL))
def test_casts_to_every_dtype(source, target):
    g, (x,) = graph_of([source])
    g.outputs = [P.cast(x, dtype=dtypes.from_name(d)) for d in ALL + ("float16",)]
    x_values = values(source)
    if source in FLOATS:  # out-of-range and NaN conversions follow x86, as NumPy's do
        x_values.reshape(-1)[14:20] = [3e9, -3e9, 300.7, -300.7, 70000.5, 1e20]
    compile_and_compare(g, [x_values], target)


@pytest.mark.parametrize("dtype, target", cases(ALL))
def test_where_and_broadcasting(dtype, target):
    g, (c, x, y) = graph_of(["bool", dtype, dtype], [SHAPE, SHAPE, (1, SHAPE[1])])
    g.outputs = [P.where(c, x, y), P.where(c, x, P.broadcast_to(y, shape=SHAPE))]
    compile_and_compare(g, [values("bool"), values(dtype, seed=1),
                            values(dtype, shape=(1, SHAPE[1]), seed=2)], target)


# ---- reductions and sorting ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype, target", cases(ALL))
def test_reductions(dtype, target):
    shape = (4, 5, 9)
    g, (x,) = graph_of([dtype], [shape])
    outputs = []
    for axes in [(0,), (1,), (2,), (0, 2), (0, 1, 2)]:
        for keepdims in (False, True):
            if dtype != "bool" or True:
                outputs.append(P.reduce_max(x, axes=axes, keepdims=keepdims))
                outputs.append(P.reduce_min(x, axes=axes, keepdims=keepdims))
            if dtype in FLOATS:
                continue  # float sums: compared with a tolerance below
            outputs.append(P.reduce_sum(x, axes=axes, keepdims=keepdims))
    for axis in (0, 2, None):
        outputs.append(P.argmax(x, axis=axis, keepdims=False))
        outputs.append(P.argmin(x, axis=axis, keepdims=axis is not None))
    g.outputs = outputs
    x_values = values(dtype, shape=shape, edges=dtype not in FLOATS)
    if dtype in FLOATS:
        x_values[1, 2, 3] = np.nan  # NaN wins max, min, argmax and argmin, as in NumPy
        x_values[2, 0, :] = -0.0
    compile_and_compare(g, [x_values], target)


@pytest.mark.parametrize("dtype, target", cases(FLOATS))
def test_float_sums_within_rounding(dtype, target):
    shape = (4, 5, 33)
    g, (x,) = graph_of([dtype], [shape])
    g.outputs = [P.reduce_sum(x, axes=axes, keepdims=False)
                 for axes in [(0,), (1,), (2,), (0, 2), (0, 1, 2)]]
    x_values = values(dtype, shape=shape, edges=False)
    want = run(g, [x_values])
    got = compile_graph(g, target=llvm.target(target))([x_values])
    scale = np.abs(x_values).sum()
    eps = np.finfo(np.dtype(dtype)).eps
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=4 * eps * scale)


@pytest.mark.parametrize("dtype, target", cases(ALL))
def test_argsort_is_numpys_stable_order(dtype, target):
    g, (x,) = graph_of([dtype], [(3, 40)])
    g.outputs = [P.argsort(x, axis=1, descending=False), P.argsort(x, axis=1, descending=True),
                 P.argsort(x, axis=0, descending=False)]
    rng = np.random.default_rng(7)
    x_values = rng.integers(0, 4, (3, 40)).astype(dtype)  # many ties
    if dtype in FLOATS:
        x_values[1, ::7] = np.nan
    compile_and_compare(g, [x_values], target)


# ---- movement and indexing -----------------------------------------------------------------------

@pytest.mark.parametrize("dtype, target", cases(["float32", "int64", "uint8", "bool"]))
def test_movement(dtype, target):
    g, (x, y) = graph_of([dtype, dtype], [(4, 6), (2, 6)])
    g.outputs = [
        P.broadcast_to(P.reshape(x, shape=(4, 1, 6)), shape=(4, 3, 6)),
        P.reshape(x, shape=(3, 8)),
        P.reshape(P.permute(x, perm=(1, 0)), shape=(8, 3)),
        P.permute(P.reshape(x, shape=(2, 2, 6)), perm=(2, 0, 1)),
        P.copy(P.permute(x, perm=(1, 0))),
        P.slice_(x, starts=(1, 0), stops=(4, 6), steps=(2, 3)),
        P.pad(x, config=((1, 2, 0), (0, 1, 1)), value=1),
        P.concat(x, y, x, axis=0),
        P.full_like(x, shape=(2, 5), value=1),
    ]
    compile_and_compare(g, [values(dtype, (4, 6)), values(dtype, (2, 6), seed=3)], target)


@pytest.mark.parametrize("dtype, target", cases(["float32", "float64", "int32", "bool"]))
def test_take_gather_scatter(dtype, target):
    g = Graph()
    x = g.add_input(Aval((5, 6), dtypes.from_name(dtype)))
    idx = g.add_input(Aval((4,), dtypes.int64))
    idx2 = g.add_input(Aval((5, 3), dtypes.int64))
    src = g.add_input(Aval((5, 4), dtypes.from_name(dtype)))
    outputs = [P.take(x, idx, axis=0), P.take(x, idx, axis=1), P.gather(x, idx2, axis=1),
               P.scatter(x, idx2, src, axis=1)]
    if dtype != "bool":
        outputs += [P.scatter_add(x, idx2, src, axis=1),
                    P.index_add(x, idx, src, axis=1)]
    g.outputs = outputs
    rng = np.random.default_rng(9)
    indices = np.array([4, -1, 0, 4])  # repeats: conflicting writes in eager's order
    indices2 = rng.integers(-6, 6, (5, 3))
    compile_and_compare(g, [values(dtype, (5, 6), edges=False), indices, indices2,
                            values(dtype, (5, 4), seed=2, edges=False)], target)


def test_out_of_range_index_raises_before_anything_is_written():
    g = Graph()
    x = g.add_input(Aval((5,), dtypes.float32))
    idx = g.add_input(Aval((3,), dtypes.int64))
    state = g.add_input(Aval((5,), dtypes.float32))
    g.outputs = [P.take(x, idx, axis=0), P.add(state, 1.0)]
    step = compile_graph(g, inplace={1: 2})
    s = np.zeros(5, np.float32)
    step([np.arange(5, dtype=np.float32), np.array([0, 1, 2]), s])
    assert s.tolist() == [1.0] * 5  # written in place
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 5"):
        step([np.arange(5, dtype=np.float32), np.array([0, 7, 2]), s])
    assert s.tolist() == [1.0] * 5  # untouched by the failed call


# ---- matmul ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, target", cases(["float32", "float64", "int64", "int32"]))
def test_matmul(dtype, target):
    g, (a, b, bias, c) = graph_of([dtype] * 4, [(2, 5, 7), (7, 3), (3,), (2, 3, 7)])
    g.outputs = [P.matmul(a, b), P.matmul_add(bias, a, b),
                 P.matmul(a, P.permute(c, perm=(0, 2, 1))),
                 P.maximum(P.matmul_add(bias, a, b), P.full_like(bias, shape=(), value=0))]
    inputs = [values(dtype, s, seed=i, edges=False) for i, s in
              enumerate([(2, 5, 7), (7, 3), (3,), (2, 3, 7)])]
    if dtype in INTS:
        inputs = [(v % 7).astype(dtype) for v in inputs]
        compile_and_compare(g, inputs, target)
        return
    want = run(g, inputs)
    got = compile_graph(g, target=llvm.target(target))(inputs)
    for x, y in zip(got, want):
        np.testing.assert_allclose(x, y, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-5 if dtype == "float32" else 1e-12)


# ---- column-form reductions --------------------------------------------------------------------

def test_column_blocks_grow_with_the_columns_and_divide_them():
    from llgrad.compiler.lowering import column_block

    assert column_block(256) is None and column_block(300) is None
    assert column_block(512) == 256           # 2 blocks: the most a 512-wide loop gives
    assert column_block(4096) == 1024         # 4 KiB runs, 4 blocks
    assert column_block(65536) == 2048        # capped
    assert column_block(256 * 6) == 256       # 3 blocks: doubling would not divide evenly
    for extent in range(512, 20000, 256):
        width = column_block(extent)
        assert extent % width == 0 and extent // width >= 2


@pytest.mark.parametrize("op", ["amax", "amin"])
def test_column_max_is_a_blend_and_a_store_not_a_masked_store(op):
    """max/min accumulated in memory over the rows: without frozen select arms, LLVM emits a
    masked store (vmaskmovps), microcoded on Zen 3 (a column max ran 3x slower than a sum)."""
    import llgrad
    from llgrad.runtime import llvm as runtime_llvm

    x = llgrad.tensor(np.random.default_rng(0).standard_normal((64, 1024)).astype(np.float32))
    fn = llgrad.compile(lambda t: getattr(t, op)(0))
    np.testing.assert_array_equal(fn(x).numpy(), getattr(np, op)(x.numpy(), 0))
    assert fn.stats["executions"]["llvm"] == 1
    step = fn.specializations[0].executable.step
    assembly = runtime_llvm.emit_assembly(step.ir_text, step.target)
    assert "maskmov" not in assembly


def layer_norm_grads(rows, cols, seed=5):
    """A layer norm's forward and backward as a step, its inputs, and eager's gradients;
    `rows` may be a tuple (batch, sequence)."""
    import llgrad

    rng = np.random.default_rng(seed)
    shape = (*rows, cols) if isinstance(rows, tuple) else (rows, cols)
    x = llgrad.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    g = llgrad.tensor(rng.standard_normal(shape).astype(np.float32))
    w = llgrad.tensor(rng.standard_normal(cols).astype(np.float32), requires_grad=True)
    b = llgrad.zeros(cols, requires_grad=True)

    def step(x, g):
        x.grad = w.grad = b.grad = None
        llgrad.nn.functional.layer_norm(x, (cols,), w, b).backward(g)
        return x.grad, w.grad, b.grad

    want = [t.numpy().copy() for t in step(x, g)]
    return step, (x, g), want


@pytest.mark.parametrize("rows", [128, (4, 32)], ids=["2d", "batch-sequence"])
def test_column_sums_ride_along_the_row_pass(rows):
    """A layer norm's weight and bias gradients sum over the rows what the row pass computes:
    the row pass adds them up per chunk of rows as it goes (x and the output gradient are read
    once), and a small kernel adds up the chunks. Values are eager's. Over (batch, sequence,
    features) the chunks split the batch."""
    import llgrad

    step, args, want = layer_norm_grads(rows, 256)
    compiled = llgrad.compile(step)
    got = [t.numpy().copy() for t in compiled(*args)]
    assert compiled.stats["executions"]["llvm"] == 1
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
    kernels = compiled.specializations[0].executable.step.program.kernels
    kinds = [k.name.split("_")[1] for k in kernels]
    assert [k for k in kinds if k != "copy"] == ["row", "sum"], kernels  # copies: returned grads


@pytest.mark.parametrize("rows, cols", [(61, 1024), (32, 256)])
def test_column_sums_of_few_or_small_rows_keep_a_separate_column_pass(rows, cols):
    """61 rows (a prime) split into no even chunks, and 32x256 is small enough that a second
    pass runs from the cache: the weight and bias gradients stay one column pass of their own
    (siblings reading the output gradient once), still eager's."""
    import llgrad

    step, args, want = layer_norm_grads(rows, cols)
    compiled = llgrad.compile(step)
    got = [t.numpy().copy() for t in compiled(*args)]
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
    kernels = compiled.specializations[0].executable.step.program.kernels
    kinds = [k.name.split("_")[1] for k in kernels]
    assert [k for k in kinds if k != "copy"] == ["row", "row"], kernels


def test_column_sums_are_the_same_bits_for_any_thread_count():
    import llgrad

    step, args, _ = layer_norm_grads(512, 512, seed=9)
    results = []
    previous = llgrad.get_num_threads()
    try:
        for threads in (1, 2, 3):
            llgrad.set_num_threads(threads)
            compiled = llgrad.compile(step)
            results.append([t.numpy().copy() for t in compiled(*args)])
    finally:
        llgrad.set_num_threads(previous)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
