"""`python -m llgrad bench`: llgrad's kernels and compiled training steps beside NumPy,
PyTorch (eager, torch.compile) and JAX on this machine, each held against the machine's measured
limits (memory bandwidth, peak float32 GFLOP/s).

    python -m llgrad bench            the curated suite, a few minutes on 2 cores
    python -m llgrad bench --quick    a few cases, under a minute
    python -m llgrad bench --full     every case, more rounds, torch.compile too
    ... -k softmax --peers torch,jax --threads 1 --json out.json --plot out.png --compare old.json

The cases (cases.py) are one table: each computation written for llgrad and for every peer.
Flops and bytes come from llgrad's compiled graph (work.py); frameworks are timed in interleaved
rounds (timing.py); machine.py measures the limits; report.py draws the table, the JSON
(pytest-benchmark's format plus limits and ratios) and the charts.
"""
from .cli import main, parser

__all__ = ["main", "parser"]
