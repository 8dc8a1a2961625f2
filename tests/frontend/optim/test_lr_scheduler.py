"""Learning-rate schedulers against PyTorch: the same sequence of rates (exactly), momentum
cycling, state dicts and warnings."""
import math
import warnings

import pytest

import llgrad

torch = pytest.importorskip("torch")

SCHEDULERS = [
    ("StepLR", lambda s, o: s.StepLR(o, step_size=3, gamma=0.5)),
    ("MultiStepLR", lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", lambda s, o: s.ExponentialLR(o, gamma=0.9)),
    ("CosineAnnealingLR", lambda s, o: s.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    ("LambdaLR", lambda s, o: s.LambdaLR(o, lr_lambda=lambda epoch: 0.95 ** epoch + 0.01 * epoch)),
    ("LinearLR", lambda s, o: s.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6)),
    ("ConstantLR", lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=4)),
    ("MultiplicativeLR", lambda s, o: s.MultiplicativeLR(o, lr_lambda=lambda e: 0.9)),
    ("OneCycleLR", lambda s, o: s.OneCycleLR(o, max_lr=0.5, total_steps=25)),
    ("OneCycleLR3", lambda s, o: s.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=25,
                                              three_phase=True, anneal_strategy="linear")),
]


def schedule(lib, make, optimizer="SGD", steps=24):
    a = lib.nn.Parameter(lib.ones(2))
    b = lib.nn.Parameter(lib.ones(2))
    if optimizer == "SGD":
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, momentum=0.9)
    else:
        opt = lib.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)
    sched = make(lib.optim.lr_scheduler, opt)
    lrs = [sched.get_last_lr()]
    momenta = [[g.get("momentum", g.get("betas")) for g in opt.param_groups]]
    for _ in range(steps):
        (a.sum() + b.sum()).backward()
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        momenta.append([g.get("momentum", g.get("betas")) for g in opt.param_groups])
    return lrs, momenta, a.tolist(), sched


@pytest.mark.parametrize("name,make", SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_lr_sequence_matches_torch(name, make, optimizer):
    ll_lrs, ll_mom, ll_a, ll_sched = schedule(llgrad, make, optimizer)
    th_lrs, th_mom, th_a, th_sched = schedule(torch, make, optimizer)
    assert ll_lrs == th_lrs  # exactly: the same Python float arithmetic
    assert ll_mom == th_mom
    assert ll_a == pytest.approx(th_a, rel=1e-6)
    ll_state = {k: v for k, v in ll_sched.state_dict().items() if k != "lr_lambdas"}
    th_state = {k: v for k, v in th_sched.state_dict().items() if k != "lr_lambdas"}
    assert ll_state.keys() == th_state.keys()
    for key in ("last_epoch", "base_lrs", "_last_lr", "_step_count"):
        assert ll_state[key] == th_state[key]


def test_closed_form_with_epoch_argument():
    for lib in (llgrad, torch):
        p = lib.nn.Parameter(lib.ones(1))
        opt = lib.optim.SGD([p], lr=1.0)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.step()
            sched.step(5)
        assert sched.get_last_lr() == [0.25]


def test_scheduler_before_optimizer_warns():
    p = llgrad.nn.Parameter(llgrad.ones(1))
    opt = llgrad.optim.SGD([p], lr=1.0)
    sched = llgrad.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before "
                                         "`optimizer.step\\(\\)`"):
        sched.step()


def test_load_state_dict_and_resume():
    def run(lib):
        p = lib.nn.Parameter(lib.ones(1))
        opt = lib.optim.SGD([p], lr=1.0)
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        for _ in range(4):
            opt.step()
            sched.step()
        state = sched.state_dict()
        opt2 = lib.optim.SGD([p], lr=1.0)
        opt2.load_state_dict(opt.state_dict())
        sched2 = lib.optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
        sched2.load_state_dict(state)
        out = []
        for _ in range(4):
            opt2.step()
            sched2.step()
            out.append(sched2.get_last_lr()[0])
        return out

    assert run(llgrad) == run(torch)
    assert all(math.isfinite(v) for v in run(llgrad))


def test_errors():
    p = llgrad.nn.Parameter(llgrad.ones(1))
    opt = llgrad.optim.SGD([p], lr=1.0)
    with pytest.raises(TypeError, match="int is not an Optimizer"):
        llgrad.optim.lr_scheduler.StepLR(3, 1)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified"):
        llgrad.optim.lr_scheduler.StepLR(opt, 1, last_epoch=3)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        llgrad.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0)


PLATEAU_OPTIONS = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2},
    {"patience": 1, "cooldown": 2, "threshold_mode": "abs", "threshold": 0.05},
    {"patience": 0, "factor": 0.3, "min_lr": [0.02, 0.001]},
    {"patience": 1, "factor": 0.5, "min_lr": 0.01, "eps": 0.02},
]


@pytest.mark.parametrize("options", PLATEAU_OPTIONS, ids=lambda o: "-".join(o) or "defaults")
def test_reduce_lr_on_plateau_matches_torch(options):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.5, 0.5, 0.51,
               0.52, 0.53, 0.6, 0.6, 0.6, 0.6] * 2
    runs = []
    for lib in (llgrad, torch):
        a, b = lib.nn.Parameter(lib.ones(2)), lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **options)
        lrs = [sched.get_last_lr()]
        for m in metrics:
            opt.step()
            sched.step(lib.tensor(m) if len(lrs) % 2 else m)  # a number or a 0-dim tensor
            lrs.append(sched.get_last_lr())
        state = {k: v for k, v in sched.state_dict().items()}
        runs.append((lrs, state, [g["lr"] for g in opt.param_groups]))
    (ll_lrs, ll_state, ll_groups), (th_lrs, th_state, th_groups) = runs
    assert ll_lrs == th_lrs
    assert ll_groups == th_groups
    assert ll_state.keys() == th_state.keys()
    for key in th_state:
        assert ll_state[key] == th_state[key], key


def test_reduce_lr_on_plateau_errors_and_state_dict_round_trip():
    for lib in (llgrad, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.ones(2))], lr=0.1)
        with pytest.raises(ValueError, match="Factor should be < 1.0."):
            lib.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
        with pytest.raises(ValueError, match="mode what is unknown!"):
            lib.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="what")
        with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
            lib.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    opt = llgrad.optim.SGD([llgrad.nn.Parameter(llgrad.ones(2))], lr=0.1)
    sched = llgrad.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0)
    for m in (1.0, 0.5, 0.4):
        sched.step(m)
    again = llgrad.optim.lr_scheduler.ReduceLROnPlateau(opt)
    again.load_state_dict(sched.state_dict())
    assert again.mode == "max" and again.mode_worse == -math.inf
    assert again.best == 1.0 and again.get_last_lr() == sched.get_last_lr()
