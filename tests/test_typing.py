"""The public API type-checks: mypy runs over examples/ against llgrad's own annotations.

llgrad ships `py.typed`, so mypy and IDEs read its annotations. The examples are ordinary
PyTorch-style scripts with annotated functions; mypy checks them with the calls into llgrad
typed (Tensor methods and operators, ops, nn, optim, compile, autograd, save/load). llgrad's own
modules are followed silently: only the examples' errors count.

The repository maps folders to import names (frontend/ -> llgrad, compiler/ -> llgrad.compiler,
runtime/ -> llgrad.runtime), which an editable install does with an import hook mypy cannot see,
so the test lays the package out as it installs, with symbolic links, in a temporary folder.
"""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
LAYOUT = {"": "frontend", "compiler": "compiler", "runtime": "runtime"}

pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e '.[test]'")


def lay_out_package(target):
    """target/llgrad: the package as pip installs it, as symbolic links to the source tree."""
    package = target / "llgrad"
    package.mkdir(parents=True)
    for entry in (ROOT / "frontend").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in LAYOUT.items():
        if name:
            (package / name).symlink_to(ROOT / folder)
    return target


def test_py_typed_marker_ships():
    assert (ROOT / "frontend" / "py.typed").is_file()


def test_examples_type_check(tmp_path):
    examples = sorted(str(p) for p in EXAMPLES.glob("*.py"))
    assert examples, "examples/ has no scripts"
    search_path = lay_out_package(tmp_path / "src")
    command = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
               "--no-error-summary", "--show-error-codes", "--python-version=3.10",
               f"--cache-dir={tmp_path / 'mypy_cache'}", *examples]
    env = {**os.environ, "MYPYPATH": str(search_path)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path,
                            timeout=600)
    assert result.returncode == 0, (
        f"mypy found errors in examples/ (exit {result.returncode}):\n"
        f"{result.stdout}{result.stderr}")
