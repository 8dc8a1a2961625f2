"""`llgrad.save` / `llgrad.load`: checkpoints that are data only.

A checkpoint is a zip archive holding `llgrad.json`, a manifest that describes the saved object
(nested dicts, OrderedDicts, lists, tuples, str, int, float, bool, None, bytes, dtypes, Sizes and
tensors), and one `.npy` file per tensor. Loading parses JSON and reads the arrays with
`allow_pickle=False`: nothing in a file can make `load` run code, whatever `weights_only` says.
Each tensor is stored once, so objects that share a tensor (a model and its optimizer state, a
tied weight) share it again after loading.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from collections import OrderedDict
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .compiler import dtypes
from .tensor import Size, Tensor

if TYPE_CHECKING:
    from collections.abc import Callable

FORMAT = "llgrad-checkpoint"
VERSION = 1
MANIFEST = "llgrad.json"
_SUPPORTED = ("dict, OrderedDict, list, tuple, str, int, float, bool, None, bytes, llgrad dtypes, "
              "llgrad.Size and tensors")
_MAX_DEPTH = 200


class CheckpointError(RuntimeError):
    """The file is not an llgrad checkpoint, or is damaged."""


# ---- saving ------------------------------------------------------------------------------------

class _Writer:
    def __init__(self):
        self.arrays = []   # (archive name, array)
        self.tensor_ids = {}  # id(tensor) -> index into arrays (one file per tensor object)
        self.keep = []     # the tensors, alive until writing is done (ids stay unique)

    def encode(self, obj, depth=0, path="obj"):
        if depth > _MAX_DEPTH:
            raise ValueError(f"llgrad.save: the object is nested more than {_MAX_DEPTH} levels "
                             f"deep (at {path})")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return {"$": "int", "v": str(obj)} if abs(obj) >= 2 ** 53 else obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"$": "float", "v": repr(obj)}
        if isinstance(obj, Tensor):
            return self._tensor(obj, path)
        if isinstance(obj, dtypes.DType):
            return {"$": "dtype", "name": obj.name}
        if isinstance(obj, Size):
            return {"$": "size", "items": [int(d) for d in obj]}
        if isinstance(obj, (bytes, bytearray)):
            return {"$": "bytes", "hex": bytes(obj).hex()}
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return self.encode(obj.item(), depth, path)
        if isinstance(obj, dict):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            keys, values = [], []
            for k, v in obj.items():
                if not (k is None or isinstance(k, (str, int, float, bool, tuple))):
                    raise TypeError(f"llgrad.save: dictionary keys must be str, int, float, bool, "
                                    f"None or tuples of them; {path} has a key of type "
                                    f"{type(k).__qualname__}")
                keys.append(self.encode(k, depth + 1, f"{path} key"))
                values.append(self.encode(v, depth + 1, f"{path}[{k!r}]"))
            encoded = {"$": kind, "keys": keys, "values": values}
            metadata = getattr(obj, "_metadata", None)  # Module.state_dict's version records
            if isinstance(metadata, dict):
                encoded["metadata"] = self.encode(metadata, depth + 1, f"{path}._metadata")
            return encoded
        if type(obj) in (list, tuple):
            kind = "list" if type(obj) is list else "tuple"
            return {"$": kind, "items": [self.encode(v, depth + 1, f"{path}[{i}]")
                                         for i, v in enumerate(obj)]}
        raise TypeError(_unsupported_message(obj, path))

    def _tensor(self, t, path):
        data = t._data
        if type(data) is not np.ndarray:
            raise TypeError(f"llgrad.save: {path} is a traced tensor inside llgrad.compile; save "
                            f"outside the compiled function")
        index = self.tensor_ids.get(id(t))
        if index is None:
            index = len(self.arrays)
            self.arrays.append((f"tensors/{index}.npy", data))
            self.tensor_ids[id(t)] = index
            self.keep.append(t)
        from .nn.parameter import Parameter

        return {"$": "tensor", "index": index, "dtype": t.dtype.name,
                "shape": list(data.shape), "requires_grad": bool(t.requires_grad),
                "parameter": isinstance(t, Parameter)}


def _unsupported_message(obj, path):
    kind = type(obj)
    name = f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" \
        else kind.__qualname__
    hint = ""
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        hint = " Save its state_dict() instead and rebuild the object with load_state_dict()."
    return (f"llgrad.save cannot store {path} of type {name}: checkpoints hold only data "
            f"({_SUPPORTED}), never pickled objects or code.{hint} Otherwise convert it to those "
            f"types first.")


def save(obj: object, f: str | os.PathLike[str] | IO[bytes], pickle_module: Any = None,
         pickle_protocol: int | None = None, _use_new_zipfile_serialization: bool = True) -> None:
    """Writes `obj` to `f` (a path or a binary file object) as an llgrad checkpoint, as
    torch.save: tensors (Parameters stay Parameters), state dicts, and nested dicts, lists and
    tuples of them with numbers, strings, bools, None, dtypes and Size. Unlike torch.save
    nothing is pickled: other objects are refused with a TypeError, and the file (a zip of
    JSON and .npy arrays) is not readable by torch.load. A path is written atomically."""
    if pickle_module is not None:
        raise TypeError("llgrad.save does not use pickle; remove the pickle_module argument")
    writer = _Writer()
    manifest = {"format": FORMAT, "version": VERSION, "object": writer.encode(obj),
                "tensors": [name for name, _ in writer.arrays]}
    if isinstance(f, (str, os.PathLike)):
        _save_to_path(os.fspath(f), manifest, writer.arrays)
    else:
        _write_archive(f, manifest, writer.arrays)


def _save_to_path(path, manifest, arrays):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RuntimeError(f"Parent directory {os.path.dirname(path) or directory} does not "
                           f"exist. Create it first (os.makedirs) or save to another path.")
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".llgrad-save-")
    try:
        with os.fdopen(handle, "wb") as out:
            _write_archive(out, manifest, arrays)
        os.chmod(tmp, _new_file_mode(path))  # mkstemp makes 0600; open() would honour the umask
        os.replace(tmp, path)  # a crash never leaves a half-written checkpoint behind
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _new_file_mode(path):
    """The mode `open(path, "wb")` would leave: an existing file keeps its mode, a new one gets
    0o666 less the process umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask():
    try:  # Linux reports it without changing it (os.umask can only set, racing other threads)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_archive(out, manifest, arrays):
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, allow_nan=False))
        for name, array in arrays:
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            archive.writestr(name, buffer.getvalue())


# ---- loading -----------------------------------------------------------------------------------

def load(f: str | os.PathLike[str] | IO[bytes],
         map_location: str | Callable[..., Any] | dict[str, str] | Any = None,
         pickle_module: Any = None, *, weights_only: bool = True, mmap: bool | None = None,
         **kwargs: Any) -> Any:
    """Reads an object written by `llgrad.save` from a path or a binary file object, as
    torch.load. Only data is read (JSON and .npy arrays, never pickle), so loading an untrusted
    file runs no code; a damaged or crafted file raises CheckpointError. `weights_only` is
    accepted and changes nothing; `map_location` may only name the CPU."""
    if map_location is not None and str(getattr(map_location, "type", map_location)) \
            .split(":")[0] != "cpu" and not callable(map_location) and \
            not isinstance(map_location, dict):
        raise RuntimeError(f"llgrad runs on the CPU only; got map_location={map_location!r}")
    if isinstance(f, (str, os.PathLike)):
        name = os.fspath(f)
        with open(name, "rb") as stream:  # a missing file is FileNotFoundError, as in PyTorch
            return _load_archive(stream, name)
    return _load_archive(f, getattr(f, "name", "the file object"))


# Whatever a damaged or crafted archive makes zipfile, struct or the .npy header parser raise.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, struct.error,
                   zlib.error, NotImplementedError, ValueError, KeyError, IndexError, TypeError,
                   OverflowError, MemoryError, RecursionError, RuntimeError)


def _load_archive(stream, name):
    try:
        return _read_checkpoint(stream, name)
    except CheckpointError:
        raise
    except _ARCHIVE_ERRORS as error:
        raise CheckpointError(f"llgrad.load: {name} is damaged or truncated ({error}); it cannot "
                              f"be read. Save the checkpoint again, or restore it from a copy.") \
            from None


def _read_checkpoint(stream, name):
    size = _stream_size(stream)
    try:
        archive = zipfile.ZipFile(stream, "r")
    except zipfile.BadZipFile:
        raise CheckpointError(f"llgrad.load: {name} is not an llgrad checkpoint (it is not a zip "
                              f"archive, or it is truncated). llgrad reads only files written by "
                              f"llgrad.save.") from None
    with archive:
        members = _Members(archive, size, name)
        if MANIFEST not in members.names:
            raise CheckpointError(_not_a_checkpoint(name, members.names))
        try:
            manifest = json.loads(members.read(MANIFEST).decode("utf-8"),
                                  parse_constant=_reject_constant)
        except RecursionError:
            raise CheckpointError(f"llgrad.load: {name} has a damaged manifest (nested too "
                                  f"deeply)") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise CheckpointError(f"llgrad.load: {name} has a damaged manifest ({error})") \
                from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CheckpointError(f"llgrad.load: {name} is not an llgrad checkpoint (its "
                                  f"{MANIFEST} does not declare format {FORMAT!r})")
        if manifest.get("version") != VERSION:
            raise CheckpointError(f"llgrad.load: {name} is checkpoint format version "
                                  f"{manifest.get('version')!r}; this llgrad reads version "
                                  f"{VERSION}")
        tensor_names = manifest.get("tensors")
        if not isinstance(tensor_names, list) or not all(
                isinstance(n, str) and n in members.names for n in tensor_names):
            raise CheckpointError(f"llgrad.load: {name} lists tensor files that are missing")
        if len(set(tensor_names)) != len(tensor_names):
            raise CheckpointError(f"llgrad.load: {name} is damaged: two tensors name the same "
                                  f"file")
        reader = _Reader(members, tensor_names, name)
        return reader.decode(manifest.get("object"))


def _stream_size(stream):
    position = stream.tell()
    end = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return end


class _Members:
    """The archive's members, each checked before it is read: stored (not compressed), not
    encrypted, and lying inside the file. Reading therefore never allocates more than the file
    holds, whatever sizes a crafted archive declares."""

    def __init__(self, archive, archive_size, name):
        self.archive = archive
        self.archive_size = archive_size
        self.name = name
        self.names = set(archive.namelist())

    def open(self, member):
        info = self.archive.getinfo(member)
        damaged = None
        if info.flag_bits & 0x1:
            damaged = f"{member} is encrypted"
        elif info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            damaged = f"{member} is compressed (llgrad.save stores members uncompressed)"
        elif info.header_offset + info.file_size > self.archive_size:
            damaged = (f"{member} declares {info.file_size} bytes, more than the file holds "
                       f"(the file is truncated)")
        if damaged:
            raise CheckpointError(f"llgrad.load: {self.name} is damaged: {damaged}")
        return info.file_size, self.archive.open(info)

    def read(self, member):
        _, stream = self.open(member)
        with stream:
            return stream.read()


def _reject_constant(token):
    raise ValueError(f"unexpected constant {token}")


def _not_a_checkpoint(name, names):
    if any(n.endswith("data.pkl") for n in names):
        return (f"llgrad.load: {name} is a PyTorch checkpoint, which is a pickle: loading it could "
                f"run arbitrary code, so llgrad does not read it. Convert it once with PyTorch "
                f"(load it there, turn the tensors into NumPy arrays and build llgrad tensors with "
                f"llgrad.from_numpy), then save it with llgrad.save.")
    return (f"llgrad.load: {name} is not an llgrad checkpoint (no {MANIFEST} in the archive). "
            f"llgrad reads only files written by llgrad.save.")


_TAGS = ("int", "float", "tensor", "dtype", "size", "bytes", "dict", "odict", "list", "tuple")


class _Reader:
    def __init__(self, members, tensor_names, name):
        self.members = members
        self.tensor_names = tensor_names
        self.name = name
        self.tensors = {}

    def fail(self, what):
        return CheckpointError(f"llgrad.load: {self.name} is damaged: {what}")

    def decode(self, node, depth=0):
        if depth > _MAX_DEPTH + 1:
            raise self.fail("the object is nested too deeply")
        if node is None or isinstance(node, (bool, str, int)):
            return node
        if isinstance(node, float):
            return node
        if not isinstance(node, dict) or node.get("$") not in _TAGS:
            raise self.fail(f"unknown entry {str(node)[:80]!r}")
        tag = node["$"]
        try:
            if tag == "int":
                return int(node["v"])
            if tag == "float":
                value = node["v"]
                if isinstance(value, str):
                    if value not in ("inf", "-inf", "nan"):
                        raise self.fail(f"bad float {value!r}")
                    return float(value)
                return float(value)
            if tag == "tensor":
                return self._tensor(node)
            if tag == "dtype":
                return dtypes.from_name(node["name"])
            if tag == "size":
                return Size(int(d) for d in node["items"])
            if tag == "bytes":
                return bytes.fromhex(node["hex"])
            if tag in ("dict", "odict"):
                keys = [self._key(k, depth) for k in node["keys"]]
                values = [self.decode(v, depth + 1) for v in node["values"]]
                if len(keys) != len(values):
                    raise self.fail("a dictionary has different numbers of keys and values")
                result = (OrderedDict if tag == "odict" else dict)(zip(keys, values))
                if tag == "odict" and "metadata" in node:
                    metadata = self.decode(node["metadata"], depth + 1)
                    if not isinstance(metadata, dict):
                        raise self.fail("state-dict metadata is not a dictionary")
                    result._metadata = metadata
                return result
            items = [self.decode(v, depth + 1) for v in node["items"]]
            return items if tag == "list" else tuple(items)
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, CheckpointError):
                raise
            raise self.fail(f"malformed {tag} entry ({error!s})") from None

    def _key(self, node, depth):
        key = self.decode(node, depth + 1)
        if isinstance(key, list):
            raise self.fail("a dictionary key is a list")
        return key

    def _tensor(self, node):
        index = node["index"]
        if not isinstance(index, int) or not 0 <= index < len(self.tensor_names):
            raise self.fail(f"tensor index {index!r} out of range")
        tensor = self.tensors.get(index)
        if tensor is None:
            dtype = dtypes.from_name(node["dtype"])
            shape = node["shape"]
            if not isinstance(shape, list) or len(shape) > 64 or not all(
                    type(d) is int and d >= 0 for d in shape):
                raise self.fail(f"tensor {index} has a malformed shape {str(shape)[:80]}")
            array = self._array(index, dtype.np, tuple(shape))
            tensor = Tensor._wrap(array)
            if node.get("parameter"):
                from .nn.parameter import Parameter

                tensor = Parameter(tensor, requires_grad=bool(node.get("requires_grad")))
            elif node.get("requires_grad"):
                tensor.requires_grad_(True)
            self.tensors[index] = tensor
        return tensor

    def _array(self, index, dtype, shape):
        """Tensor `index` read as a C-ordered array of `dtype` and `shape`: the .npy header must
        say exactly that and the member must hold exactly those bytes, checked before the data is
        read."""
        member_size, stream = self.members.open(self.tensor_names[index])
        with stream:
            header = _npy_header(stream, index, self.fail)
            descr, fortran_order, stored_shape = header
            if descr != dtype or tuple(stored_shape) != shape:
                raise self.fail(f"tensor {index} does not match its description")
            nbytes = math.prod(shape) * dtype.itemsize
            if member_size != stream.tell() + nbytes:
                raise self.fail(f"tensor {index} holds {member_size - stream.tell()} bytes of "
                                f"data; its shape needs {nbytes}")
            data = bytearray(nbytes)
            if stream.readinto(data) != nbytes:
                raise self.fail(f"tensor {index} is truncated")
            stream.read()  # reaching the end checks the member's CRC
        array = np.frombuffer(data, dtype=dtype)
        if fortran_order:
            return np.array(array.reshape(shape[::-1]).T, order="C")
        return array.reshape(shape)


def _npy_header(stream, index, fail):
    """(dtype, fortran_order, shape) from a .npy header; object dtypes (pickles) are refused."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as error:
        raise fail(f"tensor {index} is not a plain .npy array ({error})") from None
    if dtype.hasobject:
        raise fail(f"tensor {index} is not a plain .npy array (it holds Python objects, which "
                   f"only a pickle can restore)")
    return dtype, fortran_order, shape
