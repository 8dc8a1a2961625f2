"""The README's set-up commands stay true: exactly two (the demo, the tests), and CI runs the
second one verbatim."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def setup_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_two_set_up_commands_demo_and_tests():
    assert setup_commands() == ['pip install . && python -m llgrad.demo',
                                'pip install ".[test]" && python -m pytest']


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert setup_commands()[1].replace('"', "") in ci.replace('"', "")
