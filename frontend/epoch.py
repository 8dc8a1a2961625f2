"""The state epoch: a token replaced whenever state that compiled functions' guards depend on
changes, so a compiled function re-checks its guards on tensors, modules and optimizers only
after something changed, not at every call (guard cost does not grow with the model).

What bumps it: rebinding a tensor's storage (`t.data = ...`, `set_`), changing `requires_grad`,
setting or replacing a `.grad`, adding or removing hooks, assigning a module's parameters,
buffers or submodules, switching train/eval, and changing an optimizer's parameter groups or
state. In-place updates of a tensor's values do not: guards never depend on values.

The token is a new object each time (one atomic store), so no change is ever lost between
threads.
"""

_token = [object()]


def bump():
    """Something guards may depend on changed."""
    _token[0] = object()


def current():
    return _token[0]
