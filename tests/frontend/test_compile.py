"""llgrad.compile keeps eager semantics: each test runs the same function eagerly and compiled
(on copies of the same state) and compares results, state and .grad slots."""
import copy

import numpy as np
import pytest

import llgrad
from llgrad.tracing import TracingError

# Every test runs on each back end and checks which one executed (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_backend")


def make_params(seed=0, shapes=((4, 3), (4,))):
    rng = np.random.default_rng(seed)
    return [llgrad.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
            for s in shapes]


def clone_params(params):
    out = []
    for p in params:
        q = p.detach().clone().requires_grad_(p.requires_grad)
        if p.grad is not None:
            q.grad = p.grad.clone()
        out.append(q)
    return out


def assert_same(a, b, rtol=1e-5, atol=1e-6):
    """Equal up to float rounding. Compiled code sums in another order than NumPy, so an element
    that cancels (a small difference of large terms) is compared at the array's scale."""
    if a is None or b is None:
        assert a is None and b is None
        return
    want = b.detach().numpy()
    scale = float(np.abs(want).max()) if want.size and np.isfinite(want).all() else 0.0
    np.testing.assert_allclose(a.detach().numpy(), want, rtol=rtol, atol=max(atol, rtol * scale))


def assert_same_state(eager_params, compiled_params):
    for pe, pc in zip(eager_params, compiled_params):
        assert_same(pe, pc)
        assert_same(pe.grad, pc.grad)


def sgd_step_factory(params, lr=0.1, zero_grad=True):
    w, b = params

    def step(x, y):
        if zero_grad:
            w.grad = None
            b.grad = None
        loss = ((x @ w.t() + b - y) ** 2).mean()
        loss.backward()
        with llgrad.no_grad():
            params[0] -= lr * w.grad  # the `p -= lr * p.grad` form (in place on the tensor)
            b.sub_(lr * b.grad)
        return loss

    return step


def batch(seed, n=5):
    rng = np.random.default_rng(seed)
    return (llgrad.tensor(rng.standard_normal((n, 3)).astype(np.float32)),
            llgrad.tensor(rng.standard_normal((n, 4)).astype(np.float32)))


def test_forward_only_function_matches_eager():
    def f(x, y):
        return (x.exp().sum(1, keepdim=True) * y).softmax(0), x.max(1).values

    x, y = batch(0)
    compiled = llgrad.compile(f)
    for got, want in zip(compiled(x, y), f(x, y)):
        assert_same(got, want)


def test_training_step_matches_eager_and_traces_once():
    eager_params = make_params()
    compiled_params = clone_params(eager_params)
    eager = sgd_step_factory(eager_params)
    compiled = llgrad.compile(sgd_step_factory(compiled_params))
    for i in range(10):
        x, y = batch(i)
        assert_same(compiled(x, y), eager(x, y))
        assert_same_state(eager_params, compiled_params)
    assert compiled.stats["traces"] == 1
    assert compiled.stats["calls"] == 10


def test_gradients_accumulate_across_calls_like_eager():
    eager_params = make_params(1)
    compiled_params = clone_params(eager_params)

    def make(params):
        w, b = params

        def step(x):
            (x @ w.t() + b).sum().backward()

        return step

    eager, compiled = make(eager_params), llgrad.compile(make(compiled_params))
    for i in range(3):
        x, _ = batch(i)
        eager(x)
        compiled(x)
        assert_same_state(eager_params, compiled_params)
    # first call: .grad None -> traced; then .grad exists -> one more specialization, reused
    assert compiled.stats["traces"] == 2


def test_grad_tensor_identity_is_kept_when_accumulating():
    (w,) = make_params(2, shapes=((3,),))
    w.grad = llgrad.zeros(3)
    grad_object = w.grad

    @llgrad.compile
    def step():
        (w * w).sum().backward()

    step()
    step()
    assert w.grad is grad_object
    np.testing.assert_allclose(w.grad.numpy(), 4 * w.detach().numpy(), rtol=1e-6)


def test_detach_and_no_grad_cut_the_gradient():
    eager_params = make_params(3)
    compiled_params = clone_params(eager_params)

    def make(params):
        w, b = params

        def step(x):
            h = x @ w.t()
            with llgrad.no_grad():
                scale = (w * w).sum()
            loss = (h * scale).sum() + (h.detach() * b).sum() + b.sum()
            loss.backward()
            return loss

        return step

    x, _ = batch(0)
    assert_same(llgrad.compile(make(compiled_params))(x), make(eager_params)(x))
    assert_same_state(eager_params, compiled_params)


def test_autograd_grad_and_create_graph_gradient_penalty():
    def make(params):
        w, b = params

        def step(x):
            x = x.detach().requires_grad_()
            out = ((x @ w.t() + b).tanh() ** 2).sum()
            (gx,) = llgrad.autograd.grad(out, x, create_graph=True)
            penalty = (gx ** 2).sum()
            total = out + penalty
            total.backward()
            return total, gx

        return step

    eager_params = make_params(4)
    compiled_params = clone_params(eager_params)
    x, _ = batch(1)
    got = llgrad.compile(make(compiled_params))(x)
    want = make(eager_params)(x)
    for g, e in zip(got, want):
        assert_same(g, e, rtol=1e-4)
    assert_same_state(eager_params, compiled_params)


def test_higher_order_derivative_inside_compiled_function():
    def third_derivative(x):
        y = x ** 4
        (d1,) = llgrad.autograd.grad(y, x, create_graph=True)
        (d2,) = llgrad.autograd.grad(d1, x, create_graph=True)
        (d3,) = llgrad.autograd.grad(d2, x)
        return d1, d2, d3

    x = llgrad.tensor(1.5, requires_grad=True)
    got = llgrad.compile(third_derivative)(x)
    want = third_derivative(x)
    for g, e in zip(got, want):
        assert_same(g, e)
    assert got[2].item() == pytest.approx(24 * 1.5)


def test_item_inside_compiled_function_raises_and_leaves_state_unchanged():
    (w,) = make_params(5, shapes=((3,),))
    before = w.detach().numpy().copy()

    @llgrad.compile
    def step(x):
        loss = (w * x).sum()
        loss.backward()
        with llgrad.no_grad():
            w.sub_(w.grad)
        if loss.item() > 0:  # data-dependent control flow
            return loss
        return -loss

    with pytest.raises(TracingError, match=r"item\(\).*llgrad.compile.*llgrad.where"):
        step(llgrad.ones(3))
    np.testing.assert_array_equal(w.detach().numpy(), before)
    assert w.grad is None
    assert type(w._data) is np.ndarray


def test_bool_of_traced_tensor_raises():
    @llgrad.compile
    def f(x):
        return x if x.sum() > 0 else -x

    with pytest.raises(TracingError, match="bool"):
        f(llgrad.ones(2))


def test_shape_change_retraces_and_explains():
    @llgrad.compile
    def f(x):
        return x * 2

    f(llgrad.ones(3))
    f(llgrad.ones(3))
    assert f.stats["traces"] == 1
    f(llgrad.ones(4))
    assert f.stats["traces"] == 2
    assert "shape changed from [3] to [4]" in f.explain_retrace()
    f(llgrad.ones(3))
    assert f.stats["traces"] == 2  # both specializations stay


def test_grad_mode_and_requires_grad_are_guards():
    @llgrad.compile
    def f(x):
        return x * 2

    x = llgrad.ones(2)
    f(x)
    with llgrad.no_grad():
        f(x)
    assert "grad mode changed" in f.explain_retrace()
    f(llgrad.ones(2, requires_grad=True))
    assert "requires_grad changed from False to True" in f.explain_retrace()


def test_specialization_limit_warns_once_naming_the_guard():
    f = llgrad.compile(lambda x: x + 1, max_specializations=2)
    with pytest.warns(UserWarning, match="shape changed"):
        for n in range(1, 6):
            f(llgrad.ones(n))
    assert f.stats["traces"] == 5


def test_number_arguments_are_guarded_by_value():
    @llgrad.compile
    def f(x, scale):
        return x * scale

    x = llgrad.ones(2)
    for scale in (0.5, 1.5, 0.5):
        np.testing.assert_allclose(f(x, scale).numpy(), [scale, scale])
    assert f.stats["traces"] == 2
    assert "argument 1: changed from 0.5 to 1.5" in f.last_retrace


def test_int_arguments_are_guarded_by_value():
    @llgrad.compile
    def f(x, n):
        return x.sum(n)

    x = llgrad.ones(2, 3)
    assert f(x, 0).shape == (3,)
    assert f(x, 1).shape == (2,)
    assert f.stats["traces"] == 2


def test_nested_results_and_constants():
    @llgrad.compile
    def f(x):
        return {"double": x * 2, "pair": (x.sum(), None), "n": 3}

    out = f(llgrad.ones(2))
    assert out["n"] == 3 and out["pair"][1] is None
    np.testing.assert_allclose(out["double"].numpy(), [2, 2])


def test_random_ops_draw_fresh_values_each_call_like_eager():
    def f(x):
        return x + llgrad.randn(3)

    x = llgrad.zeros(3)
    llgrad.manual_seed(7)
    eager = [f(x).numpy() for _ in range(3)]
    llgrad.manual_seed(7)
    compiled = llgrad.compile(f)
    got = [compiled(x).numpy() for _ in range(3)]
    np.testing.assert_array_equal(np.stack(got), np.stack(eager))


def test_in_place_update_through_data_reaches_the_parameter():
    eager_params = make_params(6)
    compiled_params = clone_params(eager_params)

    def make(params):
        w, b = params

        def step(x):
            loss = (x @ w.t() + b).pow(2).sum()
            loss.backward()
            w.data -= 0.01 * w.grad
            b.data.sub_(0.01 * b.grad)
            w.grad.zero_()
            b.grad.zero_()
            return loss

        return step

    eager, compiled = make(eager_params), llgrad.compile(make(compiled_params))
    for i in range(4):
        x, _ = batch(i)
        assert_same(compiled(x), eager(x))
        assert_same_state(eager_params, compiled_params)


def test_version_counter_advances_on_state_writes():
    (w,) = make_params(8, shapes=((2,),))
    step = llgrad.compile(lambda: w.data.mul_(2))
    version = w._version
    step()
    assert w._version > version


def test_explain_shows_forward_backward_and_optimized_graphs(capsys):
    params = make_params(9)
    step = llgrad.compile(sgd_step_factory(params))
    x, y = batch(0)
    text = step.explain(x, y)
    assert "== forward graph" in text and "== backward and update graph" in text
    assert "== optimized graph" in text and "matmul" in text
    # a REPL shows it once, laid out: nothing printed, and its repr is the text itself
    assert capsys.readouterr().out == ""
    assert repr(text) == text == str(text)
    assert repr(step.explain_retrace()) == "no retrace has happened"


def test_explain_times_each_kernel_on_copies_leaving_state_and_rng_alone(each_backend):
    params = make_params(9)
    step = llgrad.compile(sgd_step_factory(params))
    x, y = batch(0)
    step(x, y)
    if each_backend != "llvm":
        assert "no native kernels to time" in str(step.explain(x, y, timings=3))
        return
    before = [p.detach().numpy().copy() for p in params]
    versions = [p._version for p in params]
    rng = llgrad.get_rng_state()
    executions = dict(step.stats["executions"])
    text = str(step.explain(x, y, timings=3))
    timings = text[text.index("== kernel timings: 3 calls"):].splitlines()[1:]
    kernels = step.specializations[0].executable.step.program.kernels
    assert sorted(line.split()[0] for line in timings) == sorted(k.name for k in kernels)
    assert all(float(line.split()[1]) >= 0 and line.endswith(("GB/s", "GFLOP/s"))
               for line in timings)
    for p, old, version in zip(params, before, versions):
        np.testing.assert_array_equal(p.detach().numpy(), old)
        assert p._version == version
    assert np.array_equal(llgrad.get_rng_state().numpy(), rng.numpy())
    assert step.stats["executions"] == executions  # the user's step did not run


def test_explain_writes_graphviz(tmp_path):
    step = llgrad.compile(lambda x: (x * 2).sum())
    path = tmp_path / "g.dot"
    step.explain(llgrad.ones(3), dot=str(path))
    assert path.read_text().startswith('digraph "step"')


def test_debug_env_prints_graphs(monkeypatch, capsys):
    monkeypatch.setenv("LLGRAD_DEBUG", "graphs,retrace")
    f = llgrad.compile(lambda x: x * 3)
    f(llgrad.ones(2))
    f(llgrad.ones(3))
    err = capsys.readouterr().err  # diagnostics go to stderr, never into the user's stdout
    assert "== optimized graph" in err and "retracing" in err


def test_debug_env_rejects_an_unknown_flag(monkeypatch):
    monkeypatch.setenv("LLGRAD_DEBUG", "graphs,kernal")
    f = llgrad.compile(lambda x: x * 3)
    with pytest.raises(ValueError, match="unknown flag 'kernal'; the known flags are asm, "
                                         "graphs, kernels, llvm, retrace"):
        f(llgrad.ones(2))


def test_debug_env_prints_kernels_llvm_ir_and_assembly(monkeypatch, capsys):
    monkeypatch.setenv("LLGRAD_DEBUG", "kernels,llvm,asm")
    f = llgrad.compile(lambda x: (x * 3).exp())
    f(llgrad.ones(40))
    err = capsys.readouterr().err
    if f.backend == "llvm":
        assert "kernel k" in err and "LLVM IR of" in err and "assembly of" in err
        assert "define" in err and "ret" in err
    else:
        assert "no native kernels" in err


def test_verify_option_checks_every_pass():
    params = make_params(10)
    step = llgrad.compile(sgd_step_factory(params), verify=True)
    x, y = batch(0)
    step(x, y)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown llgrad.compile backend 'gpu'"):
        llgrad.compile(lambda x: x, backend="gpu")


def test_traced_tensor_escaping_the_trace_fails_loudly():
    leaked = []

    @llgrad.compile
    def f(x):
        y = x * 2
        leaked.append(y)
        return y

    f(llgrad.ones(2))
    with pytest.raises(TracingError, match="after its llgrad.compile trace ended"):
        leaked[0] + 1


class DoubledExp(llgrad.autograd.Function):
    """A custom Function whose backward is deliberately not exp's derivative: compiled code
    must use the user's rule, not differentiate the forward."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * 2


def test_custom_function_uses_its_own_backward_when_compiled():
    def step(x):
        out = DoubledExp.apply(x).sum()
        out.backward()
        return out

    x_eager = llgrad.tensor([0.1, 0.2], requires_grad=True)
    x_compiled = llgrad.tensor([0.1, 0.2], requires_grad=True)
    assert_same(llgrad.compile(step)(x_compiled), step(x_eager))
    assert_same(x_compiled.grad, x_eager.grad)
    np.testing.assert_allclose(x_eager.grad.numpy(), 2 * np.exp([0.1, 0.2]), rtol=1e-6)


def test_backward_outside_the_compiled_function_uses_the_derived_backward_graph():
    (w,) = make_params(11, shapes=((3,),))
    w_eager = w.detach().clone().requires_grad_()

    def f(weight, x):
        return (x * weight).sin().sum()

    compiled = llgrad.compile(lambda x: f(w, x))
    x_c = llgrad.tensor([0.5, 0.1, 0.2], requires_grad=True)
    x_e = llgrad.tensor([0.5, 0.1, 0.2], requires_grad=True)
    out = compiled(x_c)
    assert type(out.grad_fn).__name__ == "CompiledFunctionBackward"
    out.backward()
    f(w_eager, x_e).backward()
    assert_same(w.grad, w_eager.grad)
    assert_same(x_c.grad, x_e.grad)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


def test_backward_outside_works_for_repeated_calls_and_chains_into_eager_graphs():
    (w,) = make_params(12, shapes=((3,),))
    compiled = llgrad.compile(lambda x: (x * w).tanh())
    w_eager = w.detach().clone().requires_grad_()
    for i in range(3):
        x = llgrad.tensor(np.full(3, 0.1 * i, dtype=np.float32))
        (compiled(x) * 2).sum().backward()  # eager ops after the compiled output
        ((x * w_eager).tanh() * 2).sum().backward()
        assert_same(w.grad, w_eager.grad)
    assert compiled.stats["traces"] <= 2


def test_second_backward_through_freed_graph_raises_like_eager():
    def step(x):
        y = (x * x).sum()
        y.backward()
        y.backward()

    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        step(llgrad.ones(2, requires_grad=True))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        llgrad.compile(step)(llgrad.ones(2, requires_grad=True))


def test_retain_graph_allows_a_second_backward_when_compiled():
    def step(x):
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()

    x_e, x_c = llgrad.ones(2, requires_grad=True), llgrad.ones(2, requires_grad=True)
    step(x_e)
    llgrad.compile(step)(x_c)
    assert_same(x_c.grad, x_e.grad)


# ---- nn + optim training steps --------------------------------------------------------------

def build_mlp_training(optimizer, seed=0, dtype=None):
    llgrad.manual_seed(seed)
    nn = llgrad.nn
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 5))
    if dtype is not None:
        model.to(dtype)
    if optimizer == "sgd":
        opt = llgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    elif optimizer == "sgd-nesterov-wd":
        opt = llgrad.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                               weight_decay=1e-3)
    elif optimizer == "adam":
        opt = llgrad.optim.Adam(model.parameters(), lr=1e-3)
    elif optimizer == "rmsprop":
        opt = llgrad.optim.RMSprop(model.parameters(), lr=1e-3)
    elif optimizer == "rmsprop-centered-momentum-wd":
        opt = llgrad.optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.9, centered=True,
                                   weight_decay=1e-3)
    elif optimizer == "adagrad":
        opt = llgrad.optim.Adagrad(model.parameters(), lr=0.05, lr_decay=1e-3, weight_decay=1e-3)
    else:
        opt = llgrad.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, opt, step


def training_batches(n, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield (llgrad.tensor(rng.standard_normal((16, 20)).astype(dtype)),
               llgrad.tensor(rng.integers(0, 5, 16)))


def optimizer_state_arrays(opt):
    return [v.numpy() for state in opt.state.values() for v in state.values()
            if isinstance(v, llgrad.Tensor)]


@pytest.mark.parametrize("optimizer", ["sgd", "sgd-nesterov-wd", "adam", "adamw", "rmsprop",
                                       "rmsprop-centered-momentum-wd", "adagrad"])
def test_mlp_training_matches_eager_traced_once(optimizer):
    model_e, opt_e, step_e = build_mlp_training(optimizer)
    model_c, opt_c, step_c = build_mlp_training(optimizer)
    step_c = llgrad.compile(step_c)
    for x, y in training_batches(40):
        loss_e, loss_c = step_e(x, y), step_c(x, y)
        np.testing.assert_allclose(loss_c.item(), loss_e.item(), rtol=1e-5)
    # float32 over 40 steps: compared at each array's scale (summation orders differ).
    for pe, pc in zip(model_e.parameters(), model_c.parameters()):
        assert_same(pc, pe, rtol=1e-5, atol=1e-7)
    for se, sc in zip(optimizer_state_arrays(opt_e), optimizer_state_arrays(opt_c)):
        assert_same(llgrad.tensor(sc), llgrad.tensor(se), rtol=1e-5, atol=1e-7)
    assert step_c.stats["traces"] == 1


def test_learning_rate_schedule_never_retraces():
    # float64: over 1000 steps float32 trajectories drift apart by rounding alone (different
    # summation orders), which would hide a semantic difference.
    model_e, opt_e, step_e = build_mlp_training("sgd", dtype=llgrad.float64)
    model_c, opt_c, step_c = build_mlp_training("sgd", dtype=llgrad.float64)
    step_c = llgrad.compile(step_c)
    sched_e = llgrad.optim.lr_scheduler.CosineAnnealingLR(opt_e, T_max=100)
    sched_c = llgrad.optim.lr_scheduler.CosineAnnealingLR(opt_c, T_max=100)
    batches = list(training_batches(4, dtype=np.float64))
    for i in range(1000):
        x, y = batches[i % len(batches)]
        step_e(x, y)
        step_c(x, y)
        sched_e.step()
        sched_c.step()
        if i % 250 == 0:
            opt_c.param_groups[0]["momentum"] = 0.8  # a hyperparameter edit: runtime too
            opt_e.param_groups[0]["momentum"] = 0.8
    assert step_c.stats["traces"] == 1 and step_c.stats["calls"] == 1000
    for pe, pc in zip(model_e.parameters(), model_c.parameters()):
        np.testing.assert_allclose(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-9,
                                   atol=1e-11)


def test_learning_rate_edits_reach_every_call():
    """The runtime number of a learning rate is read at every call: a new float of the same
    value, 0, an int, -0.0 and back, each as eager gives (the array made for one float object
    is reused only while the group holds that very object)."""
    params_e, params_c = make_params(), make_params()
    opt_e, opt_c = llgrad.optim.SGD(params_e, lr=0.1), llgrad.optim.SGD(params_c, lr=0.1)

    def step_for(params, opt):
        def step(x):
            opt.zero_grad()
            (params[0] @ x + params[1]).square().sum().backward()
            opt.step()
        return step

    step_e, step_c = step_for(params_e, opt_e), llgrad.compile(step_for(params_c, opt_c))
    x = llgrad.tensor(np.linspace(-1, 1, 3, dtype=np.float32))
    for lr in [0.1, float("0.1"), 0.0, 1, -0.0, 0.05, 0.05]:
        opt_e.param_groups[0]["lr"] = opt_c.param_groups[0]["lr"] = lr
        step_e(x)
        step_c(x)
        for pe, pc in zip(params_e, params_c):
            assert_same(pc, pe)
    assert step_c.stats["traces"] == 1


def test_train_eval_mode_is_a_guard():
    llgrad.manual_seed(0)
    model = llgrad.nn.Sequential(llgrad.nn.Linear(4, 4), llgrad.nn.Dropout(0.5))
    compiled = llgrad.compile(model)
    x = llgrad.ones(2, 4)
    with llgrad.no_grad():
        compiled(x)
        model.eval()
        out = compiled(x)
    assert compiled.stats["traces"] == 2
    assert "Dropout mode changed from train to eval" in compiled.explain_retrace() or \
        "mode changed from train to eval" in compiled.explain_retrace()
    with llgrad.no_grad():
        np.testing.assert_allclose(out.numpy(), model(x).numpy(), rtol=1e-6)


def test_compiled_module_trains_with_backward_outside():
    llgrad.manual_seed(3)
    nn = llgrad.nn
    model_e = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))
    model_c = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))
    model_c.load_state_dict(model_e.state_dict())
    compiled = llgrad.compile(model_c)
    opt_e = llgrad.optim.SGD(model_e.parameters(), lr=0.1)
    opt_c = llgrad.optim.SGD(model_c.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = llgrad.tensor(rng.standard_normal((4, 6)).astype(np.float32))
        for model, opt in ((model_e, opt_e), (compiled, opt_c)):
            opt.zero_grad()
            (model(x) ** 2).mean().backward()
            opt.step()
    for pe, pc in zip(model_e.parameters(), model_c.parameters()):
        np.testing.assert_allclose(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-5)
    assert compiled.stats["traces"] == 1


def test_dropout_inside_compiled_step_draws_like_eager():
    def build():
        llgrad.manual_seed(5)
        nn = llgrad.nn
        return nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.3), nn.Linear(8, 1))

    model_e, model_c = build(), build()
    compiled = llgrad.compile(lambda x: model_c(x).sum())
    llgrad.manual_seed(9)
    eager = [model_e(llgrad.ones(3, 8)).sum().item() for _ in range(3)]
    llgrad.manual_seed(9)
    got = [compiled(llgrad.ones(3, 8)).item() for _ in range(3)]
    np.testing.assert_allclose(got, eager, rtol=1e-6)


def test_in_place_update_through_a_view_is_a_clear_error_when_compiled():
    (w,) = make_params(13, shapes=((2, 3),))

    @llgrad.compile
    def step():
        with llgrad.no_grad():
            w.view(-1).add_(1)

    with pytest.raises(TracingError, match="in-place update of a view"):
        step()
