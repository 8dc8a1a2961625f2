"""What the machine is and what it can do: CPU, caches, library versions, thread counts, and its
measured limits (memory bandwidth, peak float32 GFLOP/s) that every case is held against.

Limits are measured, not looked up: bandwidth with STREAM's kernels (copy: NumPy's memcpy on one
thread; scale a = 3b and triad a = b + 3c: one fused llgrad kernel, 1 and N threads) over buffers
far larger than the last-level cache ("dram") and over a working set a quarter of it ("llc");
peak GFLOP/s from a float32 GEMM, NumPy's (OpenBLAS) and llgrad's own, at 1 and N threads. Each
figure is the best of several timed repetitions: on a shared machine noise only ever slows a
run, so the fastest run is the closest to the limit.
"""
import contextlib
import ctypes
import os
import platform
import sys
import time

import numpy as np

FALLBACK_LLC = 32 << 20


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _size_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def caches():
    """Per level (1, 2, 3): bytes of one instance of the data/unified cache, from sysfs."""
    found = {}
    base = "/sys/devices/system/cpu/cpu0/cache"
    for entry in sorted(os.listdir(base)) if os.path.isdir(base) else ():
        folder = os.path.join(base, entry)
        kind, level, size = (_read(os.path.join(folder, f)) for f in ("type", "level", "size"))
        if kind in ("Data", "Unified") and level and size:
            found[int(level)] = _size_bytes(size)
    return found


def last_level_cache():
    found = caches()
    return found[max(found)] if found else FALLBACK_LLC


def cpu_name():
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_threads():
    """$LLGRAD_NUM_THREADS, else the cores this process may run on (as benchmarks/conftest.py)."""
    value = os.environ.get("LLGRAD_NUM_THREADS")
    return int(value) if value else usable_cores()


def _version(module_name):
    return getattr(sys.modules.get(module_name) or __import__(module_name), "__version__", "?")


def installed_version(distribution):
    """The installed version of a distribution, without importing it (None: not installed)."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def describe():
    """CPU name, LLVM's view of the host (what llgrad's code generation targets), cores, caches,
    versions of every library involved (None: not installed)."""
    from llvmlite import binding as llvm

    import llgrad

    features = llvm.get_host_cpu_features()
    enabled = sorted(name for name, on in features.items() if on)
    vector = [f for f in ("sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                          "avx512vnni", "avx512bf16", "neon", "sve") if f in enabled]
    blas = None
    with contextlib.suppress(Exception):
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
    versions = {"python": platform.python_version(), "llgrad": llgrad.__version__,
                "numpy": np.__version__, "numpy_blas": blas,
                "llvmlite": _version("llvmlite"),
                "llvm": ".".join(map(str, llvm.llvm_version_info))}
    for name in ("torch", "jax", "jaxlib", "scipy", "matplotlib"):
        versions[name] = installed_version(name)
    return {"cpu": cpu_name(), "llvm_cpu": llvm.get_host_cpu_name(),
            "vector_features": vector, "features": enabled,
            "cores": os.cpu_count(), "usable_cores": usable_cores(),
            "caches": {f"L{k}": v for k, v in caches().items()},
            "system": f"{platform.system()} {platform.release()} {platform.machine()}",
            "versions": versions}


# ---- thread counts --------------------------------------------------------------------------

def _openblas_handles():
    """(get, set) of the OpenBLAS NumPy loaded, found in this process's memory map."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    getter.restype = ctypes.c_int
                    return getter, setter
    return None


def blas_threads(count):
    """Set NumPy's BLAS thread count; returns a function restoring the old one (threadpoolctl
    when installed, else OpenBLAS's own entry point; the environment variable would be too late:
    NumPy is loaded). Returns None when neither works (the BLAS keeps its own count)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        return threadpool_limits(limits=count, user_api="blas").restore_original_limits
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure the BLAS is loaded
    handles = _openblas_handles()
    if handles is None:
        return None
    getter, setter = handles
    old = getter()
    setter(count)
    return lambda: setter(old)


def _jax_backend_started():
    """Whether JAX created its CPU client already (importing jax does not; the first array or
    jax.devices() does)."""
    try:
        from jax._src import xla_bridge
    except ImportError:
        return True  # another layout: assume the worst
    return bool(getattr(xla_bridge, "_backends", True))


def start_jax(threads):
    """Import JAX with its CPU thread pool sized to `threads`. XLA sizes that pool from the
    CPU affinity of the thread that creates its client and no flag overrides it (XLA_FLAGS'
    intra_op_parallelism_threads is ignored), so the calling thread's affinity is narrowed to
    `threads` cores while the client starts, then restored. Returns (jax, None), or (jax, why
    the count may differ) when JAX had started already or affinity cannot be set."""
    import jax

    if _jax_backend_started():
        return jax, ("JAX's CPU client had started before the benchmark: its thread count may "
                     "differ")
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return jax, "no CPU affinity here: JAX uses every core"
    if threads >= len(cores):
        jax.devices()
        return jax, None
    os.sched_setaffinity(0, cores[:threads])
    try:
        jax.block_until_ready(jax.jit(lambda x: x + 1)(jax.numpy.ones(4)))
    finally:
        os.sched_setaffinity(0, cores)
    return jax, None


# ---- limits ---------------------------------------------------------------------------------

def best_time(fn, repeat, calls=1):
    """The fastest of `repeat` timings of `calls` calls of fn, per call (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def _llgrad_stream(kind, n):
    """A compiled in-place STREAM kernel over n float32 and the bytes it moves (a written, every
    operand read once). One fused native loop: llgrad's thread pool shares it out."""
    import llgrad

    a, b, c = llgrad.zeros(n), llgrad.ones(n), llgrad.ones(n)

    def scale():
        with llgrad.no_grad():
            a.copy_(b * 3.0)

    def triad():
        with llgrad.no_grad():
            a.copy_(b + 3.0 * c)

    fn = llgrad.compile(scale if kind == "scale" else triad, backend="llvm")
    fn()
    assert fn.stats["executions"]["llvm"] > 0, "the STREAM kernel did not run natively"
    return fn, (2 if kind == "scale" else 3) * 4 * n


def bandwidth(n, threads, repeat):
    """GB/s of copy (NumPy, one thread), scale and triad (llgrad, 1 and `threads` threads) over
    n float32 per array."""
    import llgrad

    before = llgrad.get_num_threads()
    a, b = np.zeros(n, np.float32), np.ones(n, np.float32)
    calls = max(1, int(2e7 // n))
    found = {"copy_numpy_1t": 8 * n / best_time(lambda: np.copyto(a, b), repeat, calls) / 1e9}
    del a, b
    try:
        for kind in ("scale", "triad"):
            fn, nbytes = _llgrad_stream(kind, n)
            for count in sorted({1, threads}):
                llgrad.set_num_threads(count)
                found[f"{kind}_llgrad_{count}t"] = nbytes / best_time(fn, repeat, calls) / 1e9
            del fn
    finally:
        llgrad.set_num_threads(before)
    return found


def gemm_peak(n, threads, repeat):
    """GFLOP/s of an n x n x n float32 GEMM: NumPy's (its BLAS) and llgrad's compiled matmul,
    each at 1 and `threads` threads."""
    import llgrad

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    flops = 2.0 * n ** 3
    calls = max(1, int(2e8 // flops))
    found = {}
    before = llgrad.get_num_threads()
    la, lb = llgrad.tensor(a), llgrad.tensor(b)
    matmul = llgrad.compile(lambda x, y: x @ y, backend="llvm")
    try:
        for count in sorted({1, threads}):
            restore = blas_threads(count)
            try:
                found[f"numpy_{count}t"] = flops / best_time(
                    lambda: np.matmul(a, b, out=c), repeat, calls) / 1e9
            finally:
                if restore:
                    restore()
            llgrad.set_num_threads(count)
            found[f"llgrad_{count}t"] = flops / best_time(
                lambda: matmul(la, lb), repeat, calls) / 1e9
    finally:
        llgrad.set_num_threads(before)
    assert matmul.stats["executions"]["llvm"] > 0, "llgrad's GEMM did not run natively"
    return found


# Measurement sizes per run mode: (DRAM buffer floats per array, GEMM size, repetitions).
# Many short repetitions rather than a few long ones: on a shared machine the best of them is
# the one that caught a quiet moment (a 1024^3 GEMM takes ~20 ms at 100 GFLOP/s).
LIMIT_SIZES = {
    "tiny": (1 << 16, 128, 2),
    "quick": (None, 1024, 4),
    "default": (None, 1024, 12),
    "full": (None, 1024, 20),
}


def measure_limits(threads, mode="default"):
    """The machine's roofs: bandwidth from memory ("dram": each array 4x the last-level cache,
    2x with --quick, at least 64 MiB) and from the last-level cache ("llc": a working set a
    quarter of it), and peak GFLOP/s at one and at `threads` threads."""
    llc = last_level_cache()
    dram_n, gemm_n, repeat = LIMIT_SIZES[mode]
    if dram_n is None:  # --quick: 2x the cache per array (3 arrays: 6x) saves seconds
        dram_n = max((2 if mode == "quick" else 4) * llc, 64 << 20) // 4
    llc_n = max(llc // 4 // 3 // 4, 1 << 12)
    if mode == "tiny":
        llc_n = 1 << 12
    started = time.perf_counter()
    dram = bandwidth(dram_n, threads, repeat)
    cached = bandwidth(llc_n, threads, repeat * 3)
    peak = gemm_peak(gemm_n, threads, repeat)
    single = max(peak["numpy_1t"], peak["llgrad_1t"])
    # N threads can always do what one does: on a busy machine the N-thread figure may be lower
    best = {"peak_gflops_1t": single, "peak_gflops": max(single, max(peak.values())),
            "dram_gbs": max(dram.values()), "llc_gbs": max(max(cached.values()),
                                                           max(dram.values()))}
    return {"threads": threads,
            "dram": {"bytes_per_array": 4 * dram_n, "gbs": dram},
            "llc": {"bytes_per_array": 4 * llc_n, "gbs": cached},
            "gemm": {"n": gemm_n, "gflops": peak},
            "roofs": best, "last_level_cache": llc,
            "seconds": time.perf_counter() - started}


def busy_cpu_seconds():
    """CPU seconds used by every process since boot (Linux /proc/stat; None elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def own_cpu_seconds():
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LoadMeter:
    """How many CPUs other processes kept busy while the benchmark ran: a shared machine's
    noise, reported beside the figures it spoils."""

    def __init__(self):
        self.start = (time.perf_counter(), busy_cpu_seconds(), own_cpu_seconds())

    def others(self):
        wall, busy, own = self.start
        now_busy = busy_cpu_seconds()
        if busy is None or now_busy is None:
            return None
        elapsed = time.perf_counter() - wall
        return max(0.0, ((now_busy - busy) - (own_cpu_seconds() - own)) / max(elapsed, 1e-9))
