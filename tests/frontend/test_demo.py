"""The demo's command line: every flag is described with its default, and values that would
make training meaningless are refused with a message (argparse's usage error, exit status 2)."""
import math

import pytest

from llgrad import demo


def test_help_describes_each_flag_with_its_default(capsys):
    with pytest.raises(SystemExit) as done:
        demo.parse_args(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    for flag, default in [("--epochs", "20"), ("--batch-size", "32"), ("--lr", "0.05"),
                          ("--momentum", "0.9"), ("--hidden", "128"), ("--seed", "0")]:
        assert flag in text and f"(default: {default})" in text, flag
    assert "--compile" in text and "--quiet" in text


@pytest.mark.parametrize("argv, message", [
    (["--lr", "nan"], "--lr must be a positive number, not nan"),
    (["--lr", "-0.1"], "--lr must be a positive number"),
    (["--lr", "inf"], "--lr must be a positive number"),
    (["--epochs", "-1"], "--epochs must be at least 1"),
    (["--epochs", "0"], "--epochs must be at least 1"),
])
def test_bad_values_are_refused_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        demo.parse_args(argv)
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_good_values_parse():
    args = demo.parse_args(["--epochs", "3", "--lr", "0.1", "--compile"])
    assert args.epochs == 3 and math.isclose(args.lr, 0.1) and args.compile
