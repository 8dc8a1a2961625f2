"""`llgrad.autograd.Variable`: PyTorch's legacy wrapper, kept so old scripts run.

Since PyTorch 0.4 a Variable is a Tensor: `Variable(t)` returns a new leaf tensor sharing `t`'s
storage (cut from t's graph, as t.detach()), `requires_grad` marks it as PyTorch does, and
`volatile` only warns (`no_grad` replaced it). `isinstance(x, Variable)` holds for every tensor.
"""
import operator
import warnings

VOLATILE_WARNING = "volatile was removed and now has no effect. Use `with llgrad.no_grad():` instead."


class _VariableMeta(type):
    def __instancecheck__(cls, instance):
        from ..tensor import Tensor

        return isinstance(instance, Tensor)


class Variable(metaclass=_VariableMeta):
    """`Variable(data=None, requires_grad=False, volatile=False, _grad_fn=None, name=None)`."""

    def __new__(cls, data=None, requires_grad=False, volatile=False, _grad_fn=None, name=None,
                **unknown):
        from ..ops.creation import empty
        from ..tensor import Tensor

        for keyword in unknown:
            raise TypeError(f"'{keyword}' is an invalid keyword argument for this function")

        # PyTorch parses both flags as integers ('b' format): 1 is fine, None or 1.5 is not.
        requires_grad, volatile = _as_flag(requires_grad), _as_flag(volatile)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"argument 5 must be str or None, not {type(name).__name__}")
        if data is None:
            var = empty(0)
        elif isinstance(data, Tensor):
            var = data.detach()
        else:
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if volatile:
            # (before the check below: PyTorch warns, then refuses the combination)
            warnings.warn(VOLATILE_WARNING, UserWarning, stacklevel=2)
        if volatile and requires_grad:
            raise ValueError("Variable can't be volatile and require_grad at the same time!")
        if _grad_fn is not None:
            raise TypeError(f"_grad_fn has to be a Function object or None, but got "
                            f"{type(_grad_fn).__name__}")
        if requires_grad:
            if var.dtype.kind != "f":
                raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                                   "gradients")
            var.requires_grad_(True)
        return var


Variable.__module__ = __name__


def _as_flag(value):
    if isinstance(value, bool):
        return value
    if hasattr(value, "__index__"):
        return bool(operator.index(value))
    from ..tensor import Tensor

    if isinstance(value, Tensor):
        raise TypeError("only integer tensors of a single element can be converted to an index")
    raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
