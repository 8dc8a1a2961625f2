"""llgrad.profiler and llgrad.autograd.profiler: the table in PyTorch's layout (the same events
give PyTorch's text, character for character), what a profile records (op and autograd node
names as PyTorch names them, nesting, counts, self and total times), record_function, and
torch.profiler's schedule, activities and errors."""
import warnings

import pytest

import llgrad
from llgrad import _profiling

# ---- the table: the same events in both libraries print the same text ------------------------

EVENTS = [  # name, start, end (us), parent index
    ("outer_step", 0, 1000, None), ("aten::matmul", 10, 400, 0), ("aten::mm", 20, 390, 1),
    ("aten::relu", 400, 500, 0), ("aten::mm", 510, 700, 0), ("a" * 70, 700, 705, 0),
    ("autograd::engine::evaluate_function: torch::autograd::AccumulateGrad", 710, 900, 0),
    ("aten::add_", 1100, 1100.5, None), ("aten::mm", 1200, 3200, None)]


def _event_list(lib, with_shapes=False):
    import importlib

    util = importlib.import_module(lib.__name__ + ".autograd.profiler_util")
    events = []
    for i, (name, start, end, parent) in enumerate(EVENTS):
        shapes = {}
        if with_shapes:
            shapes["input_shapes"] = [[2, 3], [3, 4]] if name == "aten::mm" and start < 600 \
                else [[5]]
        event = util.FunctionEvent(i + 1, name, 1, float(start), float(end), stack=[], **shapes)
        if parent is not None:
            events[parent].append_cpu_child(event)
            event.set_cpu_parent(events[parent])
        events.append(event)
    result = util.EventList(events)
    result._tree_built = True  # (PyTorch's flag that the nesting above is final)
    return result


TABLES = {
    "events": lambda e: e.table(),
    "averages": lambda e: e.key_averages().table(),
    "self_time_top3": lambda e: e.key_averages().table(sort_by="self_cpu_time_total",
                                                       row_limit=3),
    "header_top_level": lambda e: e.key_averages().table(
        sort_by="cpu_time_total", header="My header", top_level_events_only=True),
    "narrow_names_ms": lambda e: e.key_averages().table(sort_by="count", time_unit="ms",
                                                        max_name_column_width=20),
    "cuda_spelling": lambda e: e.key_averages().table(sort_by="cuda_time_total"),
    "seconds": lambda e: e.key_averages().table(sort_by="cpu_time", time_unit="s"),
    "no_rows": lambda e: e.key_averages().table(sort_by="cpu_time", time_unit="us", row_limit=0),
    "empty": lambda e: type(e)([]).table(),
    "str": lambda e: str(e.key_averages()),
    "averages_fields": lambda e: [(a.key, a.count, a.cpu_time_total, a.self_cpu_time_total,
                                   a.cpu_time_str, a.cpu_time_total_str,
                                   a.self_cpu_time_total_str) for a in e.key_averages()],
    "average_repr": lambda e: repr(e.key_averages()[2]),
    "total_average": lambda e: (lambda t: (t.key, t.count, t.cpu_time_total,
                                           t.self_cpu_time_total))(e.total_average()),
    "self_cpu_time_total": lambda e: e.self_cpu_time_total,
}
SHAPE_TABLES = {
    "events_with_shapes": lambda e: e.table(),
    "grouped_by_shapes": lambda e: e.key_averages(group_by_input_shapes=True).table(
        sort_by="count"),
    "not_grouped": lambda e: e.key_averages().table(),
}


@pytest.mark.parametrize("case", list(TABLES), ids=list(TABLES))
def test_table_matches_torch(case):
    torch = pytest.importorskip("torch")
    assert TABLES[case](_event_list(llgrad)) == TABLES[case](_event_list(torch))


@pytest.mark.parametrize("case", list(SHAPE_TABLES), ids=list(SHAPE_TABLES))
def test_table_with_input_shapes_matches_torch(case):
    torch = pytest.importorskip("torch")
    table = SHAPE_TABLES[case]
    assert table(_event_list(llgrad, True)) == table(_event_list(torch, True))


def test_unknown_sort_key_is_pytorchs_error():
    with pytest.raises(AttributeError, match="'FunctionEventAvg' object has no attribute 'foo'"):
        _event_list(llgrad).key_averages().table(sort_by="foo")


# ---- what a profile records --------------------------------------------------------------------

def _train_step(lib):
    lib.manual_seed(0)
    x = lib.randn(8, 4, requires_grad=True)
    w = lib.randn(4, 3, requires_grad=True)
    with lib.autograd.profiler.profile() as prof:
        with lib.autograd.profiler.record_function("forward"):
            y = (x @ w).relu().sum()
        y.backward()
    return prof


def _names(prof):
    return [e.key.replace("torch::", "llgrad::") for e in prof.key_averages()]


def test_records_ops_and_nodes_under_pytorchs_names():
    prof = _train_step(llgrad)
    names = _names(prof)
    for name in ("forward", "aten::matmul", "aten::mm", "aten::relu", "aten::sum",
                 "SumBackward0", "ReluBackward0", "MmBackward0",
                 "autograd::engine::evaluate_function: MmBackward0",
                 "llgrad::autograd::AccumulateGrad"):
        assert name in names
    counts = {e.key: e.count for e in prof.key_averages()}
    assert counts["aten::matmul"] == counts["aten::relu"] == counts["MmBackward0"] == 1
    assert counts["llgrad::autograd::AccumulateGrad"] == 2


def test_names_are_among_torchs_for_the_same_code():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = set(_names(_train_step(torch)))
    ours = set(_names(_train_step(llgrad)))
    assert ours <= theirs, ours - theirs
    forward = ("forward", "aten::matmul", "aten::relu", "aten::sum", "SumBackward0",
               "ReluBackward0", "MmBackward0", "llgrad::autograd::AccumulateGrad")
    count = {e.key.replace("torch::", "llgrad::"): e.count for e in
             _train_step(llgrad).key_averages()}
    torch_count = {e.key.replace("torch::", "llgrad::"): e.count for e in
                   _train_step(torch).key_averages()}
    assert {n: count[n] for n in forward} == {n: torch_count[n] for n in forward}


def test_nesting_and_times():
    prof = _train_step(llgrad)
    events = prof.function_events
    forward = next(e for e in events if e.name == "forward")
    matmul = next(e for e in events if e.name == "aten::matmul")
    mm = next(e for e in events if e.name == "aten::mm")
    assert matmul.cpu_parent is forward and mm.cpu_parent is matmul
    assert mm.cpu_children == [] and mm in matmul.cpu_children
    for e in events:
        assert 0 <= e.self_cpu_time_total <= e.cpu_time_total
        assert e.cpu_time_total >= sum(c.cpu_time_total for c in e.cpu_children)
    node = next(e for e in events if e.name == "MmBackward0")
    assert node.cpu_parent.name == "autograd::engine::evaluate_function: MmBackward0"
    total = sum(e.self_cpu_time_total for e in events)
    assert prof.self_cpu_time_total == pytest.approx(total)
    assert "Self CPU time total:" in prof.key_averages().table()


def test_training_step_records_module_ops_and_in_place_updates():
    model = llgrad.nn.Sequential(llgrad.nn.Linear(4, 3), llgrad.nn.ReLU(), llgrad.nn.Linear(3, 2))
    opt = llgrad.optim.SGD(model.parameters(), lr=0.1)
    x, target = llgrad.randn(5, 4), llgrad.tensor([0, 1, 1, 0, 1])
    with llgrad.profiler.profile() as prof:
        loss = llgrad.nn.functional.cross_entropy(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    counts = {e.key: e.count for e in prof.key_averages()}
    assert counts["aten::addmm"] == 2 and counts["AddmmBackward0"] == 2
    assert counts["aten::_log_softmax"] == 1 and counts["aten::nll_loss_forward"] == 1
    assert counts["aten::add_"] >= 4  # the SGD updates of 4 parameters


def test_record_shapes():
    with llgrad.autograd.profiler.profile(record_shapes=True) as prof:
        llgrad.mm(llgrad.ones(2, 3), llgrad.ones(3, 4))
    grouped = prof.key_averages(group_by_input_shape=True)
    mm = next(e for e in grouped if e.key == "aten::mm")
    assert mm.input_shapes == [[2, 3], [3, 4]]
    assert "Input Shapes" in grouped.table() and "Input Shapes" not in prof.key_averages().table()


def test_hooks_come_off_after_the_profile_even_on_error():
    original = llgrad.Tensor.__dict__["__mul__"]
    with pytest.raises(ValueError):
        with llgrad.autograd.profiler.profile():
            assert llgrad.Tensor.__dict__["__mul__"] is not original
            raise ValueError("inside")
    assert llgrad.Tensor.__dict__["__mul__"] is original and _profiling.ACTIVE is None
    with llgrad.autograd.profiler.profile() as outer:
        with llgrad.autograd.profiler.profile() as inner:
            llgrad.ones(2) * 2
        llgrad.ones(2) + 1
    assert [e.key for e in inner.key_averages()] == ["aten::ones", "aten::mul"]
    assert "aten::add" in [e.key for e in outer.key_averages()]
    assert _profiling.ACTIVE is None


def test_profile_states_as_pytorch():
    prof = llgrad.autograd.profiler.profile()
    assert repr(prof) == str(prof) == "<unfinished llgrad.autograd.profile>"
    assert prof.key_averages() == [] and prof.key_averages().table() == ""
    with llgrad.autograd.profiler.profile(enabled=False) as disabled:
        llgrad.ones(2)
    assert disabled is None
    with prof:
        with pytest.raises(RuntimeError, match="Profiler context manager is not reentrant"):
            prof.__enter__()
    with llgrad.autograd.profiler.profile() as empty:
        pass
    assert str(empty) == "" and empty.key_averages().table() == ""


def test_record_function_without_a_profile_and_as_decorator():
    with llgrad.autograd.profiler.record_function("nothing recording"):
        pass

    @llgrad.profiler.record_function("decorated")
    def f(x):
        return x * 2

    with llgrad.profiler.profile() as prof:
        f(llgrad.ones(2))
    decorated = next(e for e in prof.events() if e.name == "decorated")
    assert [c.name for c in decorated.cpu_children] == ["aten::mul"]


def test_use_cuda_warns_as_pytorch_without_cuda():
    with pytest.warns(FutureWarning, match="The attribute `use_cuda` will be deprecated soon"):
        with pytest.warns(UserWarning, match="CUDA is not available, disabling CUDA profiling"):
            prof = llgrad.autograd.profiler.profile(use_cuda=True)
    with prof:
        llgrad.ones(1)
    assert [e.key for e in prof.key_averages()] == ["aten::ones"]


# ---- torch.profiler ----------------------------------------------------------------------------

def test_profiler_activities():
    P = llgrad.profiler
    assert repr(P.ProfilerActivity.CPU) == "<ProfilerActivity.CPU: 0>"
    assert P.supported_activities() == {P.ProfilerActivity.CPU}
    with pytest.warns(UserWarning, match="CUDA is not available, disabling CUDA profiling"):
        prof = P.profile(activities=[P.ProfilerActivity.CUDA])
    with pytest.raises(AssertionError, match="No activities specified for the profiler"):
        prof.__enter__()
    with pytest.raises(AssertionError, match="Profiler must be initialized before getting key"):
        P.profile().key_averages()
    with pytest.warns(UserWarning, match="CUDA is not available"):
        with P.profile(activities=[P.ProfilerActivity.CPU, P.ProfilerActivity.CUDA]) as prof:
            llgrad.ones(2)
    assert [e.key for e in prof.key_averages()] == ["aten::ones"]


def test_schedule_matches_torchs():
    torch = pytest.importorskip("torch")
    kwargs = {"wait": 1, "warmup": 1, "active": 2, "repeat": 2, "skip_first": 1}
    ours = llgrad.profiler.schedule(**kwargs)
    theirs = torch.profiler.schedule(**kwargs)
    assert [ours(i).name for i in range(12)] == [theirs(i).name for i in range(12)]
    with pytest.raises(AssertionError, match="Invalid profiler schedule arguments"):
        llgrad.profiler.schedule(wait=0, warmup=0, active=0)


def test_schedule_records_active_steps_and_calls_on_trace_ready():
    P = llgrad.profiler
    traces = []

    def ready(prof):
        traces.append(sorted({e.key for e in prof.key_averages()}))

    with P.profile(schedule=P.schedule(wait=1, warmup=1, active=2, repeat=1),
                   on_trace_ready=ready) as prof:
        for step in range(6):
            llgrad.ones(1) * step
            prof.step()
    assert traces == [["ProfilerStep#2", "ProfilerStep#3", "aten::mul", "aten::ones"]]
    assert {e.key: e.count for e in prof.key_averages()}["aten::mul"] == 2


def test_tensorboard_trace_handler_writes_a_chrome_trace(tmp_path):
    import json

    P = llgrad.profiler
    with P.profile(on_trace_ready=P.tensorboard_trace_handler(str(tmp_path), "worker")):
        llgrad.ones(2) * 2
    (trace,) = tmp_path.iterdir()
    assert trace.name.startswith("worker.") and trace.name.endswith(".pt.trace.json")
    names = [e["name"] for e in json.loads(trace.read_text())["traceEvents"]]
    assert names == ["aten::ones", "aten::mul"]


def test_aten_names():
    assert _profiling.aten_name("MulBackward0") == "aten::mul"
    assert _profiling.aten_name("ClampMinBackward0") == "aten::clamp_min"
    assert _profiling.aten_name("NllLoss2DBackward0") == "aten::nll_loss2d_forward"
    assert _profiling.aten_name("Log1PBackward0") == "aten::log1p"
    assert _profiling.aten_name("BinaryCrossEntropyWithLogitsBackward0") == \
        "aten::binary_cross_entropy_with_logits"
    assert _profiling.aten_name("eq") == "aten::eq"
