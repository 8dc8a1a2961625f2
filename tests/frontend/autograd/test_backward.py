"""Tensor.backward and autograd.backward: gradient=, retain_graph=, create_graph=, inputs=;
accumulation into .grad; leaves and non-leaves (the .grad warning, retain_grad, requires_grad_);
grad_fn names and next_functions; detach, detach_ and .data.

The scenarios print what they observe and must print exactly what PyTorch prints; the tests after
them check the essentials without PyTorch.
"""
import warnings

import numpy as np
import pytest

import llgrad
from llgrad.tensor import NON_LEAF_GRAD_WARNING

from .harness import Scenarios, assert_same_as_torch

SCENARIOS = Scenarios()


# ---- backward's arguments ------------------------------------------------------------------------

@SCENARIOS
def scalar_backward(torch):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x + 2 * x).sum()
    print(y.backward())
    print(x.grad)


@SCENARIOS
def gradient_argument(torch):
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    y.backward(gradient=torch.tensor([[1.0, 0.5], [0.0, -1.0]]))
    print(x.grad)
    z = x.exp()
    z.backward(torch.ones(2, 2, dtype=torch.float64))  # another dtype is cast, as in PyTorch
    print(x.grad)


@SCENARIOS
def one_element_output_needs_no_gradient(torch):
    x = torch.tensor([[2.0]], requires_grad=True)
    (x * 3).backward()
    print(x.grad)


@SCENARIOS
def backward_of_a_leaf(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.backward(torch.tensor([3.0, 4.0]))
    print(x.grad)
    x.sum().backward()
    print(x.grad)


@SCENARIOS
def autograd_backward_of_several_tensors(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    s = y.sum()
    torch.autograd.backward([y, s], [torch.tensor([1.0, 10.0]), None])
    print(x.grad)
    torch.autograd.backward((x * 3).sum())
    print(x.grad)


@SCENARIOS
def retain_graph(torch):
    x = torch.tensor([2.0], requires_grad=True)
    y = x ** 3
    y.backward(retain_graph=True)
    print(x.grad)
    y.backward(retain_graph=True)
    print(x.grad)
    y.backward()
    print(x.grad)


@SCENARIOS
def create_graph_backward(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    print(g, g.requires_grad, g.is_leaf, g._version)
    print(g.grad_fn.name(), g.grad_fn.next_functions[0], g.grad_fn.next_functions[1][0].name())
    x.grad = None
    g.sum().backward()
    print(x.grad)


@SCENARIOS
def create_graph_backward_accumulates_out_of_place(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    y.backward(create_graph=True)
    first = x.grad
    y.backward(create_graph=True)
    print(x.grad, x.grad is first, first)
    x.grad = torch.ones(2)
    (x ** 2).sum().backward(create_graph=True)
    print(x.grad)


@SCENARIOS
def plain_backward_into_a_grad_with_history(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    (x ** 2).sum().backward()  # adds in place, as PyTorch does without grad mode
    print(g is x.grad, x.grad, x.grad._version)


@SCENARIOS
def inputs_argument(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    y.backward(inputs=[x], retain_graph=True)
    print(x.grad, w.grad)
    y.backward(inputs=w, retain_graph=True)
    print(x.grad, w.grad)
    y.backward(inputs=(x, w))
    print(x.grad, w.grad)


@SCENARIOS
def inputs_argument_with_a_non_leaf(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    z = x * 2
    (z * z).sum().backward(inputs=[z])
    print(z.grad, z.retains_grad, x.grad)


@SCENARIOS
def inputs_argument_unreached(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    (x * 2).sum().backward(inputs=[w])
    print(x.grad, w.grad)


# ---- accumulation --------------------------------------------------------------------------------

@SCENARIOS
def grad_accumulates_and_zero_(torch):
    x = torch.tensor([2.0], requires_grad=True)
    (x ** 2).backward()
    g = x.grad
    print(g, g._version)
    (x ** 3).backward()
    print(x.grad, x.grad is g, g._version)
    x.grad.zero_()
    print(x.grad, g._version)
    (x * 5).backward()
    print(x.grad, x.grad is g)
    x.grad = None
    (x * 5).backward()
    print(x.grad, x.grad is g, g)


@SCENARIOS
def grad_does_not_alias_the_seed(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    seed = torch.tensor([1.0, 1.0])
    x.backward(seed)
    x.grad.add_(1)
    print(seed, x.grad)
    y = torch.tensor([1.0, 2.0], requires_grad=True)
    z = torch.tensor([1.0, 2.0], requires_grad=True)
    (y + z).backward(seed)
    y.grad.mul_(3)
    print(seed, y.grad, z.grad)


@SCENARIOS
def assigned_grad_is_kept_and_accumulated_into(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    mine = torch.tensor([5.0, 5.0])
    x.grad = mine
    (x * 2).sum().backward()
    print(x.grad is mine, mine)
    del x.grad
    print(x.grad)


@SCENARIOS
def grad_of_a_leaf_used_twice(torch):
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    y = x * x + x.sin() * x
    y.sum().backward()
    print(x.grad)


@SCENARIOS
def broadcasting_gradients_are_summed(torch):
    x = torch.tensor([[1.0], [2.0]], requires_grad=True)
    b = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = torch.tensor(2.0, requires_grad=True)
    (x * b + s).sum().backward()
    print(x.grad, b.grad, s.grad)


# ---- leaves, non-leaves, requires_grad -----------------------------------------------------------

@SCENARIOS
def leaves_and_non_leaves(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([1.0, 2.0])
    y = x * 2
    print(x.is_leaf, c.is_leaf, y.is_leaf, (c * 2).is_leaf)
    print(x.requires_grad, c.requires_grad, y.requires_grad, (c * 2).requires_grad)
    print(x.grad_fn, c.grad_fn, y.grad_fn.name())
    y.sum().backward()
    print(y.grad)  # warns: a non-leaf's .grad is not populated


@SCENARIOS
def non_leaf_grad_assigned_does_not_warn(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.grad = torch.ones(2)
    print(y.grad)


@SCENARIOS
def retain_grad(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.retain_grad()
    print(y.retains_grad, x.retains_grad)
    z = (y * y).sum()
    z.backward(retain_graph=True)
    first = y.grad
    print(y.grad, x.grad)
    z.backward()
    print(y.grad, first, y.grad is first, x.grad)
    x.retain_grad()  # a leaf that requires grad: nothing to do
    print(x.retains_grad)


@SCENARIOS
def retain_grad_with_create_graph(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y ** 3).sum().backward(create_graph=True)
    print(y.grad, y.grad.grad_fn.name(), x.grad)


@SCENARIOS
def retain_grad_follows_an_in_place_update(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.add_(1)
    (y * y).sum().backward()
    print(y.grad, x.grad)


@SCENARIOS
def requires_grad_rules(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    print(y.requires_grad_(True) is y, y.requires_grad)
    z = torch.zeros(2)
    print(z.requires_grad_(), z.is_leaf)
    z.requires_grad = False
    print(z)
    z.requires_grad_()
    z.requires_grad_(False)
    print(z.requires_grad)
    for action in (lambda: y.requires_grad_(False),
                   lambda: setattr(y, "requires_grad", False),
                   lambda: torch.tensor([1, 2]).requires_grad_()):
        try:
            action()
        except RuntimeError as error:
            print(error)


@SCENARIOS
def requires_grad_propagates(torch):
    a = torch.tensor([1.0, 2.0])
    b = torch.tensor([1.0, 2.0], requires_grad=True)
    print((a + a).requires_grad, (a + b).requires_grad, (a.exp() * b).grad_fn.name())
    print((b > 1).requires_grad, b.argmax().requires_grad, (b * 2).floor().requires_grad)
    print(b.sum().item(), b.tolist())


# ---- grad_fn and next_functions ------------------------------------------------------------------

@SCENARIOS
def grad_fn_names_and_next_functions(torch):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * w + 2).sum()
    print(y.grad_fn, y.grad_fn.name(), y.grad_fn.next_functions)
    add = y.grad_fn.next_functions[0][0]
    print(add.name(), add.next_functions)
    mul = add.next_functions[0][0]
    print(mul.name(), mul.next_functions)
    acc_x, acc_w = (edge[0] for edge in mul.next_functions)
    print(acc_x, acc_x.name(), acc_x.next_functions, acc_x.variable is x, acc_w.variable is w)


@SCENARIOS
def next_functions_of_constants_and_scalars(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = torch.tensor([3.0, 4.0])
    for y in (x * c, c * x, x + 1, 1 - x, x ** 2, 2 ** x, x @ c, x.sum(), x.mean(), x.exp(),
              x.view(2, 1), x.t(), x[0], x.reshape(1, 2), torch.cat([x, c]), x.clone(),
              x.to(torch.float64), x.max(), torch.where(c > 3, x, c)):
        edges = [(type(fn).__name__ if fn is not None else None, nr)
                 for fn, nr in y.grad_fn.next_functions]
        print(y.grad_fn.name(), edges)


@SCENARIOS
def accumulate_grad_is_shared_per_leaf(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    a = x.exp().grad_fn.next_functions[0][0]
    b = x.sin().grad_fn.next_functions[0][0]
    y = x * 2
    print(a is b, y.grad_fn.next_functions[0][0] is a)
    print(isinstance(y.grad_fn, torch.autograd.graph.Node), isinstance(a, torch.autograd.graph.Node))


@SCENARIOS
def multiple_outputs_and_output_nr(torch):
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a, b = x.unbind(0)
    print(a.grad_fn.name(), a.grad_fn is b.grad_fn, a.output_nr, b.output_nr, x.output_nr)
    (a * 2 + b * 3).sum().backward()
    print(x.grad)
    p, q = x.split(1)
    print(p.grad_fn.name(), p.output_nr, q.output_nr)
    print(torch.autograd.grad(q.sum(), x))
    v, i = x.max(1)
    print(v.grad_fn.name(), i.requires_grad, i.grad_fn)


# ---- detach, detach_, .data ----------------------------------------------------------------------

@SCENARIOS
def detach_shares_storage_and_version(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    print(d, d.requires_grad, d.is_leaf, d.grad_fn, d._version, x._version)
    d.add_(1)
    print(x, d._version, x._version)
    y = x * x
    d.mul_(2)  # bumps the shared version: the saved x is stale
    print(x._version)
    try:
        y.sum().backward()
    except RuntimeError as error:
        print(error)


@SCENARIOS
def detach_in_place(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    print(y.detach_() is y, y.requires_grad, y.grad_fn, y.is_leaf, y)
    x.detach_()
    print(x.requires_grad, x.is_leaf)
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for view in ((w * 2)[0:2], torch.zeros(3)[1:]):
        try:
            view.detach_()
        except RuntimeError as error:
            print(error)


@SCENARIOS
def data_has_its_own_version_counter(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    print(d, d.requires_grad, d.is_leaf, d._version, x._version)
    d.add_(1)
    print(x, d._version, x._version)
    y = x * x
    x.data.mul_(2)  # invisible to autograd: the gradient uses the new values
    print(x._version)
    y.sum().backward()
    print(x.grad)
    x.data = torch.tensor([5.0, 6.0, 7.0])
    print(x, x._version, x.requires_grad)


@SCENARIOS
def data_of_a_non_leaf(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.data
    print(d, d.requires_grad, d.is_leaf, d.grad_fn)


@SCENARIOS
def data_updates_in_a_training_loop(torch):
    w = torch.tensor([0.5], requires_grad=True)
    x = torch.tensor([1.0, 2.0, 3.0])
    for _ in range(3):
        loss = ((w * x - 2 * x) ** 2).mean()
        loss.backward()
        w.data -= 0.1 * w.grad
        w.grad.zero_()
        print(loss, w, w._version)


@pytest.mark.parametrize("scenario", SCENARIOS.params())
def test_matches_torch(scenario, torch):
    assert_same_as_torch(scenario, torch)


# ---- without PyTorch -----------------------------------------------------------------------------

def test_gradient_values():
    x = llgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x + 2 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 6.0, 8.0])
    (x * x).backward(llgrad.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0, 2.0])


def test_accumulation_is_in_place_and_zero_grad_keeps_the_tensor():
    x = llgrad.tensor([2.0], requires_grad=True)
    (x ** 2).backward()
    g = x.grad
    (x ** 3).backward()
    assert x.grad is g and g.tolist() == [16.0]
    x.grad.zero_()
    (x * 5).backward()
    assert x.grad is g and g.tolist() == [5.0]


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_retain_graph_and_create_graph():
    x = llgrad.tensor([2.0], requires_grad=True)
    y = x ** 3
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [24.0]
    x.grad = None
    (x ** 3).backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn.name() == "llgrad::autograd::CopyBackwards"
    (h,) = llgrad.autograd.grad(x.grad, x)
    assert h.tolist() == [12.0]


def test_create_graph_backward_warns_once_per_process():
    from llgrad import autograd

    autograd._warned.discard(autograd.CREATE_GRAPH_WARNING)
    x = llgrad.tensor([1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (x * x).sum().backward(create_graph=True)
        (x * x).sum().backward(create_graph=True)
        llgrad.autograd.grad((x * x).sum(), x, create_graph=True)
    assert [str(w.message) for w in caught] == [autograd.CREATE_GRAPH_WARNING]


def test_float_of_a_tensor_requiring_grad_warns_once_per_process():
    from llgrad import autograd
    from llgrad.tensor import FLOAT_OF_REQUIRES_GRAD_WARNING

    autograd._warned.discard(FLOAT_OF_REQUIRES_GRAD_WARNING)
    x = llgrad.tensor([1.5], requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert float(x) == 1.5 and float(x * 2) == 3.0 and x.item() == 1.5
        assert float(x.detach()) == 1.5
    assert [str(w.message) for w in caught] == [FLOAT_OF_REQUIRES_GRAD_WARNING]


def test_inputs_argument_limits_accumulation():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    w = llgrad.tensor([3.0, 4.0], requires_grad=True)
    z = x * w
    (z * 2).sum().backward(inputs=[w, z])
    assert x.grad is None
    assert w.grad.tolist() == [2.0, 4.0] and z.grad.tolist() == [2.0, 2.0] and z.retains_grad


def test_non_leaf_grad_warning():
    x = llgrad.tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.warns(UserWarning) as caught:
        assert y.grad is None
    assert str(caught[0].message) == NON_LEAF_GRAD_WARNING
    y.retain_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad is None


def test_grad_fn_structure():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    (mul, nr), = y.grad_fn.next_functions
    assert (y.grad_fn.name(), mul.name(), nr) == ("SumBackward0", "MulBackward0", 0)
    (acc, _), (none, _) = mul.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x and none is None


def test_detach_and_data():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    d.add_(1)
    assert x.tolist() == [2.0, 3.0] and x._version == 1
    x.data.add_(1)
    assert x.tolist() == [3.0, 4.0] and x._version == 1
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        (x * 1)[0:1].detach_()


def test_integer_result_of_a_cast_does_not_require_grad():
    b = llgrad.tensor([1.0, 2.0], requires_grad=True)
    assert not b.long().requires_grad


def test_retain_grad_follows_the_tensor_through_an_in_place_op():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    assert y.grad.tolist() == [12.0, 24.0]  # PyTorch: the gradient of the new y


def test_nodes_save_only_what_the_inputs_requiring_grad_need():
    """PyTorch's MulBackward0 for w * x with x not requiring grad saves x only, so changing w
    in place afterwards is fine; changing x is not."""
    w = llgrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = llgrad.tensor([1.0, 1.0, 1.0])
    y = (w * x).sum()
    with llgrad.no_grad():
        w.mul_(10)
    y.backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0]
    z = (w * x).sum()
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
