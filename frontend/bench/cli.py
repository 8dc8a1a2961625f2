"""`python -m llgrad bench`: measure the machine's limits, then every selected case on llgrad
and its peers in interleaved rounds, and report."""
import argparse
import gc
import importlib
import re
import sys
import time

from . import cases as case_table
from . import machine, report, timing, work

PEERS = ("numpy", "torch", "torch.compile", "jax")

# Per mode: rounds (at least, at most), seconds per timed slot, seconds a case may take to
# measure (rounds are cut down to it, never below the minimum).
MODES = {
    "tiny": {"rounds": (3, 3), "slot": 0.0005, "budget": 0.2, "warmup": 1},
    "quick": {"rounds": (5, 7), "slot": 0.002, "budget": 1.0, "warmup": 1},
    "default": {"rounds": (5, 15), "slot": 0.005, "budget": 3.0, "warmup": 2},
    "full": {"rounds": (11, 25), "slot": 0.01, "budget": 10.0, "warmup": 3},
}


def parser():
    p = argparse.ArgumentParser(
        prog="llgrad bench",
        description="Measure the machine's limits (memory bandwidth, peak float32 GFLOP/s), "
                    "then llgrad's compiled kernels and training steps beside NumPy, PyTorch "
                    "(eager, torch.compile) and JAX, interleaved in rounds at the same thread "
                    "count; report the median, IQR, llgrad's ratio to the fastest peer and "
                    "the share of the machine's limit each reaches.")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true",
                      help="a few cases, fewer rounds: under a minute")
    size.add_argument("--full", action="store_true",
                      help="every case, more rounds, torch.compile among the peers")
    size.add_argument("--tiny", action="store_true",
                      help="every case at a tiny size, 3 rounds (a smoke test; its figures "
                           "say little)")
    p.add_argument("-k", metavar="PATTERN", dest="pattern",
                   help="cases whose name matches: substrings joined with and/or/not and "
                        "parentheses, as pytest's -k (e.g. 'softmax or gemm and not nt')")
    p.add_argument("--peers", metavar="LIST",
                   help="comma-separated peers among numpy, torch, torch.compile, jax "
                        "(default: every installed one; torch.compile only with --full, as "
                        "its compiles take tens of seconds); 'none' for llgrad alone")
    p.add_argument("--threads", type=int, metavar="N", default=None,
                   help="threads for every framework (default: $LLGRAD_NUM_THREADS, else the "
                        "usable cores)")
    p.add_argument("--json", metavar="PATH", help="write the results in pytest-benchmark's JSON "
                                                  "format, with the limits and ratios")
    p.add_argument("--plot", metavar="PATH.png",
                   help="draw llgrad's ratios and a roofline chart (needs matplotlib)")
    p.add_argument("--compare", metavar="OLD.json",
                   help="show the change since a saved --json file")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    return p


def matcher(pattern):
    """pytest's -k: names are case-insensitive substrings of the case id, combined with and,
    or, not and parentheses."""
    if not pattern:
        return None
    tokens = re.findall(r"\(|\)|[^\s()]+", pattern)
    names = []
    parts = []
    for token in tokens:
        if token in ("(", ")", "and", "or", "not"):
            parts.append(token)
        else:
            names.append(token.lower())
            parts.append(f"_[{len(names) - 1}]")
    expression = " ".join(parts)
    try:
        code = compile(expression, "-k", "eval")
        eval(code, {"__builtins__": {}}, {"_": [False] * len(names)})  # noqa: S307
    except SyntaxError:
        raise SystemExit(f"llgrad bench: error: -k {pattern!r} is not a valid expression")

    def matches(ident):
        found = [name in ident.lower() for name in names]
        return eval(code, {"__builtins__": {}}, {"_": found})  # noqa: S307

    return matches


def wanted_peers(text, full):
    if text is None:
        return [p for p in PEERS if p != "torch.compile" or full]
    if text.strip().lower() == "none":
        return []
    chosen = []
    for item in (part.strip() for part in text.split(",")):
        if item not in PEERS:
            raise SystemExit(f"llgrad bench: error: unknown peer {item!r} (choose among "
                             f"{', '.join(PEERS)})")
        if item not in chosen:
            chosen.append(item)
    return chosen


def load_peers(names, threads=1, notes=None):
    """({"numpy": module, "torch": ..., "jax": ...}, runnable peers, {peer: why not}). JAX
    starts with `threads` threads (machine.start_jax); anything worth knowing goes to `notes`."""
    import numpy

    libs = {"numpy": numpy}
    run, missing = [], {}
    for name in names:
        package = name.split(".")[0]
        if package not in libs:
            try:
                if package == "jax":
                    libs[package], why = machine.start_jax(threads)
                    if why and notes is not None:
                        notes.append(why)
                else:
                    libs[package] = importlib.import_module(package)
            except Exception as error:  # noqa: BLE001 - a broken install is a missing peer
                missing[name] = ("not installed" if isinstance(error, ImportError)
                                 else f"import failed: {type(error).__name__}: {error}")
                libs[package] = None
                continue
        if libs[package] is None:
            missing.setdefault(name, "not installed")
            continue
        run.append(name)
    return libs, run, missing


class Progress:
    """One line on stderr, rewritten in place on a terminal; otherwise a line per case."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.stream = total, stream
        self.tty = stream.isatty()
        self.started = time.perf_counter()
        self.width = 0

    def show(self, index, text):
        line = (f"[{index}/{self.total}] {text}  "
                f"({time.perf_counter() - self.started:.0f} s)")
        if self.tty:
            pad = max(0, self.width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.width = len(line)
            self.stream.flush()

    def done(self, index, text):
        if self.tty:
            self.show(index, text)
        else:
            self.stream.write(f"[{index}/{self.total}] {text}\n")
            self.stream.flush()

    def close(self):
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def set_threads(count, libs):
    """Every framework on `count` threads; returns a function restoring llgrad's and NumPy's."""
    import llgrad

    before = llgrad.get_num_threads()
    llgrad.set_num_threads(count)
    torch = libs.get("torch")
    torch_before = None
    if torch is not None:
        torch_before = torch.get_num_threads()
        torch.set_num_threads(count)
    restore_blas = machine.blas_threads(count)

    def restore():
        llgrad.set_num_threads(before)
        if torch_before is not None:
            torch.set_num_threads(torch_before)
        if restore_blas:
            restore_blas()

    return restore, restore_blas is not None


def measure_case(case, size, libs, peers, settings, threads, progress, index):
    """Build every framework's callable for one case, time them interleaved, count the work
    from llgrad's graph. Returns (the case's record, notes)."""
    params = case.sizes[size]
    ident = case.ident(size)
    notes = []
    progress.show(index, f"{ident}: preparing data")
    data = case.data(params)
    progress.show(index, f"{ident}: compiling llgrad")
    run_llgrad, compiled = case.builders["llgrad"](params, data, libs)
    runners = {"llgrad": run_llgrad}
    for peer in peers:
        builder = case.builders.get(peer)
        if builder is None:
            continue
        progress.show(index, f"{ident}: preparing {peer}")
        try:
            runner = builder(params, data, libs)
            if runner is not None:
                runner()  # the first call compiles (jit, torch.compile): fail here, not later
        except Exception as error:  # noqa: BLE001 - a peer that cannot run this case is noted
            notes.append(f"{ident}: {peer} failed ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:100] if str(error) else ''})")
            continue
        if runner is None:
            notes.append(f"{ident}: {peer} has no fair implementation here "
                         f"(NumPy's GELU needs SciPy's erf)")
            continue
        runners[peer] = runner
    low, high = settings["rounds"]
    settle = settings["settle"]

    def rounds_for(round_seconds):
        return max(low, min(high, int(settings["budget"] / max(round_seconds, 1e-9))))

    def on_round(r, total):
        progress.show(index, f"{ident}: round {r}/{total}")

    stats = timing.interleaved(runners, rounds_for, settings["slot"], settle=settle,
                               warmup=settings["warmup"], on_round=on_round)
    work.ran_natively(compiled)
    counted = work.count(compiled)
    del runners, run_llgrad
    return counted, stats, notes


def case_record(case, size, counted, stats, limits):
    results = {}
    for framework, s in stats.items():
        results[framework] = {"stats": s, **report.figures(counted, s, limits)}
    llgrad = results["llgrad"]
    peers = {f: r for f, r in results.items() if f != "llgrad"}
    best = min(peers, key=lambda f: peers[f]["stats"]["median"]) if peers else None
    record = {"id": case.ident(size), "case": case.name, "family": case.family, "size": size,
              "params": _plain(case.sizes[size]), **counted,
              "bound": llgrad["bound"], "roof": llgrad["roof"],
              "intensity": llgrad["intensity"],
              "attainable_gflops": llgrad["attainable_gflops"], "results": results,
              "best_peer": best,
              "ratio": (peers[best]["stats"]["median"] / llgrad["stats"]["median"]
                        if best else None)}
    return record


def raise_roofs(limits, records):
    """A roof is the best the machine was seen to do: when a case beat the measured peak or
    bandwidth (the limits were measured during a burst of load, say), that rate becomes the roof.
    Returns notes saying which roofs moved."""
    roofs = limits["roofs"]
    names = {"compute": "peak_gflops", "llc": "llc_gbs", "dram": "dram_gbs"}
    notes = []
    for record in records:
        key = names["compute" if record["bound"] == "compute" else record["roof"]]
        for framework, result in record["results"].items():
            rate = result["gflops"] if key == "peak_gflops" else result["gbs"]
            if rate > roofs[key]:
                notes.append(f"roof {key} raised from {roofs[key]:.1f} to {rate:.1f}: "
                             f"{framework} reached it in {record['id']}")
                limits.setdefault("measured_roofs", dict(roofs))
                roofs[key] = rate
    if roofs["llc_gbs"] < roofs["dram_gbs"]:
        roofs["llc_gbs"] = roofs["dram_gbs"]
    return notes


def _plain(params):
    return [_plain(p) for p in params] if isinstance(params, (tuple, list)) else params


def main(argv=None):
    """Run the benchmark command on `argv` (the arguments after `bench`); returns the exit
    status."""
    args = parser().parse_args(argv)
    mode = ("quick" if args.quick else "full" if args.full else "tiny" if args.tiny
            else "default")
    matches = matcher(args.pattern)
    selected = case_table.select(mode, matches)
    if args.list:
        for case, size in selected:
            print(case.ident(size))
        return 0
    if not selected:
        print(f"llgrad bench: no case matches -k {args.pattern!r} (--list shows them)",
              file=sys.stderr)
        return 2
    threads = args.threads or machine.default_threads()
    if threads < 1:
        print("llgrad bench: error: --threads must be at least 1", file=sys.stderr)
        return 2
    started = time.perf_counter()
    load = machine.LoadMeter()
    notes = []
    peers = wanted_peers(args.peers, mode == "full")
    libs, peers_run, missing = load_peers(peers, threads, notes)
    if mode != "full" and args.peers is None and libs.get("torch") is not None:
        missing["torch.compile"] = "only with --full or --peers torch.compile"
    restore, blas_ok = set_threads(threads, libs)
    if not blas_ok and "numpy" in peers_run:
        notes.append("could not set NumPy's BLAS thread count (install threadpoolctl)")
    settings = dict(MODES[mode])
    # other libraries' workers spin for a while after a call: let them go idle between slots
    settings["settle"] = 0.01 if threads > 1 else 0.0
    try:
        print(f"llgrad bench ({mode}): measuring the machine's limits...", file=sys.stderr)
        limits = machine.measure_limits(threads, mode)
        run = {"mode": mode, "threads": threads, "machine": machine.describe(),
               "peers": {"run": peers_run, "missing": missing}, "limits": limits,
               "settings": settings, "cases": [], "notes": notes}
        print(report.limits_text(run))
        print(flush=True)
        progress = Progress(len(selected))
        failures = 0
        measured = []
        for index, (case, size) in enumerate(selected, 1):
            case_started = time.perf_counter()
            try:
                counted, stats, case_notes = measure_case(
                    case, size, libs, peers_run, settings, threads, progress, index)
            except Exception as error:  # noqa: BLE001 - report llgrad's failure, go on
                failures += 1
                notes.append(f"{case.ident(size)}: llgrad failed: {type(error).__name__}: "
                             f"{error}")
                progress.done(index, f"{case.ident(size)}: FAILED ({type(error).__name__})")
                continue
            finally:
                gc.collect()
            notes.extend(case_notes)
            record = case_record(case, size, counted, stats, limits)
            record["seconds"] = time.perf_counter() - case_started
            measured.append((case, size, counted, stats, record["seconds"]))
            ratio = record["ratio"]
            progress.done(index, f"{record['id']}: llgrad "
                                 f"{report._time_text(stats['llgrad']['median'])}"
                          + (f", {ratio:.2f}x {record['best_peer']}" if ratio else ""))
        progress.close()
        notes.extend(raise_roofs(limits, [case_record(c, s, w, t, limits)
                                          for c, s, w, t, _ in measured]))
        for case, size, counted, stats, seconds in measured:
            run["cases"].append(case_record(case, size, counted, stats, limits)
                                | {"seconds": seconds})
    finally:
        restore()
    run["seconds"] = time.perf_counter() - started
    run["other_load"] = load.others()
    print(report.table_text(run))
    busy = run["other_load"]
    print(f"\n{len(run['cases'])} cases in {run['seconds']:.0f} s"
          + (f"; other processes kept {busy:.1f} of {run['machine']['cores']} CPUs busy "
             f"meanwhile" if busy is not None else ""))
    if busy is not None and threads > 1 and busy > 0.25 * run["machine"]["usable_cores"]:
        print("note: on a machine this busy, thread pools that split work up front and wait "
              "at barriers (OpenMP, OpenBLAS) lose far more than llgrad's, whose caller claims "
              "the chunks a descheduled worker has not: multi-thread ratios then say more about "
              "the load than the code; --threads 1 gives steadier comparisons")
    if args.json:
        report.write_json(run, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        why_not = report.plot(run, args.plot)
        print(f"no chart: {why_not}" if why_not else f"drew {args.plot}")
    if args.compare:
        print()
        print(report.compare_text(run, args.compare))
    return 1 if failures else 0
