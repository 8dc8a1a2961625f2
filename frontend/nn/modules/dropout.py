"""Dropout: a fresh PyTorch-identical mask in training mode, the identity in eval mode."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import functional as F
from .module import Module

if TYPE_CHECKING:
    from ...tensor import Tensor


class Dropout(Module):
    """In training mode, zeroes each element with probability `p` and scales the rest by 1 / (1 -
    p); in eval mode, the identity. As torch.nn.Dropout, with the same masks as PyTorch's CPU
    generator for the same seed; inside llgrad.compile a fresh mask is drawn at every call."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
