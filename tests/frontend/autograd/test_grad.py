"""autograd.grad: grad_outputs, allow_unused, materialize_grads, create_graph, several outputs
and inputs, and higher-order derivatives (values and grad_fn names up to the 4th order)."""
import numpy as np
import pytest

import llgrad

from .harness import Scenarios, assert_same_as_torch

SCENARIOS = Scenarios()


@SCENARIOS
def grad_returns_and_does_not_accumulate(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 2).sum()
    g = torch.autograd.grad(y, x)
    print(type(g).__name__, g, x.grad, g[0].requires_grad, g[0].is_leaf)


@SCENARIOS
def grad_outputs(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    print(torch.autograd.grad(x * x, x, grad_outputs=torch.tensor([1.0, 10.0])))
    print(torch.autograd.grad(x * x, [x], [torch.tensor([1.0, 10.0])]))
    y = x * x
    print(torch.autograd.grad([y, y.sum()], [x], grad_outputs=[torch.ones(2), None]))
    y = x * x
    s = y.sum()
    print(torch.autograd.grad([s, y], x, [None, torch.ones(2)]))  # a root below another root


@SCENARIOS
def grad_with_respect_to_several_inputs(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, -1.0], requires_grad=True)
    z = x * w
    y = (z * z).sum()
    print(torch.autograd.grad(y, [x, w], retain_graph=True))
    print(torch.autograd.grad(y, [z, x], retain_graph=True))  # a non-leaf among the inputs
    print(torch.autograd.grad(y, [x, x]))  # the same input twice


@SCENARIOS
def grad_with_dict_inputs(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, -1.0], requires_grad=True)
    print(torch.autograd.grad((x * w).sum(), {"a": x, "b": w}))


@SCENARIOS
def allow_unused_and_materialize_grads(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (w * 2).sum()
    print(torch.autograd.grad(y, [w, x], retain_graph=True, allow_unused=True))
    print(torch.autograd.grad(y, [w, x], retain_graph=True, materialize_grads=True))
    print(torch.autograd.grad(y, [x], retain_graph=True, allow_unused=True))
    for kwargs in ({}, {"materialize_grads": True, "allow_unused": False}):
        try:
            torch.autograd.grad(y, [w, x], retain_graph=True, **kwargs)
        except (RuntimeError, ValueError) as error:
            print(type(error).__name__, error)


@SCENARIOS
def grad_of_an_output_that_is_an_input(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    print(torch.autograd.grad(x, x, torch.ones(2)))
    print(torch.autograd.grad(x.sum(), x))
    print(torch.autograd.grad([x.sum(), torch.ones(1)], [x]))


@SCENARIOS
def grad_runs_retain_grad_and_hooks(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    x.register_hook(lambda g: g * 10)
    print(torch.autograd.grad((y * y).sum(), x))
    print(y.grad, x.grad)


@SCENARIOS
def create_graph_first_and_second_derivative(torch):
    x = torch.tensor([2.0], requires_grad=True)
    y = x ** 3
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    print(g, g.requires_grad, g.is_leaf)
    (h,) = torch.autograd.grad(g, x)
    print(h, h.requires_grad)


@SCENARIOS
def create_graph_with_a_constant_gradient(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad((x * 3).sum(), x, create_graph=True)
    print(g, g.requires_grad, g.grad_fn)


@SCENARIOS
def higher_order_polynomial(torch):
    x = torch.tensor(2.0, requires_grad=True)
    g = x ** 4
    for _ in range(5):
        (g,) = torch.autograd.grad(g, x, create_graph=True)
        print(g)


ORDERED = Scenarios()  # the order PyTorch's engine runs nodes in shows in these


@ORDERED
def higher_order_up_to_fourth(torch):
    x = torch.tensor([0.5, 1.5], requires_grad=True, dtype=torch.float64)
    g = (x.exp() * x.sin() + x ** 5 / (1 + x)).sum()
    for order in range(1, 5):
        (g,) = torch.autograd.grad(g, x, create_graph=True)
        print(order, g, g.grad_fn.name(),
              [fn.name() if fn is not None else None for fn, _ in g.grad_fn.next_functions])
        g = g.sum()


@SCENARIOS
def higher_order_of_a_product_of_leaves(torch):
    x = torch.tensor([1.5, -0.5], requires_grad=True, dtype=torch.float64)
    w = torch.tensor([0.3, 2.0], requires_grad=True, dtype=torch.float64)
    y = (x * x * w + (x * w).exp()).sum()
    gx, gw = torch.autograd.grad(y, [x, w], create_graph=True)
    print(gx, gw)
    hxx, hxw = torch.autograd.grad(gx.sum(), [x, w], create_graph=True)
    print(hxx, hxw)
    (third,) = torch.autograd.grad(hxx.sum(), w)
    print(third)


@SCENARIOS
def hessian_vector_product(torch):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=torch.float64)
    y = (x ** 3).sum() + x[0] * x[1] * x[2]
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    v = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    (hv,) = torch.autograd.grad(g, x, v)
    print(g, hv)


@SCENARIOS
def gradient_penalty(torch):
    w = torch.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    out = (x @ w).tanh().sum()
    (gx,) = torch.autograd.grad(out, x, create_graph=True)
    penalty = (gx.norm() - 1) ** 2
    penalty.backward()
    print(penalty, w.grad, x.grad)


@pytest.mark.parametrize("scenario", SCENARIOS.params())
def test_matches_torch(scenario, torch):
    assert_same_as_torch(scenario, torch)


@pytest.mark.parametrize("scenario", ORDERED.params())
def test_matches_torch_in_torchs_node_order(scenario, torch, sequence_numbers):
    assert_same_as_torch(scenario, torch)


def test_recorded_nodes_have_sequence_numbers():
    x = llgrad.tensor([1.0], requires_grad=True)
    assert (x * 2).grad_fn._seq is not None


# ---- without PyTorch -----------------------------------------------------------------------------

def test_grad_values_and_no_accumulation():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    (g,) = llgrad.autograd.grad((x ** 2).sum(), x)
    assert g.tolist() == [2.0, 4.0] and x.grad is None and not g.requires_grad


def test_duplicate_inputs_and_roots_below_roots():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    a, b = llgrad.autograd.grad(y.sum(), [x, x], retain_graph=True)
    assert a.tolist() == b.tolist() == [2.0, 4.0]
    (g,) = llgrad.autograd.grad([y, y.sum()], x, [llgrad.ones(2), None])
    assert g.tolist() == [4.0, 8.0]


def test_allow_unused_and_materialize_grads():
    x = llgrad.tensor([1.0], requires_grad=True)
    w = llgrad.tensor([1.0], requires_grad=True)
    y = w * 2
    assert llgrad.autograd.grad(y, [w, x], retain_graph=True, allow_unused=True)[1] is None
    assert llgrad.autograd.grad(y, [w, x], retain_graph=True,
                                materialize_grads=True)[1].tolist() == [0.0]
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        llgrad.autograd.grad(y, [w, x])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_higher_order_derivatives_of_sin(order):
    x = llgrad.tensor([0.3, 1.2], requires_grad=True, dtype=llgrad.float64)
    g = x.sin().sum()
    for _ in range(order):
        (d,) = llgrad.autograd.grad(g, x, create_graph=True)
        g = d.sum()
    expected = [np.cos, lambda v: -np.sin(v), lambda v: -np.cos(v), np.sin][order - 1]
    np.testing.assert_allclose(d.detach().numpy(), expected(np.array([0.3, 1.2])), rtol=1e-12)
    assert d.requires_grad and g.grad_fn.name() == "SumBackward0"


def test_higher_order_of_x_to_the_fourth():
    x = llgrad.tensor(2.0, requires_grad=True)
    values = []
    g = x ** 4
    for _ in range(4):
        (g,) = llgrad.autograd.grad(g, x, create_graph=True)
        values.append(g.item())
    assert values == [32.0, 48.0, 48.0, 24.0]
