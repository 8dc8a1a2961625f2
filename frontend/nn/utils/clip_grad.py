"""Gradient clipping, computed the way torch.nn.utils does (foreach=False path)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...autograd.grad_mode import no_grad
from ...ops import shape
from ...tensor import Tensor
from .. import functional as F

if TYPE_CHECKING:
    from collections.abc import Iterable


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most max_norm; returns the
    norm before clipping (a 0-dim tensor)."""
    from ...ops import creation

    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return creation.tensor(0.0)
    with no_grad():
        norms = [F._vector_norm(g, norm_type, None, False) for g in grads]
        total_norm = F._vector_norm(shape.stack(norms), norm_type, None, False)
        if error_if_nonfinite and bool(total_norm.isnan() | total_norm.isinf()):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
        clip_coef = max_norm / (total_norm + 1e-6)
        clip_coef_clamped = clip_coef.clamp(max=1.0)
        for g in grads:
            g.mul_(clip_coef_clamped)
    return total_norm


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(min=-clip_value, max=clip_value)
