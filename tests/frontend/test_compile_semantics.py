"""Edge cases of llgrad.compile's eager semantics found in review: each runs the same function
eagerly and compiled and compares, or checks the clear error compiled code gives instead."""
import numpy as np
import pytest

import llgrad
from llgrad.tracing import TracingError

# Every test runs on each back end and checks which one executed (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_backend")

C = llgrad.compile


def t(values, requires_grad=False):
    return llgrad.tensor(values, requires_grad=requires_grad)


def test_results_never_alias_the_callers_arguments():
    w = t([1.0, 2.0], requires_grad=True)
    step = C(lambda x: (w * x).sum().backward())
    x1 = llgrad.ones(2) * 1
    step(x1)
    step(llgrad.ones(2) * 5)  # accumulates into w.grad, which must not be x1's storage
    assert x1.tolist() == [1.0, 1.0]
    assert w.grad.tolist() == [6.0, 6.0]
    x = t([1.0, 2.0])
    out = C(lambda x: x * 1)(x)
    out.add_(10)
    assert x.tolist() == [1.0, 2.0]


def test_state_writes_that_swap_two_tensors():
    a, b = t([1.0, 2.0]), t([3.0, 4.0])

    def swap():
        ta = a * 1
        a.copy_(b)
        b.copy_(ta)

    C(swap)()
    assert a.tolist() == [3.0, 4.0] and b.tolist() == [1.0, 2.0]


def test_in_place_on_an_argument_updates_the_current_argument():
    def f(x):
        x.add_(1)
        return x * 2

    g = C(f)
    x0, x1 = llgrad.zeros(2), llgrad.zeros(2)
    g(x0)
    out = g(x1)
    assert x0.tolist() == [1.0, 1.0] and x1.tolist() == [1.0, 1.0]
    assert out.tolist() == [2.0, 2.0]
    assert g.stats["traces"] == 1


def test_fresh_leaf_arguments_do_not_retrace():
    def h(w):
        (w * w).sum().backward()
        return w.grad

    g = C(h)
    for i in range(3):
        w = t([1.0, float(i)], requires_grad=True)
        assert g(w).tolist() == [2.0, 2.0 * i]
    assert g.stats["traces"] == 1


def test_returning_an_argument_returns_the_current_one():
    g = C(lambda a: a)
    g(t([1.0]))
    x = t([2.0])
    assert g(x) is x


def test_the_same_tensor_twice_and_argument_sharing_patterns():
    p, q = t([1.0, 2.0]), t([3.0, 4.0])
    g = C(lambda a, b: a + b)
    assert g(p, p).tolist() == [2.0, 4.0]
    assert g(p, q).tolist() == [4.0, 6.0]
    assert g.stats["traces"] == 2


def test_an_argument_that_is_also_state_retraces():
    p = t([1.0, 2.0])
    g = C(lambda x: x.add_(1) + p)  # in place on the argument, then reads the state
    q = t([0.0, 0.0])
    g(q)
    out = g(p)  # now the argument is the state tensor itself
    assert out.tolist() == [4.0, 6.0] and p.tolist() == [2.0, 3.0]
    assert "share storage" in g.last_retrace


def test_keyword_order_and_container_types_are_guarded():
    g = C(lambda a, b: a - b)
    x, y = t([10.0]), t([1.0])
    assert g(a=x, b=y).tolist() == [9.0]
    assert g(b=x, a=y).tolist() == [-9.0]
    f = C(lambda xs: xs[0] * 2)
    f([x, y])
    f((x, y))
    assert f.stats["traces"] == 2


def test_no_gradient_through_an_integer_cast():
    def h(w):
        (w.long().float() * w).sum().backward()
        return w.grad

    assert C(h)(t([1.5, 2.5], requires_grad=True)).tolist() == [1.0, 2.0]


class Twice(llgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g2, g3):
        return g2 * 2 + g3 * 3


def test_custom_function_on_a_closure_tensor_and_an_unused_output():
    w = t([1.0, 1.0], requires_grad=True)

    def step():
        a, _ = Twice.apply(w)
        a.sum().backward()

    C(step)()
    assert w.grad.tolist() == [2.0, 2.0]


def test_backward_outside_checks_saved_inputs_were_not_modified():
    w = t([1.0, 2.0, 3.0], requires_grad=True)
    y = C(lambda x: (w * x).sum())(t([1.0, 1.0, 1.0], requires_grad=True))  # x.grad reads w
    with llgrad.no_grad():
        w.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_module_mode_guard_uses_the_mode_the_module_ran_in():
    llgrad.manual_seed(0)
    m = llgrad.nn.Dropout(0.5)

    def s(x):
        y = m(x)
        m.eval()
        return y

    g = C(s)
    with llgrad.no_grad():
        g(llgrad.ones(6))
        m.train()
        g(llgrad.ones(6))
        assert g.stats["traces"] == 1
        out = g(llgrad.ones(6)) if not m.training else None
        m.eval()
        assert g(llgrad.ones(6)).tolist() == [1.0] * 6  # eval: a trace of its own
    assert out is None


def test_runtime_hyperparameters_round_like_python_numbers():
    def build():
        p = t(0.3, requires_grad=True)
        return p, llgrad.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)

    (pe, oe), (pc, oc) = build(), build()

    def make(p, opt):
        def step():
            opt.zero_grad()
            (p * p * p).backward()
            opt.step()
        return step

    eager, compiled = make(pe, oe), C(make(pc, oc))
    for _ in range(5):
        eager()
        compiled()
    assert pc.item() == pe.item()


def test_a_failed_trace_leaves_no_optimizer_state_behind():
    p = t([1.0, 2.0], requires_grad=True)
    opt = llgrad.optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)

    def step():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        opt.step()
        return loss.item()  # not traceable

    with pytest.raises(TracingError):
        C(step)()
    assert len(opt.state[p]) == 0 and p.tolist() == [1.0, 2.0]


def test_requires_grad_factories_inside_a_compiled_function():
    def f(x):
        z = llgrad.zeros(2, requires_grad=True)
        (z * x).sum().backward()
        return z.grad

    assert C(f)(t([3.0, 4.0])).tolist() == [3.0, 4.0]


def test_compiled_module_names_itself_in_retrace_messages(monkeypatch, capsys):
    monkeypatch.setenv("LLGRAD_DEBUG", "retrace")
    g = C(llgrad.nn.Linear(2, 2))
    with llgrad.no_grad():
        g(llgrad.ones(1, 2))
        g(llgrad.ones(3, 2))
    assert "retracing Linear" in capsys.readouterr().err


def test_create_graph_accumulation_onto_an_existing_grad_stays_differentiable():
    w = t([1.0, 2.0], requires_grad=True)

    def step():
        (w ** 3).sum().backward(create_graph=True)
        return w.grad.requires_grad

    g = C(step)
    assert g() is True
    assert g() is True


def test_an_unrelated_backward_does_not_consume_a_returned_output():
    w = t([1.0, 2.0], requires_grad=True)

    def f():
        (w * 3).sum().backward()
        return (w * w).sum()

    out = C(f)()
    out.backward()
    assert w.grad.tolist() == [5.0, 7.0]


def test_hooks_registered_after_compiling_take_effect():
    w = t([1.0, 2.0], requires_grad=True)

    def f(x):
        w.grad = None
        (w * x).sum().backward()
        return w.grad * 1

    g = C(f)
    g(llgrad.ones(2))
    handle = w.register_hook(lambda grad: grad * 10)
    assert g(llgrad.ones(2)).tolist() == [10.0, 10.0]
    handle.remove()
    w.register_post_accumulate_grad_hook(lambda tensor: None)
    with pytest.raises(TracingError, match="post-accumulate"):
        g(llgrad.ones(2))


def test_aliases_made_inside_the_trace_see_in_place_updates():
    def f1(p):
        d = p.detach()
        d.add_(1)
        return p * 2

    def f2(p):
        d = p.data
        p.add_(1)
        return d * 2

    for f in (f1, f2):
        pe, pc = t([1.0, 2.0]), t([1.0, 2.0])
        assert C(f)(pc).tolist() == f(pe).tolist()
        assert pc.tolist() == pe.tolist()


def test_reading_a_view_after_its_base_changed_is_a_clear_error():
    def f(p):
        v = p.view(2)
        p.add_(1)
        return v * 2

    with pytest.raises(TracingError, match="view .* was read after its base"):
        C(f)(t([1.0, 2.0]))


def test_in_place_that_gives_state_autograd_history_is_a_clear_error():
    w = t([2.0, 3.0], requires_grad=True)
    with pytest.raises(TracingError, match="autograd history"):
        C(lambda x: x.add_(w).sum())(t([1.0, 1.0]))


def test_signed_zero_survives_simplification_and_cse():
    x = t([-0.0])
    assert np.signbit(C(lambda x: x + 0)(x).numpy()).tolist() == [False]
    g = C(lambda x, s: 1 / (x * s))
    g(llgrad.ones(1), 0.0)
    assert g(llgrad.ones(1), -0.0).tolist() == [float("-inf")]


def test_outputs_merged_by_cse_are_separate_tensors():
    a, b = C(lambda x: (x * 2, x * 2))(t([1.0, 2.0]))
    a.add_(100)
    assert b.tolist() == [2.0, 4.0]


def test_backward_into_history_made_before_the_call_is_a_clear_error():
    w = t([1.0, 2.0], requires_grad=True)
    h = w * 3
    with pytest.raises(TracingError, match="computed by eager autograd before the call"):
        C(lambda x: (h * x).sum().backward(retain_graph=True))(llgrad.ones(2))


def test_an_input_unreached_by_the_used_output_gets_no_gradient():
    w = t([1.0, 2.0], requires_grad=True)
    x = llgrad.ones(2, requires_grad=True)
    outs = C(lambda x: ((w * x).sum(), (w * w).sum()))(x)
    outs[1].backward()
    assert x.grad is None and w.grad.tolist() == [2.0, 4.0]


def test_version_counters_advance_once_per_in_place_op():
    def f(p):
        p.mul_(2)
        p.add_(1)

    pe, pc = t([1.0, 2.0]), t([1.0, 2.0])
    f(pe)
    C(f)(pc)
    assert pc._version == pe._version == 2


def test_retrace_message_names_the_field_that_changed():
    g = C(lambda x: x * 2)
    g(llgrad.randn(4, 3))
    g(llgrad.randn(5, 3))
    g(llgrad.randn(5, 3).double())
    assert g.last_retrace == "argument 0: dtype changed from float32 to float64"


def test_returned_grad_is_the_grad_tensor_itself():
    w = t([1.0, 2.0], requires_grad=True)
    w.grad = llgrad.zeros(2)
    r = C(lambda x: ((w * x).sum().backward(), w.grad)[1])(llgrad.ones(2))
    assert r is w.grad


def test_nan_arguments_do_not_retrace():
    g = C(lambda x, s: x * s)
    for _ in range(3):
        g(llgrad.ones(2), float("nan"))
    assert g.stats["traces"] == 1


def test_manual_seed_inside_reseeds_at_every_call():
    g = C(lambda: (llgrad.manual_seed(0), llgrad.rand(2))[1])
    assert g().tolist() == g().tolist()


def test_a_parameter_group_added_later_retraces():
    a = t([1.0, 2.0], requires_grad=True)
    b = t([3.0, 4.0], requires_grad=True)
    opt = llgrad.optim.SGD([a], lr=0.1)

    def step():
        a.grad = None
        b.grad = None
        ((a * a).sum() + (b * b).sum()).backward()
        opt.step()

    g = C(step)
    g()
    opt.add_param_group({"params": [b], "lr": 0.5})
    g()
    assert b.tolist() == [0.0, 0.0]
    assert "parameter groups" in g.last_retrace


def test_backward_after_modifying_an_input_a_residual_views_raises_like_eager():
    """The backward of x @ w.t() reads w through a view: modifying w in place after the call
    must make backward fail, as in eager mode, not give a gradient from other values."""
    x = t([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)

    def f(x, w):
        return (x @ w.t()).sum()

    w = t([[2.0, 0.0], [1.0, 2.0]])
    y = C(f)(x, w)
    w.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    w_eager = t([[2.0, 0.0], [1.0, 2.0]])
    y_eager = f(x, w_eager)
    w_eager.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y_eager.backward()


# ---- guards on what the function reads by name, and on state identity ------------------------

def _linear_step(opt_factory=None):
    model = llgrad.nn.Linear(3, 2)
    opt = llgrad.optim.SGD(model.parameters(), lr=0.1)
    return model, opt


MODEL = None
OPTIMIZER = None


def _global_step(x):
    OPTIMIZER.zero_grad()
    loss = MODEL(x).sum()
    loss.backward()
    OPTIMIZER.step()
    return loss


def test_rebinding_a_global_model_retraces_and_trains_the_new_one():
    global MODEL, OPTIMIZER
    MODEL, OPTIMIZER = _linear_step()
    step = C(_global_step)
    x = llgrad.ones(4, 3)
    step(x)
    first = MODEL
    MODEL, OPTIMIZER = _linear_step()
    before = MODEL.weight.detach().clone()
    step(x)
    assert step.stats["traces"] == 2
    assert "now refers to another" in step.last_retrace  # OPTIMIZER or MODEL, named
    assert not np.array_equal(MODEL.weight.detach().numpy(), before.numpy())  # trained
    weight_of_first = first.weight.detach().clone()
    step(x)
    np.testing.assert_array_equal(first.weight.detach().numpy(), weight_of_first.numpy())


def test_replacing_a_parameter_retraces_and_trains_the_new_parameter():
    model = llgrad.nn.Linear(3, 2)

    def step(x):
        loss = model(x).sum()
        loss.backward()
        with llgrad.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
                p.grad = None
        return loss

    compiled = C(step)
    x = llgrad.ones(4, 3)
    compiled(x)
    old = model.weight
    model.weight = llgrad.nn.Parameter(llgrad.zeros(2, 3))
    compiled(x)
    assert compiled.stats["traces"] == 2
    assert "replaced" in compiled.last_retrace
    np.testing.assert_allclose(model.weight.detach().numpy(), -0.4)  # 0 - 0.1 * 4
    assert old is not model.weight


def test_assigning_new_storage_to_a_parameter_is_used_by_the_next_call():
    w = t([1.0, 2.0, 3.0], requires_grad=True)

    def step():
        with llgrad.no_grad():
            w.mul_(2)

    compiled = C(step)
    compiled()
    w.data = t([10.0, 20.0, 30.0])
    compiled()
    assert w.tolist() == [20.0, 40.0, 60.0]
    assert compiled.stats["traces"] == 1  # same shape and dtype: no retrace, the new storage


def test_changing_requires_grad_of_state_between_calls_retraces():
    w = t([1.0, 2.0], requires_grad=True)
    compiled = C(lambda x: (w * x).sum())
    y1 = compiled(t([1.0, 1.0]))
    assert y1.requires_grad
    w.requires_grad_(False)
    y2 = compiled(t([1.0, 1.0]))
    assert not y2.requires_grad and compiled.stats["traces"] == 2


def test_steady_state_calls_do_not_walk_the_state(monkeypatch):
    """Guard cost does not grow with the model: once the state guards held, calls skip them
    until something bumps the state epoch (here: a parameter assigned new storage)."""
    from llgrad.compiled import guards

    layers = [llgrad.nn.Linear(2, 2) for _ in range(20)]
    model = llgrad.nn.Sequential(*layers)
    opt = llgrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    compiled = C(step)
    x = llgrad.ones(3, 2)
    for _ in range(3):
        compiled(x)  # the trace, then the first reuse checks the state once
    walked = []
    original = guards.tensor_guard
    def counting(t, *args, **kwargs):
        if t is not x:  # arguments are checked at every call; state only after a change
            walked.append(t)
        return original(t, *args, **kwargs)

    monkeypatch.setattr(guards, "tensor_guard", counting)
    for _ in range(10):
        compiled(x)
    assert walked == []
    layers[0].weight.data = llgrad.zeros(2, 2)
    compiled(x)
    assert len(walked) >= 40  # every state tensor checked once
    assert compiled.stats["traces"] == 1  # same shape and dtype: the new storage is used


def test_out_of_range_target_fails_before_any_state_is_written():
    """A bounds check that fails inside the compiled step (here cross-entropy's gather of the
    target class) raises before the first in-place write: parameters, optimizer state and .grad
    stay as they were."""
    llgrad.manual_seed(0)
    model = llgrad.nn.Linear(4, 3)
    opt = llgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = llgrad.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = C(step)
    x = llgrad.ones(2, 4)
    compiled(x, llgrad.tensor([0, 2]))
    compiled(x, llgrad.tensor([1, 2]))
    before = [p.detach().clone() for p in model.parameters()]
    grads = [p.grad for p in model.parameters()]
    buffers = [opt.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    with pytest.raises(IndexError, match="index 7 is out of bounds"):
        compiled(x, llgrad.tensor([0, 7]))
    for p, b, g in zip(model.parameters(), before, grads):
        assert np.array_equal(p.detach().numpy(), b.numpy()) and p.grad is g
    for p, b in zip(model.parameters(), buffers):
        assert np.array_equal(opt.state[p]["momentum_buffer"].numpy(), b.numpy())


def test_advanced_index_out_of_range_raises_like_eager(each_backend):
    """x[i] and x[i, j] with traced index tensors: negative indices wrap once, as in eager; an
    out-of-range one raises IndexError (it was wrapped onto another element: i % size)."""
    x = llgrad.tensor(np.arange(20, dtype=np.float32).reshape(4, 5))
    rows, cells = C(lambda x, i: x[i] * 2), C(lambda x, i, j: x[i, j])
    i, j = llgrad.tensor([1, -1]), llgrad.tensor([2, -5])
    assert np.array_equal(rows(x, i).numpy(), (x[i] * 2).numpy())
    assert np.array_equal(cells(x, i, j).numpy(), x[i, j].numpy())
    for bad in ([0, 4], [-5, 0]):
        with pytest.raises(IndexError, match="out of bounds for (dimension|axis) 0 with size 4"):
            rows(x, llgrad.tensor(bad))
    with pytest.raises(IndexError, match="index 5 is out of bounds for (dimension|axis) 1"):
        cells(x, i, llgrad.tensor([0, 5]))
    assert rows.stats["executions"][each_backend] > 0 < cells.stats["executions"][each_backend]
