"""Type aliases for llgrad's annotations, read by type checkers only.

llgrad's modules import this file under `if TYPE_CHECKING:` with `from __future__ import
annotations`, so annotations cost nothing at run time; the file is never imported when llgrad
runs.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Union

import numpy as np

from ._device import device
from .compiler.dtypes import DType
from .tensor import Size, Tensor

__all__ = ["Number", "TensorOrNumber", "Dims", "ShapeLike", "DTypeLike", "DeviceLike",
           "ValuesIndices", "DType", "Size", "Tensor"]

# A Python (or NumPy) number where PyTorch takes a Scalar.
Number = Union[int, float, bool, np.number, np.bool_]
# An operand of an elementwise op: a tensor or a number (broadcast).
TensorOrNumber = Union[Tensor, int, float, bool, np.number, np.bool_]
# A `dim` argument of a reduction: one dimension, several, or None (all).
Dims = Union[int, Sequence[int], None]
# A shape: sizes as separate arguments are typed `*size: int | Sequence[int]`.
ShapeLike = Union[int, Sequence[int], Size]
DTypeLike = Union[DType, None]
# Only the CPU exists: "cpu", llgrad.device("cpu"), None.
DeviceLike = Union[str, device, int, None]


class ValuesIndices(NamedTuple):
    """The named pair that max(dim)/min(dim)/sort/topk/kthvalue/... return (PyTorch's
    torch.return_types.*): `values, indices = x.max(1)` or `x.max(1).values`."""
    values: Tensor
    indices: Tensor

