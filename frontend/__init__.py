"""llgrad: PyTorch's autograd semantics on NumPy, with training steps compiled ahead of time to
native vectorized code through LLVM.

`import llgrad as torch` runs ordinary autograd code; `llgrad.compile(step)` makes a training
step one native call.
"""
from __future__ import annotations

import math as _math
from typing import TYPE_CHECKING as _TYPE_CHECKING

import numpy as _np

# PyTorch never warns on inf/nan arithmetic (log(0), 0/0); NumPy would, from every kernel.
# Those warnings are silenced for llgrad's own modules only: NumPy's error state, and the
# warnings the user's own NumPy code gives, stay as the user set them. (An error state of
# "raise" is handled where primitives run: see compiler/primitive.py.)
import warnings as _warnings  # noqa: E402

_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"llgrad(\.|$)")

# `name as name`: a re-export, as type checkers require of a typed package.
from .compiler import dtypes as _dtypes  # noqa: E402
from .tensor import Size as Size, Tensor as Tensor  # noqa: E402
from .tensor import LEGACY_TYPES as _LEGACY_TYPES  # noqa: E402
from ._device import device as device  # noqa: E402
from ._device import (  # noqa: E402
    get_default_device as get_default_device, set_default_device as set_default_device,
)
from ._typeinfo import finfo as finfo, iinfo as iinfo  # noqa: E402
from . import dispatch as _dispatch  # noqa: E402,F401
from .ops import *  # noqa: E402,F401,F403
from .ops import creation as _creation  # noqa: E402
from . import autograd as autograd, random as random  # noqa: E402
from .autograd import (  # noqa: E402
    enable_grad as enable_grad, inference_mode as inference_mode, no_grad as no_grad,
    set_grad_enabled as set_grad_enabled,
)
from .autograd.grad_mode import (  # noqa: E402
    is_grad_enabled as is_grad_enabled, is_inference_mode_enabled as is_inference_mode_enabled,
)
from .random import Generator as Generator  # noqa: E402
from ._printing import (  # noqa: E402
    get_printoptions as get_printoptions, set_printoptions as set_printoptions,
)

__version__ = "0.1.0"

bool = _dtypes.bool_  # noqa: A001 (llgrad.bool, like torch.bool)
uint8 = _dtypes.uint8
int8 = _dtypes.int8
int16 = short = _dtypes.int16
int32 = int = _dtypes.int32  # noqa: A001
int64 = long = _dtypes.int64
float16 = half = _dtypes.float16
float32 = float = _dtypes.float32  # noqa: A001
float64 = double = _dtypes.float64
dtype = _dtypes.DType


if _TYPE_CHECKING:  # (this module's bool, int and float are dtypes, as in torch)
    import builtins as _builtins
    from typing import Any as _Any


def get_default_dtype() -> dtype:
    """The dtype Python floats and float factories give (float32 unless set_default_dtype
    changed it), as torch.get_default_dtype."""
    return _dtypes.DEFAULT_FLOAT


def set_default_dtype(d: dtype) -> None:
    """Sets the default floating-point dtype (float32, float64 or float16), as
    torch.set_default_dtype; it is process-wide."""
    if d not in (float32, float64, float16):
        raise TypeError("only floating-point types are supported as the default type")
    _dtypes.DEFAULT_FLOAT = d


def is_tensor(obj: _Any) -> _builtins.bool:
    """Whether `obj` is an llgrad Tensor (Parameters included), as torch.is_tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(t: Tensor) -> _builtins.bool:
    """Whether the tensor's dtype is a floating-point type, as torch.is_floating_point."""
    return t.dtype.is_floating_point


def numel(t: Tensor) -> _builtins.int:
    """The number of elements of the tensor, as torch.numel."""
    return t.numel()


inf = _math.inf
nan = _math.nan
pi = _math.pi
e = _math.e
newaxis = None


def set_num_threads(n: _builtins.int) -> None:
    """Threads that compiled code uses inside one native call (PyTorch's set_num_threads);
    results are bit-identical for any count. The default is $LLGRAD_NUM_THREADS, else the cores
    this process may run on. Eager operations run NumPy's kernels."""
    from .runtime import threadpool

    threadpool.set_num_threads(n)


def get_num_threads() -> _builtins.int:
    """The number of threads compiled code uses (see set_num_threads)."""
    from .runtime import threadpool

    return threadpool.get_num_threads()


# FloatTensor, LongTensor, ...: legacy constructors, and isinstance checks by dtype.
globals().update(_LEGACY_TYPES)

from . import (  # noqa: E402
    backends as backends, cuda as cuda, nn as nn, optim as optim, utils as utils,
)
from . import profiler as profiler  # noqa: E402
from .serialization import load as load, save as save  # noqa: E402
from .compiled import compile as compile  # noqa: E402,A001


# A name PyTorch has here and llgrad does not: an AttributeError saying it is not provided yet.
from ._missing import missing_attributes as _missing_attributes  # noqa: E402

__getattr__ = _missing_attributes(__name__)
