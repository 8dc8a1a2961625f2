"""The on-disk kernel cache: compiled object code that outlives the process.

Every native compilation (a step's module, each shared routine, the thread pool) is stored under
`LLGRAD_CACHE_DIR` (default `$XDG_CACHE_HOME/llgrad`, else `~/.cache/llgrad`) in a file named by
its key, and a later process that needs the same code loads it from bytes (MCJIT, in memory: no
dlopen of a file, so a noexec cache directory does not matter) instead of lowering, emitting IR
and running LLVM. `LLGRAD_CACHE=0` turns the disk cache off; `LLGRAD_CACHE_MAX_SIZE` (default
1G; e.g. 500M, 2G: powers of 1024) bounds it, least recently used entries going first.

The key is a SHA-256 over everything that decides the generated code, never an object id or a
modification time: the optimized graph serialized canonically (primitive names, parameters with
arrays by dtype, shape and bytes and floats by their exact hex form, input avals, outputs), the
in-place plan, input strides and the other code-generation options, the llgrad version and a hash
of the compiler's and runtime's own source (so a changed code generator never reuses old code),
the LLVM and llvmlite versions, the Python ABI, the target triple, CPU name, exact feature string
and vector width.

An entry, `<key>.llgk`:

    offset 0   magic b"LLGRADKC"
           8   format version, u32 little-endian (FORMAT)
          12   header length H, u32
          16   header: JSON, UTF-8 (the key and its parts, the kind of entry, what the runtime
               needs to run the code -- the "plan" --, the blob table, a note of what it is)
      16 + H   blobs (object code, constant arrays), at the offsets the header gives
    size - 32  SHA-256 of every byte before it

Reading never executes anything from the file: JSON and raw bytes only (no pickle), and object
code is loaded only after the checksum, the format, the key and every key part matched and every
symbol it calls resolved. A truncated, corrupt, foreign-format or foreign-key entry is ignored
with one warning (CacheWarning, naming the file and the problem), removed, and recompiled (the
new entry replaces it).

Writes are atomic: a temp file with a unique name in the same directory (`.<key>.<pid>.<random>
.tmp`, never a name readers look at), written, fsync'ed, then renamed over the entry. There are
no lock files: processes racing on one key each write a whole entry and the last rename wins. A
directory that cannot be written (read-only, a file, full disk) gives one warning per process
and compilation goes on in memory.
"""
import errno
import json
import os
import re
import struct
import sys
import threading
import time
import warnings

import numpy as np

from ..compiler.dtypes import DType
from ..compiler.primitive import REGISTRY, Aval, Primitive

MAGIC = b"LLGRADKC"
FORMAT = 1
SUFFIX = ".llgk"
_PREFIX = struct.Struct("<8sII")
_DIGEST = 32
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.llgk$")
_TEMP_NAME = re.compile(r"^\.[0-9a-f]{64}\.\d+\.[0-9a-f]+\.tmp$")
DEFAULT_MAX_SIZE = 1 << 30
STALE_TEMP_SECONDS = 3600  # a temp file this old belongs to a writer that died
MAX_HEADER = 64 << 20


class CacheWarning(UserWarning):
    """A problem with the kernel cache; the run goes on (recompiling, or compiling in memory)."""


class Uncacheable(Exception):
    """The graph holds something the key cannot describe exactly: compile without the cache."""


# ---- settings ------------------------------------------------------------------------------------

def enabled():
    """Whether the disk cache is on ($LLGRAD_CACHE, default on; 0/false/no/off turn it off)."""
    return os.environ.get("LLGRAD_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def directory():
    """$LLGRAD_CACHE_DIR, else $XDG_CACHE_HOME/llgrad, else ~/.cache/llgrad."""
    chosen = os.environ.get("LLGRAD_CACHE_DIR")
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "llgrad")


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text):
    """Bytes in a size such as "500M", "2G", "1.5GiB", "4096" (K, M, G, T are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(?:i?b)?\s*", str(text), re.I)
    if not match:
        raise ValueError(f"not a size: {text!r} (use a number of bytes, or one with a unit: "
                         f"500M, 2G, 1.5GiB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


_warned_settings = set()


def max_size():
    """The size limit: $LLGRAD_CACHE_MAX_SIZE, default 1 GiB."""
    raw = os.environ.get("LLGRAD_CACHE_MAX_SIZE")
    if not raw:
        return DEFAULT_MAX_SIZE
    try:
        return parse_size(raw)
    except ValueError as error:
        if raw not in _warned_settings:
            _warned_settings.add(raw)
            warnings.warn(f"llgrad: LLGRAD_CACHE_MAX_SIZE: {error}; using the default 1G",
                          CacheWarning, stacklevel=3)
        return DEFAULT_MAX_SIZE


def debugging():
    """LLGRAD_DEBUG has "cache": report each miss and hit on stderr."""
    return "cache" in {f.strip() for f in os.environ.get("LLGRAD_DEBUG", "").split(",")}


def report(text):
    print(f"llgrad cache: {text}", file=sys.stderr)


# ---- hashes --------------------------------------------------------------------------------------
#
# Importing hashlib loads OpenSSL's libcrypto: 5-8 ms of CPU, a sixth of a warm start's budget.
# A warm start hashes little (keys, entries of tens of KB, the compiler's source), so it uses
# CPython's own SHA-256 and BLAKE2 modules, which give the same digests; hashlib's (faster on
# large data) once something has imported it, or for data over a megabyte.

_BIG = 1 << 20


def _builtin(names, attribute):
    for name in names:
        try:
            return getattr(__import__(name), attribute)
        except (ImportError, AttributeError):
            continue
    return None


_own_sha256 = _builtin(("_sha2", "_sha256"), "sha256")  # (CPython 3.12+, 3.11)
_own_blake2b = _builtin(("_blake2",), "blake2b")


def sha256(data=b""):
    """A SHA-256 hash object over `data`."""
    if _own_sha256 is None or len(data) > _BIG or "hashlib" in sys.modules:
        import hashlib

        return hashlib.sha256(data)
    return _own_sha256(data)


def _blake2b():
    """A 256-bit BLAKE2b hash object."""
    if _own_blake2b is None or "hashlib" in sys.modules:
        import hashlib

        return hashlib.blake2b(digest_size=32)
    return _own_blake2b(digest_size=32)


# ---- keys ----------------------------------------------------------------------------------------

_fingerprint = None


def source_fingerprint():
    """A hash of the compiler's and runtime's source: code generated by another revision of the
    code generator is never reused, even under the same version number."""
    global _fingerprint
    if _fingerprint is None:
        from .. import compiler

        roots = [os.path.dirname(os.path.abspath(compiler.__file__)),
                 os.path.dirname(os.path.abspath(__file__))]
        digest = _blake2b()  # (fast without OpenSSL: the source is ~0.5 MB)
        for root in roots:
            paths = []
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                paths += [os.path.join(folder, f) for f in files if f.endswith(".py")]
            for path in sorted(paths):
                with open(path, "rb") as f:
                    text = f.read()
                name = os.path.relpath(path, os.path.dirname(root)).encode()
                digest.update(name + b"\0" + len(text).to_bytes(8, "little") + text)
        _fingerprint = digest.hexdigest()
    return _fingerprint


def _versions():
    import llvmlite

    from .. import __version__
    from .llvm import llvm_version_info

    return {"llgrad": __version__, "source": source_fingerprint(), "format": FORMAT,
            "llvm": ".".join(map(str, llvm_version_info())), "llvmlite": llvmlite.__version__,
            "python": sys.implementation.cache_tag, "numpy": np.__version__.split(".")[0]}


_TARGET_FIELDS = ("name", "triple", "cpu", "features", "vector_bits", "llvm", "llvmlite")


def _target_part(target):
    """The target's key as named fields (its LLVM and llvmlite versions are under versions)."""
    values = target.key()
    part = {}
    for k, value in enumerate(values):
        name = _TARGET_FIELDS[k] if k < len(_TARGET_FIELDS) else f"field{k}"
        if name in ("llvm", "llvmlite"):
            continue
        part[name] = _plain(value)
    return part


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class Key:
    """A cache key: its parts (what decided the code, as JSON) and their SHA-256."""

    def __init__(self, kind, parts, about=None):
        self.kind = kind
        self.parts = dict(parts, kind=kind)
        text = json.dumps(self.parts, sort_keys=True, separators=(",", ":"))
        self.digest = sha256(text.encode()).hexdigest()
        self.about = about or {}

    def __repr__(self):
        return f"<cache key {self.kind} {self.digest[:16]}>"


def module_key(name, target, pipeline):
    """The key of a module built by llgrad's own code from `name` alone (a shared routine, the
    thread pool): its generator's source is in the fingerprint."""
    return Key("module", {"name": name, "pipeline": pipeline, "target": _target_part(target),
                          "versions": _versions()}, {"name": name})


def step_key(graph, target, options):
    """The key of a step's module: the optimized graph, the code-generation `options` (a dict of
    JSON values), the target and the versions. Raises Uncacheable."""
    return Key("step", {"graph": graph_digest(graph), "options": options,
                        "target": _target_part(target), "versions": _versions()},
               {"name": "step", "nodes": len(graph.nodes),
                "inputs": ", ".join(_aval_text(v.aval) for v in graph.inputs)[:200]})


def _aval_text(aval):
    return f"{aval.dtype.name}[{','.join(map(str, aval.shape))}]"


def graph_digest(graph):
    """SHA-256 of the graph's canonical form: values numbered by position (inputs, then node
    outputs in order), each node as its primitive's name, input numbers, parameters sorted by
    name and output avals; then the outputs. Raises Uncacheable for what it cannot describe."""
    known = _known_primitives
    numbers = {}
    for v in graph.inputs:
        numbers[v] = len(numbers)
    nodes = []
    for node in graph.nodes:
        prim = node.prim
        if prim not in known:
            if REGISTRY.get(prim.name) is not prim or not all(
                    f is None or str(getattr(f, "__module__", "")).startswith(_OURS)
                    for f in (prim.abstract, prim.lower)):
                raise Uncacheable(f"primitive {prim.name!r} is not one of llgrad's compiler's")
            known.add(prim)
        try:
            inputs = [numbers[v] for v in node.inputs]
        except KeyError:
            raise Uncacheable(f"a {prim.name} node reads a value from another graph") from None
        params = [[str(k), _encode(v)] for k, v in sorted(node.params.items())]
        outputs = []
        for v in node.outputs:
            numbers[v] = len(numbers)
            outputs.append(_encode_aval(v.aval))
        nodes.append([prim.name, inputs, params, outputs])
    try:
        outputs = [numbers[v] for v in graph.outputs]
    except KeyError:
        raise Uncacheable("an output is not a value of the graph") from None
    canonical = {"inputs": [_encode_aval(v.aval) for v in graph.inputs], "nodes": nodes,
                 "outputs": outputs}
    text = json.dumps(canonical, separators=(",", ":"), allow_nan=False)
    return sha256(text.encode()).hexdigest()


_OURS = (__name__.rsplit(".", 2)[0] + ".compiler",)  # "llgrad.compiler"
_known_primitives = set()  # primitives whose rules live in llgrad's compiler (in the fingerprint)


def _encode_aval(aval):
    return [[int(d) for d in aval.shape], aval.dtype.name]


def _encode(value):
    """A parameter as JSON that says exactly what it is (tagged: a tuple is not a list, 1.0 is
    not 1, floats by hex so -0.0 and NaN payloads stay apart)."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return ["i", str(value)]
    if kind is float:
        return ["f", value.hex()]
    if kind is tuple or kind is list:
        return ["t" if kind is tuple else "l"] + [_encode(v) for v in value]
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise Uncacheable("a dict parameter with keys that are not strings")
        return ["m"] + [[k, _encode(v)] for k, v in sorted(value.items())]
    if kind is np.ndarray:
        if value.dtype.kind not in "biufc" or value.dtype.hasobject:
            raise Uncacheable(f"an array parameter of dtype {value.dtype}")
        data = np.ascontiguousarray(value)
        return ["a", data.dtype.str, [int(d) for d in data.shape],
                sha256(data.tobytes()).hexdigest()]
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return ["s", value.dtype.str, value.tobytes().hex()]
    if isinstance(value, DType):
        return ["d", value.name]
    if isinstance(value, np.dtype):
        return ["nd", value.str]
    if kind is slice:
        return ["sl", _encode(value.start), _encode(value.stop), _encode(value.step)]
    if isinstance(value, Aval):
        return ["av"] + _encode_aval(value)
    if isinstance(value, Primitive):
        return ["p", value.name]
    raise Uncacheable(f"a parameter of type {kind.__name__}")


# ---- entries -------------------------------------------------------------------------------------

class Entry:
    """A valid entry read back: its plan (JSON) and blobs (bytes)."""

    def __init__(self, path, header, blobs, stat):
        self.path, self.header, self.blobs, self.stat = path, header, blobs, stat
        self.plan = header["plan"]


def entry_path(key, folder=None):
    return os.path.join(folder or directory(), key.digest + SUFFIX)


def encode(key, plan, blobs):
    """The bytes of an entry for `key`: `plan` (JSON) and `blobs` (name -> bytes)."""
    table, offset = {}, 0
    for name, data in blobs.items():
        table[name] = [offset, len(data)]
        offset += len(data)
    header = {"key": key.digest, "kind": key.kind, "parts": key.parts, "plan": plan,
              "blobs": table, "about": dict(key.about, written=time.time(), pid=os.getpid())}
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    import hashlib  # (writing follows a compilation: no warm start to save time for)

    digest = hashlib.sha256()
    pieces = [_PREFIX.pack(MAGIC, FORMAT, len(text)), text] + [bytes(d) for d in blobs.values()]
    for piece in pieces:
        digest.update(piece)
    return b"".join(pieces) + digest.digest()


def decode(data, key=None):
    """(header, blobs) of an entry's bytes, or raise EntryError saying what is wrong with it.
    With `key`, the entry must be that key's, part for part."""
    if len(data) < _PREFIX.size:
        raise EntryError("truncated (shorter than an entry's fixed header)")
    magic, version, length = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise EntryError("not an llgrad cache entry (bad magic bytes)")
    if version != FORMAT:
        raise EntryError(f"written in entry format {version}, this llgrad reads format {FORMAT} "
                         f"(another llgrad version)")
    if length > MAX_HEADER or _PREFIX.size + length + _DIGEST > len(data):
        raise EntryError("truncated (the header runs past the end of the file)")
    body = memoryview(data)[:len(data) - _DIGEST]
    if sha256(body).digest() != bytes(data[len(data) - _DIGEST:]):
        raise EntryError("corrupt or truncated (checksum mismatch)")
    try:
        header = json.loads(bytes(body[_PREFIX.size:_PREFIX.size + length]).decode())
        start = _PREFIX.size + length
        blobs = {}
        for name, (offset, size) in header["blobs"].items():
            if not (isinstance(offset, int) and isinstance(size, int) and 0 <= offset
                    and 0 <= size and start + offset + size <= len(body)):
                raise EntryError(f"blob {name!r} lies outside the entry")
            blobs[name] = body[start + offset:start + offset + size]
        if not isinstance(header["plan"], dict) or not isinstance(header["parts"], dict):
            raise EntryError("malformed header")
    except EntryError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise EntryError(f"malformed header ({type(error).__name__})") from None
    if key is not None:
        if header.get("key") != key.digest:
            raise EntryError(f"holds the entry of another key ({str(header.get('key'))[:16]})")
        difference = describe_difference(key.parts, header["parts"])
        if difference:
            raise EntryError(f"was built for a different configuration: {difference}")
    return header, blobs


class EntryError(Exception):
    pass


def describe_difference(ours, theirs):
    """Which key parts differ, in words ("CPU features (+avx512f only in the entry)"), or ""."""
    if not isinstance(theirs, dict):
        return "everything"
    found = []
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        if a == b:
            continue
        if name == "target" and isinstance(a, dict) and isinstance(b, dict):
            found += _target_difference(a, b)
        elif name == "versions" and isinstance(a, dict) and isinstance(b, dict):
            for field in sorted(set(a) | set(b)):
                if a.get(field) != b.get(field):
                    what = {"source": "llgrad's compiler source", "format": "entry format"}.get(
                        field, f"{field} version")
                    found.append(f"{what} ({_short(b.get(field))} in the entry, "
                                 f"{_short(a.get(field))} here)")
        elif name == "options" and isinstance(a, dict) and isinstance(b, dict):
            fields = sorted(f for f in set(a) | set(b) if a.get(f) != b.get(f))
            found.append(f"code-generation options ({', '.join(fields)})")
        else:
            found.append({"graph": "graph", "kind": "kind of entry",
                          "name": "module"}.get(name, name))
    return "; ".join(found)


def _target_difference(a, b):
    found = []
    if a.get("cpu") != b.get("cpu"):
        found.append(f"CPU name ({b.get('cpu')} in the entry, {a.get('cpu')} here)")
    if a.get("features") != b.get("features"):
        ours = set(str(a.get("features") or "").split(","))
        theirs = set(str(b.get("features") or "").split(","))
        only_theirs = sorted(f for f in theirs - ours if f)
        only_ours = sorted(f for f in ours - theirs if f)
        bits = []
        if only_theirs:
            bits.append(f"{', '.join(only_theirs[:6])}{' ...' if len(only_theirs) > 6 else ''} "
                        f"only in the entry")
        if only_ours:
            bits.append(f"{', '.join(only_ours[:6])}{' ...' if len(only_ours) > 6 else ''} "
                        f"only here")
        found.append(f"CPU features ({'; '.join(bits) or 'order'})")
    for field in sorted((set(a) | set(b)) - {"cpu", "features"}):
        if a.get(field) != b.get(field):
            found.append(f"target {field} ({b.get(field)} in the entry, {a.get(field)} here)")
    return found


def _short(value):
    text = str(value)
    return text[:12] if len(text) == 64 else text


# ---- reading and writing -------------------------------------------------------------------------

_lock = threading.Lock()
_unwritable = set()  # directories this process could not write (warned about once)
_sizes = {}  # directory -> [estimated total bytes, stores since the last scan, scan time]


def lookup(key, folder=None):
    """The valid entry for `key`, or None (missing; or bad: then warned about and removed)."""
    path = entry_path(key, folder)
    try:
        with open(path, "rb") as f:
            stat = os.fstat(f.fileno())
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        if error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
            _warn(f"llgrad: cannot read kernel cache entry {path}: {error.strerror}; compiling")
        return None
    try:
        header, blobs = decode(data, key)
    except EntryError as problem:
        discard(path, str(problem), stat)
        return None
    try:
        os.utime(path)  # least recently used goes first when pruning
    except OSError:
        pass
    return Entry(path, header, blobs, stat)


def discard(path, problem, stat=None):
    """Warn (once, one line) that the entry at `path` is unusable and remove it, unless another
    process has replaced it meanwhile."""
    _warn(f"llgrad: ignoring kernel cache entry {path}: {problem}; it is removed and the code "
          f"compiled again")
    try:
        if stat is not None:
            now = os.stat(path)
            if (now.st_dev, now.st_ino) != (stat.st_dev, stat.st_ino):
                return  # a fresh entry took its place
        os.unlink(path)
    except OSError:
        pass


def _warn(message):
    warnings.warn(message, CacheWarning, stacklevel=3)


def store(key, plan, blobs, folder=None):
    """Write the entry atomically; returns its path, or None when the directory cannot be written
    (one warning per process and directory)."""
    folder = folder or directory()
    if folder in _unwritable:
        return None
    data = encode(key, plan, blobs)
    final = entry_path(key, folder)
    temp = os.path.join(folder, f".{key.digest}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not os.path.isdir(folder):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)
    except OSError as error:
        try:
            os.unlink(temp)
        except OSError:
            pass
        with _lock:
            if folder in _unwritable:
                return None
            _unwritable.add(folder)
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError) or (isinstance(error, NotADirectoryError)
                                                  and os.path.exists(folder)):
            reason = "it is a file, not a directory"
        _warn(f"llgrad: the kernel cache directory {folder} cannot be written ({reason}); "
              f"compiled code stays in memory for this process (set LLGRAD_CACHE_DIR, or "
              f"LLGRAD_CACHE=0 to turn the disk cache off)")
        return None
    _account(folder, len(data), final)
    return final


def _account(folder, size, keep):
    """Prune once the directory's estimated size passes the limit (the estimate is rescanned
    every 64 stores or minute, other processes writing too)."""
    limit = max_size()
    with _lock:
        state = _sizes.get(folder)
        now = time.monotonic()
        if state is None or state[1] >= 64 or now - state[2] > 60:
            state = _sizes[folder] = [None, 0, now]
        state[1] += 1
        if state[0] is not None:
            state[0] += size
            if state[0] <= limit:
                return
    removed, total = prune(int(limit * 0.9) if limit else 0, folder, keep=keep)
    with _lock:
        _sizes[folder] = [total, 0, time.monotonic()]


# ---- the directory as a whole (the command line, pruning) ----------------------------------------

def scan(folder=None):
    """(entries, temps): entries as (path, size, last used), temp files as (path, size, mtime)."""
    folder = folder or directory()
    entries, temps = [], []
    try:
        listing = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return entries, temps
    for item in listing:
        try:
            if _ENTRY_NAME.match(item.name):
                st = item.stat(follow_symlinks=False)
                entries.append((item.path, st.st_size, max(st.st_atime, st.st_mtime)))
            elif _TEMP_NAME.match(item.name):
                st = item.stat(follow_symlinks=False)
                temps.append((item.path, st.st_size, st.st_mtime))
        except OSError:
            continue  # removed meanwhile
    return entries, temps


def prune(max_bytes, folder=None, keep=None):
    """Remove least recently used entries until they total at most `max_bytes`, and temp files
    left by writers that died. Returns (entries removed, bytes remaining)."""
    entries, temps = scan(folder)
    now = time.time()
    for path, _, mtime in temps:
        if now - mtime > STALE_TEMP_SECONDS:
            _remove(path)
    total = sum(size for _, size, _ in entries)
    removed = 0
    for path, size, _ in sorted(entries, key=lambda e: e[2]):
        if total <= max_bytes:
            break
        if path == keep:
            continue
        if _remove(path):
            removed += 1
            total -= size
    return removed, total


def clear(folder=None):
    """Remove every entry and temp file. Returns (files removed, bytes freed)."""
    entries, temps = scan(folder)
    count = freed = 0
    for path, size, _ in entries + temps:
        if _remove(path):
            count += 1
            freed += size
    with _lock:
        _sizes.pop(folder or directory(), None)
    return count, freed


def _remove(path):
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def info(folder=None):
    """What the command line's `cache info` shows, as a dict."""
    folder = folder or directory()
    entries, temps = scan(folder)
    kinds = {}
    for path, _, _ in entries:
        header = read_header(path)
        kind = header.get("kind", "unreadable") if header else "unreadable"
        kinds[kind] = kinds.get(kind, 0) + 1
    used = [e[2] for e in entries]
    return {"directory": folder, "exists": os.path.isdir(folder), "enabled": enabled(),
            "entries": len(entries), "bytes": sum(e[1] for e in entries), "kinds": kinds,
            "oldest": min(used) if used else None, "newest": max(used) if used else None,
            "temp_files": len(temps), "max_bytes": max_size()}


def read_header(path):
    """An entry's header without checking the rest (for info and debug reports), or None."""
    try:
        with open(path, "rb") as f:
            prefix = f.read(_PREFIX.size)
            magic, version, length = _PREFIX.unpack(prefix)
            if magic != MAGIC or version != FORMAT or length > MAX_HEADER:
                return None
            return json.loads(f.read(length).decode())
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return None


def nearest(key, folder=None):
    """(path, difference) of the entry of the same kind whose parts are closest to `key`'s,
    or None when there is none (LLGRAD_DEBUG=cache)."""
    best = None
    for path, _, _ in scan(folder)[0]:
        header = read_header(path)
        if not header or header.get("kind") != key.kind:
            continue
        parts = header.get("parts") or {}
        if key.kind == "module" and parts.get("name") != key.parts.get("name"):
            continue
        difference = describe_difference(key.parts, parts)
        score = (sum(parts.get(k) == v for k, v in key.parts.items()),
                 -difference.count(";"))
        if best is None or score > best[0]:
            best = (score, path, difference)
    return None if best is None else (best[1], best[2])


# ---- loading code --------------------------------------------------------------------------------

_POOL_SYMBOLS = ("llgrad_parallel_for", "llgrad_num_threads")


def load_code(obj, target):
    """Load object code in memory (llvm.load_object, which refuses code whose symbols do not
    resolve), loading the thread pool first when the code calls it."""
    from . import llvm

    ensure_callees(obj)
    return llvm.load_object(obj, target)


def ensure_callees(obj):
    """Load what `obj` calls that is loaded on demand: the thread pool."""
    from . import llvm

    if any(name in _POOL_SYMBOLS and not llvm.symbol_address(name)
           for name in llvm.undefined_symbols(obj)):
        from . import threadpool

        threadpool.ensure_pool()


def compile_cached(name, target, pipeline, build):
    """LoadedCode of the module `name` (built by llgrad's own code for `target`), from the cache
    or compiled: `build()` gives (IR text, plan), the plan a JSON dict whose "symbols" must be
    defined by the code. Returns (code, plan, "disk" | "compiled"); code.timings has the time
    of each phase."""
    from . import llvm

    key = module_key(name, target, pipeline)
    on = enabled()
    if on:
        start = time.perf_counter()
        entry = lookup(key)
        if entry is not None:
            try:
                plan = entry.plan
                symbols = plan["symbols"]
                if not (isinstance(symbols, list) and all(isinstance(s, str) for s in symbols)):
                    raise ValueError("malformed plan")
                code = load_code(bytes(entry.blobs["object"]), target)
                for symbol in symbols:
                    code.address(symbol)
            except (RuntimeError, KeyError, TypeError, ValueError) as error:
                discard(entry.path, f"cannot be loaded ({error})", entry.stat)
            else:
                code.timings = {"cache_load": time.perf_counter() - start}
                if debugging():
                    report(f"hit {key.digest[:16]} ({name}) from {entry.path}")
                return code, plan, "disk"
        elif debugging():
            report_miss(key, name)
    ir_text, plan = build()
    compiled = llvm.compile_object(ir_text, target, pipeline)
    ensure_callees(compiled.obj)
    code = llvm.load_compiled(compiled)
    if on:
        path = store(key, plan, {"object": compiled.obj})
        if path and debugging():
            report(f"stored {key.digest[:16]} ({name}) in {path}")
    return code, plan, "compiled"


def report_miss(key, what):
    """LLGRAD_DEBUG=cache: a miss, and how the nearest entry differs."""
    found = nearest(key)
    if found is None:
        report(f"miss {key.digest[:16]} ({what}): no entry of this kind in {directory()}")
    else:
        report(f"miss {key.digest[:16]} ({what}): the nearest entry, "
               f"{os.path.basename(found[0])}, differs in {found[1] or 'nothing (a race)'}")
