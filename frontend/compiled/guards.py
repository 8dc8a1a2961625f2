"""Guards: what a specialization assumed about its inputs, checked before every reuse.

They cover the arguments (structure, values of plain numbers, and for tensors their shape,
dtype, requires_grad and whether `.grad` is None), which arguments share storage with each other
or with state, the state tensors the function read (shape, dtype, requires_grad, and `.grad` when
the function's result depended on it), `.grad` slots it read, grad mode, the train/eval mode of
the modules it called, hooks on the leaves it differentiated, and any Python value it branched
on (optimizer flags). A miss is explained by naming the first guard that changed.
"""
import numpy as np

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


def sharing_pattern(flat_args, state_tensors):
    """For each tensor argument: the first argument sharing its storage, and whether it shares
    storage with a state tensor. A trace assumed one pattern; another needs its own trace."""
    state_roots = {_root(t._data) for t in state_tensors}
    first = {}
    pattern = []
    for i, x in enumerate(flat_args):
        if isinstance(x, Tensor):
            root = _root(x._data)
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


class Guards:
    def __init__(self, tracer, flat_args, structure, refs, state_records):
        self.structure = structure
        self.args = [arg_guard(x) for x in flat_args]
        self.state = [(refs[id(r)], id(r.tensor) in tracer.grad_dependent) for r in state_records]
        self.state = [(ref, dep, tensor_guard(ref(None), dep)) for ref, dep in self.state]
        self.sharing = sharing_pattern(flat_args, [ref(None) for ref, _, _ in self.state])
        self.grad_slots = [(refs[id(r)], r.array.shape, r.array.dtype)
                           for r in tracer.lifted_order if r.grad_owner is not None]
        self.modules = list(tracer.modules.values())  # (module, mode it ran in)
        self.values = list(tracer.value_guards)
        self.hooks = [(refs[id(r)], _hooks(r.tensor)) for r in tracer.lifted_order
                      if r.grad_owner is None and r.requires_grad]
        self.grad_mode = STATE.enabled

    def check(self, flat_args, structure):
        if STATE.enabled != self.grad_mode or structure != self.structure:
            return False
        if len(flat_args) != len(self.args):
            return False
        for x, expected in zip(flat_args, self.args):
            if arg_guard(x) != expected:
                return False
        for ref, dep, expected in self.state:
            if tensor_guard(ref.tensor, dep) != expected:
                return False
        for ref, shape, dtype in self.grad_slots:
            g = ref(flat_args)
            if g is None or g._data.shape != shape or g._data.dtype != dtype:
                return False
        for module, training in self.modules:
            if module.training != training:
                return False
        for ref, hooks in self.hooks:
            if _hooks(ref(flat_args)) != hooks:
                return False
        if sharing_pattern(flat_args, [ref.tensor for ref, _, _ in self.state]) != self.sharing:
            return False
        return all(_same(getter(), value) for _, getter, value in self.values)

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
        for ref, dep, expected in self.state:
            now = tensor_guard(ref.tensor, dep)
            found += [f"{ref.describe()}: {d}"
                      for d in _describe(("tensor",) + expected, ("tensor",) + now)]
        for ref, _, _ in self.grad_slots:
            if ref(flat_args) is None:
                found.append(f"{ref.describe()} changed from a tensor to None")
        for module, training in self.modules:
            if module.training != training:
                found.append(f"{type(module).__name__} mode changed from {_mode(training)} to "
                             f"{_mode(module.training)}")
        for ref, hooks in self.hooks:
            if _hooks(ref(flat_args)) != hooks:
                found.append(f"the hooks registered on {ref.describe()} changed")
        sharing = sharing_pattern(flat_args, [ref.tensor for ref, _, _ in self.state])
        if sharing != self.sharing:
            found.append("which arguments share storage with each other or with state changed")
        for description, getter, value in self.values:
            now = getter()
            if not _same(now, value):
                found.append(f"{description} changed from {value!r} to {now!r}")
        return found
