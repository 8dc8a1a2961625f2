"""Damaged and crafted checkpoints: every one gives a single clear CheckpointError (a RuntimeError,
as PyTorch's loader raises), never another exception, never runs code, and never allocates more
than the file holds. Saving behaves like any other file write (umask, the user's path in errors)."""
import io
import json
import os
import pickle
import stat
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llgrad
from llgrad.serialization import CheckpointError


def checkpoint_bytes():
    llgrad.manual_seed(0)
    model = llgrad.nn.Linear(3, 2)
    opt = llgrad.optim.Adam(model.parameters(), lr=0.1)
    model(llgrad.randn(4, 3)).sum().backward()
    opt.step()
    obj = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3, "name": "run"}
    buffer = io.BytesIO()
    llgrad.save(obj, buffer)
    return obj, buffer.getvalue()


ORIGINAL, VALID = checkpoint_bytes()


def same(a, b):
    if isinstance(a, llgrad.Tensor):
        return (isinstance(b, llgrad.Tensor) and a.dtype is b.dtype and a.shape == b.shape
                and np.array_equal(a.detach().numpy(), b.detach().numpy(), equal_nan=True))
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


@pytest.fixture
def no_code_runs(monkeypatch):
    """Any attempt to unpickle or shell out during load fails the test (it is not an error
    load could turn into a CheckpointError)."""
    class CodeRan(BaseException):
        pass

    def refuse(*args, **kwargs):
        raise CodeRan("load tried to run code")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(os, "system", refuse)


def load_or_damaged(data):
    """The object `data` holds, or None when load refused it with a CheckpointError."""
    try:
        return llgrad.load(io.BytesIO(data))
    except CheckpointError as error:
        assert str(error).startswith("llgrad.load: ")
        return None


def test_the_valid_checkpoint_loads():
    assert same(ORIGINAL, llgrad.load(io.BytesIO(VALID)))


def test_every_truncation_is_a_clear_error(no_code_runs):
    for length in range(len(VALID)):
        assert load_or_damaged(VALID[:length]) is None, length


def test_every_flipped_byte_is_refused_or_harmless(no_code_runs):
    refused = 0
    for offset in range(len(VALID)):
        data = bytearray(VALID)
        data[offset] ^= 0xFF
        loaded = load_or_damaged(bytes(data))
        if loaded is None:
            refused += 1
        else:  # a byte zip never checks (a timestamp, an attribute) changed nothing
            assert same(ORIGINAL, loaded), offset
    assert refused > len(VALID) * 0.8  # the CRCs and the checks catch nearly all of them


def test_a_flipped_byte_in_tensor_data_fails_its_crc(tmp_path):
    path = tmp_path / "w.llgrad"
    llgrad.save({"w": llgrad.arange(1000, dtype=llgrad.float32)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="damaged or truncated .*CRC"):
        llgrad.load(path)


def manifest(obj, tensors=()):
    return json.dumps({"format": "llgrad-checkpoint", "version": 1, "object": obj,
                       "tensors": list(tensors)})


def archive(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def tensor_ref(shape, index=0, dtype="float32"):
    return {"$": "tensor", "index": index, "dtype": dtype, "shape": list(shape)}


def test_a_deeply_nested_manifest_is_a_clear_error():
    deep_json = '{"format": "llgrad-checkpoint", "version": 1, "object": ' + "[" * 100_000 \
        + "]" * 100_000 + ', "tensors": []}'
    with pytest.raises(CheckpointError, match="damaged manifest \\(nested too deeply\\)"):
        llgrad.load(io.BytesIO(archive({"llgrad.json": deep_json})))
    node = 1
    for _ in range(300):  # within JSON's limits, beyond llgrad's
        node = {"$": "list", "items": [node]}
    with pytest.raises(CheckpointError, match="nested too deeply"):
        llgrad.load(io.BytesIO(archive({"llgrad.json": manifest(node)})))


def peak_bytes_while(action):
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_small_file_cannot_make_load_allocate_much():
    big = 300 * 2 ** 20
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (big // 4,)})
    crafted = {
        # a zip bomb: 300 MB of zeros deflated into a few hundred KB
        "bomb": archive({"llgrad.json": manifest(tensor_ref([big // 4]), ["tensors/0.npy"]),
                         "tensors/0.npy": header.getvalue() + bytes(big)},
                        compression=zipfile.ZIP_DEFLATED),
        # an honest .npy header that declares 300 MB, followed by 16 bytes
        "short": archive({"llgrad.json": manifest(tensor_ref([big // 4]), ["tensors/0.npy"]),
                          "tensors/0.npy": header.getvalue() + bytes(16)}),
        # one 100 KB tensor file named by a hundred tensors
        "repeated": archive({"llgrad.json": manifest(
            [tensor_ref([25_000], i) for i in range(100)], ["tensors/0.npy"] * 100),
            "tensors/0.npy": _npy(np.zeros(25_000, np.float32))}),
    }
    for name, data in crafted.items():
        assert len(data) < 400_000, name

        def attempt():
            with pytest.raises(CheckpointError):
                llgrad.load(io.BytesIO(data))
        assert peak_bytes_while(attempt) < 8 * len(data) + 2 ** 20, name


def test_zip_sizes_beyond_the_file_are_refused():
    data = bytearray(archive({"llgrad.json": manifest(tensor_ref([4]), ["tensors/0.npy"]),
                              "tensors/0.npy": _npy(np.zeros(4, np.float32))}))
    # raise the sizes the central directory declares for tensors/0.npy to 2 GB
    entry = data.rindex(b"PK\x01\x02")
    data[entry + 20:entry + 28] = (2 ** 31).to_bytes(4, "little") * 2
    with pytest.raises(CheckpointError, match="more than the file holds"):
        llgrad.load(io.BytesIO(bytes(data)))


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_fortran_ordered_arrays_load_in_c_order():
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    data = archive({"llgrad.json": manifest(tensor_ref([2, 3], dtype="float64"),
                                            ["tensors/0.npy"]),
                    "tensors/0.npy": _npy(np.asfortranarray(array))})
    loaded = llgrad.load(io.BytesIO(data))
    assert np.array_equal(loaded.numpy(), array) and loaded.is_contiguous()
    transposed = llgrad.arange(6.0).reshape(3, 2).t()  # saved as a Fortran-ordered .npy
    assert np.array_equal(llgrad.load(io.BytesIO(_saved(transposed))).numpy(),
                          transposed.numpy())


def _saved(obj):
    buffer = io.BytesIO()
    llgrad.save(obj, buffer)
    return buffer.getvalue()


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        llgrad.load(tmp_path / "nothere.pt")


def test_saving_into_a_missing_directory_names_the_users_path(tmp_path):
    target = tmp_path / "missing" / "model.pt"
    with pytest.raises(RuntimeError, match=f"Parent directory {tmp_path / 'missing'} does not "
                                           f"exist"):
        llgrad.save({"a": 1}, target)
    assert list(tmp_path.iterdir()) == []


def test_saved_files_get_the_umask_and_overwrites_keep_the_mode(tmp_path):
    previous = os.umask(0o027)
    try:
        llgrad.save({"a": 1}, tmp_path / "new.pt")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "new.pt").st_mode) == 0o640
    existing = tmp_path / "existing.pt"
    existing.write_bytes(b"")
    os.chmod(existing, 0o604)
    llgrad.save({"a": 1}, existing)
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o604
    assert llgrad.load(existing) == {"a": 1}


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(VALID) - 1), st.integers(1, 255)),
    st.tuples(st.just("delete"), st.integers(0, len(VALID) - 1), st.integers(1, 64)),
    st.tuples(st.just("insert"), st.integers(0, len(VALID)), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("truncate"), st.integers(0, len(VALID) - 1), st.just(0)),
)


def mutate(data, mutations):
    data = bytearray(data)
    for kind, where, what in mutations:
        where = min(where, len(data))
        if kind == "flip" and where < len(data):
            data[where] ^= what
        elif kind == "delete":
            del data[where:where + what]
        elif kind == "insert":
            data[where:where] = what
        elif kind == "truncate":
            del data[where:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(mutation, min_size=1, max_size=4))
def test_fuzz_mutated_checkpoints_load_or_fail_clearly(no_code_runs, mutations):
    loaded = load_or_damaged(mutate(VALID, mutations))
    assert loaded is None or same(ORIGINAL, loaded)
