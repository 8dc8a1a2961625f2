"""`llgrad.finfo` and `llgrad.iinfo`: the numerical limits of a dtype, as torch.finfo/iinfo."""
from __future__ import annotations

import numpy as np

from .compiler import dtypes


class finfo:  # noqa: N801 (torch.finfo)
    """Limits of a floating-point dtype (the default float type when none is given)."""

    def __init__(self, type: dtypes.DType | None = None) -> None:  # noqa: A002 (torch's name)
        dtype = dtypes.DEFAULT_FLOAT if type is None else type
        if not isinstance(dtype, dtypes.DType) or not dtype.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo "
                            "to handle 'torch.finfo'")
        info = np.finfo(dtype.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # (np.finfo's is rounded to the type)
        self.dtype = dtype.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
                f"dtype={self.dtype})")


class iinfo:  # noqa: N801 (torch.iinfo)
    """Limits of an integer dtype."""

    def __init__(self, type: dtypes.DType) -> None:  # noqa: A002
        if type is dtypes.bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if not isinstance(type, dtypes.DType) or type.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(type.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
