"""Running one scenario with PyTorch and with llgrad and comparing what each printed.

A scenario is a function of the library module (`torch` or `llgrad`) that prints what it
observes. `transcript` runs it and records its stdout, the warnings it raised and the exception
that ended it; `assert_same_as_torch` checks that llgrad's transcript is torch's, with memory
addresses and the `torch.` prefix (dtype names, `torch.autograd...` in messages, module paths in
node reprs) normalized. Nothing here imports torch: comparison tests get it from the `torch`
fixture (conftest.py), which skips them where PyTorch is not installed.
"""
import contextlib
import io
import re
import warnings

import numpy as np

import llgrad

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
# PyTorch's C++ warnings end with the build path of the line that raised them.
_TRIGGERED = re.compile(r" \(Triggered internally at [^)]*\)")
# Given once per process by both libraries, so a transcript cannot depend on test order: it is
# left out of comparisons and tested on its own.
ONCE_PER_PROCESS = ("Using backward() with create_graph=True will create a reference cycle",
                    "Converting a tensor with requires_grad=True to a scalar")


def normalize(text):
    """Addresses, build paths, and PyTorch's own name (`torch.` in dtypes, messages, reprs;
    `torch::` in C++ node names; `torch/` in file paths) made comparable."""
    text = _TRIGGERED.sub("", _ADDRESS.sub("0xADDR", text))
    for prefix in (".", "::", "/"):
        text = text.replace("torch" + prefix, "llgrad" + prefix)
    return text


def transcript(scenario, lib):
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        try:
            scenario(lib)
        except Exception as error:  # noqa: BLE001 (recorded in the transcript)
            print(f"!! {type(error).__name__}: {error}")
    text = out.getvalue()
    for w in caught:
        if not str(w.message).startswith(ONCE_PER_PROCESS):
            text += f"!! warning {w.category.__name__}: {w.message}\n"
    return normalize(text)


class Scenarios(list):
    """A table of scenarios, filled by decorating functions with it; `params()` parametrizes a
    test over them by name."""

    def __call__(self, fn):
        self.append(fn)
        return fn

    def params(self):
        import pytest

        return [pytest.param(fn, id=fn.__name__) for fn in self]


def assert_same_as_torch(scenario, torch):
    expected = transcript(scenario, torch)
    actual = transcript(scenario, llgrad)
    assert actual == expected


# ---- state snapshots: a failing call must change nothing ---------------------------------------

def snapshot(tensors):
    """Each tensor's value and .grad (value, or None) as NumPy copies."""
    state = []
    for t in tensors:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = t.grad
        state.append((_array(t), None if g is None else _array(g),
                      None if g is None else id(g)))
    return state


def _array(t):
    return np.array(t.detach().tolist())


def assert_unchanged(before, tensors):
    after = snapshot(tensors)
    assert len(before) == len(after)
    for (v0, g0, id0), (v1, g1, id1) in zip(before, after):
        np.testing.assert_array_equal(v0, v1)
        assert (g0 is None) == (g1 is None)
        if g0 is not None:
            np.testing.assert_array_equal(g0, g1)
            assert id0 == id1


def raises_without_changes(lib, action, watched):
    """Call `action()`, which must raise; print the error for the transcript and check that the
    value and .grad of every tensor in `watched` are what they were before the call."""
    before = snapshot(watched)
    try:
        action()
    except Exception as error:  # noqa: BLE001
        print(f"raised {type(error).__name__}: {error}")
    else:
        raise AssertionError("expected an error")
    assert_unchanged(before, watched)
    return True
