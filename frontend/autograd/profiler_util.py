"""Profiler results, as torch.autograd.profiler_util: FunctionEvent (one timed call),
FunctionEventAvg (the calls of one name summed), EventList (either, with `key_averages()` and
`table()`), and the table in PyTorch's layout.

Times are microseconds of wall time on the CPU (llgrad has no other device); a call's self time
is its total less its children's totals. Memory and FLOP columns are not recorded.
"""
from collections import defaultdict

US_IN_SECOND = 1000.0 * 1000.0
US_IN_MS = 1000.0


def format_time(time_us):
    """PyTorch's time strings: 12.345us, 1.234ms, 1.234s."""
    if time_us >= US_IN_SECOND:
        return f"{time_us / US_IN_SECOND:.3f}s"
    if time_us >= US_IN_MS:
        return f"{time_us / US_IN_MS:.3f}ms"
    return f"{time_us:.3f}us"


def format_time_share(time_us, total_time_us):
    if total_time_us == 0:
        return "NaN"
    return f"{time_us * 100.0 / total_time_us:.2f}%"


class _Timed:
    """What FunctionEvent and FunctionEventAvg share: PyTorch's derived times and strings, and
    zeros for what llgrad does not record (device time, memory, FLOPs)."""

    device_time_total = self_device_time_total = 0.0
    cpu_memory_usage = self_cpu_memory_usage = 0
    device_memory_usage = self_device_memory_usage = 0
    flops = 0
    node_id = -1
    is_async = False
    is_legacy = False
    use_device = None
    overload_name = ""

    @property
    def cpu_time(self):
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    @property
    def device_time(self):
        return 0.0

    # PyTorch's pre-2.4 spellings, still read by scripts
    cuda_time = device_time
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)

    @property
    def cpu_time_str(self):
        return format_time(self.cpu_time)

    @property
    def cpu_time_total_str(self):
        return format_time(self.cpu_time_total)

    @property
    def self_cpu_time_total_str(self):
        return format_time(self.self_cpu_time_total)

    @property
    def device_time_str(self):
        return format_time(0.0)

    device_time_total_str = self_device_time_total_str = device_time_str


class Interval:
    __slots__ = ("start", "end")

    def __init__(self, start=0.0, end=0.0):
        self.start, self.end = start, end

    def elapsed_us(self):
        return self.end - self.start


class FunctionEvent(_Timed):
    """One call: its name, interval (microseconds since the profile began), children."""

    count = 1

    def __init__(self, id, name, thread, start_us, end_us, overload_name=None, fwd_thread=None,
                 input_shapes=None, stack=None, sequence_nr=-1, **_):
        self.id = id
        self.name = name
        self.key = name
        self.thread = thread
        self.time_range = Interval(start_us, end_us)
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.sequence_nr = sequence_nr
        self.cpu_children = []
        self.cpu_parent = None
        self.stack = stack if stack is not None else []
        self.is_remote = False

    def append_cpu_child(self, child):
        self.cpu_children.append(child)

    def set_cpu_parent(self, parent):
        self.cpu_parent = parent

    @property
    def cpu_time_total(self):
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} overload_name= device_type="
                f"DeviceType.CPU node_id=-1 cpu_time={self.cpu_time_str} start_us="
                f"{self.time_range.start} end_us={self.time_range.end} cpu_children="
                f"{[child.id for child in self.cpu_children]} None_time={self.device_time_str} "
                f"name={self.name} thread={self.thread} input_shapes={self.input_shapes} "
                f"cpu_memory_usage=0 None_memory_usage=0 is_async=False is_remote=False "
                f"seq_nr={self.sequence_nr} is_legacy=False>")


class FunctionEventAvg(_Timed):
    """The calls of one key (a name; with input shapes, when grouped by them) summed."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes = None
        self.stack = None
        self.cpu_parent = None
        self.cpu_children = None

    def add(self, other):
        if self.key is None:  # the first event: its identity
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.stack = other.stack
            self.cpu_parent = other.cpu_parent
            self.cpu_children = other.cpu_children
        if not isinstance(other, (FunctionEvent, FunctionEventAvg)):
            raise AssertionError("Expected other to be a FunctionEvent or FunctionEventAvg")
        if other.key != self.key:
            raise AssertionError(f"Expected keys to match, but got {other.key} vs {self.key}")
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        return self

    def __iadd__(self, other):
        return self.add(other)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str}  self_cuda_time=0.000us cuda_time=0.000us "
                f"input_shapes={self.input_shapes} cpu_memory_usage=0 cuda_memory_usage=0>")


class EventList(list):
    """A list of events (FunctionEvent or FunctionEventAvg) that prints as PyTorch's table."""

    def __init__(self, *args, use_device=None, profile_memory=False, with_flops=False):
        super().__init__(*args)
        self._use_device = use_device
        self._profile_memory = profile_memory
        self._with_flops = with_flops

    def __str__(self):
        return self.table()

    @property
    def self_cpu_time_total(self):
        return sum(event.self_cpu_time_total for event in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """The events as PyTorch's table: sorted (descending) by the attribute `sort_by`
        ("cpu_time_total", "self_cpu_time_total", "count", ...; "cuda" spellings read the
        device columns), at most `row_limit` rows."""
        return build_table(self, sort_by=sort_by, header=header, row_limit=row_limit,
                           max_name_column_width=max_name_column_width,
                           max_shapes_column_width=max_shapes_column_width,
                           top_level_events_only=top_level_events_only, time_unit=time_unit)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One FunctionEventAvg per name (and per input shapes, when grouped by them), in the
        order the names first occur."""
        stats = defaultdict(FunctionEventAvg)
        for event in self:
            key = (event.key, str(event.input_shapes) if group_by_input_shapes else None)
            stats[key].add(event)
        averages = EventList(stats.values(), use_device=self._use_device,
                             profile_memory=self._profile_memory, with_flops=self._with_flops)
        for event in averages:
            event.stack = []
            if not group_by_input_shapes:
                event.input_shapes = ""
        return averages

    def total_average(self):
        total = FunctionEventAvg()
        for event in self:
            total.count += event.count
            total.cpu_time_total += event.cpu_time_total
            total.self_cpu_time_total += event.self_cpu_time_total
        total.key = "Total"
        total.input_shapes = []
        return total

    def export_chrome_trace(self, path):
        """The events in Chrome's trace format (chrome://tracing, Perfetto)."""
        import json
        import os

        trace = [{"name": e.name, "ph": "X", "ts": e.time_range.start,
                  "dur": e.cpu_time_total, "tid": e.thread, "pid": "CPU functions",
                  "args": {}} for e in self if isinstance(e, FunctionEvent)]
        with open(path, "w") as f:
            json.dump({"traceEvents": trace, "pid": os.getpid()}, f)


# ---- the table ---------------------------------------------------------------------------------

SPACING_SIZE = 2
DEFAULT_COLUMN_WIDTH = 12
HEADERS = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
           "# of Calls"]


def _sorted(events, sort_by):
    attribute = sort_by.replace("cuda", "device").replace("xpu", "device").replace(
        "privateuse1", "device")
    return sorted(events, key=lambda event: getattr(event, attribute), reverse=True)


def _time(time_us, default, time_unit):
    if time_unit == "s":
        return f"{time_us / US_IN_SECOND:.3f}s"
    if time_unit == "ms":
        return f"{time_us / US_IN_MS:.3f}ms"
    if time_unit == "us":
        return f"{time_us:.3f}us"
    return default


class _Layout:
    """Column formats: the name column right-aligned to its longest name (at most
    `max_name_column_width`), the numbers 12 wide, 2 spaces between columns."""

    def __init__(self):
        self.row_format, self.separator, self.width = "", "", -SPACING_SIZE

    def add_column(self, padding, align=">"):
        self.row_format += "{: " + align + str(padding) + "}" + " " * SPACING_SIZE
        self.separator += "-" * padding + " " * SPACING_SIZE
        self.width += padding + SPACING_SIZE


def build_table(events, sort_by=None, header=None, row_limit=100, max_name_column_width=55,
                max_shapes_column_width=80, top_level_events_only=False, time_unit=None):
    """PyTorch's _build_table for CPU events without memory, FLOPs or stacks."""
    if len(events) == 0:
        return ""
    if sort_by is not None:
        events = _sorted(events, sort_by)
    has_input_shapes = any(event.input_shapes for event in events)
    name_width = max(len(event.key) for event in events) + 4
    if max_name_column_width is not None:
        name_width = min(name_width, max_name_column_width)
    layout = _Layout()
    layout.add_column(name_width)
    headers = list(HEADERS)
    for _ in headers[1:]:
        layout.add_column(DEFAULT_COLUMN_WIDTH)
    if has_input_shapes:
        shapes_width = max(len(str(event.input_shapes)) for event in events) + 4
        if max_shapes_column_width is not None:
            shapes_width = min(shapes_width, max_shapes_column_width)
        headers.append("Input Shapes")
        layout.add_column(shapes_width)
    lines = []
    if header is not None:
        lines += ["=" * layout.width, header]
    if top_level_events_only:
        lines += ["=" * layout.width, "This report only display top-level ops statistics"]
    lines += [layout.separator, layout.row_format.format(*headers), layout.separator]
    total = sum(event.self_cpu_time_total for event in events)
    shown = 0
    for event in events:
        if shown == row_limit:
            break
        if top_level_events_only and event.cpu_parent is not None:
            continue
        shown += 1
        row = _row(event, total, max_name_column_width, time_unit)
        if has_input_shapes:
            row.append(str(event.input_shapes)[:shapes_width])
        lines.append(layout.row_format.format(*row))
    lines += [layout.separator,
              f"Self CPU time total: {_time(total, format_time(total), time_unit)}"]
    return "".join(line + "\n" for line in lines)


def _row(event, total, max_name_column_width, time_unit):
    name = event.key
    if max_name_column_width is not None and len(name) >= max_name_column_width - 3:
        name = name[:max_name_column_width - 3] + "..."
    return [name,
            format_time_share(event.self_cpu_time_total, total),
            _time(event.self_cpu_time_total, event.self_cpu_time_total_str, time_unit),
            format_time_share(event.cpu_time_total, total),
            _time(event.cpu_time_total, event.cpu_time_total_str, time_unit),
            _time(event.cpu_time, event.cpu_time_str, time_unit),
            event.count]
