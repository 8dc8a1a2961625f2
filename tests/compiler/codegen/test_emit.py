"""Loop IR -> LLVM (compiler/codegen/emit.py): reductions unrolled over independent partial
results, and big fresh outputs written with non-temporal (streaming) stores."""
import numpy as np
import pytest

import llgrad
from llgrad.runtime import llvm as runtime_llvm
from llgrad.runtime.memory import ALIGNMENT, STREAMED_OUTPUT_BYTES, empty_output


def native_step(fn):
    return fn.specializations[0].executable.step


def assembly_of(fn):
    step = native_step(fn)
    return runtime_llvm.emit_assembly(step.ir_text, step.target)


# ---- unrolled reductions -----------------------------------------------------------------------

# Around the unrolled loop's boundaries: 4 copies of 4 to 16 lanes, then whole vectors, then a
# masked rest.
ROW_LENGTHS = [31, 32, 63, 64, 65, 100, 127, 128, 129, 1000, 1024 + 11]


@pytest.mark.parametrize("n", ROW_LENGTHS)
@pytest.mark.parametrize("op", ["sum", "amax", "amin"])
def test_row_reductions_agree_with_numpy_at_every_length(op, n):
    x = np.random.default_rng(n).standard_normal((3, n)).astype(np.float32)
    fn = llgrad.compile(lambda t: getattr(t, op)(-1))
    got = fn(llgrad.tensor(x)).numpy()
    assert fn.stats["executions"]["llvm"] == 1
    if op == "sum":
        np.testing.assert_allclose(got, x.astype(np.float64).sum(-1), rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(got, getattr(np, op)(x, -1))


def test_a_long_row_sum_is_unrolled_and_a_math_heavy_row_is_not():
    x = llgrad.tensor(np.ones((4, 1024), np.float32))
    summed = llgrad.compile(lambda t: t.sum(-1))
    np.testing.assert_array_equal(summed(x).numpy(), np.full(4, 1024, np.float32))
    assert ".unrolled" in native_step(summed).ir_text
    # exp's code is long enough to hide the adds' latency; four copies would spill registers.
    exps = llgrad.compile(lambda t: t.exp().sum(-1))
    np.testing.assert_allclose(exps(x).numpy(), np.full(4, 1024 * np.e), rtol=1e-6)
    assert ".unrolled" not in native_step(exps).ir_text


@pytest.mark.parametrize("position", range(0, 70, 3))
def test_nan_in_any_partial_result_propagates_through_max_and_min(position):
    x = np.arange(256, dtype=np.float32).reshape(1, 256)
    x[0, position] = np.nan
    for op in ("amax", "amin"):
        fn = llgrad.compile(lambda t, op=op: getattr(t, op)(-1))
        assert np.isnan(fn(llgrad.tensor(x)).numpy()[0])


def test_unrolled_sums_are_the_same_bits_for_any_thread_count():
    x = llgrad.tensor(np.random.default_rng(0).standard_normal((512, 1000)).astype(np.float32))
    results = []
    for threads in (1, 2, 3):
        previous = llgrad.get_num_threads()
        llgrad.set_num_threads(threads)
        try:
            fn = llgrad.compile(lambda t: (t * t).sum(-1))
            results.append(fn(x).numpy())
        finally:
            llgrad.set_num_threads(previous)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


# ---- streamed outputs --------------------------------------------------------------------------

BIG = (1024, STREAMED_OUTPUT_BYTES // 4 // 1024)  # float32 rows of exactly the threshold


def softmax_step():
    @llgrad.compile
    def step(x, g):
        x.grad = None
        y = x.softmax(-1)
        y.backward(g)
        return y.detach()

    return step


def test_big_outputs_no_kernel_reads_are_streamed_aligned_and_correct():
    rng = np.random.default_rng(0)
    X = rng.standard_normal(BIG).astype(np.float32)
    G = rng.standard_normal(BIG).astype(np.float32)
    x, g = llgrad.tensor(X, requires_grad=True), llgrad.tensor(G)
    step = softmax_step()
    y = step(x, g)
    assert step.stats["executions"]["llvm"] == 1
    kernels = native_step(step).kernels_text()
    # The softmax's output is read again by the backward's last stage: from a row of scratch,
    # so that it too is streamed.
    assert kernels.count("streamed output") == 2, kernels
    assembly = assembly_of(step)
    assert "vmovntps" in assembly and "sfence" in assembly
    for array in (y.numpy(), x.grad.numpy()):
        assert array.ctypes.data % ALIGNMENT == 0
    eager_x = llgrad.tensor(X, requires_grad=True)
    eager_y = eager_x.softmax(-1)
    eager_y.backward(llgrad.tensor(G))
    np.testing.assert_allclose(y.numpy(), eager_y.detach().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), eager_x.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_outputs_that_are_small_or_read_by_another_kernel_are_not_streamed():
    small = softmax_step()
    x = llgrad.randn(64, 64, requires_grad=True)
    small(x, llgrad.randn(64, 64))
    assert "streamed" not in native_step(small).kernels_text()

    # y is also read transposed by another kernel: it must stay in the cache.
    both = llgrad.compile(lambda t: (lambda y: (y, y.t() * 2))(t.softmax(-1)))
    X = np.random.default_rng(1).standard_normal(BIG).astype(np.float32)
    y, twice = both(llgrad.tensor(X))
    assert "streamed" not in native_step(both).kernels_text().split("kernel")[1]
    np.testing.assert_array_equal(twice.numpy(), y.numpy().T * 2)


def test_streamed_rows_that_do_not_start_on_a_whole_vector_use_plain_stores():
    """Softmax rows of 2**18 + 1 floats: only the first row starts on a vector boundary, so no
    store can be proved aligned and none is non-temporal (an unaligned one would fault)."""
    shape = (4, 2 ** 18 + 1)
    X = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    rows = llgrad.compile(lambda t: t.softmax(-1))
    expected = llgrad.tensor(X).softmax(-1).numpy()
    np.testing.assert_allclose(rows(llgrad.tensor(X)).numpy(), expected, rtol=1e-5, atol=1e-9)
    assert "streamed output" in native_step(rows).kernels_text()
    assert "vmovnt" not in assembly_of(rows)


@pytest.mark.parametrize("fn", [lambda t: t * 2, lambda t: (t * 2, t - 1),
                                lambda t: llgrad.nn.functional.gelu(t)],
                         ids=["one-output", "two-outputs", "gelu"])
def test_flat_elementwise_outputs_use_plain_stores(fn):
    """Non-temporal stores interleaved with other work over a whole array lose (8M floats on
    Zen 3: 4.8x slower with two outputs, GELU's forward and backward 4x): only rows written in
    bursts are streamed."""
    X = np.random.default_rng(6).standard_normal(STREAMED_OUTPUT_BYTES // 4).astype(np.float32)
    flat = llgrad.compile(fn)
    flat(llgrad.tensor(X))
    assert "streamed" not in native_step(flat).kernels_text()
    assert "vmovnt" not in assembly_of(flat)


def test_a_big_output_a_library_call_writes_is_not_streamed():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((1024, 256)).astype(np.float32)
    B = rng.standard_normal((256, 1024)).astype(np.float32)  # the product: 4 MB
    fn = llgrad.compile(lambda a, b: a @ b)
    np.testing.assert_allclose(fn(llgrad.tensor(A), llgrad.tensor(B)).numpy(), A @ B,
                               rtol=1e-4, atol=1e-3)
    assert "streamed" not in native_step(fn).kernels_text()


def test_empty_output_aligns_big_arrays_only():
    big = empty_output((STREAMED_OUTPUT_BYTES // 8,), np.float64)
    assert big.ctypes.data % ALIGNMENT == 0 and big.shape == (STREAMED_OUTPUT_BYTES // 8,)
    assert big.dtype == np.float64 and big.flags.c_contiguous and big.flags.writeable
    small = empty_output((3, 5), np.float32)
    assert small.shape == (3, 5) and small.dtype == np.float32 and small.base is None


# ---- prefetching -------------------------------------------------------------------------------

def test_loops_streaming_big_buffers_prefetch_ahead_and_small_ones_do_not():
    big = llgrad.compile(lambda t: t.softmax(-1))
    X = np.random.default_rng(3).standard_normal((512, 1024)).astype(np.float32)  # 2 MB
    np.testing.assert_allclose(big(llgrad.tensor(X)).numpy(), llgrad.tensor(X).softmax(-1).numpy(),
                               rtol=1e-5, atol=1e-9)
    assert "prefetcht0" in assembly_of(big)
    small = llgrad.compile(lambda t: t.softmax(-1))
    small(llgrad.randn(16, 1024))  # 64 KB: in the cache already
    assert "prefetch" not in assembly_of(small)


def test_a_misaligned_big_output_array_is_refused_before_anything_runs():
    step = softmax_step()
    rng = np.random.default_rng(4)
    x = llgrad.tensor(rng.standard_normal(BIG).astype(np.float32), requires_grad=True)
    g = llgrad.tensor(rng.standard_normal(BIG).astype(np.float32))
    step(x, g)
    native = native_step(step)
    raw = np.empty(STREAMED_OUTPUT_BYTES + 2 * ALIGNMENT, np.uint8)
    start = (-raw.ctypes.data) % ALIGNMENT + 16  # 16 bytes past a line: NumPy's own alignment
    misaligned = raw[start:start + STREAMED_OUTPUT_BYTES].view(np.float32).reshape(BIG)
    arrays = [x.detach().numpy(), g.numpy(), misaligned, empty_output(BIG, np.float32)]
    executions = native.executions
    with pytest.raises(ValueError, match="not 64-byte aligned.*empty_output"):
        native.run(arrays[:len(native.per_call_inputs)] + arrays[2:],
                   None, lambda: [])
    assert native.executions == executions
