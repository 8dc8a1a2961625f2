"""Process memory settings that decide whether big arrays cost page faults, and the
allocation of a compiled step's fresh outputs (aligned when big, for streaming stores).

glibc returns freed memory to the OS once the free space at the top of the heap passes its
trim threshold, and serves large requests with fresh mmap'd pages. A training step frees and
allocates the same few-MB buffers (activations, gradients) every step, so with the defaults
every step pays a page fault per 4 KB page it writes: measured here, 5.9 ms -> 4.0 ms for an
eager 784-512-512-10 MLP step. Keeping freed memory in the heap avoids that, at the cost of
holding up to TRIM_THRESHOLD bytes after large frees.

The allocator belongs to the whole process, so llgrad never changes it by itself: call
`llgrad.runtime.memory.tune_allocator()` to opt in (eager training loops gain; compiled steps
reuse one arena and need it less).
"""
import ctypes
import sys

import numpy as np

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 512 * 1024 * 1024

_tuned = None


def tune_allocator():
    """Raise glibc's mmap and trim thresholds for this process (once); True if applied, False
    where there is nothing to tune (not glibc)."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux"):
        return _tuned
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own libc: no ldconfig lookup
    except (OSError, AttributeError):
        return _tuned  # not glibc (musl, ...): nothing to tune
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned


# Fresh outputs at least this big are allocated on a cache-line boundary. Kernels write such an
# output, when nothing in the step reads it back, with non-temporal stores: a store that misses
# the cache otherwise first reads the line it overwrites, a third more memory traffic for a
# kernel that reads one array and writes two. Arrays this big rarely stay cached until their
# next reader anyway.
STREAMED_OUTPUT_BYTES = 4 << 20
ALIGNMENT = 64


def empty_output(shape, dtype):
    """An uninitialized array for a step's fresh output: NumPy's own allocation when small, and
    aligned to ALIGNMENT bytes from STREAMED_OUTPUT_BYTES up (NumPy's is 16-byte aligned)."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= d
    if nbytes < STREAMED_OUTPUT_BYTES:
        return np.empty(shape, dtype)
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = (-raw.ctypes.data) % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)
