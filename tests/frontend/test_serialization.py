"""llgrad.save / llgrad.load: exact round trips of module and optimizer state, shared tensors,
clear errors, and files crafted to run code on load that must not."""
import io
import json
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import llgrad
from llgrad.serialization import CheckpointError


def roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    llgrad.save(obj, buffer)
    buffer.seek(0)
    return llgrad.load(buffer, **load_kwargs)


def trained():
    llgrad.manual_seed(0)
    model = llgrad.nn.Sequential(llgrad.nn.Linear(3, 4), llgrad.nn.LayerNorm(4),
                                 llgrad.nn.Linear(4, 2))
    model.register_buffer("counts", llgrad.arange(3))
    opt = llgrad.optim.AdamW(model.parameters(), lr=0.01, amsgrad=True)
    for _ in range(2):
        opt.zero_grad()
        model(llgrad.randn(5, 3)).pow(2).mean().backward()
        opt.step()
    return model, opt


def assert_tensors_equal(a, b):
    assert type(a) is type(b)
    assert a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape)
    assert np.array_equal(a.detach().numpy(), b.detach().numpy(), equal_nan=True)


def test_module_state_dict_roundtrip(tmp_path):
    model, _ = trained()
    path = tmp_path / "model.llgrad"
    llgrad.save(model.state_dict(), path)
    loaded = llgrad.load(path)
    assert type(loaded) is OrderedDict
    assert list(loaded) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert_tensors_equal(loaded[key], value)
        assert type(loaded[key]) is llgrad.Tensor and not loaded[key].requires_grad
    assert loaded._metadata == model.state_dict()._metadata
    llgrad.manual_seed(1)
    fresh = llgrad.nn.Sequential(llgrad.nn.Linear(3, 4), llgrad.nn.LayerNorm(4),
                                 llgrad.nn.Linear(4, 2))
    fresh.register_buffer("counts", llgrad.zeros(3, dtype=llgrad.int64))
    assert str(fresh.load_state_dict(loaded)) == "<All keys matched successfully>"
    x = llgrad.randn(2, 3)
    assert np.array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())
    assert [p.name for p in tmp_path.iterdir()] == ["model.llgrad"]  # no temporary files left


def test_optimizer_state_dict_roundtrip():
    model, opt = trained()
    state = opt.state_dict()
    loaded = roundtrip(state)
    assert loaded["param_groups"] == state["param_groups"]
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    assert list(loaded["state"]) == list(state["state"]) == [0, 1, 2, 3, 4, 5]
    for pid, entries in state["state"].items():
        assert list(loaded["state"][pid]) == list(entries)
        for key, value in entries.items():
            assert_tensors_equal(loaded["state"][pid][key], value)
    step = loaded["state"][0]["step"]
    assert step.dtype is llgrad.float32 and step.ndim == 0
    opt2 = llgrad.optim.AdamW(model.parameters(), lr=0.5)
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[0]["lr"] == 0.01


def test_values_of_every_supported_kind():
    t = llgrad.arange(6, dtype=llgrad.float64).reshape(2, 3)
    obj = {
        "none": None, "true": True, "int": -3, "big": 2 ** 80, "float": 0.1, "inf": float("inf"),
        "nan": float("nan"), "str": "héllo", "bytes": b"\x00\xff", "list": [1, [2, (3,)]],
        "tuple": (1, "a", None), "dtype": llgrad.float16, "size": llgrad.Size([2, 3]),
        7: "int key", (1, 2): "tuple key",
        "tensors": [t, t.t(), llgrad.tensor(3.5), llgrad.zeros(0, 4),
                    llgrad.tensor([True, False]), llgrad.tensor([1, 2], dtype=llgrad.int8),
                    llgrad.tensor([1.5], dtype=llgrad.float16),
                    llgrad.tensor([7], dtype=llgrad.uint8)],
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
    }
    loaded = roundtrip(obj)
    assert list(loaded) == list(obj)
    for key in ("none", "true", "int", "big", "float", "inf", "str", "bytes", "list", "tuple",
                "dtype", "size", 7, (1, 2)):
        assert loaded[key] == obj[key] and type(loaded[key]) is type(obj[key])
    assert np.isnan(loaded["nan"])
    assert type(loaded["ordered"]) is OrderedDict and list(loaded["ordered"]) == ["b", "a"]
    for a, b in zip(loaded["tensors"], obj["tensors"]):
        assert_tensors_equal(a, b)


def test_shared_tensors_stay_shared_and_parameters_stay_parameters():
    p = llgrad.nn.Parameter(llgrad.randn(3))
    frozen = llgrad.nn.Parameter(llgrad.randn(2), requires_grad=False)
    leaf = llgrad.randn(2, requires_grad=True)
    loaded = roundtrip({"a": p, "b": [p, frozen], "leaf": leaf})
    assert loaded["a"] is loaded["b"][0]
    assert type(loaded["a"]) is llgrad.nn.Parameter and loaded["a"].requires_grad
    assert type(loaded["b"][1]) is llgrad.nn.Parameter and not loaded["b"][1].requires_grad
    assert type(loaded["leaf"]) is llgrad.Tensor and loaded["leaf"].requires_grad


def test_weights_only_false_is_just_as_safe():
    model, _ = trained()
    loaded = roundtrip(model.state_dict(), weights_only=False)
    assert list(loaded) == list(model.state_dict())


def test_unsupported_objects_name_the_type_and_the_remedy():
    model, opt = trained()
    with pytest.raises(TypeError, match=r"cannot store obj of type llgrad.nn.modules.container."
                                        r"Sequential.*Save its state_dict\(\) instead"):
        llgrad.save(model, io.BytesIO())
    with pytest.raises(TypeError, match=r"obj\['opt'\] of type llgrad.optim.adam.AdamW"):
        llgrad.save({"opt": opt}, io.BytesIO())
    with pytest.raises(TypeError, match=r"obj\[0\] of type function"):
        llgrad.save([lambda: 1], io.BytesIO())
    with pytest.raises(TypeError, match="of type set"):
        llgrad.save({"s": {1, 2}}, io.BytesIO())
    with pytest.raises(TypeError, match="does not use pickle"):
        llgrad.save({}, io.BytesIO(), pickle_module=pickle)


def test_files_that_are_not_checkpoints(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"definitely not a zip file")
    with pytest.raises(CheckpointError, match="is not an llgrad checkpoint \\(it is not a zip"):
        llgrad.load(junk)
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="no llgrad.json in the archive"):
        llgrad.load(plain_zip)
    wrong_format = tmp_path / "wrong.zip"
    with zipfile.ZipFile(wrong_format, "w") as z:
        z.writestr("llgrad.json", json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="does not declare format"):
        llgrad.load(wrong_format)
    future = tmp_path / "future.zip"
    with zipfile.ZipFile(future, "w") as z:
        z.writestr("llgrad.json", json.dumps({"format": "llgrad-checkpoint", "version": 99}))
    with pytest.raises(CheckpointError, match="version 99"):
        llgrad.load(future)


def test_pytorch_checkpoints_are_refused_with_advice(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="is a PyTorch checkpoint, which is a pickle"):
        llgrad.load(path)


class _RunsCode:
    """Unpickling this calls os.system: a stand-in for any code a malicious file carries."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _manifest(obj, tensors):
    return json.dumps({"format": "llgrad-checkpoint", "version": 1, "object": obj,
                       "tensors": tensors})


def test_crafted_files_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsCode(marker))
    assert not marker.exists()

    # 1. a pickle stream instead of a checkpoint
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(payload)
    with pytest.raises(CheckpointError):
        llgrad.load(raw)

    # 2. a PyTorch-style archive whose data.pkl carries the payload
    torch_style = tmp_path / "torch_style.pt"
    with zipfile.ZipFile(torch_style, "w") as z:
        z.writestr("archive/data.pkl", payload)
    with pytest.raises(CheckpointError):
        llgrad.load(torch_style)

    # 3. a valid manifest whose tensor file is an object array (np.save pickles objects)
    object_npy = io.BytesIO()
    np.save(object_npy, np.array([_RunsCode(marker)], dtype=object), allow_pickle=True)
    tensor_ref = {"$": "tensor", "index": 0, "dtype": "float32", "shape": [1],
                  "requires_grad": False, "parameter": False}
    npy_attack = tmp_path / "npy_attack.llgrad"
    with zipfile.ZipFile(npy_attack, "w") as z:
        z.writestr("llgrad.json", _manifest(tensor_ref, ["tensors/0.npy"]))
        z.writestr("tensors/0.npy", object_npy.getvalue())
    for weights_only in (True, False):
        with pytest.raises(CheckpointError, match="not a plain .npy array"):
            llgrad.load(npy_attack, weights_only=weights_only)

    # 4. a manifest that names a pickle file as a tensor, or asks for unknown kinds of objects
    pickle_as_tensor = tmp_path / "pickle_as_tensor.llgrad"
    with zipfile.ZipFile(pickle_as_tensor, "w") as z:
        z.writestr("llgrad.json", _manifest(tensor_ref, ["payload.pkl"]))
        z.writestr("payload.pkl", payload)
    with pytest.raises(CheckpointError):
        llgrad.load(pickle_as_tensor)
    for crafted in ({"$": "pickle", "data": payload.hex()},
                    {"$": "os.system", "args": ["touch " + str(marker)]},
                    {"$": "dtype", "name": "__import__('os').system('x')"},
                    {"$": "tensor", "index": 5, "dtype": "float32", "shape": [1]},
                    {"$": "dict", "keys": [{"$": "list", "items": []}], "values": [1]}):
        path = tmp_path / "crafted.llgrad"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("llgrad.json", _manifest(crafted, []))
        with pytest.raises(CheckpointError):
            llgrad.load(path)

    # 5. JSON constants that are not JSON (NaN, Infinity) are refused, not evaluated
    nan_manifest = tmp_path / "nan.llgrad"
    with zipfile.ZipFile(nan_manifest, "w") as z:
        z.writestr("llgrad.json", '{"format": "llgrad-checkpoint", "version": 1, '
                                  '"object": NaN, "tensors": []}')
    with pytest.raises(CheckpointError, match="damaged manifest"):
        llgrad.load(nan_manifest)

    assert not marker.exists()


def test_tensor_description_must_match_the_array(tmp_path):
    array = io.BytesIO()
    np.save(array, np.zeros((2, 2), dtype=np.float64))
    path = tmp_path / "mismatch.llgrad"
    ref = {"$": "tensor", "index": 0, "dtype": "float32", "shape": [2, 2]}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("llgrad.json", _manifest(ref, ["tensors/0.npy"]))
        z.writestr("tensors/0.npy", array.getvalue())
    with pytest.raises(CheckpointError, match="does not match its description"):
        llgrad.load(path)


def test_tensors_cannot_be_pickled():
    with pytest.raises(TypeError, match="use llgrad.save"):
        pickle.dumps(llgrad.ones(2))
