"""Allocator tuning is the user's choice: never applied at import, idempotent when asked for."""
import subprocess
import sys

from llgrad.runtime import memory


def test_importing_llgrad_leaves_the_allocator_alone():
    code = ("import llgrad\nfrom llgrad.runtime import memory\nprint(memory._tuned)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "None"


def test_tuning_on_request_is_applied_once_and_reported():
    first = memory.tune_allocator()
    assert memory.tune_allocator() is first
    if sys.platform.startswith("linux"):
        assert isinstance(first, bool)
