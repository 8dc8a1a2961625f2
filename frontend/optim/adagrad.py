"""Adagrad: steps scaled by the root of the sum of all past squared gradients."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..autograd.grad_mode import enable_grad, no_grad
from ..compiler import dtypes
from ..ops import creation
from ..tensor import Tensor
from .optimizer import (Optimizer, _check_single_tensor_path, hyperparameter, is_nonzero,
                        steps_as_tensors)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .optimizer import ParamsT


class Adagrad(Optimizer):
    """Adagrad, with learning-rate decay, weight decay and an initial accumulator value, as
    torch.optim.Adagrad."""

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        _check_single_tensor_path(foreach, fused, differentiable)
        super().__init__(params, defaults)
        # As PyTorch, the state exists from construction on (step 0, the accumulator filled).
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = creation.tensor(0.0, dtype=dtypes.float32)
                state["sum"] = creation.full_like(p, initial_accumulator_value)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("fused", None)
            steps_as_tensors(self.state, group)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                params, grads, state_sums, steps = [], [], [], []
                for p in group["params"]:
                    if p.grad is not None:
                        params.append(p)
                        grads.append(p.grad)
                        state = self.state[p]
                        state_sums.append(state["sum"])
                        steps.append(state["step"])
                adagrad(params, grads, state_sums, steps, lr=hyperparameter(group, "lr"),
                        weight_decay=hyperparameter(group, "weight_decay"),
                        use_weight_decay=is_nonzero(group, "weight_decay"),
                        lr_decay=hyperparameter(group, "lr_decay"),
                        eps=hyperparameter(group, "eps"),
                        maximize=hyperparameter(group, "maximize"))
        return loss


def adagrad(params, grads, state_sums, state_steps, *, lr, weight_decay, use_weight_decay,
            lr_decay, eps, maximize):
    """PyTorch's _single_tensor_adagrad for dense gradients. PyTorch reads the step with .item()
    and forms the decayed rate in Python doubles; here it is a float64 0-dim tensor op on the
    step (an integer, exact in both), the same value without leaving tensor land."""
    for param, grad, state_sum, step_t in zip(params, grads, state_sums, state_steps):
        step_t += 1
        step = step_t.to(dtypes.float64)
        grad = grad if not maximize else -grad
        if use_weight_decay:
            grad = grad + param * weight_decay
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(eps)
        param.addcdiv_(grad, std, value=-clr)
