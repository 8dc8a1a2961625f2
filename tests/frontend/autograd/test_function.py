"""Custom autograd.Function: save_for_backward and saved_tensors (version checks, freeing),
needs_input_grad, non-tensor arguments, mark_non_differentiable, mark_dirty,
set_materialize_grads, once_differentiable, create_graph through a Function, and its node's
name and repr."""
import numpy as np
import pytest

import llgrad

from .harness import Scenarios, assert_same_as_torch

SCENARIOS = Scenarios()


def _functions(torch):
    class Exp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    class ScaledMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, w):
            print("forward needs", ctx.needs_input_grad, torch.is_grad_enabled())
            ctx.k = k
            ctx.save_for_backward(x, w)
            return x * k * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            print("backward needs", ctx.needs_input_grad)
            gx = g * ctx.k * w if ctx.needs_input_grad[0] else None
            gw = g * ctx.k * x if ctx.needs_input_grad[2] else None
            return gx, None, gw

    return Exp, ScaledMul


@SCENARIOS
def function_node_name_repr_and_edges(torch):
    Exp, _ = _functions(torch)
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    y = Exp.apply(x)
    print(y, y.grad_fn.name(), type(y.grad_fn).__name__, y.grad_fn)
    print(y.grad_fn.next_functions, y.grad_fn.next_functions[0][0].variable is x)
    print(isinstance(y.grad_fn, torch.autograd.graph.Node))
    y.sum().backward()
    print(x.grad)


@SCENARIOS
def needs_input_grad_and_non_tensor_arguments(torch):
    _, ScaledMul = _functions(torch)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0])
    y = ScaledMul.apply(x, 2.0, w)
    print(y, y.grad_fn.next_functions)
    y.sum().backward()
    print(x.grad)
    with torch.no_grad():
        z = ScaledMul.apply(x, 2.0, w)
    print(z, z.requires_grad)
    print(ScaledMul.apply(w, 2.0, w))


@SCENARIOS
def function_without_inputs_requiring_grad(torch):
    Exp, _ = _functions(torch)
    y = Exp.apply(torch.tensor([0.0, 1.0]))
    print(y, y.requires_grad, y.grad_fn)


@SCENARIOS
def saved_tensors_are_freed(torch):
    Exp, _ = _functions(torch)
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    y = Exp.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    print(x.grad)
    y.backward()


@SCENARIOS
def saved_input_modified_in_place(torch):
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    a = torch.tensor([1.0, 2.0], requires_grad=True)
    x = a * 1
    y = Square.apply(x)
    x.mul_(2)
    y.sum().backward()


@SCENARIOS
def saved_output_modified_in_place(torch):
    Exp, _ = _functions(torch)
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    y = Exp.apply(a)
    y.mul_(2)
    y.sum().backward()


@SCENARIOS
def saving_none_and_constants(torch):
    class Add(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, None, y)
            return x + y

        @staticmethod
        def backward(ctx, g):
            a, none, b = ctx.saved_tensors
            print(none, a.requires_grad, b.requires_grad)
            return g, g

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    Add.apply(x, torch.tensor([1.0, 2.0])).sum().backward()
    print(x.grad)


@SCENARIOS
def returning_an_input_unchanged(torch):
    class Identity(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = Identity.apply(x)
    print(y is x, y.grad_fn.name(), x.grad_fn, x.is_leaf)
    y.sum().backward()
    print(x.grad)


@SCENARIOS
def mark_non_differentiable(torch):
    class Split(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            floor = x.floor()
            ctx.mark_non_differentiable(floor)
            return x - floor, floor, (x > 1.5)

        @staticmethod
        def backward(ctx, g_frac, g_floor, g_mask):
            print("grads", g_frac, g_floor, g_mask)
            return g_frac

    x = torch.tensor([1.25, 2.5], requires_grad=True)
    frac, floor, mask = Split.apply(x)
    print(frac, floor, mask, floor.requires_grad, mask.requires_grad, frac.grad_fn.name())
    (frac * torch.tensor([1.0, 3.0])).sum().backward()
    print(x.grad)


@SCENARIOS
def materialize_grads(torch):
    def make(materialize):
        class Two(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(materialize)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                print("grads", g1, g2)
                g = g2 * 3
                return g if g1 is None else g + g1 * 2

        return Two

    for materialize in (True, False):
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        a, b = make(materialize).apply(x)
        b.sum().backward()
        print(x.grad)


@SCENARIOS
def mark_dirty(torch):
    class AddOne(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    a = torch.tensor([1.0, 2.0], requires_grad=True)
    x = a * 1
    y = AddOne.apply(x)
    print(y is x, y.grad_fn.name(), x.grad_fn.name(), x._version)
    (y * 3).sum().backward()
    print(a.grad)
    b = torch.zeros(2)
    r = AddOne.apply(b)
    print(r is b, b._version, r.requires_grad)
    try:
        AddOne.apply(a)  # a leaf that requires grad: modified, then rejected
    except RuntimeError as error:
        print(error)
    print(a, a._version)


@SCENARIOS
def mark_dirty_without_returning_it(torch):
    class Bad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    a = torch.tensor([1.0, 2.0], requires_grad=True)
    Bad.apply(a * 1)


@SCENARIOS
def create_graph_through_a_function(torch):
    Exp, _ = _functions(torch)
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    y = Exp.apply(x)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    print(g, g.grad_fn.name())
    (gg,) = torch.autograd.grad(g.sum(), x)
    print(gg)


@SCENARIOS
def once_differentiable(torch):
    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            print("grad mode in backward:", torch.is_grad_enabled())
            return 2 * x * g

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (g,) = torch.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    print(g, g.requires_grad, g.grad_fn)
    seed = torch.ones(2, requires_grad=True)
    (g,) = torch.autograd.grad(Square.apply(x), x, seed, create_graph=True)
    print(g, g.grad_fn, g.grad_fn.name(), len(g.grad_fn.next_functions))
    try:
        g.sum().backward()
    except RuntimeError as error:
        print(error)
    print(seed.grad, x.grad)


@SCENARIOS
def wrong_number_of_gradients(torch):
    class Few(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            return x * w

        @staticmethod
        def backward(ctx, g):
            return g

    class ExtraNones(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None

    class Many(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    print(torch.autograd.grad(ExtraNones.apply(x).sum(), x))
    for fn, args in ((Few, (x, x)), (Many, (x,))):
        try:
            fn.apply(*args).sum().backward()
        except RuntimeError as error:
            print(error)


@SCENARIOS
def invalid_gradients(torch):
    class WrongShape(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return torch.ones(3)

    class Number(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return 2.0

    class ForConstant(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = torch.tensor([1.0, 2.0], requires_grad=True)
    for fn, args in ((WrongShape, (x,)), (Number, (x,)), (ForConstant, (x, 2.0))):
        try:
            fn.apply(*args).sum().backward()
        except RuntimeError as error:
            print(error)
    print(x.grad)


@SCENARIOS
def function_in_a_larger_graph(torch):
    Exp, ScaledMul = _functions(torch)
    x = torch.tensor([0.5, -1.0], requires_grad=True)
    w = torch.tensor([2.0, 3.0], requires_grad=True)
    y = Exp.apply(ScaledMul.apply(x, 0.5, w)) * x
    y.sum().backward()
    print(y.grad_fn.next_functions[0][0].name(), x.grad, w.grad)


def _setup_context_functions(torch):
    class Scale(torch.autograd.Function):
        """PyTorch 2 style: forward takes no ctx; setup_context sees inputs and output."""

        @staticmethod
        def forward(x, k, shift=1.0):
            print("forward sees grad mode", torch.is_grad_enabled())
            return x * k + shift

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k, shift = inputs
            print("setup_context", len(inputs), k, shift, output.requires_grad,
                  torch.is_grad_enabled())
            ctx.k = k
            ctx.save_for_backward(x, output)

        @staticmethod
        def backward(ctx, g):
            x, out = ctx.saved_tensors
            return g * ctx.k, None, None

    class SinCos(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return x.sin(), x.cos()

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.mark_non_differentiable(output[1])
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g_sin, g_cos):
            (x,) = ctx.saved_tensors
            return g_sin * x.cos()

    return Scale, SinCos


@SCENARIOS
def setup_context_style_function(torch):
    Scale, SinCos = _setup_context_functions(torch)
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 3.0)
    print(y, type(y.grad_fn).__name__, y.grad_fn.next_functions)
    y.sum().backward()
    print(x.grad)
    z = Scale.apply(x, 2.0, shift=0.5)  # keywords are bound into inputs, defaults too
    print(z)
    s, c = SinCos.apply(x)
    print(s.requires_grad, c.requires_grad)
    s.sum().backward()
    print(x.grad)
    with torch.no_grad():
        print(Scale.apply(x, 2.0).requires_grad)


@pytest.mark.parametrize("scenario", SCENARIOS.params())
def test_matches_torch(scenario, torch):
    assert_same_as_torch(scenario, torch)


# ---- without PyTorch -----------------------------------------------------------------------------

class Cube(llgrad.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * g


def test_function_gradient_and_node():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    assert repr(y.grad_fn).startswith("<llgrad.autograd.function.CubeBackward object at 0x")
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]


def test_create_graph_through_a_function_gives_second_derivatives():
    x = llgrad.tensor([1.0, 2.0], requires_grad=True, dtype=llgrad.float64)
    (g,) = llgrad.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = llgrad.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


def test_saved_tensors_are_freed_after_backward():
    x = llgrad.tensor([1.0], requires_grad=True)
    y = Cube.apply(x)
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_once_differentiable_refuses_a_second_differentiation():
    class Square(llgrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @llgrad.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = llgrad.tensor([1.0, 2.0], requires_grad=True)
    seed = llgrad.ones(2, requires_grad=True)
    (g,) = llgrad.autograd.grad(Square.apply(x), x, seed, create_graph=True)
    assert g.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="marked with @once_differentiable"):
        g.sum().backward()


def test_setup_context_style_function_inside_compile():
    class Cube(llgrad.autograd.Function):
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    def step(x):
        y = Cube.apply(x).sum()
        y.backward()
        return y.detach()

    x_eager, x_compiled = (llgrad.tensor([1.0, 2.0], requires_grad=True) for _ in range(2))
    assert step(x_eager).item() == llgrad.compile(step)(x_compiled).item() == 9.0
    assert x_compiled.grad.tolist() == x_eager.grad.tolist() == [3.0, 12.0]
