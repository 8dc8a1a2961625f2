"""The fast path of a native call: one Python function generated per specialization.

A call through the general path walks generic structures (argument trees, guard lists, feed
closures) and costs several microseconds before native code runs. The common call, positional
tensors and numbers into a specialization whose state guards still hold, is known in full when
the specialization is built, so it is written out as straight-line Python: each argument's guard
inlined, the arrays passed to the native entry, the outputs wrapped. Anything unusual (a guard
that fails, the state epoch having moved, arguments sharing storage) returns MISS and the
general path decides, so the fast path is never less strict than the guards it shortens.

`source` is kept on the specialization (`spec.fast_source`) for reading.
"""
import numpy as np

from .. import epoch
from ..runtime.memory import STREAMED_OUTPUT_BYTES, empty_output
from ..autograd.grad_mode import STATE
from ..tensor import Tensor
from .backward import CompiledFunctionBackward
from .guards import _root, _same
from .refs import ArgRef, StateRef

MISS = object()


def build(spec):
    """A function `fast(args)` giving the call's result or MISS, or None when this
    specialization has no fast path (not native, containers in its arguments)."""
    step = getattr(spec, "_native", None)
    guards = spec.guards
    if step is None or not _flat(guards.structure, len(guards.args)):
        return None
    names = {"MISS": MISS, "Tensor": Tensor, "STATE": STATE, "spec": spec, "guards": guards,
             "current": epoch.current, "empty": np.empty, "empty_output": empty_output,
             "contiguous": np.ascontiguousarray,
             "root_of": _root, "same": _same, "wrap": Tensor._wrap, "run": step.run,
             "from_node": Tensor._from_node, "consumed": CompiledFunctionBackward.consumed,
             "bump": epoch.bump}
    lines = ["def fast(args):",
             f"    if len(args) != {len(guards.args)} or STATE.enabled is not "
             f"{guards.grad_mode}:",
             "        return MISS"]
    tensors = _argument_checks(guards, names, lines)
    _sharing_checks(tensors, lines)
    for k, (_, read, obj) in enumerate(guards.referenced):
        names[f"read{k}"], names[f"object{k}"] = read, obj
        lines += [f"    if read{k}() is not object{k}:", "        return MISS"]
    for k, (_, getter, value) in enumerate(guards.values):
        names[f"guard{k}"], names[f"value{k}"] = getter, value
        if _plain(value):  # == is what `same` would do, without its call and try
            lines += [f"    if guard{k}() != value{k}:", "        return MISS"]
        else:
            lines += [f"    if not same(guard{k}(), value{k}):", "        return MISS"]
    lines += ["    if current() is not guards.validated:",
              "        return MISS  # state changed: the general path checks it again"]
    _native_call(spec, step, names, lines)
    lines += _outputs(spec, names)
    source = "\n".join(lines)
    namespace = dict(names)
    exec(compile(source, f"<llgrad fast path of {id(spec):#x}>", "exec"), namespace)
    spec.fast_source = source
    return namespace["fast"]


def _plain(value):
    """Whether comparing `value` with == gives a plain bool and never raises (numbers, strings,
    None, and tuples of them; not arrays or tensors)."""
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


def _flat(structure, n):
    """Whether `structure` is that of n positional arguments, none of them a container."""
    from .pytree import flatten

    return structure == flatten((tuple(range(n)), {}))[1]


def _argument_checks(guards, names, lines):
    tensors = []
    for i, expected in enumerate(guards.args):
        lines.append(f"    a{i} = args[{i}]")
        if expected[0] == "tensor":
            _, shape, dtype, requires_grad, grad_none = expected
            names[f"dtype{i}"] = dtype
            lines += [f"    if type(a{i}) is not Tensor:", "        return MISS",
                      f"    d{i} = a{i}._data",
                      f"    if d{i}.shape != {tuple(shape)!r} or d{i}.dtype is not dtype{i} or "
                      f"a{i}._requires_grad is not {requires_grad} or "
                      f"(a{i}._grad is None) is not {grad_none}:",
                      "        return MISS"]
            tensors.append(i)
        elif expected[0] == "float":
            lines += [f"    if type(a{i}) is not float or a{i}.hex() != {expected[1]!r}:",
                      "        return MISS"]
        elif expected[0] == "const":
            names[f"constant{i}"] = expected[2]
            lines += [f"    if type(a{i}).__name__ != {expected[1]!r} or "
                      f"a{i} != constant{i}:", "        return MISS"]
        else:
            lines += [f"    if id(a{i}) != {expected[1]}:", "        return MISS"]
    return tensors


def _sharing_checks(tensors, lines):
    """Only the plain pattern takes the fast path: no argument shares storage with another or
    with state (the general path handles the rest)."""
    for i in tensors:
        lines += [f"    r{i} = id(d{i}) if d{i}.base is None else root_of(d{i})",
                  f"    if r{i} in guards.state_roots:", "        return MISS"]
    if len(tensors) > 1:
        roots = ", ".join(f"r{i}" for i in tensors)
        lines += [f"    if len({{{roots}}}) != {len(tensors)}:", "        return MISS"]


def _native_call(spec, step, names, lines):
    arrays = []
    for k, (position, feed) in enumerate(spec._call_plan):
        if feed is None:
            lines += [f"    x{k} = d{position}",
                      f"    if not x{k}.flags.c_contiguous:",
                      f"        x{k} = contiguous(x{k})"]
        elif hasattr(feed, "produce"):  # a runtime input: no argument needed
            names[f"produce{k}"] = feed.produce
            lines.append(f"    x{k} = produce{k}()")
        else:
            names[f"feed{k}"] = feed
            lines.append(f"    x{k} = feed{k}(args)")
        arrays.append(f"x{k}")
    for k, shape, dtype in spec._fresh:
        names[f"out_dtype{k}"] = dtype
        # np.empty directly where empty_output would call it (small outputs): a call less.
        small = np.dtype(dtype).itemsize * int(np.prod(shape)) < STREAMED_OUTPUT_BYTES
        allocate = "empty" if small else "empty_output"
        lines.append(f"    o{k} = {allocate}({tuple(shape)!r}, out_dtype{k})")
        arrays.append(f"o{k}")
    call = f"run([{', '.join(arrays)}], guards.binding, " \
           f"lambda: [feed(args) for feed in spec._bound_feeds])"
    if step._python_entry is None or step._aligned_positions:
        lines.append(f"    {call}")
    else:
        lines += _inline_run(step, names, arrays, call)
    lines.append("    spec.executable.counters['llvm'] += 1")


def _inline_run(step, names, arrays, call):
    """NativeStep.run written out for the common call: a pooled call context already bound
    under the current binding, the CPython entry called on its table (anything else: `run`)."""
    names.update(contexts=step._pool, entry=step._python_entry, step=step)
    bound = " or context[3] is not guards.binding" if step._bound_slots else ""
    return ["    context = contexts.pop() if contexts else None",
            f"    if context is None{bound}:",
            "        if context is not None:",
            "            contexts.append(context)",
            f"        {call}",
            "    else:",
            f"        status = entry(context[0], {', '.join(arrays)})",
            "        bad = int(context[2][0]) if status else 0  # before another call reuses it",
            "        contexts.append(context)",
            "        if status:",
            "            step.raise_failed_check(status, bad)",
            "        step.executions += 1"]


def _outputs(spec, names):
    fresh = {k for k, _, _ in spec._fresh}
    n = spec._n_outputs
    everything = ", ".join(f"o{k}" if k in fresh else "None" for k in range(n))
    lines = [f"    everything = [{everything}]"] if n else ["    everything = []"]
    lines.append(f"    results = everything[:{spec.n_results}]")
    lines += _effects(spec, names, fresh)
    plan = spec.backward
    inline_backward = plan is not None and not plan.cotangents  # every graph consumed inside
    if inline_backward:
        lines.append(f"    node = consumed({len(plan.diff_outputs)})")
        output_nr = {k: nr for nr, k in enumerate(plan.diff_outputs)}
    leaves = []
    for k, (kind, what) in enumerate(spec.outputs):
        if kind == "value":
            array = f"o{what}" if what in fresh else f"results[{what}]"
            if inline_backward and k in output_nr:
                leaves.append(f"from_node({array}, node, {output_nr[k]})")
            else:
                leaves.append(f"wrap({array})")
        else:
            names[f"leaf{k}"] = what
            leaves.append(f"leaf{k}(args)" if kind == "tensor" else f"leaf{k}")
    lines.append(f"    leaves = [{', '.join(leaves)}]")
    if plan is not None and not inline_backward:
        lines.append(f"    spec._attach_backward(leaves, everything[{spec.n_results}:], args)")
    if spec.out_structure is None:
        lines.append("    return leaves[0]")
    else:
        names["unflatten"] = _unflatten()
        names["structure"] = spec.out_structure
        lines.append("    return unflatten(structure, leaves)")
    return lines


def _effects(spec, names, fresh):
    """`spec._apply_effects` written out: version counters bumped (by the boxes remembered
    while the state stays bound), `.grad` slots and requires_grad flags set, the epoch moved."""
    lines = []
    if spec.state_writes:
        lines += ["    boxes = spec._version_boxes",
                  "    if boxes is not None and spec._boxes_binding is guards.binding:",
                  "        for box, steps in boxes:",
                  "            box[0] += steps",
                  "    else:",
                  "        spec._write_state(results, args)"]
    if not (spec.grad_sets or spec.flag_sets):
        return lines
    lines.append("    before = current()")
    for k, (ref, (kind, what)) in enumerate(spec.grad_sets):
        owner = _tensor_expression(ref, f"grad_owner{k}", names)
        if kind == "none":
            value = "None"
        elif kind == "tensor":
            names[f"grad_value{k}"] = what
            value = f"grad_value{k}(args)"
        else:
            value = f"wrap(o{what})" if what in fresh else f"wrap(results[{what}])"
        lines.append(f"    {owner}._grad = {value}")
    for k, (ref, flag) in enumerate(spec.flag_sets):
        lines.append(f"    {_tensor_expression(ref, f'flag_owner{k}', names)}._requires_grad = "
                     f"{bool(flag)}")
    lines.append("    bump()  # other compiled functions may read these .grad slots")
    if spec.effects_keep_guards:
        lines += ["    if guards.validated is before:", "        guards.validated = current()"]
    return lines


def _tensor_expression(ref, name, names):
    """Python for the tensor `ref` gives: the argument, the state tensor itself, or a call."""
    if isinstance(ref, ArgRef):
        return f"args[{ref.index}]"
    if isinstance(ref, StateRef):
        names[name] = ref.tensor
        return name
    names[name] = ref
    return f"{name}(args)"


def _unflatten():
    from .pytree import unflatten

    return unflatten

