"""The reduction rows of the op table, and what the table's tie-free inputs leave out: how
max/min/amax/norm share the gradient among tied elements, degenerate (0-d, empty) reductions."""
import warnings

import numpy as np
import pytest

import llgrad

from .harness import OpTests, graph, to_numpy


class TestReductionOps(OpTests):
    family = "reduction"


TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [-1.0, 2.0, -1.0, 2.0]])

TIED_REDUCTIONS = {
    "max_all": lambda lib, x: x.max(),
    "min_all": lambda lib, x: x.min(),
    "amax_all": lambda lib, x: x.amax(),
    "amax_dim": lambda lib, x: x.amax(1),
    "amin_dims": lambda lib, x: x.amin((0, 1), keepdim=True),
    "max_dim_values": lambda lib, x: x.max(1).values,
    "max_dim_keepdim": lambda lib, x: x.max(0, keepdim=True)[0],
    "min_dim_values": lambda lib, x: x.min(1).values,
    "norm_inf": lambda lib, x: x.norm(p=float("inf")),
    "norm_inf_dim": lambda lib, x: x.norm(p=float("inf"), dim=1),
    "maximum": lambda lib, x: lib.maximum(x, x.flip(1)),
    "clamp_at_bound": lambda lib, x: x.clamp(0.5, 2.0),
    "relu_at_zero": lambda lib, x: (x - 0.5).relu(),
}


@pytest.mark.parametrize("name", TIED_REDUCTIONS)
def test_gradient_at_ties_matches_torch(name):
    """Ties are where the derivative is a convention; PyTorch's: max/amax share it evenly,
    max(dim) gives it to the index it returns, maximum halves it, clamp keeps it at a bound."""
    torch = pytest.importorskip("torch")
    results = []
    for lib in (llgrad, torch):
        x = lib.tensor(TIES, requires_grad=True)
        out = TIED_REDUCTIONS[name](lib, x)
        upstream = np.random.default_rng(0).standard_normal(tuple(out.shape))
        out.backward(lib.tensor(upstream))
        results.append((to_numpy(out), to_numpy(x.grad), graph(out.grad_fn)))
    (value, grad, chain), (t_value, t_grad, t_chain) = results
    np.testing.assert_allclose(value, t_value, rtol=1e-12)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-12, atol=1e-12)
    assert chain == t_chain


def test_max_dim_returns_first_index_of_ties():
    x = llgrad.tensor(TIES)
    values, indices = x.max(1)
    assert indices.tolist() == [1, 0, 1]
    assert repr(x.max(1)).startswith("llgrad.return_types.max(\nvalues=tensor(")


def test_reductions_of_0d_tensors():
    x = llgrad.tensor(2.5, requires_grad=True)
    values, indices = x.max(0)
    assert values.item() == 2.5 and indices.item() == 0 and indices.dtype is llgrad.int64
    assert values.grad_fn.name() == "MaxBackward0"
    values.backward()
    assert x.grad.item() == 1.0
    assert x.sum().item() == 2.5 and x.mean(0).item() == 2.5 and x.prod().item() == 2.5


def test_degenerate_variance_is_nan_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (llgrad, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch warns about the degrees of freedom
            x = lib.tensor(2.0, requires_grad=True, dtype=lib.float64)
            v = x.var()
            v.backward()
        assert np.isnan(v.item()) and np.isnan(x.grad.item())
    assert llgrad.tensor([1.0, 2.0]).var(correction=2).isinf()


def test_empty_reductions_match_torch():
    torch = pytest.importorskip("torch")
    for expr in ["x.sum()", "x.sum(0)", "x.prod()", "x.mean(0)", "x.amax(1)", "x.norm()",
                 "x.cumsum(0)", "x.logsumexp(1)", "x.max(1).values"]:
        outs = []
        for lib in (llgrad, torch):
            x = lib.zeros(0, 3)
            try:
                outs.append(to_numpy(eval(expr, {"x": x})))
            except (RuntimeError, IndexError) as error:
                outs.append(type(error).__name__)
        if isinstance(outs[1], str):
            assert outs[0] == outs[1], expr
        else:
            np.testing.assert_array_equal(outs[0], outs[1], err_msg=expr)


def test_prod_gradient_with_zeros_matches_torch():
    """The product's gradient at zeros (one zero: the product of the others; two: zero)."""
    torch = pytest.importorskip("torch")
    data = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.5, -2.0, 0.5]])
    for fn in (lambda x: x.prod(), lambda x: x.prod(1), lambda x: x.prod(0, keepdim=True)):
        grads = []
        for lib in (llgrad, torch):
            x = lib.tensor(data, requires_grad=True)
            out = fn(x)
            out.backward(lib.ones_like(out))
            grads.append(to_numpy(x.grad))
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_mean_over_no_dims_reduces_everything_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (llgrad, torch):
        x = lib.arange(6.0).reshape(2, 3).requires_grad_()
        results = [x.mean(dim=()), x.mean(()), x.mean([]), lib.mean(x, dim=()),
                   x.sum(dim=())]
        assert [r.item() for r in results] == [2.5, 2.5, 2.5, 2.5, 15.0]
        assert type(results[0].grad_fn).__name__ == "MeanBackward1"
        assert type(results[4].grad_fn).__name__ == "SumBackward1"
        assert x.mean((), keepdim=True).shape == (1, 1)
        results[0].backward()
        np.testing.assert_allclose(x.grad.tolist(), [[1 / 6] * 3] * 2, rtol=1e-6)
