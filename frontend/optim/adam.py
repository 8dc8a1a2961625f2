"""Adam (and, with decoupled weight decay, AdamW)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..autograd.grad_mode import enable_grad, no_grad
from ..compiler import dtypes
from ..ops import creation
from ..ops import elementwise as ew
from ..tensor import Tensor
from .optimizer import (Optimizer, _check_single_tensor_path, hyperparameter, is_nonzero,
                        params_with_grads, steps_as_tensors)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .optimizer import ParamsT


class Adam(Optimizer):
    """Adam (Kingma and Ba), with optional AMSGrad, L2 weight decay and maximize, as
    torch.optim.Adam (PyTorch's single-tensor update; `lr` and `betas` may be tensors, read at
    each step). `decoupled_weight_decay=True` makes it AdamW."""

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] | tuple[Tensor, Tensor] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        _check_single_tensor_path(foreach, fused, differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)
            steps_as_tensors(self.state, group)

    def _init_group(self, group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                    amsgrad):
        def init_state(p, state):
            state["step"] = creation.tensor(0.0, dtype=dtypes.float32)  # 0-dim, as PyTorch 2.x
            state["exp_avg"] = creation.zeros_like(p)
            state["exp_avg_sq"] = creation.zeros_like(p)
            if amsgrad:
                state["max_exp_avg_sq"] = creation.zeros_like(p)

        for p, state in params_with_grads(self, group, params, grads, init_state):
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if amsgrad:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            steps.append(state["step"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = \
                    [], [], [], [], [], []
                amsgrad = hyperparameter(group, "amsgrad")
                self._init_group(group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                 steps, amsgrad)
                adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                     amsgrad=amsgrad, beta1=hyperparameter(group, "betas", 0),
                     beta2=hyperparameter(group, "betas", 1), lr=hyperparameter(group, "lr"),
                     weight_decay=hyperparameter(group, "weight_decay"),
                     use_weight_decay=is_nonzero(group, "weight_decay"),
                     eps=hyperparameter(group, "eps"), maximize=hyperparameter(group, "maximize"),
                     capturable=hyperparameter(group, "capturable"),
                     decoupled_weight_decay=hyperparameter(group, "decoupled_weight_decay"))
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2), as torch.optim.AdamW."""

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] | tuple[Tensor, Tensor] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, amsgrad, beta1,
         beta2, lr, weight_decay, use_weight_decay, eps, maximize, capturable,
         decoupled_weight_decay):
    """PyTorch's _single_tensor_adam, operation by operation.

    PyTorch's default (non-capturable) path reads the step with .item() and forms the bias
    corrections in Python doubles. Here they are float64 0-dim tensor ops on the step tensor
    (the count is an integer, exact in both types), the same values without leaving tensor land.
    `grad.add(param, alpha=wd)` is written `grad + param * wd` (the same values in llgrad), which
    also works when wd is a runtime tensor under llgrad.compile.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg = exp_avgs[i]
        exp_avg_sq = exp_avg_sqs[i]
        step_t = state_steps[i]
        step_t += 1
        if use_weight_decay:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad + param * weight_decay
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if capturable:
            _capturable_update(param, exp_avg, exp_avg_sq, max_exp_avg_sqs, i, step_t,
                               amsgrad, beta1, beta2, lr, eps)
            continue
        step = step_t.to(dtypes.float64)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = ew.div(lr, bias_correction1)
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if amsgrad:
            max_exp_avg_sqs[i].copy_(ew.maximum(max_exp_avg_sqs[i], exp_avg_sq))
            denom = (max_exp_avg_sqs[i].sqrt() / bias_correction2_sqrt).add_(eps)
        else:
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-step_size)


def _capturable_update(param, exp_avg, exp_avg_sq, max_exp_avg_sqs, i, step, amsgrad, beta1,
                       beta2, lr, eps):
    """PyTorch's capturable branch: bias corrections as float32 tensor ops on the step."""
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    step_size_neg = step_size.neg()
    bias_correction2_sqrt = bias_correction2.sqrt()
    if amsgrad:
        max_exp_avg_sqs[i].copy_(ew.maximum(max_exp_avg_sqs[i], exp_avg_sq))
        second = max_exp_avg_sqs[i]
    else:
        second = exp_avg_sq
    denom = (second.sqrt() / (bias_correction2_sqrt * step_size_neg)).add_(eps / step_size_neg)
    param.addcdiv_(exp_avg, denom)
