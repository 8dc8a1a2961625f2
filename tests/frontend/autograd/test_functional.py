"""autograd.functional (jacobian, hessian, vjp, jvp, hvp, vhp) against PyTorch: values, the
shapes and nesting of tuple results, create_graph (results that are differentiable, and
gradients through them to parameters), strict mode and every error PyTorch gives; then the
values against finite differences where torch is not installed."""
import numpy as np
import pytest

import llgrad

from .harness import Scenarios, assert_same_as_torch

SCENARIOS = Scenarios()


def _inputs(torch):
    x = torch.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=torch.float64)
    y = torch.tensor([1.0, 3.0], dtype=torch.float64)
    return x, y


def _show(torch, result):
    """A (nested) result as values, requires_grad flags and shapes: grad_fn names of
    double-backward graphs are not compared (llgrad names its own nodes there)."""
    if isinstance(result, tuple):
        print("(")
        for r in result:
            _show(torch, r)
        print(")")
    else:
        print(result.detach(), result.requires_grad, tuple(result.shape))


def _fn_exp_sum(a):
    return (a.exp() * a).sum(1)


def _fn_tanh_matvec(a, b):
    return (a @ b).tanh()


def _fn_scalar_of_two(a, b):
    return (a ** 3).sum() * b.sin().sum()


@SCENARIOS
def vjp_values(torch):
    x, y = _inputs(torch)
    F = torch.autograd.functional
    v = torch.tensor([1.0, -2.0], dtype=torch.float64)
    print(F.vjp(_fn_exp_sum, x, v))
    print(F.vjp(_fn_tanh_matvec, (x, y), v))
    print(F.vjp(lambda a: a.sum(), x))
    print(F.vjp(lambda a: (a, a.sum()), x, (torch.ones(2, 2, dtype=torch.float64),
                                             torch.tensor(2.0, dtype=torch.float64))))


@SCENARIOS
def vjp_create_graph(torch):
    x, _ = _inputs(torch)
    v = torch.tensor([1.0, -2.0], dtype=torch.float64)
    out, grad = torch.autograd.functional.vjp(_fn_exp_sum, x, v, create_graph=True)
    print(out, grad)
    xr = x.clone().requires_grad_(True)
    out, grad = torch.autograd.functional.vjp(_fn_exp_sum, xr, v, create_graph=True)
    grad.sum().backward()  # through the vjp to the caller's leaf
    print(xr.grad)


@SCENARIOS
def vjp_independent_inputs(torch):
    x, y = _inputs(torch)
    F = torch.autograd.functional
    print(F.vjp(lambda a, b: a.sum(), (x, y)))
    print(F.vjp(lambda a: torch.ones(1, dtype=torch.float64), x))
    for strict_case in (lambda: F.vjp(lambda a, b: a.sum(), (x, y), strict=True),
                        lambda: F.vjp(lambda a: torch.ones(1), x, strict=True)):
        try:
            strict_case()
        except RuntimeError as error:
            print("RuntimeError:", error)


@SCENARIOS
def vjp_argument_errors(torch):
    x, _ = _inputs(torch)
    F = torch.autograd.functional
    cases = [lambda: F.vjp(_fn_exp_sum, x),
             lambda: F.vjp(_fn_exp_sum, x, torch.ones(3)),
             lambda: F.vjp(lambda a: (a, a.sum()), x, (torch.ones(2, 2),)),
             lambda: F.vjp(lambda a: (a, a.sum()), x, (torch.ones(2, 2), torch.ones(2))),
             lambda: F.vjp(_fn_exp_sum, [x], torch.ones(2)),
             lambda: F.vjp(_fn_exp_sum, (x, 3), torch.ones(2)),
             lambda: F.vjp(lambda a: 3, x)]
    for case in cases:
        try:
            case()
        except (RuntimeError, TypeError) as error:
            print(type(error).__name__, error)


@SCENARIOS
def jvp_values(torch):
    x, y = _inputs(torch)
    F = torch.autograd.functional
    vx = torch.tensor([[1.0, 0.5], [-1.0, 2.0]], dtype=torch.float64)
    v2 = torch.tensor([1.0, -2.0], dtype=torch.float64)
    print(F.jvp(_fn_exp_sum, x, vx))
    print(F.jvp(_fn_tanh_matvec, (x, y), (vx, v2)))
    _show(torch, F.jvp(_fn_tanh_matvec, (x, y), (vx, v2), create_graph=True))
    print(F.jvp(lambda a: a * 3, torch.tensor([2.0], dtype=torch.float64)))
    for case in (lambda: F.jvp(_fn_exp_sum, x),
                 lambda: F.jvp(lambda a, b: a.sum(), (x, y), (vx, v2), strict=True),
                 lambda: F.jvp(lambda a: a * 2, x, vx, strict=True)):
        try:
            print(case())
        except RuntimeError as error:
            print("RuntimeError:", error)


@SCENARIOS
def jacobian_values(torch):
    x, y = _inputs(torch)
    F = torch.autograd.functional
    print(F.jacobian(_fn_exp_sum, x))
    print(F.jacobian(_fn_tanh_matvec, (x, y)))
    print(F.jacobian(lambda a: (a, a.sum()), x))
    print(F.jacobian(lambda a, b: a.sum(), (x, y)))
    _show(torch, F.jacobian(_fn_tanh_matvec, (x, y), create_graph=True))


@SCENARIOS
def jacobian_gradient_reaches_parameters(torch):
    _, y = _inputs(torch)
    w = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(lambda a: (a * w).tanh(), y, create_graph=True)
    jac.sum().backward()
    print(jac.detach(), w.grad)


@SCENARIOS
def jacobian_errors(torch):
    x, y = _inputs(torch)
    F = torch.autograd.functional
    cases = [lambda: F.jacobian(lambda a, b: a.sum(), (x, y), strict=True),
             lambda: F.jacobian(lambda a: a * 2, x, strict=True, create_graph=True),
             lambda: F.jacobian(_fn_exp_sum, x, vectorize=True, strict=True),
             lambda: F.jacobian(_fn_exp_sum, x, strategy="forward-mode", create_graph=True),
             lambda: F.jacobian(_fn_exp_sum, x, strategy="forward-mode", strict=True),
             lambda: F.jacobian(_fn_exp_sum, x, strategy="forward-mode"),
             lambda: F.jacobian(_fn_exp_sum, x, strategy="sideways")]
    for case in cases:
        try:
            case()
        except (RuntimeError, NotImplementedError, AssertionError) as error:
            print(type(error).__name__, error)


@SCENARIOS
def hessian_values(torch):
    x, y = _inputs(torch)
    F = torch.autograd.functional
    print(F.hessian(lambda a: (a ** 3).sum(), x))
    print(F.hessian(_fn_scalar_of_two, (x, y)))
    print(F.hessian(lambda a: a.sum() * 2, x))
    _show(torch, F.hessian(_fn_scalar_of_two, (x, y), create_graph=True))


@SCENARIOS
def hessian_errors(torch):
    x, _ = _inputs(torch)
    F = torch.autograd.functional
    cases = [lambda: F.hessian(_fn_exp_sum, x),
             lambda: F.hessian(lambda a: (a.sum(),), x),
             lambda: F.hessian(lambda a: a.sum() * 2, x, strict=True),
             lambda: F.hessian(_fn_exp_sum, x, outer_jacobian_strategy="sideways"),
             lambda: F.hessian(lambda a: (a ** 3).sum(), x,
                               outer_jacobian_strategy="forward-mode")]
    for case in cases:
        try:
            case()
        except (RuntimeError, NotImplementedError, AssertionError) as error:
            print(type(error).__name__, error)


@SCENARIOS
def hvp_and_vhp(torch):
    x, y = _inputs(torch)
    F = torch.autograd.functional
    vx = torch.tensor([[1.0, 0.5], [-1.0, 2.0]], dtype=torch.float64)
    v2 = torch.tensor([1.0, -2.0], dtype=torch.float64)
    print(F.hvp(_fn_scalar_of_two, (x, y), (vx, v2)))
    print(F.vhp(_fn_scalar_of_two, (x, y), (vx, v2)))
    _show(torch, F.hvp(lambda a: (a ** 3).sum(), x, vx, create_graph=True))
    _show(torch, F.vhp(lambda a: (a ** 3).sum(), x, vx, create_graph=True))
    print(F.hvp(lambda a: a.sum() * 2, x, vx))
    print(F.hvp(lambda a: (a ** 3).sum(), torch.tensor([2.0], dtype=torch.float64)))


@SCENARIOS
def hvp_and_vhp_errors(torch):
    x, _ = _inputs(torch)
    F = torch.autograd.functional
    vx = torch.ones(2, 2, dtype=torch.float64)
    cases = [lambda: F.hvp(lambda a: a.sum() * 2, x, vx, strict=True),
             lambda: F.vhp(lambda a: a.sum() * 2, x, vx, strict=True),
             lambda: F.hvp(lambda a: (a ** 2).sum(), x, vx, strict=True),
             lambda: F.vhp(_fn_exp_sum, x, vx),
             lambda: F.hvp(lambda a: (a, a.sum()), x, vx),
             lambda: F.vhp(lambda a: (a ** 3).sum(), x)]
    for case in cases:
        try:
            print(case())
        except RuntimeError as error:
            print("RuntimeError:", error)


@SCENARIOS
def grad_mode_of_the_results(torch):
    x, _ = _inputs(torch)
    v = torch.tensor([1.0, -2.0], dtype=torch.float64)
    with torch.no_grad():
        out, grad = torch.autograd.functional.vjp(_fn_exp_sum, x, v)
        print(out.requires_grad, grad.requires_grad, torch.is_grad_enabled())
        out, grad = torch.autograd.functional.vjp(_fn_exp_sum, x, v, create_graph=True)
        print(out.requires_grad, grad.requires_grad, torch.is_grad_enabled())


@pytest.mark.parametrize("scenario", SCENARIOS.params())
def test_matches_torch(scenario, torch):
    assert_same_as_torch(scenario, torch)


# ---- without torch: finite differences -----------------------------------------------------------

def _numeric_jacobian(fn, x, eps=1e-6):
    x = np.asarray(x, dtype=np.float64)
    base = np.asarray(fn(x))
    jac = np.zeros(base.shape + x.shape)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        jac[(...,) + index] = (np.asarray(fn(x + step)) - np.asarray(fn(x - step))) / (2 * eps)
    return jac


def test_jacobian_and_hessian_match_finite_differences():
    x0 = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = llgrad.tensor(x0)
    jac = llgrad.autograd.functional.jacobian(_fn_exp_sum, x)
    expected = _numeric_jacobian(lambda a: (np.exp(a) * a).sum(1), x0)
    np.testing.assert_allclose(jac.numpy(), expected, rtol=1e-6, atol=1e-8)
    hess = llgrad.autograd.functional.hessian(lambda a: (a ** 3).sum(), x)
    expected = np.diag((6 * x0).ravel()).reshape(2, 2, 2, 2)
    np.testing.assert_allclose(hess.numpy(), expected, rtol=1e-12)


def test_products_agree_with_the_jacobian_and_hessian():
    x = llgrad.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=llgrad.float64)
    v_out = llgrad.tensor([1.0, -2.0], dtype=llgrad.float64)
    v_in = llgrad.tensor([[1.0, 0.5], [-1.0, 2.0]], dtype=llgrad.float64)
    F = llgrad.autograd.functional
    jac = F.jacobian(_fn_exp_sum, x).numpy().reshape(2, 4)
    np.testing.assert_allclose(F.vjp(_fn_exp_sum, x, v_out)[1].numpy().ravel(),
                               v_out.numpy() @ jac)
    np.testing.assert_allclose(F.jvp(_fn_exp_sum, x, v_in)[1].numpy(),
                               jac @ v_in.numpy().ravel())
    cubic = lambda a: (a ** 3).sum()  # noqa: E731
    hess = F.hessian(cubic, x).numpy().reshape(4, 4)
    np.testing.assert_allclose(F.hvp(cubic, x, v_in)[1].numpy().ravel(), hess @ v_in.numpy().ravel())
    np.testing.assert_allclose(F.vhp(cubic, x, v_in)[1].numpy().ravel(), v_in.numpy().ravel() @ hess)


def test_vectorize_says_what_is_missing():
    x = llgrad.ones(2, dtype=llgrad.float64)
    with pytest.raises(NotImplementedError, match="vectorize=True needs vmap"):
        llgrad.autograd.functional.jacobian(lambda a: a * 2, x, vectorize=True)
    with pytest.raises(NotImplementedError, match='strategy="forward-mode" needs vmap'):
        llgrad.autograd.functional.jacobian(lambda a: a * 2, x, vectorize=True,
                                            strategy="forward-mode")
