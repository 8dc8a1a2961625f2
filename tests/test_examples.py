"""The scripts in examples/ run (shortened), so what the type checker reads also works."""
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
SHORT = {"train_digits.py": ["--epochs", "1"], "compiled_step.py": ["--steps", "20"],
         "autograd_basics.py": []}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(SHORT)


@pytest.mark.parametrize("name", sorted(SHORT))
def test_example_runs(name):
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *SHORT[name]],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}{result.stderr}"
    assert result.stdout.strip(), f"{name} printed nothing"
