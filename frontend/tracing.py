"""Hooks between eager tensors and `llgrad.compile`'s tracer.

Eager code calls into this module at the few points where a traced (symbolic) tensor behaves
differently: applying an op, creating a constant, an in-place rebind, backward. Until a trace is
active these are cheap no-ops.
"""
ACTIVE = None  # the Tracer while a function is being traced


class TracingError(RuntimeError):
    """A traced function did something that needs concrete values."""


def concrete_value_error(what):
    return TracingError(
        f"{what} needs a concrete value, but it was called on a traced tensor inside a function "
        f"being compiled by llgrad.compile. Data-dependent Python control flow cannot be "
        f"compiled: keep the decision in tensor ops (for example llgrad.where(cond, a, b) instead "
        f"of `if`), or move the call outside the compiled function.")


def apply(op, args, params):
    if ACTIVE is None:
        raise TracingError("a traced tensor was used after its llgrad.compile trace ended")
    return ACTIVE.apply(op, args, params)


def constant(tensor):
    return ACTIVE.constant(tensor) if ACTIVE is not None else tensor


def rebind(tensor, result):
    ACTIVE.rebind(tensor, result)


def traced_backward(tensors, grads, retain_graph, create_graph, inputs):
    if ACTIVE is None:
        return False
    return ACTIVE.backward(tensors, grads, retain_graph, create_graph, inputs)


def traced_grad(outputs, inputs, grads, retain_graph, create_graph):
    if ACTIVE is None:
        return None
    return ACTIVE.grad(outputs, inputs, grads, retain_graph, create_graph)
