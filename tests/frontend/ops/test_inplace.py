"""In-place ops: values, the returned object, version counters (`_version`), autograd through
in-place updates of non-leaves, and the errors PyTorch raises for leaves and their views."""
import numpy as np
import pytest

import llgrad

from .harness import graph, to_numpy

RNG = np.random.default_rng(3)
X = RNG.uniform(0.5, 2.0, (3, 4))
Y = RNG.uniform(0.5, 2.0, (3, 4))
Z = RNG.uniform(0.5, 2.0, (4,))
MASK = RNG.random((3, 4)) > 0.5

# name -> fn(lib, x, y, z): applies one in-place op to x
INPLACE = {
    "add_": lambda lib, x, y, z: x.add_(y),
    "add_alpha": lambda lib, x, y, z: x.add_(z, alpha=-0.5),
    "add_scalar": lambda lib, x, y, z: x.add_(2),
    "sub_": lambda lib, x, y, z: x.sub_(z),
    "mul_": lambda lib, x, y, z: x.mul_(y),
    "mul_scalar": lambda lib, x, y, z: x.mul_(0.5),
    "div_": lambda lib, x, y, z: x.div_(z),
    "pow_": lambda lib, x, y, z: x.pow_(2),
    "pow_tensor": lambda lib, x, y, z: x.pow_(z),
    "neg_": lambda lib, x, y, z: x.neg_(),
    "exp_": lambda lib, x, y, z: x.exp_(),
    "log_": lambda lib, x, y, z: x.log_(),
    "sqrt_": lambda lib, x, y, z: x.sqrt_(),
    "sigmoid_": lambda lib, x, y, z: x.sigmoid_(),
    "tanh_": lambda lib, x, y, z: x.tanh_(),
    "relu_": lambda lib, x, y, z: x.sub_(1.2).relu_(),
    "abs_": lambda lib, x, y, z: x.sub_(1.2).abs_(),
    "clamp_": lambda lib, x, y, z: x.clamp_(0.8, 1.5),
    "clamp_min_": lambda lib, x, y, z: x.clamp_min_(1.1),
    "clamp_max_": lambda lib, x, y, z: x.clamp_max_(1.1),
    "floor_": lambda lib, x, y, z: x.floor_(),
    "round_": lambda lib, x, y, z: x.round_(),
    "sign_": lambda lib, x, y, z: x.sub_(1.2).sign_(),
    "addcmul_": lambda lib, x, y, z: x.addcmul_(y, z, value=0.5),
    "addcdiv_": lambda lib, x, y, z: x.addcdiv_(y, z, value=-2),
    "lerp_": lambda lib, x, y, z: x.lerp_(y, 0.3),
    "fill_": lambda lib, x, y, z: x.fill_(1.5),
    "zero_": lambda lib, x, y, z: x.zero_(),
    "copy_": lambda lib, x, y, z: x.copy_(z),
    "masked_fill_": lambda lib, x, y, z: x.masked_fill_(lib.tensor(MASK), -1.0),
    "iadd": lambda lib, x, y, z: x.__iadd__(y),
    "isub": lambda lib, x, y, z: x.__isub__(1),
    "imul": lambda lib, x, y, z: x.__imul__(z),
    "itruediv": lambda lib, x, y, z: x.__itruediv__(2),
    "scatter_add_": lambda lib, x, y, z: x.scatter_add_(1, lib.tensor([[0, 1], [3, 3], [2, 0]]),
                                                        y[:, :2]),
    "index_add_": lambda lib, x, y, z: x.index_add_(0, lib.tensor([2, 0]), y[:2]),
    "setitem": lambda lib, x, y, z: x.__setitem__((slice(None), 1), 7.0) or x,
}
# In-place ops PyTorch also records for autograd on a non-leaf (its grad_fn chain is compared).
AUTOGRAD = [name for name in INPLACE if name not in ("index_add_",)]


def _fresh(lib, requires_grad=False):
    x = lib.tensor(X, requires_grad=requires_grad)
    y = lib.tensor(Y, requires_grad=requires_grad)
    z = lib.tensor(Z, requires_grad=requires_grad)
    return x, y, z


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_values_identity_and_version(name):
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (llgrad, torch):
        x, y, z = _fresh(lib)
        before = x._version
        result = INPLACE[name](lib, x, y, z)
        assert result is x, f"{name} must return the tensor it changed"
        outcomes.append((to_numpy(x), x._version - before, str(x.dtype).split(".")[-1]))
    (values, bumps, dtype), (t_values, t_bumps, t_dtype) = outcomes
    np.testing.assert_allclose(values, t_values, rtol=1e-12)
    assert dtype == t_dtype
    assert bumps == t_bumps, f"{name}: version went up by {bumps}, PyTorch {t_bumps}"


@pytest.mark.parametrize("name", AUTOGRAD)
def test_inplace_on_a_non_leaf_matches_torch(name):
    """y = x * 1; y.op_(...): the result's grad_fn chain and the leaves' gradients."""
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (llgrad, torch):
        x, y, z = _fresh(lib, requires_grad=True)
        h = x * 1
        out = INPLACE[name](lib, h, y, z)
        upstream = lib.tensor(np.random.default_rng(0).standard_normal((3, 4)))
        out.backward(upstream)
        outcomes.append((to_numpy(out), graph(out.grad_fn),
                         [None if t.grad is None else to_numpy(t.grad) for t in (x, y, z)]))
    (values, chain, grads), (t_values, t_chain, t_grads) = outcomes
    np.testing.assert_allclose(values, t_values, rtol=1e-12)
    assert chain == t_chain
    for g, tg in zip(grads, t_grads):
        if tg is None:
            assert g is None or not g.any()
        else:
            np.testing.assert_allclose(g, tg, rtol=1e-10, atol=1e-12)


def test_inplace_on_leaf_that_requires_grad_raises():
    x = llgrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation."):
        x.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x[0] = 2.0
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x += 1


def test_inplace_on_view_of_leaf_raises():
    x = llgrad.ones(3, 4, requires_grad=True)
    for view in (x[0], x[:, 1:], x.t(), x.view(12), x.unsqueeze(0), x.expand(2, 3, 4)[0]):
        with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is "
                                               "being used in an in-place operation."):
            view.mul_(2)


def test_inplace_allowed_under_no_grad_and_bumps_version():
    x = llgrad.ones(3, requires_grad=True)
    with llgrad.no_grad():
        x.mul_(2)
        x[1] = 5.0
        x.data.add_(1)  # .data has its own version counter
    assert x.tolist() == [3.0, 6.0, 3.0]
    assert x._version == 2 and x.requires_grad and x.is_leaf and x.grad_fn is None


def test_views_share_the_version_counter():
    x = llgrad.zeros(3, 4)
    views = [x[0], x[:, ::2], x.t(), x.view(12), x.reshape(4, 3), x.unsqueeze(0), x.detach(),
             x.expand(2, 3, 4), x.select(1, 2), x.narrow(0, 1, 2), x.permute(1, 0),
             x.squeeze(), x.unbind(0)[1], x.split(2)[0]]
    views[0].add_(1)
    for v in views:
        assert v._version == x._version == 1
    x[1, 1] = 3.0
    assert all(v._version == 2 for v in views)
    assert x.clone()._version == 0 and x.data._version == 0


def test_modified_saved_tensor_is_detected():
    torch = pytest.importorskip("torch")
    messages = []
    for lib in (llgrad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * 2
        out = h.exp()  # saves its output
        out.mul_(2)
        with pytest.raises(RuntimeError) as error:
            out.sum().backward()
        messages.append(str(error.value))
    assert messages[0].split("Hint")[0].replace("llgrad.", "torch.") == \
        messages[1].split("Hint")[0]


def test_saved_input_modified_in_place():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    out = h * h  # saves h
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_inplace_result_type_must_fit():
    torch = pytest.importorskip("torch")
    for expr in ["x.add_(1.5)", "x.mul_(y)", "x.div_(2)", "b.add_(1)", "x.add_(b)",
                 "y.add_(x)", "x.clamp_(0.5, 1.5)", "x.sqrt_()"]:
        outcomes = []
        for lib in (llgrad, torch):
            x = lib.tensor([1, 2, 3])
            y = lib.tensor([1.0, 2.0, 3.0])
            b = lib.tensor([True, False, True])
            try:
                r = eval(expr, {"x": x, "y": y, "b": b})
                outcomes.append((str(r.dtype).split(".")[-1], r.tolist()))
            except RuntimeError as error:  # (PyTorch names the type "Long" or "long int")
                outcomes.append(str(error).replace("long int", "Long"))
        assert outcomes[0] == outcomes[1], (expr, outcomes)


def test_inplace_keeps_identity_and_storage():
    x = llgrad.zeros(3)
    storage = x._data
    y = x
    y += 1
    y *= 3
    assert y is x and x._data is storage and x.tolist() == [3.0, 3.0, 3.0]
