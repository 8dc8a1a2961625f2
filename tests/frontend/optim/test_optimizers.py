"""Optimizers against PyTorch: 20 training steps of the same MLP on the same data in both
libraries, for every option combination; parameters, state dicts and reprs must agree."""
import copy
import itertools

import numpy as np
import pytest

import llgrad

torch = pytest.importorskip("torch")

X = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
Y = np.random.default_rng(1).standard_normal((16, 2)).astype(np.float32)


def mlp(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 8),
                             lib.nn.ReLU(), lib.nn.Linear(8, 2))


def train(lib, make_optimizer, steps=20, groups=False):
    model = mlp(lib)
    if groups:
        params = [{"params": model[0].parameters(), "lr": 0.02},
                  {"params": list(model[2].parameters()) + list(model[4].parameters())}]
    else:
        params = model.parameters()
    opt = make_optimizer(lib, params)
    x, y = lib.tensor(X), lib.tensor(Y)
    losses = []
    sign = -1.0 if opt.defaults["maximize"] else 1.0  # maximize the negated loss: same descent
    for _ in range(steps):
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(x), y)
        (loss * sign).backward()
        opt.step()
        losses.append(loss.item())
    return model, opt, losses


def assert_same_training(make_optimizer, groups=False, rtol=1e-5, atol=1e-6):
    ll_model, ll_opt, ll_losses = train(llgrad, make_optimizer, groups=groups)
    th_model, th_opt, th_losses = train(torch, make_optimizer, groups=groups)
    np.testing.assert_allclose(ll_losses, th_losses, rtol=rtol, atol=atol)
    for (name, a), (_, b) in zip(ll_model.named_parameters(), th_model.named_parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)
    ll_sd, th_sd = ll_opt.state_dict(), th_opt.state_dict()
    assert ll_sd["param_groups"] == th_sd["param_groups"]
    assert list(ll_sd["state"]) == list(th_sd["state"])
    for pid, th_state in th_sd["state"].items():
        ll_state = ll_sd["state"][pid]
        assert list(ll_state) == list(th_state)
        for key, value in th_state.items():
            mine = ll_state[key]
            assert mine.dtype.name == str(value.dtype).replace("torch.", ""), key
            assert tuple(mine.shape) == tuple(value.shape), key
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=rtol, atol=atol * 1e-2,
                                       err_msg=f"{pid}/{key}")
    assert repr(ll_opt) == repr(th_opt)
    return ll_opt, th_opt


SGD_OPTIONS = [dict(zip(("momentum", "dampening", "nesterov", "weight_decay", "maximize"), combo))
               for combo in itertools.product((0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.01),
                                              (False, True))
               if not (combo[2] and (combo[0] == 0 or combo[1] != 0))]


@pytest.mark.parametrize("options", SGD_OPTIONS, ids=lambda o: "-".join(
    f"{k}={v}" for k, v in o.items()))
def test_sgd_matches_torch(options):
    assert_same_training(lambda lib, params: lib.optim.SGD(params, lr=0.05, **options))


def test_sgd_nesterov_weight_decay_momentum_with_groups():
    assert_same_training(lambda lib, params: lib.optim.SGD(
        params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3), groups=True)


ADAM_OPTIONS = [dict(zip(("amsgrad", "weight_decay", "maximize"), combo))
                for combo in itertools.product((False, True), (0.0, 0.05), (False, True))]


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=lambda o: "-".join(
    f"{k}={v}" for k, v in o.items()))
def test_adam_matches_torch(cls, options):
    assert_same_training(lambda lib, params: getattr(lib.optim, cls)(
        params, lr=0.01, betas=(0.8, 0.99), eps=1e-6, **options))


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_adam_defaults_and_groups(cls):
    assert_same_training(lambda lib, params: getattr(lib.optim, cls)(params), groups=True)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_capturable_branch_agrees_with_default(amsgrad):
    # PyTorch refuses capturable=True on the CPU; llgrad runs its branch (bias corrections as
    # float32 tensor ops), which must agree with the default branch to float32 rounding.
    ll_default, _, _ = train(llgrad, lambda lib, p: lib.optim.Adam(p, lr=0.01, amsgrad=amsgrad))
    ll_capt, _, _ = train(llgrad, lambda lib, p: lib.optim.Adam(p, lr=0.01, amsgrad=amsgrad,
                                                                 capturable=True))
    for a, b in zip(ll_default.parameters(), ll_capt.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_adam_state_layout():
    _, opt, _ = train(llgrad, lambda lib, params: lib.optim.Adam(params, amsgrad=True), steps=3)
    state = opt.state_dict()["state"][0]
    assert list(state) == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
    step = state["step"]
    assert step.dtype is llgrad.float32 and step.ndim == 0 and step.item() == 3.0


def test_step_reads_hyperparameters_from_groups_each_time():
    def run(lib):
        model, opt, _ = train(lib, lambda lib, params: lib.optim.Adam(params, lr=0.01), steps=2)
        opt.param_groups[0]["lr"] = 0.5
        opt.param_groups[0]["betas"] = (0.5, 0.9)
        opt.param_groups[0]["weight_decay"] = 0.1
        model(lib.tensor(X)).sum().backward()
        opt.step()
        return [p.detach().numpy().copy() for p in model.parameters()]

    for a, b in zip(run(llgrad), run(torch)):  # a 0.5 step: rounding shows at 1e-6
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_step_does_not_call_item(monkeypatch):
    _, opt, _ = train(llgrad, lambda lib, params: lib.optim.Adam(params, amsgrad=True), steps=1)

    def forbidden(self, *args):
        raise AssertionError("step() must not read tensor values into Python")

    monkeypatch.setattr(llgrad.Tensor, "item", forbidden)
    monkeypatch.setattr(llgrad.Tensor, "__float__", forbidden)
    monkeypatch.setattr(llgrad.Tensor, "__bool__", forbidden)
    monkeypatch.setattr(llgrad.Tensor, "tolist", forbidden)
    opt.step()
    sgd_model = mlp(llgrad)
    sgd = llgrad.optim.SGD(sgd_model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                           weight_decay=0.1)
    sgd_model(llgrad.tensor(X)).sum().backward()
    sgd.step()
    sgd.step()


def test_zero_grad_and_skipped_parameters():
    for lib in (llgrad, torch):
        a = lib.nn.Parameter(lib.ones(2))
        b = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([a, b], lr=0.1, momentum=0.9)
        (a * 3).sum().backward()
        opt.step()
        assert a.tolist() == pytest.approx([0.7, 0.7]) and b.tolist() == [1.0, 1.0]
        assert len(opt.state) == 1
        opt.zero_grad(set_to_none=False)
        assert a.grad.tolist() == [0.0, 0.0]
        opt.zero_grad()
        assert a.grad is None


def test_load_state_dict_resumes_identically():
    def run(lib):
        model, opt, _ = train(lib, lambda lib, params: lib.optim.Adam(params, lr=0.01), steps=5)
        fresh = mlp(lib)
        fresh.load_state_dict(model.state_dict())
        fresh_opt = lib.optim.Adam(fresh.parameters(), lr=0.5)
        fresh_opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # loading shares tensors
        assert fresh_opt.param_groups[0]["lr"] == 0.01
        for m, o in ((model, opt), (fresh, fresh_opt)):
            for _ in range(3):
                o.zero_grad()
                lib.nn.functional.mse_loss(m(lib.tensor(X)), lib.tensor(Y)).backward()
                o.step()
        return [p.detach().numpy().copy() for p in fresh.parameters()], \
               [p.detach().numpy().copy() for p in model.parameters()]

    ll_fresh, ll_model = run(llgrad)
    th_fresh, _ = run(torch)
    for a, b in zip(ll_fresh, ll_model):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(ll_fresh, th_fresh):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_optimizer_errors_match_torch():
    def messages(lib):
        p = lib.nn.Parameter(lib.ones(1))
        out = []
        for make in (lambda: lib.optim.SGD([], lr=0.1),
                     lambda: lib.optim.SGD([p], lr=-1),
                     lambda: lib.optim.SGD([p], lr=0.1, nesterov=True),
                     lambda: lib.optim.Adam([p], betas=(1.0, 0.9)),
                     lambda: lib.optim.Adam([p], eps=-1.0),
                     lambda: lib.optim.SGD(p, lr=0.1),
                     lambda: lib.optim.SGD([p * 2], lr=0.1),
                     lambda: lib.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1),
                     lambda: lib.optim.SGD({p}, lr=0.1)):
            try:
                make()
                out.append("ok")
            except (TypeError, ValueError) as error:
                out.append(f"{type(error).__name__}: {error}")
        opt = lib.optim.SGD([p], lr=0.1)
        try:
            opt.load_state_dict({"state": {}, "param_groups": []})
        except ValueError as error:
            out.append(str(error))
        return "\n".join(out).replace("torch", "llgrad")

    assert messages(llgrad) == messages(torch)


def test_add_param_group_and_repr():
    def run(lib):
        a = lib.nn.Parameter(lib.ones(1))
        b = lib.nn.Parameter(lib.ones(1))
        opt = lib.optim.AdamW([a], lr=0.01)
        opt.add_param_group({"params": b, "lr": 0.5, "weight_decay": 0.0})
        return repr(opt), opt.state_dict()["param_groups"]

    assert str(run(llgrad)) == str(run(torch))


def test_step_hooks_and_closure():
    for lib in (llgrad, torch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        calls = []
        h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
        opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))

        def closure():
            opt.zero_grad()
            loss = (p * p).sum()
            loss.backward()
            return loss

        loss = opt.step(closure)
        assert loss.item() == 2.0 and calls == ["pre", "post"]
        h1.remove()
        opt.step(closure)
        assert calls == ["pre", "post", "post"]
        assert p.tolist() == pytest.approx([0.64, 0.64])


RMSPROP_OPTIONS = [dict(zip(("momentum", "centered", "weight_decay", "maximize"), combo))
                   for combo in itertools.product((0.0, 0.9), (False, True), (0.0, 0.01),
                                                  (False, True))]


@pytest.mark.parametrize("options", RMSPROP_OPTIONS, ids=lambda o: "-".join(
    f"{k}={v}" for k, v in o.items()))
def test_rmsprop_matches_torch(options):
    # With momentum the buffer sums grad / sqrt(mean square): where a gradient is nearly zero,
    # float32 rounding differences in the model's gradients grow over 20 steps (the updates
    # themselves agree to rounding, see the test below), so those runs get a looser tolerance.
    loose = options["momentum"] > 0
    assert_same_training(lambda lib, params: lib.optim.RMSprop(params, lr=0.01, **options),
                         rtol=5e-3 if loose else 1e-5, atol=1e-4 if loose else 1e-6)


@pytest.mark.parametrize("make", [
    lambda lib, ps: lib.optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
    lambda lib, ps: lib.optim.RMSprop(ps, lr=0.01, alpha=0.9, maximize=True),
    lambda lib, ps: lib.optim.Adagrad(ps, lr=0.05, lr_decay=0.05, weight_decay=0.01,
                                      initial_accumulator_value=0.3),
], ids=["rmsprop-centered-momentum", "rmsprop-maximize", "adagrad-decay"])
def test_updates_match_torch_given_the_same_gradients(make):
    """Thirty steps from the same gradients (of magnitudes 1e-6 to 10): parameters and state
    agree with PyTorch to float32 rounding (a few ulps: the centered variance subtracts
    nearly equal numbers)."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal((5, 7)).astype(np.float32)
    grads = [rng.standard_normal((5, 7)).astype(np.float32) *
             np.float32(10.0 ** rng.integers(-6, 2)) for _ in range(30)]
    results = []
    for lib in (llgrad, torch):
        p = lib.nn.Parameter(lib.tensor(start.copy()))
        opt = make(lib, [p])
        for g in grads:
            p.grad = lib.tensor(g)
            opt.step()
        results.append([p.detach().numpy()] + [v.numpy() for v in opt.state_dict()["state"][0]
                                                .values()])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


ADAGRAD_OPTIONS = [dict(zip(("lr_decay", "weight_decay", "initial_accumulator_value", "maximize"),
                            combo))
                   for combo in itertools.product((0.0, 0.05), (0.0, 0.01), (0.0, 0.3),
                                                  (False, True))]


@pytest.mark.parametrize("options", ADAGRAD_OPTIONS, ids=lambda o: "-".join(
    f"{k}={v}" for k, v in o.items()))
def test_adagrad_matches_torch(options):
    assert_same_training(lambda lib, params: lib.optim.Adagrad(params, lr=0.05, **options))


def test_rmsprop_and_adagrad_with_groups_and_state_dict_round_trip():
    for make in (lambda lib, params: lib.optim.RMSprop(params, lr=0.01, momentum=0.5),
                 lambda lib, params: lib.optim.Adagrad(params, lr=0.05)):
        ll_opt, th_opt = assert_same_training(make, groups=True, rtol=5e-3, atol=1e-4)
        model = mlp(llgrad)
        fresh = make(llgrad, [{"params": model[0].parameters(), "lr": 0.02},
                              {"params": list(model[2].parameters()) +
                               list(model[4].parameters())}])
        fresh.load_state_dict(ll_opt.state_dict())
        assert repr(fresh) == repr(th_opt)
        for a, b in zip(fresh.state.values(), ll_opt.state.values()):
            for key in b:
                np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_rmsprop_and_adagrad_argument_errors_match_torch():
    for name, kwargs in (("RMSprop", {"alpha": -1.0}), ("RMSprop", {"momentum": -0.1}),
                         ("Adagrad", {"lr_decay": -1.0}),
                         ("Adagrad", {"initial_accumulator_value": -1.0})):
        messages = []
        for lib in (llgrad, torch):
            with pytest.raises(ValueError) as error:
                getattr(lib.optim, name)([lib.nn.Parameter(lib.ones(2))], **kwargs)
            messages.append(str(error.value))
        assert messages[0] == messages[1]


@pytest.mark.parametrize("make", [
    lambda p: llgrad.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda p: llgrad.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.1, maximize=False),
    lambda p: llgrad.optim.Adam(p, lr=0.01, weight_decay=0.01),
    lambda p: llgrad.optim.AdamW(p, lr=0.01, amsgrad=True),
    lambda p: llgrad.optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True),
    lambda p: llgrad.optim.Adagrad(p, lr=0.05, lr_decay=0.01, weight_decay=0.01),
], ids=["sgd-nesterov", "sgd-dampening", "adam", "adamw-amsgrad", "rmsprop", "adagrad"])
def test_compiled_training_step_matches_eager(make, each_backend):
    """Under llgrad.compile, hyperparameters are runtime inputs (a schedule does not retrace),
    state is created outside the trace, and the updates equal the eager ones: bit for bit on the
    interpreter (the same NumPy kernels), to rounding on native code (other summation orders)."""
    if not hasattr(llgrad, "compile"):
        pytest.skip("llgrad.compile is not available")
    results = []
    for compiled in (False, True):
        model = mlp(llgrad)
        opt = make(model.parameters())
        sched = llgrad.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8)

        def step(x, y):
            opt.zero_grad()
            loss = llgrad.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        run = llgrad.compile(step) if compiled else step
        losses = []
        for _ in range(6):
            losses.append(run(llgrad.tensor(X), llgrad.tensor(Y)).item())
            sched.step()
        if compiled:
            assert run.stats["traces"] <= 2  # the first step, then the steady state
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()],
                        opt.state_dict()))
    (eager_losses, eager_params, eager_sd), (comp_losses, comp_params, comp_sd) = results

    def same(a, b):
        if each_backend == "interp":
            np.testing.assert_array_equal(a, b)
        else:
            scale = float(np.abs(np.asarray(b)).max()) if np.size(b) else 0.0
            # float32, other summation orders: compared at the array's scale (a float64 run of
            # the same steps agrees to 1e-15, so the difference is rounding)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(scale, 1e-3))

    same(comp_losses, eager_losses)
    for a, b in zip(eager_params, comp_params):
        same(b, a)
    for pid, entries in eager_sd["state"].items():
        for key, value in entries.items():
            same(comp_sd["state"][pid][key].numpy(), value.numpy())
