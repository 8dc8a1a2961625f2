"""Hooks: Tensor.register_hook on leaves and non-leaves (observing and replacing gradients,
removal handles), retain_grad's place among them, Node.register_hook / register_prehook,
register_post_accumulate_grad_hook, and PyTorch's checks on what a hook returns."""
import pytest

import llgrad

from .harness import Scenarios, assert_same_as_torch

SCENARIOS = Scenarios()
ORDERED = Scenarios()  # the order PyTorch's engine runs nodes in shows in these


@SCENARIOS
def leaf_hooks_observe_and_replace(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    seen = x.register_hook(lambda g: print("seen", g, g.requires_grad))
    scaled = x.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: print("after scaling", g))
    (x * 3).sum().backward()
    print(x.grad)
    scaled.remove()
    (x * 3).sum().backward()
    print(x.grad)
    seen.remove()
    seen.remove()  # removing twice is harmless
    (x * 3).sum().backward()
    print(x.grad)


@SCENARIOS
def hook_of_a_leaf_used_twice_runs_once(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: print("hook", g))
    (x * x + x.exp()).sum().backward()
    print(x.grad)


@SCENARIOS
def non_leaf_hooks(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: print("y sees", g))
    y.register_hook(lambda g: g + 1)
    y.register_hook(lambda g: print("then", g))
    (y * y).sum().backward()
    print(x.grad)


@SCENARIOS
def retain_grad_runs_after_the_other_hooks(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 100)  # registered later, still runs before retain_grad
    (y * y).sum().backward()
    print(y.grad, x.grad)


@SCENARIOS
def hooks_of_multiple_outputs(torch):
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    a, b = x.unbind(0)
    b.register_hook(lambda g: print("b", g) or g * 2)
    (a * 1 + b * 3).sum().backward()
    print(x.grad)


@SCENARIOS
def removal_handle_as_context_manager(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with x.register_hook(lambda g: g * 0):
        (x * 3).sum().backward()
    print(x.grad)
    (x * 3).sum().backward()
    print(x.grad)


@SCENARIOS
def hook_under_create_graph(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x ** 2
    y.register_hook(lambda g: print("g requires grad:", g.requires_grad) or g * y)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    print(g, g.grad_fn.name())


@SCENARIOS
def hooks_in_autograd_grad(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)  # applies to the gradient autograd.grad returns
    print(torch.autograd.grad((x * x).sum(), x))
    y = x * 2
    y.register_hook(lambda g: g * 10)
    # PyTorch captures a non-leaf input's gradient before its hooks when the walk goes on
    # below it, after them when it stops there.
    print(torch.autograd.grad((y * y).sum(), [y, x]))
    y = x * 2
    y.register_hook(lambda g: g * 10)
    print(torch.autograd.grad((y * y).sum(), [y]))


@SCENARIOS
def hook_on_a_tensor_without_grad(torch):
    try:
        torch.tensor([1.0]).register_hook(lambda g: g)
    except RuntimeError as error:
        print(error)


@SCENARIOS
def hook_returning_the_wrong_size(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    def bad(g):
        return torch.ones(3)

    y = x * 2
    y.register_hook(bad)
    y.sum().backward()


@SCENARIOS
def leaf_hook_returning_the_wrong_size(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: torch.ones(3))
    (x * 2).sum().backward()


@SCENARIOS
def hook_returning_another_dtype(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)

    def widen(g):
        return g.double()

    x.register_hook(widen)
    (x * 2).sum().backward()


@SCENARIOS
def hook_returning_a_number(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: 3)
    (x * 2).sum().backward()


@SCENARIOS
def node_post_hook(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    y = x * w

    def hook(grad_inputs, grad_outputs):
        print(type(grad_inputs).__name__, grad_inputs, grad_outputs)
        return (grad_inputs[0] * 0, None)

    handle = y.grad_fn.register_hook(hook)
    y.sum().backward(retain_graph=True)
    print(x.grad, w.grad)
    handle.remove()
    y.sum().backward()
    print(x.grad, w.grad)


@SCENARIOS
def node_post_hook_with_a_constant_input(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.grad_fn.register_hook(lambda gi, go: print(gi, go))
    y.sum().backward()


@SCENARIOS
def node_pre_hook(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: print("tensor hook first", g) or g + 1)

    def pre(grad_outputs):
        print("pre hook", grad_outputs)
        return (grad_outputs[0] * 3,)

    y.grad_fn.register_prehook(pre)
    y.sum().backward()
    print(x.grad)


@SCENARIOS
def accumulate_grad_node_hooks(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    acc = y.grad_fn.next_functions[0][0]
    acc.register_hook(lambda gi, go: print("post", gi, go, x.grad))
    acc.register_prehook(lambda go: print("pre", go))
    y.sum().backward()


@SCENARIOS
def post_accumulate_grad_hook(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: print("accumulated", t is x, t.grad))
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    y = x * 2
    for action in (lambda: y.register_post_accumulate_grad_hook(print),
                   lambda: torch.zeros(1).register_post_accumulate_grad_hook(print)):
        try:
            action()
        except RuntimeError as error:
            print(error)


@SCENARIOS
def node_hook_returning_the_wrong_count(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()

    def hook(grad_inputs, grad_outputs):
        return (grad_inputs[0], grad_inputs[0])

    y.grad_fn.register_hook(hook)
    y.sum().backward()


@SCENARIOS
def node_hook_returning_a_list(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.grad_fn.register_hook(lambda gi, go: list(gi))
    y.sum().backward()


@SCENARIOS
def node_hook_replacing_a_none_gradient(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * torch.ones(2)
    y.grad_fn.register_hook(lambda gi, go: (gi[0], gi[0]))
    y.sum().backward()


@SCENARIOS
def pre_hook_returning_a_number(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.grad_fn.register_prehook(lambda go: 5)
    y.sum().backward()


@ORDERED
def hooks_of_sibling_tensors(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    b = x * 3
    a = x * 2
    c = x * 4
    for name, t in (("a", a), ("b", b), ("c", c)):
        t.register_hook(lambda g, name=name: print(name, g))
    (a * b + c * b).sum().backward()


@ORDERED
def hooks_of_several_leaves(torch):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    v = torch.tensor([0.5, 0.5], requires_grad=True)
    for name, t in (("x", x), ("w", w), ("v", v)):
        t.register_hook(lambda g, name=name: print(name, g))
    h = (x * w).exp()
    k = h * x + v * w
    (k + w).sum().backward()


@pytest.mark.parametrize("scenario", SCENARIOS.params())
def test_matches_torch(scenario, torch):
    assert_same_as_torch(scenario, torch)


@pytest.mark.parametrize("scenario", ORDERED.params())
def test_matches_torch_in_torchs_node_order(scenario, torch, sequence_numbers):
    assert_same_as_torch(scenario, torch)


# ---- without PyTorch -----------------------------------------------------------------------------

def test_hooks_replace_gradients_and_can_be_removed():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [30.0, 30.0]
    handle.remove()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [33.0, 33.0]


def test_retain_grad_stores_the_hooked_gradient():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 100)
    (y * y).sum().backward()
    assert y.grad.tolist() == [400.0, 800.0] and x.grad.tolist() == [800.0, 1600.0]


def test_node_hooks_receive_tensors():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    seen = []
    y.grad_fn.register_prehook(lambda go: seen.append(("pre", go)))
    y.grad_fn.register_hook(lambda gi, go: seen.append(("post", gi, go)))
    y.sum().backward()
    assert [entry[0] for entry in seen] == ["pre", "post"]
    assert all(isinstance(t, llgrad.Tensor) for entry in seen for part in entry[1:] for t in part)


def test_hook_results_are_checked():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: llgrad.ones(3))
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (x * 2).sum().backward()
    handle.remove()
    x.register_hook(lambda g: 3)
    with pytest.raises(TypeError, match="expected Variable, but hook returned 'int'"):
        (x * 2).sum().backward()
    assert x.grad is None


def test_hook_order_follows_creation_order(sequence_numbers):
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    b = x * 3
    a = x * 2
    order = []
    a.register_hook(lambda g: order.append("a"))
    b.register_hook(lambda g: order.append("b"))
    (a * b).sum().backward()
    assert order == ["a", "b"]  # a was created last, so PyTorch runs its node first
