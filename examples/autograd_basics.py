"""Autograd without modules: gradients of a function, higher-order gradients, no_grad, and a
custom autograd.Function.

    python examples/autograd_basics.py
"""
from __future__ import annotations

from typing import Any

import llgrad as torch
from llgrad.autograd import Function


class Cube(Function):
    """x ** 3 with a hand-written backward (3 x^2)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        x: torch.Tensor = ctx.saved_tensors[0]
        return grad_output * 3 * x.square()


def main() -> None:
    x = torch.linspace(-2.0, 2.0, steps=5, requires_grad=True)
    w = torch.ones(5, dtype=torch.float32) * 0.5
    w.requires_grad_()

    y = (torch.sin(x) * w + x.exp().mul(0.1)).sum()
    y.backward()
    assert x.grad is not None and w.grad is not None
    print("dy/dx", x.grad.tolist())
    print("dy/dw", w.grad.tolist())

    # First and second derivative of tanh, as values rather than accumulated .grad.
    z = torch.tensor([0.0, 0.5, 1.0], requires_grad=True)
    (first,) = torch.autograd.grad(torch.tanh(z).sum(), z, create_graph=True)
    (second,) = torch.autograd.grad(first.sum(), z)
    expected = -2 * torch.tanh(z) * (1 - torch.tanh(z) ** 2)
    assert torch.allclose(second, expected.detach())
    print("tanh''", second.tolist())

    cube = Cube.apply(z)
    cube.sum().backward()
    assert z.grad is not None
    print("d(z^3)/dz", z.grad.tolist())

    with torch.no_grad():
        frozen = x * 2
    print("under no_grad requires_grad =", frozen.requires_grad)

    a = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    b = torch.eye(4, dtype=torch.float64)
    print("matmul", (a @ b).sum(dim=0).tolist(), "max", a.max().item())
    values, indices = a.max(dim=1)
    print("row maxima", values.tolist(), indices.tolist())


if __name__ == "__main__":
    main()
