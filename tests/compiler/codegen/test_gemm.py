"""The native GEMM (compiler/codegen/gemm.py) against NumPy: edge shapes, strided and transposed
operands, every epilogue flag alone and together, float32 and float64, built for the host, for
the portable avx2 and generic (SSE2) targets and with the AVX-512 blocking (512-bit vectors
split in two by LLVM, so it runs on AVX2); nothing touched outside C and the workspace,
nothing read outside the operands, the same bits whatever the layout or tile."""
import ctypes
import itertools
import mmap

import numpy as np
import pytest
from llvmlite import ir

from llgrad.compiler.codegen import gemm
from llgrad.runtime import threadpool
from llgrad.runtime.llvm import Target, compile_module, emit_assembly, target

P, I64, I32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32
_SIGNATURE = ctypes.CFUNCTYPE(None, I64, I64, I64, P, I64, I64, P, I64, I64, P, I64, I32,
                              P, I64, I64, I32, P, I64, P)
SIZES = [0, 1, 2, 3, 5, 7, 13, 31, 33, 64, 100, 129]
_CANARY = -7.25  # written around what the function may touch, checked untouched afterwards


class Gemm:
    """The GEMM of one dtype compiled for one target, called on NumPy views."""

    def __init__(self, target_name, dtype):
        self.target, self.dtype = _target(target_name), np.dtype(dtype)
        module = ir.Module()
        name = gemm.build_gemm(module, dtype, self.target).name
        threadpool.ensure_pool()  # the GEMM calls llgrad_parallel_for
        self.code = compile_module(module, self.target, pipeline="library")
        self.function = _SIGNATURE(self.code.address(name))

    def __call__(self, a, b, c, accumulate=False, bias=None, relu=False, mask=None):
        """c = a @ b (+= with accumulate) and the epilogue, in place; checks the canaries."""
        (m, k), n = a.shape, b.shape[1]
        assert c.shape == (m, n) and c.strides[1] == c.itemsize
        size = gemm.gemm_workspace_elements(m, n, k, self.target, self.dtype.name)
        workspace = np.full(size + 16, _CANARY, self.dtype)
        bias_args = (None, 0, 0) if bias is None else (bias.ctypes.data, *_strides(bias))
        mask_args = (None, 0) if mask is None else (mask.ctypes.data, _strides(mask)[0])
        self.function(m, n, k, a.ctypes.data, *_strides(a), b.ctypes.data, *_strides(b),
                      c.ctypes.data, _strides(c)[0], int(accumulate), *bias_args, int(relu),
                      *mask_args, workspace.ctypes.data)
        assert (workspace[size:] == _CANARY).all(), "wrote past the workspace"


def _avx512_shape_on_avx2():
    """512-bit vectors on an AVX2 CPU: LLVM splits each vector op in two, so the AVX-512
    blocking (14 x 32 tiles, 16 lanes, 16 x 16 transposes) runs on this machine."""
    return Target("avx512-shape", "haswell", "", 512)


def _target(name):
    return _avx512_shape_on_avx2() if name == "avx512-shape" else target(name)


def _strides(view):
    return tuple(s // view.itemsize for s in view.strides)


_COMPILED = {}


def compiled(target_name, dtype):
    key = (target_name, dtype)
    if key not in _COMPILED:
        _COMPILED[key] = Gemm(target_name, dtype)
    return _COMPILED[key]


def operand(rng, rows, cols, dtype, layout):
    """A rows x cols view with the given layout: "row" (C order), "col" (a transpose),
    "strided" (every other row and column of a larger array, a negative step included)."""
    if layout == "row":
        return rng.standard_normal((rows, cols)).astype(dtype)
    if layout == "col":
        return rng.standard_normal((cols, rows)).astype(dtype).T
    base = rng.standard_normal((2 * rows + 1, 3 * cols + 2)).astype(dtype)
    return base[1::2, ::-3][:rows, :cols]


def output(rng, rows, cols, dtype):
    """A C view inside a larger array (row stride > cols), its surroundings set to the canary."""
    base = np.full((rows + 2, cols + 5), _CANARY, dtype)
    view = base[1:rows + 1, 2:cols + 2]
    view[...] = rng.standard_normal((rows, cols))
    return base, view


def expected(a, b, c_old, accumulate=False, bias=None, relu=False, mask=None):
    """The reference in float64, and a bound for rounding: a few ulps of sum |a||b| + |C| +
    |bias| per element."""
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    if accumulate:
        ref = ref + c_old
        scale = scale + np.abs(c_old)
    if bias is not None:
        ref = ref + bias
        scale = scale + np.abs(bias)
    if relu:
        ref = np.maximum(ref, 0)
    if mask is not None:
        ref = np.where(mask > 0, ref, 0)
    return ref, scale


def check(run, a, b, **epilogue):
    rng = np.random.default_rng(1)
    dtype = run.dtype
    base, c = output(rng, a.shape[0], b.shape[1], dtype)
    c_old = c.astype(np.float64)
    if not epilogue.get("accumulate"):
        c[...] = np.nan  # must be overwritten, not read
    run(a, b, c, **epilogue)
    ref, scale = expected(a, b, c_old, **epilogue)
    eps = np.finfo(dtype).eps
    tolerance = np.nan_to_num(4 * eps * (scale + 1) * max(1, np.sqrt(a.shape[1])))
    np.testing.assert_array_equal(np.isnan(c), np.isnan(ref))
    assert (np.isnan(ref) | (np.abs(c - ref) <= tolerance)).all()
    outside = np.ones(base.shape, bool)
    outside[1:c.shape[0] + 1, 2:c.shape[1] + 2] = False
    assert (base[outside] == _CANARY).all(), "wrote outside C"
    return c


# ---- shapes and layouts ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_shapes_and_layouts(dtype):
    run = compiled("host", dtype)
    rng = np.random.default_rng(0)
    layouts = ["row", "col", "strided"]
    for trial in range(60):
        m, n, k = rng.choice(SIZES, 3)
        a = operand(rng, m, k, dtype, layouts[trial % 3])
        b = operand(rng, k, n, dtype, layouts[(trial // 3) % 3])
        check(run, a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_several_k_and_m_blocks(dtype):
    """K past one KC block (C is reloaded per block), M past one MC block, N past NR panels."""
    run = compiled("host", dtype)
    bl = gemm.blocking(run.target, dtype)
    rng = np.random.default_rng(2)
    for m, n, k in [(bl.mc + 7, 2 * bl.nr + 3, bl.kc + 5), (3, 5, 2 * bl.kc + 1),
                    (bl.mc, bl.nr, bl.kc)]:
        check(run, operand(rng, m, k, dtype, "row"), operand(rng, k, n, dtype, "col"))


def test_wide_b_spans_several_nc_blocks():
    run = compiled("host", "float32")
    bl = gemm.blocking(run.target, "float32")
    rng = np.random.default_rng(3)
    check(run, operand(rng, 7, 9, "float32", "row"),
          operand(rng, 9, bl.nc + bl.nr + 3, "float32", "strided"), bias=None)


def test_k_zero_gives_zeros_or_bias():
    run = compiled("host", "float32")
    a, b = np.zeros((5, 0), np.float32), np.zeros((0, 19), np.float32)
    assert (check(run, a, b) == 0).all()
    bias = np.arange(19, dtype=np.float32)[None, :]
    check(run, a, b, accumulate=True, bias=bias, relu=True)


# ---- the epilogue ------------------------------------------------------------------------------

def _bias(rng, m, n, dtype, kind):
    """Bias views: a row vector broadcast down (the Linear bias), a column vector broadcast
    across, a full matrix, a transposed (strided) matrix, a scalar."""
    if kind == "row":
        return np.broadcast_to(rng.standard_normal(n).astype(dtype), (m, n))
    if kind == "column":
        return np.broadcast_to(rng.standard_normal((m, 1)).astype(dtype), (m, n))
    if kind == "matrix":
        return rng.standard_normal((m, n)).astype(dtype)
    if kind == "transposed":
        return rng.standard_normal((n, m)).astype(dtype).T
    return np.broadcast_to(np.array(1.5, dtype), (m, n))


def _mask(rng, m, n, dtype):
    mask = rng.choice(np.array([1, 0, -1, 0.5, np.nan], dtype), size=(m, n + 3))
    return mask[:, 3:]  # row stride past n


BIAS_KINDS = ["row", "column", "matrix", "transposed", "scalar"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("accumulate,bias,relu,mask", [
    (acc, bias, relu, mask)
    for acc, bias, relu, mask in itertools.product([False, True], [None, "row"],
                                                   [False, True], [False, True])])
def test_epilogue_flags(dtype, accumulate, bias, relu, mask):
    run = compiled("host", dtype)
    rng = np.random.default_rng(4)
    for m, n, k in [(13, 33, 7), (6, 16, 300), (1, 1, 1), (33, 5, 0)]:
        a, b = operand(rng, m, k, dtype, "row"), operand(rng, k, n, dtype, "col")
        check(run, a, b, accumulate=accumulate,
              bias=None if bias is None else _bias(rng, m, n, dtype, bias), relu=relu,
              mask=_mask(rng, m, n, dtype) if mask else None)


@pytest.mark.parametrize("kind", BIAS_KINDS)
def test_bias_strides(kind):
    run = compiled("host", "float32")
    rng = np.random.default_rng(5)
    for m, n, k in [(13, 33, 7), (12, 32, 3), (2, 3, 4)]:
        a, b = operand(rng, m, k, "float32", "row"), operand(rng, k, n, "float32", "row")
        check(run, a, b, bias=_bias(rng, m, n, "float32", kind), relu=True)


def test_relu_keeps_nan_and_mask_zeroes_it():
    run = compiled("host", "float32")
    a = np.array([[np.nan, 1.0], [1.0, 1.0], [-1.0, 0.0]], np.float32)
    b = np.array([[1.0, 1.0], [1.0, -3.0]], np.float32)
    c = check(run, a, b, relu=True)
    assert np.isnan(c[0]).all() and (c[1:] >= 0).all()
    mask = np.array([[0.0, 1.0], [1.0, np.nan], [1.0, 1.0]], np.float32)
    c = check(run, a, b, relu=True, mask=mask)
    assert c[0, 0] == 0 and np.isnan(c[0, 1]) and c[1, 1] == 0


# ---- portable targets -------------------------------------------------------------------------

@pytest.mark.parametrize("target_name", ["avx2", "generic", "avx512-shape"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_portable_targets(target_name, dtype):
    run = compiled(target_name, dtype)
    rng = np.random.default_rng(6)
    for trial, (m, n, k) in enumerate([(0, 3, 2), (1, 1, 1), (7, 13, 5), (33, 31, 100),
                                       (64, 129, 2), (100, 64, 300), (5, 3, 0)]):
        a = operand(rng, m, k, dtype, ["row", "col", "strided"][trial % 3])
        b = operand(rng, k, n, dtype, ["col", "row", "strided"][trial % 3])
        check(run, a, b)
        check(run, a, b, accumulate=True, bias=_bias(rng, m, n, dtype, BIAS_KINDS[trial % 5]),
              relu=True, mask=_mask(rng, m, n, dtype))


# ---- memory safety and determinism ------------------------------------------------------------

class Guarded:
    """Arrays placed flush against inaccessible pages on both sides: any read outside them
    crashes the process (so a failure here is loud)."""

    PAGE = mmap.PAGESIZE

    def __init__(self):
        self.maps = []
        libc = ctypes.CDLL(None)
        self.mprotect = libc.mprotect
        self.mprotect.argtypes = [P, ctypes.c_size_t, ctypes.c_int]

    def array(self, values, at_end):
        nbytes = values.nbytes
        pages = -(-nbytes // self.PAGE)
        region = mmap.mmap(-1, (pages + 2) * self.PAGE)
        self.maps.append(region)
        start = ctypes.addressof(ctypes.c_char.from_buffer(region))
        for guard in (start, start + (pages + 1) * self.PAGE):
            assert self.mprotect(guard, self.PAGE, 0) == 0
        offset = self.PAGE + (pages * self.PAGE - nbytes if at_end else 0)
        out = np.frombuffer(region, values.dtype, values.size, offset).reshape(values.shape)
        out[...] = values
        return out


@pytest.mark.parametrize("at_end", [True, False])
def test_reads_stay_inside_the_operands(at_end):
    run = compiled("host", "float32")
    guarded = Guarded()
    rng = np.random.default_rng(7)
    for m, n, k in [(7, 13, 5), (1, 17, 3), (13, 1, 9), (6, 16, 8), (31, 33, 257)]:
        a = guarded.array(rng.standard_normal((m, k)).astype(np.float32), at_end)
        b = guarded.array(rng.standard_normal((n, k)).astype(np.float32), at_end).T
        bias = guarded.array(rng.standard_normal((m, n)).astype(np.float32), at_end)
        mask = guarded.array(rng.standard_normal((m, n)).astype(np.float32), at_end)
        check(run, a, b, accumulate=True, bias=bias, relu=True, mask=mask)
        row = guarded.array(rng.standard_normal(n).astype(np.float32), at_end)
        check(run, a, b, bias=np.broadcast_to(row, (m, n)))
        column = guarded.array(rng.standard_normal(m).astype(np.float32), at_end)
        check(run, a, b, bias=np.broadcast_to(column[:, None], (m, n)))


def test_same_bits_whatever_the_layout():
    """Packing makes the arithmetic independent of strides: same values, same bits."""
    run = compiled("host", "float32")
    rng = np.random.default_rng(8)
    for m, n, k in [(13, 33, 300), (64, 64, 64), (5, 100, 17)]:
        results = []
        for a_layout, b_layout in itertools.product(["row", "col", "strided"], repeat=2):
            a_values = np.random.default_rng(9).standard_normal((m, k)).astype(np.float32)
            b_values = np.random.default_rng(10).standard_normal((k, n)).astype(np.float32)
            a, b = operand(rng, m, k, "float32", a_layout), operand(rng, k, n, "float32",
                                                                   b_layout)
            a[...], b[...] = a_values, b_values
            results.append(check(run, a, b).copy())
        for other in results[1:]:
            assert (other.view(np.int32) == results[0].view(np.int32)).all()


def test_same_bits_whatever_the_tile():
    """A row or column of C does not depend on which tile (full, edge, half-height or
    one-vector kernel) computed it: rows and columns taken alone give the same bits."""
    run = compiled("host", "float32")
    rng = np.random.default_rng(12)
    m, n, k = 13, 37, 300
    a, b = operand(rng, m, k, "float32", "row"), operand(rng, k, n, "float32", "row")
    whole = check(run, a, b).copy()
    for rows in [slice(12, 13), slice(0, 2), slice(5, 13)]:
        for cols in [slice(0, 5), slice(32, 37), slice(3, 36)]:
            part = check(run, a[rows], np.ascontiguousarray(b[:, cols]))
            assert (part.view(np.int32) == whole[rows, cols].view(np.int32)).all()


# ---- threads ------------------------------------------------------------------------------------

@pytest.fixture
def threads():
    """Sets the pool's thread count for the test (restored afterwards)."""
    before = threadpool.get_num_threads()
    yield threadpool.set_num_threads
    threadpool.set_num_threads(before)


def _bits(c):
    return c.view(np.int64 if c.dtype == np.float64 else np.int32).copy()


# (dtype, m, n, k, A layout, B layout, epilogue): some take the parallel path, some do not
THREAD_CASES = [
    ("float32", 200, 130, 300, "row", "col", {}),                          # edges, 2 K blocks
    ("float32", 97, 515, 129, "col", "row", dict(accumulate=True, relu=True)),
    ("float32", 301, 67, 520, "strided", "strided", dict(bias="row", mask=True)),
    ("float64", 151, 77, 400, "row", "row", dict(bias="column", relu=True)),
    ("float32", 13, 37, 300, "row", "col", dict(bias="matrix", relu=True)),  # columns
    ("float64", 30, 40, 50, "col", "strided", dict(accumulate=True, mask=True)),  # serial
    # column chunks: a batch of 32 through a layer, 2 K blocks, an edge panel, float64
    ("float32", 32, 128, 128, "row", "col", dict(bias="row", relu=True)),
    ("float32", 70, 100, 520, "strided", "row", dict(accumulate=True, mask=True)),
    ("float64", 50, 45, 90, "row", "row", dict(bias="column")),
    ("float32", 1, 2048, 300, "row", "col", dict(relu=True)),  # one row panel
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: "x".join(map(str, c[:4])))
def test_same_bits_for_any_thread_count(threads, case):
    """1, 2 and 3 threads give the same bits (each tile is computed whole by one chunk in the
    same k order), and the right values."""
    dtype, m, n, k, a_layout, b_layout, epilogue = case
    run = compiled("host", dtype)
    host = run.target
    assert gemm.plan(m, n, k, host, dtype).parallel == (m * n * k >= gemm.PARALLEL_MIN_MNK)
    results = []
    for count in (1, 2, 3, gemm.MAX_COLUMN_CHUNKS + 1):
        threads(count)
        rng = np.random.default_rng(20)  # the same operands every time
        a, b = operand(rng, m, k, dtype, a_layout), operand(rng, k, n, dtype, b_layout)
        extra = dict(epilogue)
        if "bias" in extra:
            extra["bias"] = _bias(rng, m, n, dtype, extra["bias"])
        if extra.get("mask"):
            extra["mask"] = _mask(rng, m, n, dtype)
        results.append(_bits(check(run, a, b, **extra)))
    for other in results[1:]:
        assert (other == results[0]).all()


def test_parallel_path_runs_regions(threads):
    """A big GEMM runs parallel regions (packing B and row chunks per K block) with 2 threads;
    a batch of 32 through a 64-128 layer one region of column chunks; a tiny one runs none;
    with 1 thread none either."""
    run = compiled("host", "float32")
    rng = np.random.default_rng(21)
    big = (operand(rng, 256, 256, "float32", "row"), operand(rng, 256, 300, "float32", "col"))
    layer = (operand(rng, 32, 64, "float32", "row"), operand(rng, 64, 128, "float32", "row"))
    tiny = (operand(rng, 16, 32, "float32", "row"), operand(rng, 32, 64, "float32", "row"))
    assert gemm.plan(256, 300, 256, run.target, "float32").parallel
    assert gemm.plan(32, 128, 64, run.target, "float32").columns
    assert not gemm.plan(16, 64, 32, run.target, "float32").columns
    for count, (a, b), regions in [(2, big, 2), (2, layer, 1), (2, tiny, 0), (1, big, 0),
                                   (1, layer, 0)]:
        threads(count)
        before = threadpool.stats()
        check(run, a, b)
        after = threadpool.stats()
        if after["busy_fallbacks"] == before["busy_fallbacks"]:  # no other region in flight
            assert after["parallel_regions"] - before["parallel_regions"] == regions


def test_more_threads_than_slots(threads):
    """More row chunks than A slots in the workspace, and more threads than slots: chunks wait
    for a free slot, and the bits stay the same."""
    run = compiled("host", "float32")
    bl = gemm.blocking(run.target, "float32")
    m, n, k = (gemm.MAX_SLOTS + 2) * bl.mc, 40, 70
    plan = gemm.plan(m, n, k, run.target, "float32")
    assert plan.parallel and plan.m_chunks > plan.slots == gemm.MAX_SLOTS
    rng = np.random.default_rng(22)
    a, b = operand(rng, m, k, "float32", "row"), operand(rng, k, n, "float32", "row")
    results = []
    for count in (1, gemm.MAX_SLOTS + 4):
        threads(count)
        results.append(_bits(check(run, a, b, relu=True)))
    assert (results[0] == results[1]).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_plan_depends_on_shapes_only(dtype):
    """Row chunks: at most MC rows each; when parallel, at least MIN_CHUNKS (given the panels)
    and an even number unless every panel is a chunk; slots never more than chunks (column
    chunks: one slot per chunk, at most MAX_COLUMN_CHUNKS)."""
    host = target("host")
    bl = gemm.blocking(host, dtype)
    for m, n, k in itertools.product([1, 6, 7, 13, 128, 512, 1000, 2048, 5000],
                                     [1, 16, 128, 2048, 5000], [1, 64, 784, 2048]):
        plan = gemm.plan(m, n, k, host, dtype)
        panels = -(-m // bl.mr)
        assert -(-panels // plan.m_chunks) * bl.mr <= bl.mc
        assert not (plan.parallel and plan.columns)
        if not plan.columns:
            assert 1 <= plan.slots <= min(plan.m_chunks, gemm.MAX_SLOTS)
        if plan.parallel:
            assert m * n * k >= gemm.PARALLEL_MIN_MNK
            assert plan.m_chunks >= min(panels, gemm.MIN_CHUNKS)
            assert plan.m_chunks % 2 == 0 or plan.m_chunks == panels
        elif plan.columns:  # one MC block of rows, one chunk per thread over B's panels
            assert m * n * k >= gemm.COLUMN_MIN_MNK and m <= bl.mc
            assert m * n * k < gemm.PARALLEL_MIN_MNK or panels == 1  # one panel: no row split
            assert plan.m_chunks == 1
            assert plan.slots == min(-(-min(n, bl.nc) // bl.nr), gemm.MAX_COLUMN_CHUNKS) >= 2
        else:
            assert plan.slots == 1


def test_a_slot_holds_one_chunk_not_a_whole_mc_block(threads):
    """The workspace of a parallel GEMM over few rows (a training step's batch of 128) sizes
    each A slot by its row chunk: 4 chunks of 36 rows, not 4 x MC rows; the GEMM stays inside
    it (the canary check) with any thread count."""
    run = compiled("host", "float32")
    bl = gemm.blocking(run.target, "float32")
    m, n, k = 128, 512, 784
    plan = gemm.plan(m, n, k, run.target, "float32")
    assert plan.parallel and plan.slots == plan.m_chunks == 4
    chunk_rows = -(-(-(-m // bl.mr)) // plan.m_chunks) * bl.mr
    b_block = bl.kc * n
    size = gemm.gemm_workspace_elements(m, n, k, run.target, "float32")
    assert size < b_block + plan.slots * (bl.kc * chunk_rows + 64)
    rng = np.random.default_rng(23)
    a, b = operand(rng, m, k, "float32", "row"), operand(rng, k, n, "float32", "col")
    for count in (1, 2, 5):
        threads(count)
        check(run, a, b)


def test_column_slots_hold_all_rows(threads):
    """Column chunks each pack all of A: the workspace gives each slot every row (the canary
    check would catch a write past it), for 1 to more threads than slots."""
    run = compiled("host", "float32")
    bl = gemm.blocking(run.target, "float32")
    m, n, k = bl.mc, 200, 30
    plan = gemm.plan(m, n, k, run.target, "float32")
    assert plan.columns and plan.slots == gemm.MAX_COLUMN_CHUNKS
    rng = np.random.default_rng(24)
    a, b = operand(rng, m, k, "float32", "col"), operand(rng, k, n, "float32", "strided")
    for count in (1, 2, gemm.MAX_COLUMN_CHUNKS + 2):
        threads(count)
        check(run, a, b, relu=True)


# ---- the function itself ------------------------------------------------------------------------

def test_one_definition_per_module_and_content_names():
    module = ir.Module()
    host = target("host")
    first = gemm.build_gemm(module, "float32", host)
    assert gemm.build_gemm(module, "float32", host) is first
    second = gemm.build_gemm(module, "float64", host)
    assert first.name != second.name and first.linkage == ""
    assert first.name.startswith("llgrad_gemm_f32_v")
    bl = gemm.blocking(host, "float32")
    assert f"{bl.mr}x{bl.nr}" in first.name


@pytest.mark.parametrize("target_name,registers,shape", [
    ("avx2", 16, (6, 16)), ("generic", 16, (6, 8)), ("avx512", 32, (14, 32))])
def test_micro_kernel_shape_follows_the_target(target_name, registers, shape):
    tgt = target(target_name)
    bl = gemm.blocking(tgt, "float32")
    assert (bl.mr, bl.nr) == shape
    # accumulators, the B vectors and one broadcast fit the register file
    assert bl.mr * bl.nr // bl.lanes + 3 <= registers
    assert gemm.blocking(tgt, "float64").nr == shape[1] // 2


def test_assembly_uses_the_target_vectors():
    module = ir.Module()
    gemm.build_gemm(module, "float32", target("avx512"))
    assert "zmm" in emit_assembly(str(module), target("avx512"), pipeline="library")
    host = target("host")
    module = ir.Module()
    gemm.build_gemm(module, "float32", host)
    asm = emit_assembly(str(module), host, pipeline="library")
    assert ("zmm" if host.has_avx512 else "ymm") in asm
    assert "vfmadd" in asm or "+fma" not in host.features.split(",")


@pytest.mark.slow
@pytest.mark.parametrize("target_name", ["host", "avx2", "generic", "avx512-shape"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exhaustive_edge_sizes(target_name, dtype):
    run = compiled(target_name, dtype)
    rng = np.random.default_rng(11)
    for m, n, k in itertools.product(SIZES, repeat=3):
        a = operand(rng, m, k, dtype, "strided" if (m + k) % 2 else "row")
        b = operand(rng, k, n, dtype, "col" if (n + k) % 2 else "row")
        flags = (m * 7 + n * 3 + k) % 4
        check(run, a, b, accumulate=flags & 1,
              bias=_bias(rng, m, n, dtype, BIAS_KINDS[(m + n) % 5]) if flags & 2 else None,
              relu=bool(flags & 1), mask=_mask(rng, m, n, dtype) if flags == 3 else None)
