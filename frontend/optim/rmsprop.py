"""RMSprop: steps scaled by a running root-mean-square of the gradients (optionally centered,
with momentum and weight decay)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import tracing
from ..autograd.grad_mode import enable_grad, no_grad
from ..compiler import dtypes
from ..ops import creation
from ..tensor import Tensor
from .optimizer import (Optimizer, _check_single_tensor_path, hyperparameter, is_nonzero,
                        params_with_grads, steps_as_tensors)

if TYPE_CHECKING:
    from collections.abc import Callable

    from .optimizer import ParamsT


class RMSprop(Optimizer):
    """RMSprop, with optional momentum and centering, as torch.optim.RMSprop."""

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        _check_single_tensor_path(foreach, None, differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("momentum", 0)
            group.setdefault("centered", False)
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
            steps_as_tensors(self.state, group)

    def _init_group(self, group, params, grads, square_avgs, momentum_buffers, grad_avgs, steps,
                    use_momentum, centered):
        def init_state(p, state):
            state["step"] = creation.zeros((), dtype=dtypes.float32)
            state["square_avg"] = creation.zeros_like(p)
            if use_momentum:
                state["momentum_buffer"] = creation.zeros_like(p)
            if centered:
                state["grad_avg"] = creation.zeros_like(p)

        for p, state in params_with_grads(self, group, params, grads, init_state):
            square_avgs.append(state["square_avg"])
            steps.append(state["step"])
            if use_momentum:
                momentum_buffers.append(state["momentum_buffer"])
            if centered:
                grad_avgs.append(state["grad_avg"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                params, grads, square_avgs, grad_avgs, momentum_buffers, steps = \
                    [], [], [], [], [], []
                use_momentum = tracing.guard("optimizer hyperparameter 'momentum' > 0",
                                             lambda: group["momentum"] > 0)
                centered = hyperparameter(group, "centered")
                self._init_group(group, params, grads, square_avgs, momentum_buffers, grad_avgs,
                                 steps, use_momentum, centered)
                rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, steps,
                        lr=hyperparameter(group, "lr"), alpha=hyperparameter(group, "alpha"),
                        eps=hyperparameter(group, "eps"),
                        weight_decay=hyperparameter(group, "weight_decay"),
                        use_weight_decay=is_nonzero(group, "weight_decay"),
                        momentum=hyperparameter(group, "momentum"), use_momentum=use_momentum,
                        centered=centered, maximize=hyperparameter(group, "maximize"))
        return loss


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, state_steps, *, lr, alpha,
            eps, weight_decay, use_weight_decay, momentum, use_momentum, centered, maximize):
    """PyTorch's _single_tensor_rmsprop, operation by operation (`a.add(b, alpha=s)` written
    `a + b * s`, the same values in llgrad, which also works for runtime scalars in a trace)."""
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        square_avg = square_avgs[i]
        state_steps[i] += 1
        if use_weight_decay:
            grad = grad + param * weight_decay
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if centered:
            grad_avg = grad_avgs[i]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(eps)
        if use_momentum:
            buf = momentum_buffers[i]
            buf.mul_(momentum).addcdiv_(grad, avg)
            param.add_(buf * -lr)
        else:
            param.addcdiv_(grad, avg, value=-lr)
