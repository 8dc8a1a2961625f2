"""A small CNN trained end to end: two conv layers with max pooling and a linear head over a
batch of 64 1x28x28 images, cross-entropy, SGD with momentum. Seeded, llgrad starts from
PyTorch's exact weights and follows PyTorch's losses step by step; compiled (both back ends)
it matches eager."""
import numpy as np
import pytest

import llgrad


def make_step(lib, seed=0):
    lib.manual_seed(seed)
    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return model, step


def batch(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((64, 1, 28, 28)).astype(np.float32),
            rng.integers(0, 10, 64).astype(np.int64))


def test_eager_follows_torch():
    torch = pytest.importorskip("torch")
    x, y = batch()
    th_model, th_step = make_step(torch)
    ll_model, ll_step = make_step(llgrad)
    for name, p in th_model.state_dict().items():
        assert np.array_equal(ll_model.state_dict()[name].numpy(), p.numpy()), name
    for _ in range(3):
        th_loss = th_step(torch.tensor(x), torch.tensor(y)).item()
        ll_loss = ll_step(llgrad.tensor(x), llgrad.tensor(y)).item()
        assert ll_loss == pytest.approx(th_loss, rel=1e-5)
    for name, p in th_model.state_dict().items():
        np.testing.assert_allclose(ll_model.state_dict()[name].numpy(), p.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)


def test_compiled_training_step_matches_eager(each_backend):
    x, y = batch()
    eager_model, eager_step = make_step(llgrad)
    model, step = make_step(llgrad)
    compiled = llgrad.compile(step)
    xs, ys = llgrad.tensor(x), llgrad.tensor(y)
    for _ in range(3):
        expected = eager_step(xs, ys).item()
        assert compiled(xs, ys).item() == pytest.approx(expected, rel=1e-5)
    for (name, p), q in zip(model.named_parameters(), eager_model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-3,
                                   atol=1e-4 * np.abs(q.grad.numpy()).max(), err_msg=name)
    assert compiled.stats["traces"] == 1
    assert compiled.stats["executions"][each_backend] == 3
