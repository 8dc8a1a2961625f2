"""`llgrad.profiler`: torch.profiler's `profile`, `schedule`, `record_function`,
`ProfilerActivity` and `tensorboard_trace_handler`.

    from llgrad.profiler import profile, record_function, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            model(inputs)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))

Only the CPU is profiled (llgrad has no device): asking for CUDA gives PyTorch's CPU-only
answer, a warning that CUDA profiling is disabled. A `schedule` drives recording by steps
(`prof.step()`) as in PyTorch, with `on_trace_ready` called at the end of each active cycle.
"""
import enum
import os
import warnings
from functools import partial

from .autograd import profiler as _legacy
from .autograd.profiler import record_function  # noqa: F401
from .autograd.profiler_util import EventList  # noqa: F401


class ProfilerActivity(enum.Enum):
    CPU = 0
    XPU = 1
    MTIA = 4
    CUDA = 2
    HPU = 3
    PrivateUse1 = 5


def supported_activities():
    return {ProfilerActivity.CPU}


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """PyTorch's schedule: skip `skip_first` steps, then cycles of `wait` idle, `warmup` and
    `active` recorded steps (`repeat` cycles, 0: until the profile ends)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} "
            f"(need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
            f"skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)

    def schedule_fn(step):
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step / cycle >= repeat:
            return ProfilerAction.NONE
        position = step % cycle
        if position < wait:
            return ProfilerAction.NONE
        if position < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if position < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _record_every_step(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False,
                              use_python_export=False):
    """An on_trace_ready that writes each trace as Chrome trace JSON into `dir_name`."""
    import socket
    import time

    def handler_fn(prof):
        nonlocal worker_name
        os.makedirs(dir_name, exist_ok=True)
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        prof.export_chrome_trace(os.path.join(dir_name,
                                              f"{worker_name}.{time.time_ns()}.pt.trace.json"))

    return handler_fn


class profile:  # noqa: N801 (torch.profiler.profile)
    """torch.profiler.profile: a context manager (or start()/stop()) recording the CPU ops;
    `key_averages()` and `events()` give the last finished recording."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_modules=False, experimental_config=None, execution_trace_observer=None,
                 acc_events=False, use_cuda=None, custom_trace_id_callback=None, **_):
        self.activities = _activities(activities, use_cuda)
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_flops = with_flops
        self.schedule = schedule or _record_every_step
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.step_rec_fn = None
        self.profiler = None  # the legacy profile of the current (or last) recording
        self.current_action = self.schedule(self.step_num)
        self._transitions = self._transition_table()

    def _transition_table(self):
        A = ProfilerAction
        prepare, start, stop, ready = (self.prepare_trace, self.start_trace, self.stop_trace,
                                       self._trace_ready)
        return {
            (A.NONE, A.WARMUP): [prepare], (A.NONE, A.RECORD): [prepare, start],
            (A.NONE, A.RECORD_AND_SAVE): [prepare, start],
            (A.WARMUP, A.NONE): [partial(warnings.warn, "Incorrect schedule: WARMUP followed by "
                                                        "NONE"), start, stop],
            (A.WARMUP, A.RECORD): [start], (A.WARMUP, A.RECORD_AND_SAVE): [start],
            (A.RECORD, A.NONE): [partial(warnings.warn, "Incorrect schedule: RECORD followed by "
                                                        "NONE"), stop],
            (A.RECORD, A.WARMUP): [partial(warnings.warn, "Incorrect schedule: RECORD followed "
                                                          "by WARMUP"), stop],
            (A.RECORD_AND_SAVE, A.NONE): [stop, ready],
            (A.RECORD_AND_SAVE, A.WARMUP): [stop, ready, prepare],
            (A.RECORD_AND_SAVE, A.RECORD): [stop, ready, prepare, start],
            (A.RECORD_AND_SAVE, A.RECORD_AND_SAVE): [stop, ready, prepare, start],
            (A.WARMUP, None): [start, stop], (A.RECORD, None): [stop, ready],
            (A.RECORD_AND_SAVE, None): [stop, ready],
        }

    # ---- the recording ----------------------------------------------------------------------

    def prepare_trace(self):
        if ProfilerActivity.CPU not in self.activities:
            raise AssertionError("No activities specified for the profiler")
        self.profiler = _legacy.profile(record_shapes=self.record_shapes,
                                        profile_memory=self.profile_memory,
                                        with_flops=self.with_flops)

    def start_trace(self):
        self.profiler.__enter__()

    def stop_trace(self):
        if self.profiler is not None and self.profiler.entered and self.profiler._events is None:
            self.profiler.__exit__(None, None, None)

    def _trace_ready(self):
        if self.on_trace_ready:
            self.on_trace_ready(self)

    def _transit(self, previous, current):
        for action in self._transitions.get((previous, current), ()):
            action()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.stop()
        return False

    def start(self):
        self._transit(ProfilerAction.NONE, self.current_action)
        self._enter_step()

    def stop(self):
        self._exit_step()
        self._transit(self.current_action, None)

    def step(self):
        """The next step begins: the schedule says whether it is recorded."""
        self._exit_step()
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(previous, self.current_action)
        self._enter_step()

    def _enter_step(self):
        if self.record_steps:  # each step a range of its own, as PyTorch's ProfilerStep#n
            self.step_rec_fn = record_function(f"ProfilerStep#{self.step_num}")
            self.step_rec_fn.__enter__()

    def _exit_step(self):
        if self.step_rec_fn is not None:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None

    # ---- results ----------------------------------------------------------------------------

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        if self.profiler is None:
            raise AssertionError("Profiler must be initialized before getting key averages")
        return self.profiler.key_averages(group_by_input_shape, group_by_stack_n,
                                          group_by_overload_name)

    def events(self):
        if self.profiler is None:
            raise AssertionError("Profiler must be initialized before accessing events")
        return self.profiler.function_events

    def export_chrome_trace(self, path):
        return self.events().export_chrome_trace(path)


def _activities(activities, use_cuda):
    """The activities asked for, less the devices llgrad does not have (PyTorch's CPU-only
    warning for CUDA)."""
    if activities is None:
        chosen = supported_activities()
    else:
        chosen = set()
        for item in activities:
            chosen.update(item.keys() if isinstance(item, dict) else (item,))
    if use_cuda is not None:
        warnings.warn("`use_cuda` is deprecated, use `activities` argument instead",
                      FutureWarning, stacklevel=3)
        if use_cuda:
            chosen.add(ProfilerActivity.CUDA)
        else:
            chosen.discard(ProfilerActivity.CUDA)
    if not chosen:
        raise AssertionError("No valid profiler activities found")
    if ProfilerActivity.CUDA in chosen:
        warnings.warn("CUDA is not available, disabling CUDA profiling", UserWarning,
                      stacklevel=3)
    return chosen & supported_activities()
