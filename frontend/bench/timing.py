"""Interleaved timing: every framework of a case runs once per round, in an order that rotates
from round to round, so that noise from a shared machine (another process, a frequency change)
falls on all of them alike; statistics in pytest-benchmark's vocabulary."""
import math
import statistics
import time


def summary(times, iterations):
    """pytest-benchmark's `stats` for per-call times (seconds) of `len(times)` rounds of
    `iterations` calls each."""
    data = sorted(times)
    n = len(data)
    q1, q3 = _quartiles(data)
    iqr = q3 - q1
    mean = statistics.fmean(data)
    stddev = statistics.stdev(data) if n > 1 else 0.0
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    ld15iqr = next(x for x in data if x >= low)
    hd15iqr = next(x for x in reversed(data) if x <= high)
    iqr_outliers = sum(1 for x in data if x < low or x > high)
    stddev_outliers = sum(1 for x in data if abs(x - mean) > stddev) if stddev else 0
    return {"min": data[0], "max": data[-1], "mean": mean, "stddev": stddev, "rounds": n,
            "median": statistics.median(data), "iqr": iqr, "q1": q1, "q3": q3,
            "iqr_outliers": iqr_outliers, "stddev_outliers": stddev_outliers,
            "outliers": f"{stddev_outliers};{iqr_outliers}", "ld15iqr": ld15iqr,
            "hd15iqr": hd15iqr, "ops": 1.0 / mean, "total": sum(data) * iterations,
            "iterations": iterations}


def _quartiles(data):
    """pytest-benchmark's quartiles (statistics.quantiles' exclusive method; one value: itself)."""
    if len(data) < 2:
        return data[0], data[0]
    q = statistics.quantiles(data, n=4)
    return q[0], q[2]


def calibrate(fn, slot_seconds, max_calls=10_000):
    """(calls per timed slot so that a slot lasts about `slot_seconds`, at least one; the
    seconds of one call)."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    if once < slot_seconds / 10:  # a second, better look at a fast call
        start = time.perf_counter()
        for _ in range(10):
            fn()
        once = (time.perf_counter() - start) / 10
    return max(1, min(max_calls, math.ceil(slot_seconds / max(once, 1e-9)))), once


def interleaved(runners, rounds, slot_seconds, settle=0.0, warmup=2, on_round=None):
    """Time each of `runners` ({name: zero-argument callable}) in `rounds` interleaved rounds.

    Returns {name: summary(...)}. Each runner is warmed up `warmup` times, calibrated to a slot
    of about `slot_seconds`, then timed once per round; round r starts with the r-th runner
    (rotation). `rounds` is a count, or a function of one round's estimated seconds giving it.
    `settle` seconds of sleep before each slot let the previous library's worker threads (which
    spin for a while after a call) go idle.
    """
    names = list(runners)
    for name in names:
        for _ in range(warmup):
            runners[name]()
    calls, estimate = {}, settle * len(names)
    for name in names:
        calls[name], once = calibrate(runners[name], slot_seconds)
        estimate += calls[name] * once
    if callable(rounds):
        rounds = rounds(estimate)
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            fn, count = runners[name], calls[name]
            if settle:
                time.sleep(settle)
            start = time.perf_counter()
            for _ in range(count):
                fn()
            times[name].append((time.perf_counter() - start) / count)
        if on_round:
            on_round(r + 1, rounds)
    return {name: summary(times[name], calls[name]) for name in names}
