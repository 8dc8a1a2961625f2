"""The allocator tuning applied at import: on, idempotent, and switchable off."""
import subprocess
import sys

from llgrad.runtime import memory


def test_tuning_is_applied_once_and_reported():
    first = memory.tune_allocator()
    assert memory.tune_allocator() is first
    if sys.platform.startswith("linux"):
        assert isinstance(first, bool)


def test_environment_switch_turns_it_off():
    code = "import llgrad; from llgrad.runtime import memory; print(memory._tuned)"
    out = subprocess.run([sys.executable, "-c", code], env={"LLGRAD_MALLOC_TUNING": "0",
                                                            "PATH": ""},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
