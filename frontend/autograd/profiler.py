"""`llgrad.autograd.profiler`: the `profile` context manager and `record_function`, as
torch.autograd.profiler.

    with llgrad.autograd.profiler.profile() as prof:
        loss = model(x).sum(); loss.backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))

Ops show under PyTorch's names (aten::mm, MmBackward0, ...); times are CPU wall times. What
PyTorch records and llgrad does not: device time (there is no device), memory
(`profile_memory`), FLOPs (`with_flops`) and stacks (`with_stack`): those options are accepted
and their columns stay out of the table.
"""
import warnings

from .. import _profiling
from .profiler_util import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401

CUDA_UNAVAILABLE = "CUDA is not available, disabling CUDA profiling"
USE_CUDA_DEPRECATED = ("The attribute `use_cuda` will be deprecated soon, please use "
                       "``use_device = 'cuda'`` instead.")


class profile:  # noqa: N801 (torch.autograd.profiler.profile)
    """Records the ops, autograd nodes and record_function ranges run inside it."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None, **_):
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_flops = with_flops
        self._events = None  # the EventList, once the profile has finished
        self.entered = False
        self._recorder = self._previous = None
        if not enabled:
            return
        if use_cuda:
            warnings.warn(USE_CUDA_DEPRECATED, FutureWarning, stacklevel=2)
            use_device = "cuda"
        if use_device == "cuda":  # llgrad has no device: PyTorch's answer on a CPU-only build
            warnings.warn(CUDA_UNAVAILABLE, UserWarning, stacklevel=2)
        if not use_cpu:
            raise AssertionError("No activities specified for the profiler")

    def __enter__(self):
        if not self.enabled:
            return None  # (PyTorch's: `with profile(enabled=False) as p` binds None)
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._recorder = _profiling.Recorder(self.record_shapes)
        self._previous = _profiling.install(self._recorder)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if not self.enabled:
            return False
        _profiling.uninstall(self._previous)
        self._events = EventList(self._recorder.finish(), profile_memory=self.profile_memory,
                                 with_flops=self.with_flops)
        return False

    @property
    def function_events(self):
        """The recorded events (empty until the profile has finished)."""
        return EventList() if self._events is None else self._events

    def __repr__(self):
        if self._events is None:
            return "<unfinished llgrad.autograd.profile>"
        return repr(self._events)

    def __str__(self):
        if self._events is None:
            return "<unfinished llgrad.autograd.profile>"
        return str(self._events)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        return self.function_events.table(
            sort_by=sort_by, row_limit=row_limit, max_src_column_width=max_src_column_width,
            max_name_column_width=max_name_column_width,
            max_shapes_column_width=max_shapes_column_width, header=header,
            top_level_events_only=top_level_events_only, time_unit=time_unit)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n,
                                                 group_by_overload_name)

    def total_average(self):
        return self.function_events.total_average()

    def export_chrome_trace(self, path):
        return self.function_events.export_chrome_trace(path)

    @property
    def self_cpu_time_total(self):
        return self.function_events.self_cpu_time_total


class record_function:  # noqa: N801 (torch.autograd.profiler.record_function)
    """A named range in the profile (`with record_function("forward"): ...`, or as a
    decorator); nothing when no profile records."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._event = None
        self._recorder = None

    def __enter__(self):
        self._recorder = _profiling.ACTIVE
        if self._recorder is not None:
            self._event = self._recorder.begin(self.name)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if self._event is not None:
            self._recorder.end(self._event)
            self._event = self._recorder = None
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)

        return wrapper
