"""Native executables: the code they emit and how they are called."""
import threading

import numpy as np
import pytest
from llvmlite import ir

from llgrad.compiler import dtypes
from llgrad.compiler import primitives as P
from llgrad.compiler.codegen import library
from llgrad.compiler.codegen.emit import emit_program
from llgrad.compiler.interpreter import run
from llgrad.compiler.ir import Graph
from llgrad.compiler.lowering import lower
from llgrad.compiler.primitive import Aval
from llgrad.runtime import llvm
from llgrad.runtime.native import compile_graph


def gelu_graph(n=4096):
    g = Graph()
    x = g.add_input(Aval((n,), dtypes.float32))
    g.outputs = [P.mul(P.mul(x, 0.5), P.add(P.erf(P.mul(x, 0.7071067811865476)), 1.0))]
    return g


def assembly_for(graph, target):
    program = lower(graph, library=library.routines(target))
    module, _ = emit_program(program, target, library.routines(target))
    return llvm.emit_assembly(str(module), target)


def test_fused_elementwise_kernel_uses_the_widest_vector_registers():
    host = llvm.target("host")
    asm = assembly_for(gelu_graph(), host)
    widest = "zmm" if host.has_avx512 else "ymm"
    assert f"%{widest}" in asm
    assert "erf" not in asm.replace("llgrad.erf", "")  # no libm call: inlined vector math


def test_avx512_build_uses_zmm_registers():
    """Built (not run) for an AVX-512 CPU, as on the machines llgrad targets first."""
    asm = assembly_for(gelu_graph(), llvm.target("avx512"))
    assert "%zmm" in asm


def test_gemm_micro_kernel_uses_zmm_on_avx512():
    target = llvm.target("avx512")
    module = library.routines(target)["gemm_float32"].module()
    asm = llvm.emit_assembly(str(module), target, pipeline="library")
    assert "vfmadd231ps\t" in asm and "%zmm" in asm


def test_concurrent_calls_from_several_threads_are_each_correct():
    g = Graph()
    x = g.add_input(Aval((64, 33), dtypes.float32))
    h = P.exp(P.sub(x, P.reduce_max(x, axes=(1,), keepdims=True)))
    g.outputs = [P.div(h, P.reduce_sum(h, axes=(1,), keepdims=True))]
    step = compile_graph(g)
    inputs = [np.random.default_rng(i).standard_normal((64, 33)).astype(np.float32)
              for i in range(8)]
    want = [run(g, [a])[0] for a in inputs]
    errors = []
    barrier = threading.Barrier(4)

    def worker(k):
        barrier.wait()
        for round_ in range(50):
            i = (k + round_) % len(inputs)
            got = step([inputs[i]])[0]
            if not np.allclose(got, want[i], rtol=1e-5, atol=1e-7):
                errors.append((k, round_))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert step.executions == 200


def test_state_written_in_place_keeps_its_array():
    g = Graph()
    p = g.add_input(Aval((10,), dtypes.float32))
    grad = g.add_input(Aval((10,), dtypes.float32))
    g.outputs = [P.sub(p, P.mul(grad, 0.1))]
    step = compile_graph(g, inplace={0: 0})
    param = np.ones(10, np.float32)
    (result,) = step([param, np.full(10, 2.0, np.float32)])
    assert result is param
    np.testing.assert_allclose(param, 0.8)


def test_unresolvable_call_is_refused_before_loading():
    module = ir.Module()
    missing = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "llgrad_not_defined")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "caller")
    b = ir.IRBuilder(fn.append_basic_block())
    b.call(missing, [])
    b.ret_void()
    with pytest.raises(RuntimeError, match="llgrad_not_defined"):
        llvm.compile_module(str(module))


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _mlp(sizes, batch, seed=0):
    import llgrad
    from llgrad.bench.cases import mlp_step

    step = mlp_step(llgrad, sizes, "sgd", seed)
    rng = np.random.default_rng(seed)
    x = llgrad.tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = llgrad.tensor(rng.integers(0, sizes[-1], batch))
    return step, x, y


def test_ten_thousand_calls_keep_memory_flat():
    import llgrad

    step, x, y = _mlp((64, 128, 128, 10), 32)
    step = llgrad.compile(step)
    for _ in range(500):
        step(x, y)
    before = _rss_bytes()
    for _ in range(10_000):
        step(x, y)
    grown = _rss_bytes() - before
    assert step.stats["executions"]["llvm"] >= 10_500
    assert grown < 4 * 2 ** 20, f"RSS grew by {grown / 2 ** 20:.1f} MB over 10,000 calls"


def test_compiled_step_peak_memory_is_no_more_than_eager():
    """Peak of NumPy allocations during one 784-512-512-10 step (tracemalloc sees NumPy's
    arrays), the compiled step's arena of intermediates counted in full."""
    import tracemalloc

    import llgrad

    peaks = {}
    for compiled in (False, True):
        step, x, y = _mlp((784, 512, 512, 10), 128)
        if compiled:
            step = llgrad.compile(step)
        for _ in range(3):
            step(x, y)
        tracemalloc.start()
        step(x, y)
        peaks[compiled] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if compiled:
            peaks[compiled] += step.specializations[-1].executable.step.program.arena_bytes
    assert peaks[True] <= peaks[False], peaks
