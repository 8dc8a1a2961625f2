"""`llgrad bench` (llgrad.bench): a run on tiny sizes writes pytest-benchmark's JSON with the
machine's limits, every timing and rate a finite positive number and every share of the limit
within (0, 1.2]; missing peers are reported, not errors; -k, --list, --compare and the chart."""
import json
import math
import os
import subprocess
import sys

import pytest

from llgrad import bench
from llgrad.bench import cases, cli, report, timing, work

# A few cases from each family keep the run to seconds (the tiny sizes compile in ~0.3 s each).
PICK = "gelu or sum-over-cols or layer-norm or sgemm-tn or mlp-adam"
STAT_KEYS = ("min", "max", "mean", "median", "q1", "q3", "ops", "total", "ld15iqr", "hd15iqr")


def positive(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    path, chart = folder / "run.json", folder / "run.png"
    status = bench.main(["--tiny", "-k", PICK, "--peers", "numpy", "--threads", "1",
                         "--json", str(path), "--plot", str(chart)])
    return status, json.loads(path.read_text()), path, chart


def test_tiny_run_succeeds_with_the_picked_cases(tiny_run):
    status, data, _, _ = tiny_run
    assert status == 0
    ran = {c["case"] for c in data["llgrad_bench"]["cases"]}
    assert ran == {"gelu-fwd-bwd", "sum-over-cols", "layer-norm-fwd-bwd", "sgemm-tn",
                   "mlp-adam-step"}


def test_json_is_pytest_benchmarks_format(tiny_run):
    _, data, _, _ = tiny_run
    for key in ("machine_info", "commit_info", "benchmarks", "datetime", "version"):
        assert key in data
    assert data["machine_info"]["cpu"]["brand_raw"]
    for entry in data["benchmarks"]:
        for key in ("group", "name", "fullname", "params", "param", "extra_info", "options",
                    "stats"):
            assert key in entry
        assert entry["name"] == f"{entry['group']}[{entry['param']}]"
        assert entry["stats"]["rounds"] == 3 and entry["stats"]["iterations"] >= 1
    frameworks = {(b["group"], b["param"]) for b in data["benchmarks"]}
    for case in data["llgrad_bench"]["cases"]:
        assert (case["id"], "llgrad") in frameworks and (case["id"], "numpy") in frameworks


def test_every_figure_is_finite_and_positive(tiny_run):
    _, data, _, _ = tiny_run
    for entry in data["benchmarks"]:
        for key in STAT_KEYS:
            assert positive(entry["stats"][key]), (entry["name"], key, entry["stats"][key])
        extra = entry["extra_info"]
        for key in ("flops", "bytes", "kernel_bytes", "GFLOP/s", "GB/s", "share_of_limit"):
            assert positive(extra[key]), (entry["name"], key, extra[key])
        assert 0 < extra["share_of_limit"] <= 1.2, (entry["name"], extra)
    ours = data["llgrad_bench"]
    roofs = ours["limits"]["roofs"]
    assert set(roofs) == {"peak_gflops_1t", "peak_gflops", "dram_gbs", "llc_gbs"}
    figures = (list(roofs.values()) + list(ours["limits"]["dram"]["gbs"].values())
               + list(ours["limits"]["llc"]["gbs"].values())
               + list(ours["limits"]["gemm"]["gflops"].values()) + list(ours["ratios"].values()))
    assert all(positive(v) for v in figures), figures
    for case in ours["cases"]:
        assert positive(case["ratio"]) and case["best_peer"] == "numpy"
        assert all(0 < s <= 1.2 for s in case["shares"].values()), case


def test_flops_and_bytes_come_from_the_graph(tiny_run):
    _, data, _, _ = tiny_run
    by_case = {c["case"]: c for c in data["llgrad_bench"]["cases"]}
    gemm = by_case["sgemm-tn"]
    assert gemm["flops"] == 2 * 32 ** 3  # the GEMM kernel's 2mnk
    assert gemm["bytes"] == 3 * 32 * 32 * 4  # A and B read, C written
    assert gemm["bound"] == "compute"
    # GELU forward+backward over 4096 floats: x and g read, y and x.grad written
    assert by_case["gelu-fwd-bwd"]["bytes"] == 4 * 4096 * 4
    assert by_case["gelu-fwd-bwd"]["bound"] == "memory"


def test_missing_peers_are_reported_not_errors(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    monkeypatch.setitem(sys.modules, "jax", None)
    path = tmp_path / "run.json"
    status = bench.main(["--tiny", "-k", "sum-over-rows", "--peers",
                         "torch,torch.compile,jax,numpy", "--threads", "1", "--json", str(path)])
    assert status == 0
    peers = json.loads(path.read_text())["llgrad_bench"]["peers"]
    assert peers["run"] == ["numpy"]
    assert peers["missing"] == {"torch": "not installed", "torch.compile": "not installed",
                                "jax": "not installed"}
    out = capsys.readouterr().out
    assert "not run: torch (not installed)" in out and "sum-over-rows/64x64" in out


def test_default_peers_skip_missing_ones(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "jax", None)
    libs, run, missing = cli.load_peers(cli.wanted_peers(None, full=False))
    assert run == ["numpy"] and set(missing) == {"torch", "jax"}
    assert "torch.compile" in cli.wanted_peers(None, full=True)


def test_llgrad_alone_through_the_command_line(tmp_path):
    """`python -m llgrad bench` hands its arguments to llgrad.bench.main."""
    result = subprocess.run(
        [sys.executable, "-m", "llgrad", "bench", "--tiny", "-k", "max-over-rows",
         "--peers", "none", "--threads", "1", "--json", str(tmp_path / "alone.json")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "max-over-rows/64x64" in result.stdout and "limits" in result.stdout
    data = json.loads((tmp_path / "alone.json").read_text())
    assert [b["param"] for b in data["benchmarks"]] == ["llgrad"]
    assert data["llgrad_bench"]["ratios"] == {}


def test_compare_against_a_saved_run(tiny_run, tmp_path, capsys):
    _, _, old, _ = tiny_run
    assert bench.main(["--tiny", "-k", "sgemm-tn", "--peers", "numpy", "--threads", "1",
                       "--compare", str(old)]) == 0
    out = capsys.readouterr().out
    assert "change since" in out and "sgemm-tn/32x32x32" in out and "now/then" in out


def test_chart_is_drawn_when_matplotlib_is_installed(tiny_run):
    pytest.importorskip("matplotlib")
    chart = tiny_run[3]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_without_matplotlib_says_why(monkeypatch, tiny_run):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert "matplotlib is not installed" in report.plot({}, "unused.png")


@pytest.mark.parametrize("pattern, ident, expected", [
    ("softmax", "log-softmax-fwd-bwd/256x1024", True),
    ("softmax and not log", "log-softmax-fwd-bwd/256x1024", False),
    ("gemm and (nt or tn)", "sgemm-tn/256x256x256", True),
    ("gemm and (nt or tn)", "sgemm-nn/256x256x256", False),
    ("SUM-over", "sum-over-rows/512x512", True),
])
def test_k_expression(pattern, ident, expected):
    assert cli.matcher(pattern)(ident) is expected


def test_k_rejects_a_broken_expression():
    with pytest.raises(SystemExit):
        cli.matcher("softmax and")


def test_list_and_selection(capsys):
    assert bench.main(["-k", "mlp", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == ["mlp-sgd-step/128x784-512-512-10", "mlp-sgd-step/512x1024-2048-2048-10",
                      "mlp-adam-step/128x784-512-512-10", "mlp-adam-step/512x1024-2048-2048-10"]
    assert bench.main(["-k", "no-such-case"]) == 2
    quick = cases.select("quick")
    assert quick and all(size in ("cache", "dram") for _, size in quick)
    assert len(cases.select("full")) > len(cases.select("default")) > len(quick)


def test_every_case_has_every_framework_and_size():
    families = {c.family for c in cases.CASES}
    assert families == {"elementwise", "reduction", "rows", "gemm", "mlp"}
    for case in cases.CASES:
        assert set(case.builders) == set(cases.FRAMEWORKS)
        assert "tiny" in case.sizes and "cache" in case.sizes
        assert "dram" in case.sizes or case.full_only


def test_statistics_follow_pytest_benchmark():
    stats = timing.summary([3.0, 1.0, 2.0, 4.0, 100.0], iterations=2)
    assert stats["median"] == 3.0 and stats["min"] == 1.0 and stats["rounds"] == 5
    assert stats["q1"] == 1.5 and stats["q3"] == 52.0 and stats["iqr"] == 50.5
    assert stats["total"] == 220.0 and stats["iterations"] == 2


def test_interleaved_rounds_rotate_the_order():
    order = []
    runners = {name: (lambda name=name: order.append(name)) for name in "abc"}
    stats = timing.interleaved(runners, rounds=3, slot_seconds=0.0, warmup=0)
    assert set(stats) == {"a", "b", "c"}
    timed = [n for n in order[-9:]]
    assert timed[:3] == ["a", "b", "c"] and timed[3:6] == ["b", "c", "a"]


def test_a_step_that_did_not_run_natively_is_refused():
    class Fake:
        stats = {"executions": {"llvm": 0, "interp": 3}}

    with pytest.raises(RuntimeError, match="did not run natively"):
        work.ran_natively(Fake())


def test_a_case_faster_than_a_measured_roof_raises_it():
    limits = {"roofs": {"peak_gflops_1t": 10.0, "peak_gflops": 20.0, "dram_gbs": 5.0,
                        "llc_gbs": 30.0}, "last_level_cache": 32 << 20}
    records = [{"id": "gemm", "bound": "compute", "roof": "llc",
                "results": {"llgrad": {"gflops": 25.0, "gbs": 1.0}}},
               {"id": "sum", "bound": "memory", "roof": "dram",
                "results": {"numpy": {"gflops": 1.0, "gbs": 4.0}}}]
    notes = cli.raise_roofs(limits, records)
    assert limits["roofs"]["peak_gflops"] == 25.0 and limits["roofs"]["dram_gbs"] == 5.0
    assert limits["measured_roofs"]["peak_gflops"] == 20.0
    assert len(notes) == 1 and "llgrad reached it in gemm" in notes[0]


def test_jax_starts_with_the_thread_count(tmp_path):
    """XLA ignores thread flags and sizes its pool from the CPU affinity: with --threads 1 a
    JAX GEMM keeps one core busy, not all (CPU time / wall time about 1)."""
    pytest.importorskip("jax")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: nothing to limit")
    script = (
        "import resource, time\n"
        "from llgrad.bench import machine\n"
        "jax, why = machine.start_jax(1)\n"
        "assert why is None, why\n"
        "a = jax.numpy.ones((1024, 1024)); f = jax.jit(lambda a: a @ a)\n"
        "f(a).block_until_ready()\n"
        "def cpu():\n"
        "    u = resource.getrusage(resource.RUSAGE_SELF); return u.ru_utime + u.ru_stime\n"
        "c, t = cpu(), time.perf_counter()\n"
        "for _ in range(20): f(a).block_until_ready()\n"
        "print((cpu() - c) / (time.perf_counter() - t))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split()[-1]) < 1.4
