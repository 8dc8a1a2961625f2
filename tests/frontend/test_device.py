"""llgrad.device as torch.device, and the `device=` / `.to(device)` arguments across the API:
the CPU is accepted in every spelling; other devices can be named but not used."""
import copy

import pytest

import llgrad


def _run(lib, fn):
    try:
        return repr(fn(lib))
    except BaseException as error:  # noqa: BLE001 (compared with torch's)
        return f"{type(error).__name__}: {error}".replace("Torch", "llgrad")


DEVICE_CASES = {
    "cpu": lambda lib: lib.device("cpu"),
    "cpu_index": lambda lib: lib.device("cpu:0"),
    "cpu_index_argument": lambda lib: lib.device("cpu", 0),
    "cuda": lambda lib: lib.device("cuda"),
    "cuda_index": lambda lib: lib.device("cuda:1"),
    "copy_of_device": lambda lib: lib.device(lib.device("cuda:2")),
    "attributes": lambda lib: (lib.device("cuda:1").type, lib.device("cuda:1").index,
                               lib.device("cpu").index, str(lib.device("cuda", 1)),
                               str(lib.device("cpu"))),
    "equality": lambda lib: (lib.device("cpu") == lib.device("cpu"),
                             lib.device("cpu") == lib.device("cpu:0"),
                             lib.device("cpu") == "cpu", lib.device("cpu") != "cuda",
                             hash(lib.device("cpu")) == hash(lib.device("cpu"))),
    "tensor_device": lambda lib: (lib.zeros(2).device, lib.zeros(2).device == lib.device("cpu"),
                                  lib.zeros(2).device.type, lib.zeros(2).is_cuda,
                                  lib.zeros(2).get_device()),
    "unknown_type": lambda lib: lib.device("gpu"),
    "bad_index": lambda lib: lib.device("cuda:x"),
    "negative_index": lambda lib: lib.device("cpu", -1),
    "to_cuda": lambda lib: lib.zeros(2).to("cuda"),
    "to_cuda_device": lambda lib: lib.zeros(2).to(lib.device("cuda", 0)),
    "cuda_method": lambda lib: lib.zeros(2).cuda(),
    "factory_on_cuda": lambda lib: lib.zeros(2, device="cuda"),
    "tensor_on_cuda": lambda lib: lib.tensor([1.0], device="cuda"),
    "module_to_cuda": lambda lib: lib.nn.Linear(2, 2).to("cuda"),
    "to_cpu_spellings": lambda lib: [lib.ones(2).to(d).tolist() for d in
                                     ("cpu", "cpu:0", lib.device("cpu"), lib.device("cpu", 0))],
    "to_device_and_dtype": lambda lib: lib.ones(2).to("cpu", lib.float64),
    "to_device_keyword": lambda lib: lib.ones(2).to(device="cpu", dtype=lib.int64),
    "cpu_method": lambda lib: lib.ones(2).cpu(),
    "factories_on_cpu": lambda lib: (
        lib.zeros(2, device="cpu"), lib.ones(2, device=lib.device("cpu")),
        lib.full((2,), 3.0, device="cpu"), lib.arange(3, device="cpu"),
        lib.rand(2, device="cpu").shape, lib.empty(2, device="cpu").shape,
        lib.eye(2, device="cpu"), lib.tensor([1, 2], device="cpu"),
        lib.zeros_like(lib.ones(2), device="cpu"), lib.as_tensor([1.0], device="cpu")),
    "new_factories": lambda lib: (
        lib.ones(2).new_zeros(3, device="cpu"), lib.ones(2).new_ones((2,), device="cpu"),
        lib.ones(2).new_full((2,), 5.0, device="cpu"),
        lib.ones(2).new_tensor([1, 2], device=lib.device("cpu")),
        lib.ones(2).new_empty(2, device="cpu").shape),
    "new_factory_on_cuda": lambda lib: lib.ones(2).new_zeros(3, device="cuda"),
}


@pytest.mark.parametrize("case", list(DEVICE_CASES), ids=list(DEVICE_CASES))
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    fn = DEVICE_CASES[case]
    ours, theirs = _run(llgrad, fn), _run(torch, fn)
    if case == "unknown_type":  # the list of device types PyTorch knows changes by version
        assert ours.startswith("RuntimeError: Expected one of cpu, cuda") and "gpu" in ours
        return
    if case == "module_to_cuda":  # nn.Module.to reaches PyTorch's check by another path
        assert ours.startswith("AssertionError: llgrad not compiled with CUDA enabled")
        return
    ours = ours.replace(" (llgrad runs on the CPU only)", "")  # (ours says why)
    assert ours.replace("llgrad.", "torch.") == theirs


def test_cuda_errors_say_why():
    with pytest.raises(AssertionError, match="llgrad runs on the CPU only"):
        llgrad.zeros(2).to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        llgrad.zeros(2).to("mps")


def test_module_to_device_keeps_parameters():
    model = llgrad.nn.Linear(2, 2)
    weight = model.weight
    assert model.to(llgrad.device("cpu")) is model and model.weight is weight
    assert model.to("cpu", llgrad.float64).weight.dtype is llgrad.float64
    assert model.cpu() is model


def test_device_is_immutable_and_copyable():
    d = llgrad.device("cuda:1")
    with pytest.raises(AttributeError):
        d.index = 2
    assert copy.deepcopy(d) == d and copy.copy(d) == d
