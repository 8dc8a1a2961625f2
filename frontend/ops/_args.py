"""Argument conventions shared by the op families: size arguments and `out=` tensors."""
import numpy as np

from .. import tracing
from ..tracing import active_tracer
from ..autograd.grad_mode import STATE, no_grad
from ..tensor import Size, Tensor


def sizes(args, name="size", arg="size"):
    """A size given PyTorch's ways: `f(2, 3)`, `f((2, 3))`, `f([2, 3])`, `f(x.shape)`, with
    integer elements that may be 0-d integer tensors (`zeros(llgrad.tensor(3))`)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list, Size)):
        args = args[0]
    return tuple(_size_element(s, name, arg) for s in args)


def _size_element(value, name, arg):
    if type(value) is int:
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, Tensor) and value._data.dtype.kind in "iu" and value.numel() == 1:
        return int(value)  # (a traced tensor cannot give its value: int() raises clearly)
    kind = "Tensor" if isinstance(value, Tensor) else type(value).__name__
    raise TypeError(f"{name}(): argument '{arg}' (position 1) must be tuple of ints, not {kind}")


# ---- out= --------------------------------------------------------------------------------------

def check_out_autograd(name, out, inputs=()):
    """PyTorch refuses out= wherever autograd would have to record it."""
    if not STATE.enabled:
        return
    if out._requires_grad or any(isinstance(t, Tensor) and t._requires_grad for t in inputs):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")


def check_out_dtype(out, dtype):
    """Creation functions take their dtype from `out`; a different explicit one is an error."""
    if dtype is not None and dtype is not out.dtype:
        from .reduction import _scalar_type_name

        raise RuntimeError(f"dtype {_scalar_type_name(dtype)} does not match dtype of out "
                           f"parameter ({_scalar_type_name(out.dtype)})")


def write_out(out, result):
    """PyTorch's out= contract: `result`'s values stored in `out` (resized to the result's shape
    when it differs, cast to out's dtype) and `out` returned."""
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    with no_grad():
        if tuple(out.shape) == tuple(result.shape):
            return out.copy_(result)
        if active_tracer() is not None or type(out._data) is not np.ndarray:
            raise tracing.TracingError("out= with a tensor of another shape (which PyTorch "
                                       "resizes) is not supported inside llgrad.compile")
        # resize_: new storage of the result's shape; views of the old storage no longer see it
        out._data = np.array(result._data, dtype=out._data.dtype, copy=True)
        out._bump_version()
    return out
