"""Property test: random programs over the op set, with random broadcasting shapes, give the same
values and gradients compiled (reference interpreter) as eager."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llgrad

# Every test runs on each back end and checks which one executed (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_backend")

UNARY = [
    lambda x: x.tanh(), lambda x: x.sigmoid(), lambda x: x.sin(), lambda x: x.exp().clamp(max=50),
    lambda x: llgrad.relu(x), lambda x: x.abs() + 1, lambda x: (x * x + 1).log(),
    lambda x: (x * x + 1).sqrt(), lambda x: x.softmax(-1), lambda x: x.log_softmax(-1),
    lambda x: x.sum(-1, keepdim=True), lambda x: x.mean(0, keepdim=True),
    lambda x: x.amax(-1, keepdim=True), lambda x: -x, lambda x: x ** 2,
    lambda x: llgrad.nn.functional.gelu(x) if hasattr(llgrad.nn, "functional") else x * 2,
]
BINARY = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (b * b + 1),
    lambda a, b: llgrad.maximum(a, b), lambda a, b: llgrad.where(a > b, a, b * 2),
]


@st.composite
def programs(draw):
    base = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    n_inputs = draw(st.integers(1, 3))
    shapes = []
    for _ in range(n_inputs):
        # each input broadcasts to `base`: drop leading dims, set some dims to 1
        start = draw(st.integers(0, len(base) - 1))
        shape = [d if draw(st.booleans()) else 1 for d in base[start:]]
        shapes.append(tuple(shape))
    ops = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 100), st.integers(0, 100),
                                  st.integers(0, 100)), min_size=1, max_size=8))
    seed = draw(st.integers(0, 2 ** 16))
    return shapes, ops, seed


def run_program(inputs, ops):
    values = list(inputs)
    for is_binary, op_index, i, j in ops:
        a = values[i % len(values)]
        if is_binary:
            b = values[j % len(values)]
            values.append(BINARY[op_index % len(BINARY)](a, b))
        else:
            values.append(UNARY[op_index % len(UNARY)](a))
    return sum(v.sum() for v in values[len(inputs):])


TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


def check_program(program, dtype):
    """Values and gradients of a random program: compiled against eager, each compared at its
    own scale (a float32 sum of many terms is only good to rounding of its largest terms)."""
    shapes, ops, seed = program
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]

    def fresh():
        return [llgrad.tensor(a, requires_grad=True) for a in arrays]

    def step(*xs):
        out = run_program(xs, ops)
        out.backward()
        return out

    eager_inputs, compiled_inputs = fresh(), fresh()
    with llgrad.no_grad():
        scale = float(sum(v.abs().sum() for v in run_all(eager_inputs, ops)).item())
    want = step(*eager_inputs)
    got = llgrad.compile(step, verify=True)(*compiled_inputs)
    rtol = TOLERANCE[dtype]
    assert abs(got.item() - want.item()) <= rtol * (abs(want.item()) + scale) or (
        np.isnan(got.item()) and np.isnan(want.item()))
    for e, c in zip(eager_inputs, compiled_inputs):
        assert (e.grad is None) == (c.grad is None)
        if e.grad is not None:
            # At the gradient's scale, but never below the unit scale of the inputs: a
            # gradient that is zero in exact arithmetic is rounding noise in both.
            g_scale = float(np.abs(e.grad.numpy()).max()) if e.grad.numel() else 0.0
            np.testing.assert_allclose(c.grad.numpy(), e.grad.numpy(), rtol=rtol,
                                       atol=rtol * max(g_scale, 1.0) * 10)


def run_all(inputs, ops):
    values = list(inputs)
    for is_binary, op_index, i, j in ops:
        a = values[i % len(values)]
        if is_binary:
            values.append(BINARY[op_index % len(BINARY)](a, values[j % len(values)]))
        else:
            values.append(UNARY[op_index % len(UNARY)](a))
    return values[len(inputs):]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_program_compiled_equals_eager(program):
    check_program(program, np.float32)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_program_in_float64_compiled_equals_eager(program):
    check_program(program, np.float64)


@pytest.mark.parametrize("target", ["avx2", "generic"])
def test_random_programs_built_for_portable_targets(target, monkeypatch, each_backend):
    """The same programs built for an AVX2-only and a generic x86-64 CPU (run here)."""
    if each_backend != "llvm":
        pytest.skip("code generation targets concern the native back end only")
    monkeypatch.setenv("LLGRAD_TARGET", target)
    probe = llgrad.compile(lambda x: x * 2)
    probe(llgrad.ones(3))
    assert probe.specializations[0].executable.step.target.name == target

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow],
              database=None)
    @given(programs())
    def check(program):
        check_program(program, np.float32)

    check()
