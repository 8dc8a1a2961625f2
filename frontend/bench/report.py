"""What a run shows: the terminal table, the JSON file (pytest-benchmark's format with the
limits and ratios added), the change since an older JSON file, and the charts."""
import datetime
import json
import math
import os
import platform
import subprocess


def roof_for(working_set, limits):
    """Which bandwidth bounds a case: the last-level cache's when its working set fits in half
    of it, else memory's."""
    if working_set <= limits["last_level_cache"] // 2:
        return "llc", limits["roofs"]["llc_gbs"]
    return "dram", limits["roofs"]["dram_gbs"]


def figures(work, stats, limits):
    """GFLOP/s, GB/s and the share of the attainable rate (roofline: the lower of peak GFLOP/s
    and arithmetic intensity x bandwidth) reached by a framework whose timing is `stats`."""
    seconds = stats["median"]
    gflops = work["flops"] / seconds / 1e9
    gbs = work["bytes"] / seconds / 1e9
    roof, bandwidth = roof_for(work["bytes"], limits)
    intensity = work["flops"] / max(work["bytes"], 1)
    peak = limits["roofs"]["peak_gflops"]
    attainable_gflops = min(peak, intensity * bandwidth)
    bound = "compute" if intensity * bandwidth >= peak else "memory"
    # the share of the binding limit: bandwidth for memory-bound cases, peak for compute-bound
    share = gbs / bandwidth if bound == "memory" else gflops / peak
    return {"gflops": gflops, "gbs": gbs, "share": share, "bound": bound, "roof": roof,
            "intensity": intensity, "attainable_gflops": attainable_gflops}


# ---- the terminal table --------------------------------------------------------------------------

def _time_text(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def _percent(share):
    return f"{100 * share:.0f}%" if share >= 0.1 else f"{100 * share:.2g}%"


def _cell(result):
    if result is None:
        return "-"
    stats = result["stats"]
    spread = 100.0 * stats["iqr"] / stats["median"] if stats["median"] else 0.0
    return f"{_time_text(stats['median'])} ±{spread:.0f}%"


def limits_text(run):
    limits, machine = run["limits"], run["machine"]
    roofs = limits["roofs"]
    versions = machine["versions"]
    caches = ", ".join(f"{k} {v >> 10} KiB" for k, v in machine["caches"].items())
    installed = [f"{name} {versions[name]}" for name in ("torch", "jax", "scipy", "matplotlib")
                 if versions.get(name)]
    peers = run["peers"]
    lines = [
        f"CPU: {machine['cpu']} (LLVM: {machine['llvm_cpu']}; "
        f"{' '.join(machine['vector_features']) or 'no vector extensions'}), "
        f"{machine['usable_cores']} of {machine['cores']} cores usable; {caches}",
        f"versions: llgrad {versions['llgrad']}, numpy {versions['numpy']} "
        f"({versions['numpy_blas']}), llvmlite {versions['llvmlite']} (LLVM {versions['llvm']}), "
        f"python {versions['python']}" + (", " + ", ".join(installed) if installed else ""),
        f"threads: {run['threads']} for every framework; peers: "
        + (", ".join(peers["run"]) or "none")
        + ("; not run: " + "; ".join(f"{k} ({v})" for k, v in peers["missing"].items())
           if peers["missing"] else ""),
        f"limits (best of repeated runs): memory {roofs['dram_gbs']:.1f} GB/s (STREAM over "
        f"{limits['dram']['bytes_per_array'] >> 20} MiB arrays), last-level cache "
        f"{roofs['llc_gbs']:.1f} GB/s, peak float32 {roofs['peak_gflops_1t']:.1f} GFLOP/s on 1 "
        f"thread, {roofs['peak_gflops']:.1f} on {run['threads']}",
        "  " + ", ".join(f"{k} {v:.1f}" for k, v in limits["dram"]["gbs"].items()) + " GB/s",
        "  GEMM {0}^3: ".format(limits["gemm"]["n"])
        + ", ".join(f"{k} {v:.1f}" for k, v in limits["gemm"]["gflops"].items()) + " GFLOP/s",
    ]
    return "\n".join(lines)


def table_text(run):
    frameworks = ["llgrad"] + run["peers"]["run"]
    headers = (["case", "roof"] + frameworks
               + ["llgrad vs best", "llgrad share", "best peer share"])
    rows = []
    for case in run["cases"]:
        results = case["results"]
        ratio = case.get("ratio")
        best = case.get("best_peer")
        llgrad = results.get("llgrad")
        rows.append([
            case["id"], f"{case['bound'][:3]}/{case['roof']}" if case["bound"] == "memory"
            else "compute",
            *(_cell(results.get(f)) for f in frameworks),
            f"{ratio:.2f}x {best}" if ratio else "-",
            _percent(llgrad["share"]) if llgrad else "-",
            _percent(results[best]["share"]) if best else "-",
        ])
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
           "  ".join("-" * w for w in widths)]
    family = None
    for case, row in zip(run["cases"], rows):
        if family is not None and case["family"] != family:
            out.append("")
        family = case["family"]
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    out.append("")
    out.append("median time per call ±IQR/median over interleaved rounds; llgrad vs best: the "
               "fastest peer's median / llgrad's (above 1: llgrad is faster); share: of the "
               "roof's bandwidth (mem/llc, mem/dram) or of peak GFLOP/s (compute), from flops "
               "and bytes counted in llgrad's graph")
    for note in run["notes"]:
        out.append(f"note: {note}")
    return "\n".join(out)


# ---- JSON in pytest-benchmark's format -------------------------------------------------------

def _machine_info(machine):
    uname = platform.uname()
    return {"node": uname.node, "processor": uname.processor or machine["cpu"],
            "machine": uname.machine, "python_compiler": platform.python_compiler(),
            "python_implementation": platform.python_implementation(),
            "python_implementation_version": platform.python_version(),
            "python_version": platform.python_version(),
            "python_build": list(platform.python_build()), "release": uname.release,
            "system": uname.system,
            "cpu": {"brand_raw": machine["cpu"], "arch": uname.machine,
                    "count": machine["cores"], "flags": machine["features"],
                    "l2_cache_size": machine["caches"].get("L2"),
                    "l3_cache_size": machine["caches"].get("L3")}}


def _commit_info():
    """The source tree's commit when llgrad runs from a git checkout (an installed wheel has
    none)."""
    folder = os.path.dirname(os.path.abspath(__file__))
    try:
        def git(*args):
            return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                                  timeout=5, check=True).stdout.strip()
        return {"id": git("rev-parse", "HEAD"), "time": git("log", "-1", "--format=%cI"),
                "author_time": git("log", "-1", "--format=%aI"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
                "project": "llgrad", "branch": git("rev-parse", "--abbrev-ref", "HEAD")}
    except (OSError, subprocess.SubprocessError):
        return {"id": None, "time": None, "author_time": None, "dirty": None,
                "project": "llgrad", "branch": None}


def to_json(run):
    benchmarks = []
    for case in run["cases"]:
        for framework, result in case["results"].items():
            extra = {"framework": framework, "flops": case["flops"], "bytes": case["bytes"],
                     "kernel_bytes": case["kernel_bytes"], "GFLOP/s": result["gflops"],
                     "GB/s": result["gbs"], "share_of_limit": result["share"],
                     "bound": case["bound"], "roof": case["roof"]}
            if framework == "llgrad" and case.get("ratio"):
                extra["ratio_to_best_peer"] = case["ratio"]
                extra["best_peer"] = case["best_peer"]
            benchmarks.append({
                "group": case["id"], "name": f"{case['id']}[{framework}]",
                "fullname": f"llgrad.bench::{case['id']}[{framework}]",
                "params": {"framework": framework, "size": case["size"]},
                "param": framework, "extra_info": extra,
                "options": {"disable_gc": False, "timer": "perf_counter",
                            "min_rounds": result["stats"]["rounds"],
                            "max_time": run["settings"]["budget"],
                            "min_time": run["settings"]["slot"], "warmup": True},
                "stats": result["stats"]})
    try:
        from pytest_benchmark import __version__ as version
    except ImportError:
        version = "5.2.3"
    return {"machine_info": _machine_info(run["machine"]), "commit_info": _commit_info(),
            "benchmarks": benchmarks,
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": version,
            "llgrad_bench": {
                "schema": 1, "mode": run["mode"], "threads": run["threads"],
                "machine": run["machine"], "peers": run["peers"], "limits": run["limits"],
                "settings": run["settings"],
                "cases": [{k: v for k, v in case.items() if k != "results"}
                          | {"medians": {f: r["stats"]["median"]
                                         for f, r in case["results"].items()},
                             "shares": {f: r["share"] for f, r in case["results"].items()}}
                          for case in run["cases"]],
                "ratios": {case["id"]: case["ratio"] for case in run["cases"]
                           if case.get("ratio")},
                "notes": run["notes"], "seconds": run["seconds"],
                "other_load": run.get("other_load")}}


def write_json(run, path):
    with open(path, "w") as f:
        json.dump(to_json(run), f, indent=2, allow_nan=False)


# ---- --compare OLD.json ----------------------------------------------------------------------

def compare_text(run, old_path):
    """Median per case and framework now and in `old_path` (this command's JSON, or
    pytest-benchmark's with the same names), and llgrad's ratio to the best peer then and now."""
    with open(old_path) as f:
        old = json.load(f)
    before = {b["name"]: b["stats"]["median"] for b in old.get("benchmarks", [])}
    old_ratios = old.get("llgrad_bench", {}).get("ratios", {})
    lines = [f"change since {old_path} ({old.get('datetime', '?')}): time now / then "
             "(below 1: faster now)"]
    rows = [("case", "framework", "then", "now", "now/then", "llgrad vs best then -> now")]
    matched = 0
    for case in run["cases"]:
        for framework, result in case["results"].items():
            name = f"{case['id']}[{framework}]"
            if name not in before:
                continue
            matched += 1
            now, then = result["stats"]["median"], before[name]
            ratio = ""
            if framework == "llgrad" and case["id"] in old_ratios and case.get("ratio"):
                ratio = f"{old_ratios[case['id']]:.2f}x -> {case['ratio']:.2f}x"
            rows.append((case["id"], framework, _time_text(then), _time_text(now),
                         f"{now / then:.2f}", ratio))
    if not matched:
        return lines[0] + "\n  no case of this run is in that file"
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines)


# ---- --plot PATH.png -------------------------------------------------------------------------

def plot(run, path):
    """Two charts in one PNG: llgrad's ratio to the best peer per case (bars, log scale) and a
    roofline (arithmetic intensity vs GFLOP/s under the machine's measured roofs). Returns
    None, or why it could not draw (matplotlib missing)."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (pip install 'llgrad[bench]')"
    matplotlib.use("Agg")
    import matplotlib.ticker
    from matplotlib import pyplot

    cases = [c for c in run["cases"] if c.get("ratio")]
    fig, (bars, roof) = pyplot.subplots(1, 2, figsize=(15, max(5, 0.3 * len(cases) + 1.5)))
    names = [c["id"] for c in cases]
    ratios = [c["ratio"] for c in cases]
    bars.barh(range(len(cases)), ratios,
              color=["tab:green" if r >= 1 else "tab:red" for r in ratios])
    bars.set_yticks(range(len(cases)), names, fontsize=7)
    bars.invert_yaxis()
    bars.axvline(1.0, color="black", lw=0.8)
    bars.set_xscale("log")
    ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32)
             if min(ratios + [1]) / 2 <= t <= max(ratios + [1]) * 2]
    bars.set_xticks(ticks, [f"{t:g}x" for t in ticks])
    bars.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for y, ratio in enumerate(ratios):
        bars.text(ratio, y, f" {ratio:.2f}x", va="center", fontsize=7)
    bars.set_xlabel("best peer's time / llgrad's time (above 1: llgrad faster)")
    bars.set_title(f"llgrad vs the fastest peer, {run['threads']} thread(s)")

    limits = run["limits"]["roofs"]
    intensities = [c["flops"] / max(c["bytes"], 1) for c in run["cases"]] or [1.0]
    lo = min(intensities) / 4
    hi = max(max(intensities) * 4, 2 * limits["peak_gflops"] / limits["dram_gbs"])
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    for label, gbs, style in (("memory", limits["dram_gbs"], "-"),
                              ("last-level cache", limits["llc_gbs"], "--")):
        roof.plot(grid, [min(limits["peak_gflops"], x * gbs) for x in grid], "k" + style,
                  lw=1, label=f"roof: {label} {gbs:.0f} GB/s, peak "
                              f"{limits['peak_gflops']:.0f} GFLOP/s")
    markers = {"llgrad": "o", "numpy": "s", "torch": "^", "torch.compile": "v", "jax": "D"}
    for framework in ["llgrad"] + run["peers"]["run"]:
        points = [(c["flops"] / max(c["bytes"], 1), c["results"][framework]["gflops"])
                  for c in run["cases"] if framework in c["results"]]
        if points:
            roof.scatter(*zip(*points), marker=markers.get(framework, "x"), s=22,
                         label=framework, alpha=0.8, zorder=3 if framework == "llgrad" else 2)
    for c in run["cases"]:  # name llgrad's points
        if "llgrad" in c["results"]:
            roof.annotate(c["id"].split("/")[0], (c["flops"] / max(c["bytes"], 1),
                                                  c["results"]["llgrad"]["gflops"]),
                          fontsize=5, alpha=0.7, xytext=(3, 2), textcoords="offset points")
    roof.set_xscale("log")
    roof.set_yscale("log")
    roof.set_xlabel("arithmetic intensity (flops per byte crossing the step, from the graph)")
    roof.set_ylabel("GFLOP/s")
    roof.set_title(f"roofline: {run['machine']['cpu']}")
    roof.legend(fontsize=7, loc="lower right")
    roof.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot.close(fig)
    return None


def finite_positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0
