"""BatchNorm1d / BatchNorm2d against PyTorch: outputs, gradients and running statistics over
several training steps, then eval mode; state dicts, reprs, errors; and a compiled training step
(the running statistics are buffers updated in place)."""
import numpy as np
import pytest

import llgrad

RNG = np.random.default_rng(5)

CONFIGS = {
    "1d": ("BatchNorm1d", (8, 3), {}),
    "1d_sequence": ("BatchNorm1d", (4, 3, 5), {"momentum": 0.3, "eps": 1e-3}),
    "2d": ("BatchNorm2d", (2, 3, 4, 4), {}),
    "2d_no_affine_cumulative": ("BatchNorm2d", (2, 3, 2, 2), {"affine": False, "momentum": None}),
    "no_running_stats": ("BatchNorm1d", (6, 3), {"track_running_stats": False}),
    "no_bias": ("BatchNorm1d", (6, 3), {"bias": False}),
}


def _run(lib, name, shape, kwargs, steps=3):
    lib.manual_seed(0)
    bn = getattr(lib.nn, name)(3, **kwargs)
    with lib.no_grad():
        if bn.weight is not None:
            bn.weight.copy_(lib.tensor(RNG_WEIGHTS))
    record = []
    for step in range(steps):
        x = lib.tensor(INPUTS[shape][step], requires_grad=True)
        out = bn(x)
        (out * lib.tensor(UPSTREAM[shape])).sum().backward()
        record.append([out.detach().numpy(), x.grad.numpy()] +
                      [p.grad.numpy().copy() for p in bn.parameters()] +
                      [b.numpy().copy() for b in bn.buffers()])
        bn.zero_grad()
    bn.eval()
    x = lib.tensor(INPUTS[shape][0], requires_grad=True)
    out = bn(x)
    out.sum().backward()
    record.append([out.detach().numpy(), x.grad.numpy()])
    return bn, record, type(out.grad_fn).__name__


RNG_WEIGHTS = RNG.uniform(0.5, 1.5, 3).astype(np.float32)
INPUTS = {shape: [(RNG.standard_normal(shape) * 2 + 1).astype(np.float32) for _ in range(3)]
          for _, shape, _ in CONFIGS.values()}
UPSTREAM = {shape: RNG.standard_normal(shape).astype(np.float32)
            for _, shape, _ in CONFIGS.values()}


@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS))
def test_training_then_eval_matches_torch(config):
    torch = pytest.importorskip("torch")
    name, shape, kwargs = CONFIGS[config]
    ours, our_record, our_node = _run(llgrad, name, shape, kwargs)
    theirs, their_record, their_node = _run(torch, name, shape, kwargs)
    assert repr(ours) == repr(theirs)
    assert our_node == their_node == "NativeBatchNormBackward0"
    for step, (mine, expected) in enumerate(zip(our_record, their_record)):
        assert len(mine) == len(expected)
        for a, b in zip(mine, expected):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5, err_msg=f"step {step}")
    our_state, their_state = ours.state_dict(), theirs.state_dict()
    assert list(our_state) == list(their_state)
    for key in their_state:
        assert str(our_state[key].dtype).split(".")[-1] == \
            str(their_state[key].dtype).split(".")[-1], key


def test_graph_and_buffers_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (llgrad, torch):
        bn = lib.nn.BatchNorm2d(3, affine=False)
        out = bn(lib.randn(2, 3, 2, 2, requires_grad=True))
        edges = [None if fn is None else type(fn).__name__ for fn, _ in
                 out.grad_fn.next_functions]
        assert edges == ["AccumulateGrad", None, None]
        assert bn.num_batches_tracked.item() == 1 and not bn.running_mean.requires_grad
        assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                            "num_batches_tracked"]


def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    for call in (lambda lib: lib.nn.BatchNorm1d(3)(lib.randn(1, 3)),
                 lambda lib: lib.nn.BatchNorm1d(3)(lib.randn(1, 3, 2, 2)),
                 lambda lib: lib.nn.BatchNorm2d(3)(lib.randn(3, 2, 2))):
        errors = []
        for lib in (llgrad, torch):
            with pytest.raises(ValueError) as error:
                call(lib)
            errors.append(str(error.value).replace("torch.", "llgrad."))
        assert errors[0] == errors[1]


def test_state_dict_round_trip_and_reset():
    bn = llgrad.nn.BatchNorm1d(3)
    for _ in range(2):
        bn(llgrad.randn(5, 3))
    fresh = llgrad.nn.BatchNorm1d(3)
    fresh.load_state_dict(bn.state_dict())
    np.testing.assert_array_equal(fresh.running_var.numpy(), bn.running_var.numpy())
    assert fresh.num_batches_tracked.item() == 2
    fresh.reset_running_stats()
    assert fresh.running_mean.tolist() == [0.0] * 3 and fresh.num_batches_tracked.item() == 0


def test_compiled_training_step_matches_eager():
    results = []
    for compiled in (False, True):
        llgrad.manual_seed(0)
        model = llgrad.nn.Sequential(llgrad.nn.Linear(4, 6), llgrad.nn.BatchNorm1d(6),
                                     llgrad.nn.ReLU(), llgrad.nn.Linear(6, 2))
        opt = llgrad.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = llgrad.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        run = llgrad.compile(step) if compiled else step
        batches = [np.concatenate([INPUTS[(8, 3)][i % 3], INPUTS[(8, 3)][(i + 1) % 3][:, :1]],
                                  axis=1) for i in range(5)]
        losses = [run(llgrad.tensor(x), llgrad.ones(8, 2)).item() for x in batches]
        if compiled:
            assert run.stats["traces"] == 1
        model.eval()
        with llgrad.no_grad():
            evaluated = model(llgrad.ones(3, 4)).numpy()
        results.append((losses, [b.numpy().copy() for b in model.buffers()], evaluated))
    (eager_losses, eager_buffers, eager_eval), (losses, buffers, evaluated) = results
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for a, b in zip(buffers, eager_buffers):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(evaluated, eager_eval, rtol=1e-5, atol=1e-6)
