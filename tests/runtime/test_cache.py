"""The on-disk kernel cache (runtime/cache.py): keys, entries, and every way a cache directory
goes wrong that users of other frameworks' caches reported: truncated, corrupt, foreign and
unloadable entries, racing processes, a writer killed mid-write, a read-only path, a file where
the directory should be, a full disk, entries for another CPU.

Each test gets an empty cache directory of its own (tmp_path) and forgets the steps this process
shares in memory, so what it compiles is really compiled, and what it loads comes from disk.
"""
import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import llgrad
from llgrad.compiler import dtypes
from llgrad.compiler import primitives as P
from llgrad.compiler.interpreter import run
from llgrad.compiler.ir import Graph
from llgrad.compiler.primitive import Aval
from llgrad.runtime import cache, llvm, native
from llgrad.runtime.native import compile_graph


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLGRAD_CACHE_DIR", str(folder))
    monkeypatch.delenv("LLGRAD_CACHE", raising=False)
    monkeypatch.delenv("LLGRAD_CACHE_MAX_SIZE", raising=False)
    monkeypatch.delenv("LLGRAD_DEBUG", raising=False)
    forget_in_memory()
    yield folder
    forget_in_memory()


def forget_in_memory():
    """What a new process would have: no step shared in memory (loaded routines stay: they are
    keyed and cached like steps, and reloading them is not what these tests are about)."""
    native.forget_steps()


def graph(scale=2.5, n=37, dtype=dtypes.float32):
    """exp(x * scale + 1) and its sum: two kernels, a constant, no shared routine, no threads."""
    g = Graph()
    x = g.add_input(Aval((n,), dtype))
    y = P.exp(P.add(P.mul(x, scale), 1.0))
    g.outputs = [y, P.reduce_sum(y, axes=(0,), keepdims=False)]
    return g


def inputs(n=37, dtype=np.float32):
    return [np.linspace(-1, 1, n).astype(dtype)]


def check(step, g, xs=None):
    """The step's native code runs (its own execution count moves) and agrees with the
    reference interpreter."""
    xs = xs or inputs(g.inputs[0].shape[0], g.inputs[0].dtype.np)
    assert step.name == "llvm"
    before = step.executions
    for got, want in zip(step(xs), run(g, xs)):
        np.testing.assert_allclose(got, want, rtol=2e-6)
    assert step.executions == before + 1


def entries(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(cache.SUFFIX)) if os.path.isdir(
        folder) else []


def entry_of(step, folder):
    return os.path.join(folder, step.cache_key + cache.SUFFIX)


def cache_warnings(record):
    return [str(w.message) for w in record if issubclass(w.category, cache.CacheWarning)]


# ---- keys ----------------------------------------------------------------------------------------

def test_key_is_the_content_never_an_object_id():
    host = llvm.target("host")
    options = {"inplace": []}
    same = [cache.step_key(graph(), host, options).digest for _ in range(2)]
    assert same[0] == same[1]  # two graphs built apart, two Value and Node identities
    differs = {
        "-0.0": cache.step_key(graph(scale=-0.0), host, options),
        "0.0": cache.step_key(graph(scale=0.0), host, options),
        "next float": cache.step_key(graph(scale=float(np.nextafter(np.float32(2.5), 3))), host,
                                     options),
        "shape": cache.step_key(graph(n=38), host, options),
        "dtype": cache.step_key(graph(dtype=dtypes.float64), host, options),
        "options": cache.step_key(graph(), host, {"inplace": [[0, 0]]}),
        "target": cache.step_key(graph(), llvm.target("avx2"), options),
        "generic": cache.step_key(graph(), llvm.target("generic"), options),
    }
    digests = [k.digest for k in differs.values()] + [same[0]]
    assert len(set(digests)) == len(digests)
    parts = differs["target"].parts
    assert parts["target"]["cpu"] == "haswell" and parts["versions"]["llvm"].startswith(
        str(llvm.llvm.llvm_version_info[0]))
    assert set(parts["versions"]) >= {"llgrad", "source", "llvm", "llvmlite", "python"}


def test_array_parameters_are_keyed_by_their_bytes():
    def with_table(values):
        g = Graph()
        x = g.add_input(Aval((3,), dtypes.float32))
        g.outputs = [P.add(x, g.constant(np.array(values, np.float32)))]
        return cache.step_key(g, llvm.target("host"), {}).digest

    assert with_table([1, 2, 3]) == with_table([1, 2, 3])
    assert with_table([1, 2, 3]) != with_table([1, 2, 4])


def test_what_a_key_cannot_describe_is_compiled_without_the_cache():
    with pytest.raises(cache.Uncacheable, match="parameter of type object"):
        cache._encode(object())
    assert cache._encode((1, [2.0], "a", None, True)) != cache._encode([1, (2.0,), "a", None, 1])


def test_sizes():
    assert cache.parse_size("500M") == 500 << 20
    assert cache.parse_size("2G") == cache.parse_size("2GiB") == cache.parse_size("2gb") == 2 << 30
    assert cache.parse_size("1.5K") == 1536 and cache.parse_size("4096") == 4096
    with pytest.raises(ValueError, match="not a size"):
        cache.parse_size("lots")


# ---- hits: from disk, from memory -------------------------------------------------------------

def test_a_compiled_step_is_stored_and_loaded_back_from_disk(cache_dir):
    g = graph()
    first = compile_graph(g)
    assert first.cache_source == "compiled"
    assert entries(cache_dir) == [first.cache_key + cache.SUFFIX]
    forget_in_memory()
    again = compile_graph(graph())
    assert again.cache_source == "disk" and again.cache_key == first.cache_key
    assert again.code is not first.code
    check(again, g)
    assert "kernel cache" in native.describe(again)  # explain relowers what it shows
    assert len(again.program.kernels) == len(first.program.kernels)


def test_same_key_shares_one_loaded_object_in_memory(cache_dir):
    a = compile_graph(graph())
    b = compile_graph(graph())
    assert b.cache_source == "memory" and b.code is a.code and b._loaded is a._loaded
    check(a, graph())
    check(b, graph())
    assert a.executions == b.executions == 1  # each step counts its own calls
    f = llgrad.compile(lambda x: (x * 3).exp(), backend="llvm")
    g = llgrad.compile(lambda x: (x * 3).exp(), backend="llvm")
    x = llgrad.tensor(np.linspace(0, 1, 9, dtype=np.float32))
    np.testing.assert_array_equal(f(x).numpy(), g(x).numpy())
    assert (f.stats["compiles"], g.stats["compiles"], g.stats["memory_hits"]) == (1, 0, 1)
    assert g.stats["executions"]["llvm"] == 1


def test_a_new_process_loads_the_step_from_disk(cache_dir):
    """The spec's case: a second run of a script: disk_hits >= 1, compiles == 0, same result;
    and it loads its code without importing the code generator or llvmlite's Python bindings
    (llvm._CAPI calls llvmlite's library directly; the step calls the shared GEMM)."""
    script = (
        "import json, sys, numpy as np, llgrad\n"
        "f = llgrad.compile(lambda x, w: ((x @ w) * 2.5 + 1.0).exp().sum(), backend='llvm')\n"
        "x = llgrad.tensor(np.linspace(-1, 1, 1024, dtype=np.float32).reshape(32, 32))\n"
        "out = f(x, x).item()\n"
        "heavy = ('llvmlite.binding', 'llvmlite.ir', 'llgrad.compiler.lowering',"
        " 'llgrad.compiler.codegen.emit', 'llgrad.compiler.codegen.gemm')\n"
        "print(json.dumps([out, f.stats['compiles'], f.stats['disk_hits'],"
        " f.stats['executions']['llvm'], [m for m in heavy if m in sys.modules]]))\n")
    env = dict(os.environ, LLGRAD_CACHE_DIR=str(cache_dir))
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                      capture_output=True, text=True).stdout)
            for _ in range(2)]
    x = llgrad.tensor(np.linspace(-1, 1, 1024, dtype=np.float32).reshape(32, 32))
    eager = ((x @ x) * 2.5 + 1.0).exp().sum().item()
    assert runs[0][1:4] == [1, 0, 1] and runs[1][1:4] == [0, 1, 1]
    assert runs[0][0] == runs[1][0]
    assert runs[1][0] == pytest.approx(eager, rel=1e-5)
    assert "llvmlite.binding" in runs[0][4]  # the first run generated code
    if llvm._capi() is not None:
        assert runs[1][4] == []


def test_a_hit_skips_the_optimization_passes(cache_dir):
    """The key covers the traced graph (markers stripped): a hit runs no other pass, and the
    optimized graph is made only when something asks for it (explain)."""
    def make():
        w = llgrad.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3),
                          requires_grad=True)

        def step(x):
            loss = ((x @ w).tanh() * 1.0 + 0.0).sum()
            loss.backward()
            return loss

        return llgrad.compile(step, backend="llvm"), w

    x = llgrad.tensor(np.linspace(0, 1, 8, dtype=np.float32).reshape(2, 4))
    cold, w_cold = make()
    want = cold(x).item()
    forget_in_memory()
    warm, w_warm = make()
    assert warm(x).item() == want
    np.testing.assert_array_equal(w_warm.grad.numpy(), w_cold.grad.numpy())
    assert (warm.stats["compiles"], warm.stats["disk_hits"]) == (0, 1)
    spec = warm.specializations[0]
    assert spec._graphs._optimized == [None, None]
    assert [name for name, _, _ in spec.pass_log] == ["strip_autodiff_markers"]
    text = warm.explain(x)
    assert "== optimized graph" in text and "dce" in text
    assert len(spec.graph.nodes) == len(cold.specializations[0].graph.nodes)


def test_the_direct_llvm_calls_agree_with_llvmlite():
    """What llvm._CAPI reads of the host (it decides the cache key) equals what llvmlite's
    bindings say, and the entry names native.py loads are the ones the code generator emits."""
    import llvmlite.binding as binding

    from llgrad.compiler.codegen import emit

    capi = llvm._capi()
    if capi is None:
        pytest.skip("llvmlite version without the direct calls: the bindings are used")
    assert capi.version_info() == binding.llvm_version_info
    assert capi.string(capi.GetProcessTriple)[1] == binding.get_process_triple()
    assert capi.string(capi.GetHostCPUName)[1] == binding.get_host_cpu_name()
    assert capi.host_features() == binding.get_host_cpu_features().flatten()
    assert (native.ENTRY, native.PYTHON_ENTRY, native.PYTHON_API) == (
        emit.ENTRY, emit.PYTHON_ENTRY, emit.PYTHON_API)


def test_off_switch(cache_dir, monkeypatch):
    monkeypatch.setenv("LLGRAD_CACHE", "0")
    step = compile_graph(graph())
    check(step, graph())
    assert not os.path.exists(cache_dir)
    assert compile_graph(graph()).cache_source == "memory"  # sharing in memory stays


# ---- bad entries ------------------------------------------------------------------------------

def _cut_in_half(path, other):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])


def _random_bytes(path, other):
    size = os.path.getsize(path)
    open(path, "wb").write(np.random.default_rng(0).bytes(size))


def _flip_one_byte(path, other):
    data = bytearray(open(path, "rb").read())
    data[len(data) * 3 // 4] ^= 0x10  # inside the object code
    open(path, "wb").write(bytes(data))


def _another_keys_entry(path, other):
    open(path, "wb").write(open(other, "rb").read())


def _another_llgrad_version(path, other):
    """A whole, checksummed entry under this key's name, written by another llgrad version."""
    header, blobs = cache.decode(open(path, "rb").read())
    parts = {k: v for k, v in header["parts"].items() if k != "kind"}
    parts["versions"] = dict(parts["versions"], llgrad="0.0.1")
    key = cache.Key("step", parts)
    key.digest = header["key"]
    blobs = {name: bytes(b) for name, b in blobs.items()}
    open(path, "wb").write(cache.encode(key, header["plan"], blobs))


def _another_entry_format(path, other):
    """A whole entry (its checksum right) in a format this llgrad does not read."""
    import hashlib
    import struct

    data = bytearray(open(path, "rb").read()[:-32])
    struct.pack_into("<I", data, 8, cache.FORMAT + 1)
    open(path, "wb").write(bytes(data) + hashlib.sha256(data).digest())


def exp_sum(x):
    return (x * 2.5 + 1.0).exp().sum()


def exp_sum_other(x):
    return (x * 3.5 + 1.0).exp().sum()


def compiled_entry(fn, x, folder):
    f = llgrad.compile(fn, backend="llvm")
    f(x)
    return f, entry_of(f.specializations[0].executable.step, folder)


@pytest.mark.parametrize("damage, problem", [
    (_cut_in_half, "truncated"), (_random_bytes, "not an llgrad cache entry"),
    (_flip_one_byte, "checksum"), (_another_keys_entry, "another key"),
    (_another_llgrad_version, "llgrad version (0.0.1 in the entry"),
    (_another_entry_format, "entry format 2")])
def test_a_damaged_entry_is_detected_warned_about_once_and_recompiled(cache_dir, damage,
                                                                       problem):
    x = llgrad.tensor(np.linspace(-1, 1, 300, dtype=np.float32))
    eager = exp_sum(x).item()
    first, path = compiled_entry(exp_sum, x, cache_dir)
    _, other = compiled_entry(exp_sum_other, x, cache_dir)
    damage(path, other)
    forget_in_memory()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        again = llgrad.compile(exp_sum, backend="llvm")
        assert again(x).item() == pytest.approx(eager, rel=1e-6)
        forget_in_memory()
        third = llgrad.compile(exp_sum, backend="llvm")  # the rewritten entry is good
        assert third(x).item() == pytest.approx(eager, rel=1e-6)
    found = cache_warnings(record)
    assert len(found) == 1, found
    assert path in found[0] and problem in found[0]
    assert (again.stats["compiles"], again.stats["disk_hits"]) == (1, 0)  # never loaded
    assert (third.stats["compiles"], third.stats["disk_hits"]) == (0, 1)
    assert again.stats["executions"] == third.stats["executions"] == {"llvm": 1, "interp": 0}
    header, _ = cache.decode(open(path, "rb").read())
    assert header["key"] + cache.SUFFIX == os.path.basename(path)


def test_an_entry_for_another_cpu_is_never_used(cache_dir, capsys, monkeypatch):
    """An entry with a correct checksum, planted under this step's name but built for another
    CPU's features, is refused; a real entry of the other CPU (under its own key) is simply
    never looked up, and LLGRAD_DEBUG=cache says how the nearest entry differs."""
    step = compile_graph(graph())
    path = entry_of(step, cache_dir)
    header, blobs = cache.decode(open(path, "rb").read())
    parts = dict(header["parts"])
    parts["target"] = dict(parts["target"], features=parts["target"]["features"]
                           + ",+avx512f,+avx512bw,+avx512vl")
    foreign = cache.Key("step", {k: v for k, v in parts.items() if k != "kind"})
    blobs = {name: bytes(b) for name, b in blobs.items()}
    planted = cache.Key("step", {k: v for k, v in parts.items() if k != "kind"})
    planted.digest = step.cache_key  # the other CPU's entry, under this CPU's name
    open(path, "wb").write(cache.encode(planted, header["plan"], blobs))
    forget_in_memory()
    with pytest.warns(cache.CacheWarning, match="CPU features") as record:
        again = compile_graph(graph())
    assert len(cache_warnings(record)) == 1 and again.cache_source == "compiled"
    check(again, graph())

    os.unlink(path)
    other = os.path.join(cache_dir, foreign.digest + cache.SUFFIX)
    open(other, "wb").write(cache.encode(foreign, header["plan"], blobs))
    forget_in_memory()
    monkeypatch.setenv("LLGRAD_DEBUG", "cache")
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a miss, not a problem
        third = compile_graph(graph())
    assert third.cache_source == "compiled" and os.path.exists(other)
    err = capsys.readouterr().err
    assert "miss" in err and "CPU features (+avx512bw, +avx512f, +avx512vl only in the entry)" \
        in err, err
    forget_in_memory()
    compile_graph(graph())
    assert f"hit {step.cache_key[:16]}" in capsys.readouterr().err


def test_an_entry_whose_symbols_do_not_resolve_is_refused_before_it_is_loaded(cache_dir):
    step = compile_graph(graph())
    path = entry_of(step, cache_dir)
    header, blobs = cache.decode(open(path, "rb").read())
    bad = llvm.compile_object(
        "declare i32 @llgrad_no_such_function(i8*)\n"
        "define i32 @llgrad_step(i8* %t) {\n"
        "  %r = call i32 @llgrad_no_such_function(i8* %t)\n  ret i32 %r\n}\n").obj
    key = cache.Key("step", {k: v for k, v in header["parts"].items() if k != "kind"})
    assert key.digest == step.cache_key
    blobs = dict({n: bytes(b) for n, b in blobs.items()}, object=bad)
    open(path, "wb").write(cache.encode(key, header["plan"], blobs))
    forget_in_memory()
    with pytest.warns(cache.CacheWarning, match="llgrad_no_such_function") as record:
        again = compile_graph(graph())
    assert len(cache_warnings(record)) == 1 and "cannot be loaded" in str(record[0].message)
    assert again.cache_source == "compiled"
    check(again, graph())


# ---- processes --------------------------------------------------------------------------------

_RACER = r"""
import json, os, sys, time
import numpy as np
import llgrad
ready, go = sys.argv[1:3]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
f = llgrad.compile(lambda x: (x * 2.5 + 1.0).exp().sum(), backend="llvm")
x = llgrad.tensor(np.linspace(-1, 1, 1000, dtype=np.float32))
print(json.dumps([f(x).item(), f.stats["compiles"], f.stats["disk_hits"],
                  f.stats["executions"]["llvm"]]))
"""


def test_eight_processes_compiling_one_step_into_one_empty_directory(cache_dir, tmp_path):
    env = dict(os.environ, LLGRAD_CACHE_DIR=str(cache_dir))
    ready = [tmp_path / f"ready{k}" for k in range(8)]
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(r), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in ready]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # all at once
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Warning" not in err, err
        results.append(json.loads(out))
    assert len({value for value, _, _, _ in results}) == 1
    x = llgrad.tensor(np.linspace(-1, 1, 1000, dtype=np.float32))
    assert results[0][0] == pytest.approx((x * 2.5 + 1.0).exp().sum().item(), rel=1e-6)
    assert all(compiles + hits == 1 and ran == 1 for _, compiles, hits, ran in results)
    names = os.listdir(cache_dir)
    assert len(names) == 1 and names[0].endswith(cache.SUFFIX), names  # no temp files
    header, _ = cache.decode(open(cache_dir / names[0], "rb").read())
    assert header["key"] + cache.SUFFIX == names[0]


_KILLED = r"""
import os, sys, time
import numpy as np
import llgrad
real_write = os.write

def half_then_hang(fd, data):
    written = real_write(fd, bytes(data[:len(data) // 2]))
    print("writing", flush=True)
    time.sleep(600)
    return written

os.write = half_then_hang
f = llgrad.compile(lambda x: (x * 2.5 + 1.0).exp().sum(), backend="llvm")
f(llgrad.tensor(np.linspace(-1, 1, 1000, dtype=np.float32)))
"""


def test_a_writer_killed_mid_write_leaves_nothing_a_later_run_trips_over(cache_dir):
    env = dict(os.environ, LLGRAD_CACHE_DIR=str(cache_dir))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    temps = os.listdir(cache_dir)
    assert len(temps) == 1 and temps[0].startswith(".") and temps[0].endswith(".tmp")
    assert entries(cache_dir) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = llgrad.compile(lambda x: (x * 2.5 + 1.0).exp().sum(), backend="llvm")
        x = llgrad.tensor(np.linspace(-1, 1, 1000, dtype=np.float32))
        assert f(x).item() == pytest.approx((x * 2.5 + 1.0).exp().sum().item(), rel=1e-6)
    assert f.stats["compiles"] == 1 and f.stats["executions"]["llvm"] == 1
    assert len(entries(cache_dir)) == 1
    assert cache.info(str(cache_dir))["temp_files"] == 1  # not read, not in the way
    cache.prune(1 << 30, str(cache_dir))
    assert cache.info(str(cache_dir))["temp_files"] == 1  # maybe still being written
    old = time.time() - 2 * cache.STALE_TEMP_SECONDS
    os.utime(os.path.join(cache_dir, temps[0]), (old, old))
    cache.prune(1 << 30, str(cache_dir))
    assert os.listdir(cache_dir) == entries(cache_dir) and len(entries(cache_dir)) == 1


# ---- directories that cannot be written -------------------------------------------------------

def _read_only_directory(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except OSError:
        return folder
    (folder / "probe").unlink()  # root ignores permissions: use a read-only file system
    for candidate in ("/sys/llgrad-kernel-cache", "/proc/llgrad-kernel-cache"):
        try:
            os.makedirs(candidate)
        except OSError:
            return candidate
        os.rmdir(candidate)
    pytest.skip("no read-only path available")


def _file_not_directory(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    return path


@pytest.mark.parametrize("where, reason", [
    (_read_only_directory, ""), (_file_not_directory, "a file, not a directory")])
def test_an_unwritable_cache_directory_gives_one_warning(cache_dir, tmp_path, monkeypatch, where,
                                                          reason):
    folder = str(where(tmp_path))
    monkeypatch.setenv("LLGRAD_CACHE_DIR", folder)
    with pytest.warns(cache.CacheWarning) as record:
        for scale in (1.5, 2.5, 3.5):  # three steps, one warning
            g = graph(scale=scale)
            check(compile_graph(g), g)
    found = cache_warnings(record)
    assert len(found) == 1, found
    assert folder in found[0] and "cannot be written" in found[0] and reason in found[0]
    assert "compiled code stays in memory" in found[0]


def test_a_full_disk_gives_one_warning_and_leaves_no_temp_file(cache_dir, monkeypatch):
    import errno

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.warns(cache.CacheWarning) as record:
        steps = [compile_graph(graph(scale=s)) for s in (1.5, 2.5)]
    monkeypatch.undo()
    found = cache_warnings(record)
    assert len(found) == 1 and "No space left on device" in found[0], found
    for s, step in zip((1.5, 2.5), steps):
        check(step, graph(scale=s))
    assert os.listdir(cache_dir) == []


# ---- size ---------------------------------------------------------------------------------------

def test_least_recently_used_entries_go_first(cache_dir):
    steps = [compile_graph(graph(scale=s)) for s in (1.5, 2.5, 3.5)]
    paths = [entry_of(s, cache_dir) for s in steps]
    now = time.time()
    for age, path in zip((300, 200, 100), paths):
        os.utime(path, (now - age, now - age))
    forget_in_memory()
    assert compile_graph(graph(scale=1.5)).cache_source == "disk"  # the oldest, used again
    sizes = [os.path.getsize(p) for p in paths]
    removed, left = cache.prune(sum(sizes) - 1, str(cache_dir))
    assert removed == 1 and not os.path.exists(paths[1])
    assert os.path.exists(paths[0]) and os.path.exists(paths[2])
    assert left == sizes[0] + sizes[2]


def test_the_cache_prunes_itself_past_its_size_limit(cache_dir, monkeypatch):
    first = compile_graph(graph(scale=0.5))
    size = os.path.getsize(entry_of(first, cache_dir))
    limit = int(size * 2.5)
    monkeypatch.setenv("LLGRAD_CACHE_MAX_SIZE", str(limit))
    steps = [compile_graph(graph(scale=s)) for s in (1.5, 2.5, 3.5, 4.5)]
    total = sum(os.path.getsize(os.path.join(cache_dir, n)) for n in entries(cache_dir))
    assert total <= limit and os.path.exists(entry_of(steps[-1], cache_dir))
    assert not os.path.exists(entry_of(first, cache_dir))
