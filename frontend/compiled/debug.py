"""LLGRAD_DEBUG: what llgrad.compile reports as it works, on stderr.

`LLGRAD_DEBUG=graphs,retrace,kernels,llvm,asm,cache` (any subset, comma separated):
cache    the kernel cache: for each miss, which key part differed from the nearest entry (CPU
         features, versions, graph); for each hit, where the code came from (the runtime's
         cache module prints these)
graphs   the forward, backward and optimized graphs of each new specialization
retrace  why a call did not match an existing specialization
kernels  the fused kernels of each native compilation, with their loop IR
llvm     the LLVM IR of each kernel
asm      the assembly of each kernel
"""
import os
import sys

FLAGS = ("asm", "graphs", "kernels", "llvm", "retrace", "cache")


def flags():
    """The set of LLGRAD_DEBUG flags; an unknown flag is an error that lists the known ones."""
    raw = os.environ.get("LLGRAD_DEBUG", "")
    found = {f.strip() for f in raw.split(",") if f.strip()}
    unknown = sorted(found - set(FLAGS))
    if unknown:
        raise ValueError(f"LLGRAD_DEBUG: unknown flag {unknown[0]!r}; the known flags are "
                         f"{', '.join(FLAGS)} (comma separated)")
    return found


def enabled(flag):
    return flag in flags()


def report(text):
    print(text, file=sys.stderr)
