"""Tracing is per thread: while one thread traces a function for llgrad.compile, other threads run
eagerly (their ops are not recorded into that trace), and two threads can trace at once."""
import threading

import numpy as np
import pytest

import llgrad
from llgrad import tracing
from llgrad.tracing import TracingError

TIMEOUT = 30  # seconds; only reached if a thread is stuck


def compile_interp(fn):
    """Tracing does not depend on the back end: the interpreter keeps these tests about it."""
    return llgrad.compile(fn, backend="interp")


class Worker(threading.Thread):
    """Runs `fn` in a thread, keeping its result or exception for `outcome()`."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = self.error = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: B036 - re-raised in the test's thread
            self.error = e

    def outcome(self):
        self.join(TIMEOUT)
        assert not self.is_alive(), "worker thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def graph_size(compiled):
    (spec,) = compiled.specializations
    return len(spec.joint.nodes)


def step_function():
    """A compiled step (forward, backward, SGD update) and how to run it eagerly."""

    def body(w, x):
        loss = ((w * x).sin() ** 2).sum()
        loss.backward()
        with llgrad.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        return loss

    def reference(w0, x):
        loss = float(np.sum(np.sin(w0 * x) ** 2))
        grad = 2 * np.sin(w0 * x) * np.cos(w0 * x) * x
        return loss, w0 - 0.1 * grad

    return body, reference


def eager_work(seed):
    """Eager ops, a module, a full backward and an optimizer step; checked against NumPy."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    x = llgrad.tensor(a, requires_grad=True)
    y = llgrad.tensor(b, requires_grad=True)
    z = ((x * y).tanh() + x.exp() * 0.5).sum()
    assert z.grad_fn.name() == "SumBackward0"
    z.backward()
    t = np.tanh(a * b)
    np.testing.assert_allclose(z.item(), np.sum(t + np.exp(a) * 0.5), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), (1 - t ** 2) * b + np.exp(a) * 0.5, rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), np.sum((1 - t ** 2) * a, axis=0), rtol=1e-12)

    layer = llgrad.nn.Linear(3, 2)
    optimizer = llgrad.optim.SGD(layer.parameters(), lr=0.5, momentum=0.9)
    w0, b0 = layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy()
    inp = rng.standard_normal((5, 3)).astype(np.float32)
    loss = layer(llgrad.tensor(inp)).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    out = inp @ w0.T + b0
    np.testing.assert_allclose(loss.item(), np.mean(out ** 2), rtol=1e-5)
    grad_w = 2 * out.T @ inp / out.size
    grad_b = 2 * out.sum(axis=0) / out.size
    np.testing.assert_allclose(layer.weight.detach().numpy(), w0 - 0.5 * grad_w, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(layer.bias.detach().numpy(), b0 - 0.5 * grad_b, rtol=1e-5,
                               atol=1e-6)
    assert len(optimizer.state) == 2  # momentum buffers: concrete state, made now
    return True


def test_eager_thread_is_not_recorded_into_another_threads_trace():
    body, reference = step_function()
    inside, leave = threading.Event(), threading.Event()

    def traced(w, x):
        loss = body(w, x)
        assert tracing.active_tracer() is not None
        inside.set()  # the trace is in progress: w is lifted, ops are being recorded
        assert leave.wait(TIMEOUT)
        return loss * 1.0

    compiled = compile_interp(traced)
    w0 = np.array([0.3, -0.7, 1.1])
    x0 = np.array([1.5, 0.25, -2.0])
    w, x = llgrad.tensor(w0, requires_grad=True), llgrad.tensor(x0)
    worker = Worker(lambda: compiled(w, x))
    worker.start()
    try:
        assert inside.wait(TIMEOUT)
        assert tracing.active_tracer() is None  # this thread is not tracing...
        assert eager_work(seed=1)               # ...and runs eagerly, with concrete results
    finally:
        leave.set()
    loss = worker.outcome()

    ref_loss, ref_w = reference(w0, x0)
    np.testing.assert_allclose(loss.item(), ref_loss, rtol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-12)
    assert w.grad is None and compiled.stats["traces"] == 1
    # A second call replays the graph: nothing eager of the other thread is in it.
    loss = compiled(w, x)
    ref_loss, ref_w2 = reference(ref_w, x0)
    np.testing.assert_allclose(loss.item(), ref_loss, rtol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), ref_w2, rtol=1e-12)
    alone = compile_interp(lambda w, x: body(w, x) * 1.0)
    alone(llgrad.tensor(w0, requires_grad=True), llgrad.tensor(x0))
    assert graph_size(compiled) == graph_size(alone)


def test_two_threads_trace_two_functions_at_once():
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    tracers = {}

    def first(a, b):
        h = a @ b
        tracers["first"] = tracing.active_tracer()
        barrier.wait()  # both traces are in progress from here on
        h = h.relu() + 1.0
        barrier.wait()
        return h.sum(dim=0)

    def second(v):
        s = v.exp()
        tracers["second"] = tracing.active_tracer()
        barrier.wait()
        s = s * v.cos()
        barrier.wait()
        return s.cumsum(0) - 2.0

    rng = np.random.default_rng(0)
    a0, b0, v0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(6)
    f1, f2 = compile_interp(first), compile_interp(second)
    a, b, v = llgrad.tensor(a0), llgrad.tensor(b0), llgrad.tensor(v0)
    workers = [Worker(lambda: f1(a, b)), Worker(lambda: f2(v))]
    for t in workers:
        t.start()
    r1, r2 = (t.outcome() for t in workers)
    assert None not in tracers.values() and tracers["first"] is not tracers["second"]

    def expected1(a0, b0):
        return (np.maximum(a0 @ b0, 0) + 1.0).sum(axis=0)

    def expected2(v0):
        return np.cumsum(np.exp(v0) * np.cos(v0)) - 2.0

    np.testing.assert_allclose(r1.numpy(), expected1(a0, b0), rtol=1e-12)
    np.testing.assert_allclose(r2.numpy(), expected2(v0), rtol=1e-12)
    assert f1.stats["traces"] == f2.stats["traces"] == 1
    # Each graph holds its own function only: replay on new values.
    a1, v1 = rng.standard_normal((3, 4)), rng.standard_normal(6)
    np.testing.assert_allclose(f1(llgrad.tensor(a1), b).numpy(), expected1(a1, b0), rtol=1e-12)
    np.testing.assert_allclose(f2(llgrad.tensor(v1)).numpy(), expected2(v1), rtol=1e-12)
    assert f1.stats["traces"] == f2.stats["traces"] == 1
    lone1 = compile_interp(lambda a, b: ((a @ b).relu() + 1.0).sum(dim=0))
    lone2 = compile_interp(lambda v: (v.exp() * v.cos()).cumsum(0) - 2.0)
    lone1(a, b)
    lone2(v)
    assert graph_size(f1) == graph_size(lone1)
    assert graph_size(f2) == graph_size(lone2)


def test_compile_inside_a_trace_in_the_same_thread_still_cannot_nest():
    inner = compile_interp(lambda x: x * 2)

    @compile_interp
    def outer(x):
        return inner(x) + 1

    with pytest.raises(TracingError, match="cannot be nested"):
        outer(llgrad.ones(3))
    assert tracing.active_tracer() is None  # the failed trace ended
    np.testing.assert_allclose(inner(llgrad.ones(3)).numpy(), [2, 2, 2])  # traces alone fine
    np.testing.assert_allclose((llgrad.ones(2) + 1).numpy(), [2, 2])  # and eager still eager


def test_a_thread_tracing_does_not_stop_another_from_compiling():
    """The nesting check is per thread: a thread may start a trace while another traces."""
    inside, leave = threading.Event(), threading.Event()

    def slow(x):
        inside.set()
        assert leave.wait(TIMEOUT)
        return x + 1

    worker = Worker(lambda: compile_interp(slow)(llgrad.ones(2)))
    worker.start()
    try:
        assert inside.wait(TIMEOUT)
        quick = compile_interp(lambda x: x * 3)
        np.testing.assert_allclose(quick(llgrad.ones(2)).numpy(), [3, 3])
    finally:
        leave.set()
    np.testing.assert_allclose(worker.outcome().numpy(), [2, 2])


def test_traced_tensor_used_by_another_thread_raises():
    """A tensor lifted by another thread's trace is symbolic meanwhile: using it is an error (as
    after the trace), never an op recorded into that trace."""
    inside, leave = threading.Event(), threading.Event()
    w = llgrad.tensor([1.0, 2.0])

    def traced(x):
        inside.set()
        assert leave.wait(TIMEOUT)
        return x * 2

    compiled = compile_interp(traced)
    worker = Worker(lambda: compiled(w))
    worker.start()
    try:
        assert inside.wait(TIMEOUT)
        with pytest.raises(TracingError, match="another thread"):
            w + 1
    finally:
        leave.set()
    np.testing.assert_allclose(worker.outcome().numpy(), [2, 4])
    np.testing.assert_allclose((w + 1).numpy(), [2, 3])  # put back when the trace ended
    lone = compile_interp(lambda x: x * 2)
    lone(llgrad.tensor([1.0, 2.0]))
    assert graph_size(compiled) == graph_size(lone)
