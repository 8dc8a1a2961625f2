"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import epoch, tracing
from ..autograd.grad_mode import enable_grad, no_grad
from ..ops import creation
from .optimizer import Optimizer, _check_single_tensor_path, hyperparameter, is_nonzero

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..tensor import Tensor
    from .optimizer import ParamsT


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum, weight
    decay and maximize, as torch.optim.SGD (PyTorch's single-tensor update, the same numbers).
    The default lr is 1e-3, as in current PyTorch."""

    def __init__(self, params: ParamsT, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_single_tensor_path(foreach, fused, differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                params, grads, buffers, first_steps = [], [], [], []
                use_momentum = is_nonzero(group, "momentum")
                # Without dampening, a zero buffer updated as usual holds exactly the gradient
                # after its first step, so the first step needs no separate (guarded) path.
                uniform_first_step = use_momentum and not is_nonzero(group, "dampening")
                for p in group["params"]:
                    if p.grad is not None:
                        params.append(p)
                        grads.append(p.grad)
                        if use_momentum:
                            buf, first = self._momentum_buffer(p, uniform_first_step)
                            buffers.append(buf)
                            first_steps.append(first)
                sgd(params, grads, buffers, first_steps,
                    weight_decay=hyperparameter(group, "weight_decay"),
                    use_weight_decay=is_nonzero(group, "weight_decay"),
                    momentum=hyperparameter(group, "momentum"), use_momentum=use_momentum,
                    lr=hyperparameter(group, "lr"),
                    dampening=hyperparameter(group, "dampening"),
                    nesterov=hyperparameter(group, "nesterov"),
                    maximize=hyperparameter(group, "maximize"))
        return loss

    def _momentum_buffer(self, p, uniform_first_step):
        """The parameter's momentum buffer, created (zeros, outside any trace) on its first step;
        `first` says the buffer takes the gradient as it is, as PyTorch's clone does."""
        state = self.state[p]
        if uniform_first_step:
            first = False
        else:
            first = tracing.guard("SGD momentum buffer not yet created",
                                  lambda: state.get("momentum_buffer") is None, each_call=False)
        if state.get("momentum_buffer") is None:
            with tracing.outside_trace(undo=lambda: state.pop("momentum_buffer", None)):
                state["momentum_buffer"] = creation.zeros_like(p)
            epoch.bump()
        return state["momentum_buffer"], first


def sgd(params, grads, momentum_buffers, first_steps, *, weight_decay, use_weight_decay,
        momentum, use_momentum, lr, dampening, nesterov, maximize):
    """PyTorch's _single_tensor_sgd, operation by operation. Its first step sets the buffer to a
    clone of the gradient; here the buffer already exists and takes a copy (the same values).

    PyTorch's `a.add(b, alpha=s)` is written `a + b * s` here (llgrad computes it that way, so
    the values are the same), which also works when s is a runtime tensor under llgrad.compile.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        if use_weight_decay:
            grad = grad + param * weight_decay
        if use_momentum:
            buf = momentum_buffers[i]
            if first_steps[i]:
                buf.copy_(grad)
            else:
                buf.mul_(momentum).add_(grad * (1 - dampening))
            if nesterov:
                grad = grad + buf * momentum
            else:
                grad = buf
        param.add_(grad * -lr)
