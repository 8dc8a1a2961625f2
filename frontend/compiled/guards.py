"""Guards: what a specialization assumed about its inputs, checked before every reuse.

Two kinds, so that a call costs the same for a model of 12 parameter tensors as for one of 320:

* checked at every call, in time independent of the model: the arguments (structure, values of
  plain numbers, and for tensors their shape, dtype, requires_grad and whether `.grad` is None),
  which arguments share storage with each other or with state, grad mode, plain Python values the
  function branched on (optimizer flags), and the identity of the modules and optimizers the
  function reads from its globals and closure (rebinding a global `model` must retrace);
* checked only after the state epoch moved (llgrad.epoch: something rebound a tensor's storage,
  changed requires_grad or a `.grad`, hooks, a module's parameters or mode, an optimizer's groups
  or state): the state tensors the function read (their storage itself, shape, dtype,
  requires_grad, and `.grad` when the function's result depended on it), the `.grad` slots it
  read, the train/eval mode and parameters of the modules it called, hooks on the leaves it
  differentiated, and values that only change with such state.

A miss is explained by naming the first guard that changed.
"""
import types

import numpy as np

from .. import epoch
from ..autograd.grad_mode import STATE
from ..tensor import Tensor


def tensor_guard(t, with_grad_slot=True):
    data = t._data
    grad_none = (t._grad is None) if with_grad_slot else "not guarded"
    return (data.shape, data.dtype, t._requires_grad, grad_none)


def arg_guard(x):
    if isinstance(x, Tensor):
        return ("tensor",) + tensor_guard(x)
    if isinstance(x, float):
        return ("float", x.hex())  # 0.0 and -0.0 are different constants; nan equals itself
    if isinstance(x, (bool, int, str, type(None))):
        return ("const", type(x).__name__, x)
    return ("object", id(x))


def _root(array):
    while isinstance(array.base, np.ndarray):
        array = array.base
    return id(array)


def sharing_pattern(flat_args, state_roots):
    """For each tensor argument: the first argument sharing its storage, and whether it shares
    storage with a state tensor. A trace assumed one pattern; another needs its own trace."""
    first = {}
    pattern = []
    for i, x in enumerate(flat_args):
        if isinstance(x, Tensor):
            data = x._data
            root = id(data) if data.base is None else _root(data)
            pattern.append((first.setdefault(root, i), root in state_roots))
    return tuple(pattern)


_FIELDS = ("kind", "shape", "dtype", "requires_grad", ".grad is None")


def _shown(guard):
    """A guard's value as the user wrote it: a number, or a description of a tensor."""
    kind = guard[0]
    if kind == "float":
        return repr(float.fromhex(guard[1]))
    if kind == "const":
        return repr(guard[2])
    if kind == "tensor":
        return f"a tensor {list(guard[1])} {guard[2]}"
    return "an object"


def _describe(before, after):
    """One description per guard field that differs (none if they are equal)."""
    if before == after:
        return []
    if before[0] != after[0] or before[0] != "tensor":
        return [f"changed from {_shown(before)} to {_shown(after)}"]
    found = []
    for name, b, a in zip(_FIELDS, before, after):
        if b != a:
            shown = list if name == "shape" else (lambda v: v)
            found.append(f"{name} changed from {shown(b)} to {shown(a)}")
    return found


def _same(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _hooks(tensor):
    return tuple(tensor._hooks or ()), tuple(tensor._post_accumulate_hooks or ())


def _mode(training):
    return "train" if training else "eval"


def _members(module):
    """The identity of a module's own parameters and buffers."""
    return (tuple((k, id(v)) for k, v in module._parameters.items()),
            tuple((k, id(v)) for k, v in module._buffers.items()))


# ---- what the function reads by name --------------------------------------------------------

_MISSING = object()


def referenced_objects(fn, depth=2):
    """(description, read, object) for the modules and optimizers `fn` reads from its globals
    and closure cells (and, one level down, from plain functions it calls by name)."""
    from ..nn.modules.module import Module
    from ..optim.optimizer import Optimizer

    found, seen = [], set()

    def visit(f, level):
        code = getattr(f, "__code__", None)
        if code is None or id(f) in seen:
            return
        seen.add(id(f))
        namespace = f.__globals__
        for name in code.co_names:
            obj = namespace.get(name, _MISSING)
            if isinstance(obj, (Module, Optimizer)):
                found.append((f"global {name!r}", _global_reader(namespace, name), obj))
            elif isinstance(obj, types.FunctionType) and level < depth:
                visit(obj, level + 1)
        for name, cell in zip(code.co_freevars, f.__closure__ or ()):
            try:
                obj = cell.cell_contents
            except ValueError:
                continue
            if isinstance(obj, (Module, Optimizer)):
                found.append((f"closure variable {name!r}", _cell_reader(cell), obj))
            elif isinstance(obj, types.FunctionType) and level < depth:
                visit(obj, level + 1)

    visit(fn, 0)
    return found


def _global_reader(namespace, name):
    return lambda: namespace.get(name, _MISSING)


def _cell_reader(cell):
    def read():
        try:
            return cell.cell_contents
        except ValueError:
            return _MISSING

    return read


class Guards:
    def __init__(self, tracer, fn, flat_args, structure, refs, state_records):
        self.structure = structure
        self.args = [arg_guard(x) for x in flat_args]
        self.grad_mode = STATE.enabled
        self.values = [(d, get, v) for d, get, v, each_call in tracer.value_guards if each_call]
        self.state_values = [(d, get, v) for d, get, v, each_call in tracer.value_guards
                             if not each_call]
        self.referenced = referenced_objects(fn)
        state = [(refs[id(r)], id(r.tensor) in tracer.grad_dependent) for r in state_records]
        self.state = [(ref, dep, tensor_guard(ref.tensor, dep), ref.tensor._data)
                      for ref, dep in state]
        self.grad_slots = [(refs[id(r)], r.array.shape, r.array.dtype)
                           for r in tracer.lifted_order if r.grad_owner is not None]
        self.modules = [(m, training, _members(m)) for m, training in tracer.modules.values()]
        self.hooks = [(refs[id(r)], _hooks(r.tensor)) for r in tracer.lifted_order
                      if r.grad_owner is None and r.requires_grad]
        self.state_roots = {_root(data) for _, _, _, data in self.state}
        self.sharing = sharing_pattern(flat_args, self.state_roots)
        # The state epoch at which the state guards last held. None: not yet (the trace itself
        # may have changed what they read, creating optimizer state), so the first reuse checks.
        self.validated = None
        # Replaced whenever the state guards are checked again: native calls re-read the
        # addresses of state tensors (their storage may have been rebound) only then.
        self.binding = object()

    # ---- checks --------------------------------------------------------------------------------

    def check(self, flat_args, structure):
        """Whether this specialization fits the call: the per-call guards, and the state guards
        when the state epoch moved since they last held."""
        if STATE.enabled != self.grad_mode or structure != self.structure:
            return False
        if len(flat_args) != len(self.args):
            return False
        for x, expected in zip(flat_args, self.args):
            if type(x) is Tensor and expected[0] == "tensor":  # the common case, unrolled
                data = x._data
                if (data.shape != expected[1] or data.dtype != expected[2]
                        or x._requires_grad != expected[3] or (x._grad is None) != expected[4]):
                    return False
            elif arg_guard(x) != expected:
                return False
        for _, read, obj in self.referenced:
            if read() is not obj:
                return False
        for _, getter, value in self.values:
            if not _same(getter(), value):
                return False
        token = epoch.current()
        if token is not self.validated:
            if not self._state_holds(flat_args):
                return False
            self.validated = token
            self.binding = object()
        return sharing_pattern(flat_args, self.state_roots) == self.sharing

    def _state_holds(self, flat_args):
        """The state guards: O(state tensors), run only after the state epoch moved."""
        for ref, dep, expected, _ in self.state:
            # The storage itself may be rebound (`p.data = ...`): native calls then take the new
            # address (their argument tables are refreshed when the epoch moves).
            if tensor_guard(ref.tensor, dep) != expected:
                return False
        for ref, shape, dtype in self.grad_slots:
            g = ref(flat_args)
            if g is None or g._data.shape != shape or g._data.dtype != dtype:
                return False
        for module, training, members in self.modules:
            if module.training != training or _members(module) != members:
                return False
        for ref, hooks in self.hooks:
            if _hooks(ref(flat_args)) != hooks:
                return False
        for _, getter, value in self.state_values:
            if not _same(getter(), value):
                return False
        self.state_roots = {_root(ref.tensor._data) for ref, _, _, _ in self.state}
        return True

    def misses(self, flat_args, structure):
        """Every guard that fails, as a description: the first explains a retrace."""
        found = []
        if STATE.enabled != self.grad_mode:
            found.append(f"grad mode changed from {self.grad_mode} to {STATE.enabled}")
        if structure != self.structure:
            found.append("the nesting of the arguments (containers, keyword names) changed")
        elif len(flat_args) != len(self.args):
            found.append(f"number of arguments changed from {len(self.args)} to {len(flat_args)}")
        for i, (x, expected) in enumerate(zip(flat_args, self.args)):
            found += [f"argument {i}: {d}" for d in _describe(expected, arg_guard(x))]
        for description, read, obj in self.referenced:
            if read() is not obj:
                found.append(f"{description} now refers to another {type(obj).__name__} than "
                             f"the one traced")
        for ref, dep, expected, _ in self.state:
            now = tensor_guard(ref.tensor, dep)
            found += [f"{ref.describe()}: {d}"
                      for d in _describe(("tensor",) + expected, ("tensor",) + now)]
        for ref, _, _ in self.grad_slots:
            if ref(flat_args) is None:
                found.append(f"{ref.describe()} changed from a tensor to None")
        for module, training, members in self.modules:
            if module.training != training:
                found.append(f"{type(module).__name__} mode changed from {_mode(training)} to "
                             f"{_mode(module.training)}")
            if _members(module) != members:
                found.append(f"a parameter or buffer of {type(module).__name__} was replaced "
                             f"(assigned a new tensor)")
        for ref, hooks in self.hooks:
            if _hooks(ref(flat_args)) != hooks:
                found.append(f"the hooks registered on {ref.describe()} changed")
        sharing = sharing_pattern(flat_args, {_root(ref.tensor._data)
                                              for ref, _, _, _ in self.state})
        if sharing != self.sharing:
            found.append("which arguments share storage with each other or with state changed")
        for description, getter, value in self.values + self.state_values:
            now = getter()
            if not _same(now, value):
                found.append(f"{description} changed from {value!r} to {now!r}")
        return found
