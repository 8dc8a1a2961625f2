"""The recording side of llgrad's profilers (llgrad.profiler, llgrad.autograd.profiler).

While a profile records, `ACTIVE` is its Recorder, and three places report to it:

* `dispatch.apply`: every op, as `aten::<name>` (the name PyTorch's profiler shows for the
  kernel: MulBackward0's op is aten::mul, MmBackward0's aten::mm);
* the autograd engine: every node it runs, as PyTorch's pair
  `autograd::engine::evaluate_function: MulBackward0` around `MulBackward0`;
* the public entry points, wrapped only while recording: `llgrad.<fn>(...)`, Tensor methods and
  operators, so that `x @ w` shows as aten::matmul around the aten::mm it runs, and in-place
  updates (`p.add_`), which run without an op, show at all.

A call's total time is its wall time; its self time, the total less its children's. Ops of a
compiled function (llgrad.compile) run inside one native call and are not seen one by one.
When nothing records, the cost is one global read per op.
"""
import re
import threading
import time

ACTIVE = None  # the Recorder of the running profile, or None

EVALUATE_FUNCTION = "autograd::engine::evaluate_function: "


class Recorder:
    """The events of one recording, kept in the order they start, nested per thread."""

    def __init__(self, record_shapes=False):
        from .autograd.profiler_util import FunctionEvent

        self._event_class = FunctionEvent
        self.record_shapes = record_shapes
        self.events = []
        self._open = {}  # thread id -> stack of events not yet ended
        self._origin_ns = time.perf_counter_ns()
        self.busy = False  # inside an op's own dispatch: its internals are not separate events

    def _now_us(self):
        return (time.perf_counter_ns() - self._origin_ns) / 1000.0

    def begin(self, name, args=()):
        thread = threading.get_ident()
        stack = self._open.setdefault(thread, [])
        shapes = _input_shapes(args) if self.record_shapes else []
        event = self._event_class(len(self.events) + 1, name, thread, self._now_us(), 0.0,
                                  input_shapes=shapes)
        if stack:
            stack[-1].append_cpu_child(event)
            event.set_cpu_parent(stack[-1])
        stack.append(event)
        self.events.append(event)
        return event

    def end(self, event):
        event.time_range.end = self._now_us()
        stack = self._open.get(event.thread, [])
        while stack and stack.pop() is not event:
            pass

    def innermost(self):
        stack = self._open.get(threading.get_ident())
        return stack[-1] if stack else None

    def finish(self):
        """The events, with any still open (an exception left them) ended now."""
        for stack in self._open.values():
            for event in reversed(stack):
                event.time_range.end = self._now_us()
        self._open.clear()
        return self.events

    # ---- the hooks --------------------------------------------------------------------------

    def run_op(self, op, args, params):
        """dispatch.apply(op, ...) as one event (unless the entry point that called it already
        is one of the same name: x.sum() is aten::sum once, not twice)."""
        from .dispatch import apply

        name = aten_name(op.name)
        parent = self.innermost()
        if parent is not None and parent.name == name:
            return self._quietly(apply, op, args, params)
        event = self.begin(name, args)
        try:
            return self._quietly(apply, op, args, params)
        finally:
            self.end(event)

    def _quietly(self, apply, op, args, params):
        self.busy = True
        try:
            return apply(op, args, params)
        finally:
            self.busy = False

    def run_node(self, node, run, *args):
        """An autograd node run by the engine, as PyTorch's two nested events."""
        name = node.name()
        outer = self.begin(EVALUATE_FUNCTION + name)
        inner = self.begin(name)
        try:
            return run(*args)
        finally:
            self.end(inner)
            self.end(outer)


def _input_shapes(args):
    from .tensor import Tensor

    return [list(a.shape) if isinstance(a, Tensor) else [] for a in args]


# ---- op names ----------------------------------------------------------------------------------

# Node names whose kernel PyTorch names otherwise than the snake_case of the node's prefix.
_ATEN_NAMES = {"ToCopy": "_to_copy", "UnsafeView": "_unsafe_view", "LogSoftmax": "_log_softmax",
               "Softmax": "_softmax", "NllLoss": "nll_loss_forward",
               "NllLoss2d": "nll_loss2d_forward", "Log1P": "log1p", "T": "t"}
_NODE_NAME = re.compile(r"^(.*?)Backward\d+")
_ATEN_CACHE = {}


def aten_name(op_name):
    """The profiler name of an op recorded as node `op_name`: MulBackward0 -> aten::mul,
    ClampMinBackward0 -> aten::clamp_min; names of ops without a node (eq) as they are."""
    found = _ATEN_CACHE.get(op_name)
    if found is None:
        match = _NODE_NAME.match(op_name)
        if match is None:
            found = "aten::" + op_name
        else:
            prefix = re.sub(r"([123])D", r"\1d", match.group(1))  # Conv2D -> conv2d
            snake = _ATEN_NAMES.get(prefix) or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_",
                                                      prefix).lower()
            found = "aten::" + snake
        _ATEN_CACHE[op_name] = found
    return found


# ---- entry points, wrapped while recording -----------------------------------------------------

# Python operators as the aten ops PyTorch's profiler shows for them; None: not wrapped (their
# ops are named well by dispatch: indexing is aten::select, aten::slice or aten::index).
_OPERATOR_NAMES = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub",
    "__rsub__": "rsub", "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul",
    "__imul__": "mul_", "__truediv__": "div", "__rtruediv__": "div", "__itruediv__": "div_",
    "__floordiv__": "floor_divide", "__rfloordiv__": "floor_divide", "__mod__": "remainder",
    "__rmod__": "remainder", "__pow__": "pow", "__rpow__": "pow", "__ipow__": "pow_",
    "__matmul__": "matmul", "__rmatmul__": "matmul", "__neg__": "neg", "__abs__": "abs",
    "__and__": "bitwise_and", "__rand__": "bitwise_and", "__or__": "bitwise_or",
    "__ror__": "bitwise_or", "__xor__": "bitwise_xor", "__rxor__": "bitwise_xor",
    "__invert__": "bitwise_not", "__eq__": "eq", "__ne__": "ne", "__lt__": "lt", "__le__": "le",
    "__gt__": "gt", "__ge__": "ge",
}
_installed = []  # (owner, name, original) while wrapped
_lock = threading.Lock()


def _profiled(fn, name):
    def profiled(*args, **kwargs):
        recorder = ACTIVE
        if recorder is None or recorder.busy:
            return fn(*args, **kwargs)
        event = recorder.begin(name, args)
        try:
            return fn(*args, **kwargs)
        finally:
            recorder.end(event)

    profiled.__wrapped__ = fn
    profiled.__name__ = getattr(fn, "__name__", name)
    profiled.__doc__ = getattr(fn, "__doc__", None)
    return profiled


def _entry_points():
    """(owner, attribute, profiler name) for llgrad's functions, Tensor methods and operators."""
    import llgrad

    from .ops import METHODS, __all__ as functions
    from .tensor import Tensor

    points = [(Tensor, name, "aten::" + name) for name in METHODS]
    points += [(Tensor, op, "aten::" + name) for op, name in _OPERATOR_NAMES.items()]
    points += [(llgrad, name, "aten::" + name) for name in functions
               if callable(getattr(llgrad, name, None))]
    return points


def install(recorder):
    """Make `recorder` the active one (wrapping the entry points for the first)."""
    global ACTIVE
    with _lock:
        if not _installed:
            for owner, attribute, name in _entry_points():
                original = owner.__dict__.get(attribute) if isinstance(owner, type) else \
                    getattr(owner, attribute)
                if original is None:
                    continue
                _installed.append((owner, attribute, original))
                setattr(owner, attribute, _profiled(original, name))
        previous, ACTIVE = ACTIVE, recorder
    return previous


def uninstall(previous):
    """Back to `previous` (the recorder of an enclosing profile, or None: unwrap)."""
    global ACTIVE
    with _lock:
        ACTIVE = previous
        if previous is None:
            for owner, attribute, original in reversed(_installed):
                setattr(owner, attribute, original)
            _installed.clear()
