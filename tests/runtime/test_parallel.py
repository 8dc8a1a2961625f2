"""Compiled code on several threads: the same bits for any thread count, every caller served."""
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llgrad
from llgrad.runtime import threadpool


def _random_programs():
    """The random-program strategy of tests/compiler/test_random_programs.py."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "compiler" / "test_random_programs.py"
    spec = importlib.util.spec_from_file_location("random_programs_for_threads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RANDOM = _random_programs()


@pytest.fixture
def threads():
    before = threadpool.get_num_threads()
    yield llgrad.set_num_threads
    llgrad.set_num_threads(before)


def big(shape, seed=0):
    return llgrad.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def layer_norm_step():
    w = llgrad.ones(1024, requires_grad=True)
    b = llgrad.zeros(1024, requires_grad=True)

    def step(x, g):
        x.grad = w.grad = b.grad = None
        y = llgrad.nn.functional.layer_norm(x, (1024,), w, b)
        y.backward(g)
        return y.detach(), x.grad, w.grad, b.grad

    return step


def softmax_gelu(x, g):
    x.grad = None
    y = llgrad.nn.functional.gelu(x.softmax(-1) * 3 + x)
    y.backward(g)
    return y.detach(), x.grad


@pytest.mark.parametrize("make", [layer_norm_step, lambda: softmax_gelu],
                         ids=["layer_norm", "softmax_gelu"])
def test_same_bits_for_any_thread_count(make, threads):
    step = llgrad.compile(make())
    x = big((512, 1024)).requires_grad_()
    g = big((512, 1024), seed=1)
    results = {}
    for n in (1, 2, 3, 2, 1):
        threads(n)
        results.setdefault(n, []).append([t.numpy().copy() for t in step(x, g)])
    kernels = step.specializations[0].executable.step.program.kernels
    assert any(k.grain for k in kernels), "expected a parallel kernel"
    reference = results[1][0]
    for runs in results.values():
        for outputs in runs:
            for got, want in zip(outputs, reference):
                assert np.array_equal(got, want)
    oracle = llgrad.compile(make(), backend="interp")
    for got, want in zip(reference, oracle(x, g)):
        want = want.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


@st.composite
def wide_programs(draw):
    shapes, ops, seed = draw(RANDOM.programs())
    widen = draw(st.sampled_from([4096, 16384]))
    return [tuple(d * widen if i == len(s) - 1 and d > 1 else d for i, d in enumerate(s))
            for s in shapes], ops, seed


@settings(max_examples=15, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(wide_programs())
def test_random_programs_same_bits_with_one_two_three_threads(threads, program):
    shapes, ops, seed = program
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]

    def step(*xs):
        values = RANDOM.run_all(xs, ops)  # the last value itself, not reduced to a number
        out = values[-1] * 1.5
        out.backward(llgrad.ones(out.shape))
        return out

    compiled = llgrad.compile(step)
    outputs = []
    for n in (1, 2, 3):
        threads(n)
        xs = [llgrad.tensor(a, requires_grad=True) for a in arrays]
        out = compiled(*xs)
        outputs.append([out.detach().numpy()] + [x.grad.numpy() for x in xs
                                                 if x.grad is not None])
    for other in outputs[1:]:
        for a, b in zip(outputs[0], other):
            assert np.array_equal(a, b, equal_nan=True)
    PARALLEL_SEEN.append(any(k.grain for spec in compiled.specializations
                             for k in spec.executable.step.program.kernels))


PARALLEL_SEEN = []


def test_some_random_programs_ran_parallel_kernels():
    """(Runs after the random-program test: it must not have passed on serial code alone. Its
    examples are derandomized: a random draw of 15 once held no kernel big enough to split.)"""
    if not PARALLEL_SEEN:
        pytest.skip("the random-program test did not run in this session")
    assert any(PARALLEL_SEEN)


def test_concurrent_callers_of_a_parallel_step(threads):
    threads(2)
    step = llgrad.compile(softmax_gelu)
    inputs = [(big((256, 1024), seed=s).requires_grad_(), big((256, 1024), seed=s + 10))
              for s in range(4)]
    want = [[t.numpy().copy() for t in step(x, g)] for x, g in inputs]
    errors, barrier = [], threading.Barrier(4)

    def worker(k):
        barrier.wait()
        for _ in range(10):
            x, g = inputs[k]
            got = [t.numpy() for t in step(llgrad.tensor(x.detach().numpy(), requires_grad=True),
                                           g)]
            if not all(np.array_equal(a, b) for a, b in zip(got, want[k])):
                errors.append(k)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors


def test_parallel_step_in_a_forked_child():
    script = textwrap.dedent("""
        import os, numpy as np, llgrad
        llgrad.set_num_threads(2)
        f = llgrad.compile(lambda x: (x.exp() * 2).softmax(-1))
        x = llgrad.tensor(np.random.default_rng(0).standard_normal((512, 1024)).astype(np.float32))
        want = f(x).numpy().copy()
        pid = os.fork()
        if pid == 0:
            ok = np.array_equal(f(x).numpy(), want)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, status
        assert np.array_equal(f(x).numpy(), want)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_set_num_threads_is_pytorchs_api():
    with pytest.raises(ValueError):
        llgrad.set_num_threads(0)
    assert llgrad.get_num_threads() >= 1
