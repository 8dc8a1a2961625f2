"""The command line: `python -m llgrad cache info | clear | prune --max-size SIZE` (and the
`llgrad` console script), each with --help."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from llgrad.__main__ import main
from llgrad.compiler import dtypes
from llgrad.compiler import primitives as P
from llgrad.compiler.ir import Graph
from llgrad.compiler.primitive import Aval
from llgrad.runtime import cache, native


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLGRAD_CACHE_DIR", str(folder))
    monkeypatch.delenv("LLGRAD_CACHE", raising=False)
    monkeypatch.delenv("LLGRAD_CACHE_MAX_SIZE", raising=False)
    native.forget_steps()
    return folder


def fill(n):
    """n entries (steps that differ in a constant); their paths, oldest first."""
    paths = []
    now = time.time()
    for k in range(n):
        g = Graph()
        x = g.add_input(Aval((5,), dtypes.float32))
        g.outputs = [P.mul(x, float(k) + 0.5)]
        step = native.compile_graph(g)
        path = os.path.join(os.environ["LLGRAD_CACHE_DIR"], step.cache_key + cache.SUFFIX)
        os.utime(path, (now - 1000 + k, now - 1000 + k))
        paths.append(path)
    return paths


def test_info_on_an_empty_and_on_a_filled_cache(cache_dir, capsys):
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert f"location:    {cache_dir} (does not exist yet)" in out
    assert "entries:     0 (none)" in out and "oldest:      -" in out
    paths = fill(3)
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    total = sum(os.path.getsize(p) for p in paths)
    assert "entries:     3 (3 step)" in out and "disk cache:  on" in out
    assert f"total size:  {total / 1024:.1f} KiB of 1.0 GiB" in out
    oldest = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(paths[0])))
    newest = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(paths[-1])))
    assert f"oldest:      {oldest}" in out and f"newest:      {newest}" in out


def test_info_on_a_file_and_with_the_cache_off(tmp_path, capsys, monkeypatch):
    path = tmp_path / "a-file"
    path.write_text("x")
    monkeypatch.setenv("LLGRAD_CACHE", "0")
    assert main(["cache", "info", "--dir", str(path)]) == 0
    out = capsys.readouterr().out
    assert "a file, not a directory" in out and "disk cache:  off (LLGRAD_CACHE=0)" in out


def test_clear_removes_entries_and_leftover_temp_files(cache_dir, capsys):
    fill(2)
    leftover = cache_dir / f".{'0' * 64}.123.abcd.tmp"
    leftover.write_bytes(b"half an entry")
    unrelated = cache_dir / "notes.txt"
    unrelated.write_text("not ours")
    assert main(["cache", "clear"]) == 0
    assert "removed 3 files" in capsys.readouterr().out
    assert os.listdir(cache_dir) == ["notes.txt"]  # only what the cache wrote is removed


def test_prune_removes_least_recently_used_first(cache_dir, capsys):
    paths = fill(4)
    sizes = [os.path.getsize(p) for p in paths]
    os.utime(paths[0])  # the oldest was just used again
    assert main(["cache", "prune", "--max-size", str(sizes[0] + sizes[3])]) == 0
    assert "removed 2 of 4 entries" in capsys.readouterr().out
    assert [os.path.exists(p) for p in paths] == [True, False, False, True]
    assert main(["cache", "prune", "--max-size", "1G"]) == 0
    assert "removed 0 of 2 entries" in capsys.readouterr().out


def test_bad_size_and_missing_arguments_are_usage_errors(cache_dir, capsys):
    for argv in (["cache", "prune", "--max-size", "lots"], ["cache", "prune"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "not a size: 'lots'" in err and "--max-size" in err
    assert main(["cache"]) == 2 and main([]) == 2


@pytest.mark.parametrize("argv", [[], ["cache"], ["cache", "info"], ["cache", "clear"],
                                  ["cache", "prune"]])
def test_help_on_each_command(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv + ["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: llgrad")
    if argv[-1:] == ["prune"]:
        assert "--max-size SIZE" in out and "least recently used" in out


def test_python_dash_m_and_the_console_script(cache_dir):
    fill(1)
    env = dict(os.environ)
    commands = [[sys.executable, "-m", "llgrad", "cache", "info"]]
    script = shutil.which("llgrad")
    if script is not None:
        commands.append([script, "cache", "info"])
    for command in commands:
        out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        assert f"location:    {cache_dir}" in out and "entries:     1 (1 step)" in out


def test_bench_hands_the_rest_of_the_line_to_llgrad_bench(monkeypatch):
    """`llgrad bench ...` is llgrad.bench.main(...): imported only then, arguments untouched."""
    import types
    seen = []
    fake = types.ModuleType("llgrad.bench")
    fake.main = lambda argv: seen.append(argv) or 3
    monkeypatch.setitem(sys.modules, "llgrad.bench", fake)
    assert main(["bench", "--help", "cache", "-k", "mlp"]) == 3
    assert seen == [["--help", "cache", "-k", "mlp"]]
    fake.main = lambda argv: None  # no status: success
    assert main(["bench"]) == 0


def test_bench_without_the_bench_module_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "llgrad.bench", None)  # import fails as if it were absent
    assert main(["bench", "mlp"]) == 2
    assert "no llgrad.bench module" in capsys.readouterr().err


def test_bench_is_listed_in_the_top_level_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "bench" in out and "cache" in out
