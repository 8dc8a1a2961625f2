"""gradcheck and gradgradcheck: passing on correct gradients, failing (raising GradcheckError
with PyTorch's message, or returning False) on a deliberately wrong custom Function, and
PyTorch's input checks."""
import pytest

import llgrad
from llgrad.autograd.gradcheck import GradcheckError

from .harness import Scenarios, assert_same_as_torch

SCENARIOS = Scenarios()


def _wrong_functions(torch):
    class WrongExp(torch.autograd.Function):
        """The derivative of exp, 10% off."""

        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y * 1.1

    class FlatSquare(torch.autograd.Function):
        """Right first derivative, but computed from a detached input: no second derivative."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x.detach()

    class IgnoresGradOutput(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return torch.ones_like(g) * 2

    return WrongExp, FlatSquare, IgnoresGradOutput


@SCENARIOS
def gradcheck_passes(torch):
    x = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([1.0, 2.0], dtype=torch.float64)
    print(torch.autograd.gradcheck(lambda x, w: (w @ x).tanh(), (x, w)))
    print(torch.autograd.gradcheck(lambda x: (x * 2, x.sum(), x.exp()), x))
    print(torch.autograd.gradcheck(lambda c, x: c * x[:2], (c, x)))
    print(torch.autograd.gradcheck(lambda x: (x > 0).double(), (x,)))  # no differentiable output
    print(x.grad, w.grad)


@SCENARIOS
def gradgradcheck_passes(torch):
    torch.manual_seed(0)
    x = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=torch.float64, requires_grad=True)
    print(torch.autograd.gradgradcheck(lambda x, w: (w @ x).tanh(), (x, w)))
    print(torch.autograd.gradgradcheck(lambda x: (x ** 3).sum() * x, (x,)))
    g = torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64)
    print(torch.autograd.gradgradcheck(lambda x: x.sin() * x, (x,), (g,)))


@SCENARIOS
def gradcheck_fails_on_a_wrong_function(torch):
    WrongExp, _, _ = _wrong_functions(torch)
    x = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    print(torch.autograd.gradcheck(WrongExp.apply, (x,), raise_exception=False))
    try:
        torch.autograd.gradcheck(WrongExp.apply, (x,))
    except RuntimeError as error:
        print(type(error).__name__)
        print(error)
    # a wide enough tolerance accepts it
    print(torch.autograd.gradcheck(WrongExp.apply, (x,), rtol=0.2))


@SCENARIOS
def gradcheck_fails_on_the_second_input(torch):
    WrongExp, _, _ = _wrong_functions(torch)
    x = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([1.5, 0.5], dtype=torch.float64, requires_grad=True)
    try:
        torch.autograd.gradcheck(lambda x, w: (x * 2, x * WrongExp.apply(w)), (x, w))
    except RuntimeError as error:
        print(error)


@SCENARIOS
def gradcheck_fails_when_backward_ignores_grad_output(torch):
    _, _, IgnoresGradOutput = _wrong_functions(torch)
    x = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    try:
        torch.autograd.gradcheck(lambda x: IgnoresGradOutput.apply(x).sum(), (x,))
    except RuntimeError as error:
        print(error)


@SCENARIOS
def gradgradcheck_fails_on_a_wrong_second_derivative(torch):
    _, FlatSquare, _ = _wrong_functions(torch)
    torch.manual_seed(0)
    x = torch.tensor([0.3, -0.2], dtype=torch.float64, requires_grad=True)
    print(torch.autograd.gradcheck(FlatSquare.apply, (x,)))
    print(torch.autograd.gradgradcheck(FlatSquare.apply, (x,), raise_exception=False))
    try:
        torch.autograd.gradgradcheck(FlatSquare.apply, (x,))
    except RuntimeError as error:
        print(type(error).__name__)
        print(error)


@SCENARIOS
def gradcheck_input_checks(torch):
    c = torch.tensor([1.0, 2.0], dtype=torch.float64)
    x32 = torch.tensor([0.3, -0.2], requires_grad=True)
    for args in ((lambda c: c * 2, (c,)),
                 (lambda x: x * 2, (x32,)),
                 (lambda x: x * 2, (torch.ones(1, dtype=torch.float64).expand(3)
                                    .requires_grad_(),))):
        try:
            print(torch.autograd.gradcheck(args[0], args[1], eps=1e-3, atol=1e-2))
        except (RuntimeError, ValueError) as error:
            print(type(error).__name__, error)


@pytest.mark.parametrize("scenario", SCENARIOS.params())
def test_matches_torch(scenario, torch):
    assert_same_as_torch(scenario, torch)


# ---- without PyTorch -----------------------------------------------------------------------------

def _x():
    return llgrad.tensor([0.3, -0.2, 0.7], dtype=llgrad.float64, requires_grad=True)


@pytest.mark.parametrize("fn", [lambda x: x.exp() * x.sin(), lambda x: (x @ x).tanh(),
                                lambda x: x.softmax(0), lambda x: (x.reshape(3, 1) * x).sum(1)])
def test_gradcheck_and_gradgradcheck_pass(fn):
    x = _x()
    assert llgrad.autograd.gradcheck(fn, (x,))
    assert llgrad.autograd.gradgradcheck(fn, (x,))
    assert x.grad is None and x._version == 0


def test_gradcheck_detects_a_wrong_function():
    WrongExp, FlatSquare, IgnoresGradOutput = _wrong_functions(llgrad)
    x = _x()
    assert llgrad.autograd.gradcheck(WrongExp.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        llgrad.autograd.gradcheck(WrongExp.apply, (x,))
    with pytest.raises(GradcheckError, match="backward not multiplied by grad_output"):
        llgrad.autograd.gradcheck(lambda x: IgnoresGradOutput.apply(x).sum(), (x,))
    assert llgrad.autograd.gradcheck(FlatSquare.apply, (x,))
    assert llgrad.autograd.gradgradcheck(FlatSquare.apply, (x,), raise_exception=False) is False


def test_gradcheck_requires_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        llgrad.autograd.gradcheck(lambda c: c * 2, (llgrad.ones(2, dtype=llgrad.float64),))


def test_gradcheck_of_empty_tensors():
    x = llgrad.zeros(3, 0, dtype=llgrad.float64, requires_grad=True)
    assert llgrad.autograd.gradcheck(lambda x: x.sum(0), (x,))
    y = _x()
    assert llgrad.autograd.gradcheck(lambda y: y[0:0] * 2, (y,))
    assert llgrad.autograd.gradgradcheck(lambda y: y[0:0] * 2, (y,))


def test_gradcheck_error_is_a_runtime_error():
    assert issubclass(GradcheckError, RuntimeError)
