"""Argument conventions shared by the ops: sizes (including 0-d integer tensors) and `out=`
(the result written into `out`, resized when needed, and `out` returned), against PyTorch."""
import warnings

import numpy as np
import pytest

import llgrad


def _run(lib, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = fn(lib)
        except Exception as error:  # noqa: BLE001 (compared with torch's)
            return f"{type(error).__name__}: {error}"
    return repr(result).replace("torch.", "llgrad.")


SIZES = {
    "zeros_tensor": lambda lib: lib.zeros(lib.tensor(3)),
    "zeros_tensors": lambda lib: lib.ones(lib.tensor(2), lib.tensor(3)).shape,
    "zeros_numpy_int": lambda lib: lib.zeros(np.int64(2)),
    "randn_tensor": lambda lib: lib.randn(lib.tensor(2)).shape,
    "reshape_tensor": lambda lib: lib.arange(6).reshape(lib.tensor(6)).shape,
    "reshape_mixed": lambda lib: lib.arange(6).reshape((lib.tensor(2), 3)).shape,
    "reshape_tensors": lambda lib: lib.arange(6).reshape(lib.tensor(2), lib.tensor(3)).shape,
    "reshape_one_element": lambda lib: lib.arange(6).reshape(lib.tensor([6])).shape,
    "view_infer": lambda lib: lib.arange(6).view(-1, lib.tensor(2)).shape,
    "expand_tensor": lambda lib: lib.ones(1).expand(lib.tensor(4)).shape,
    "permute_tensor": lambda lib: lib.ones(2).permute(lib.tensor(0)).shape,
    "repeat_tensor": lambda lib: lib.ones(2).repeat(lib.tensor(2)).shape,
    "empty_tuple": lambda lib: lib.zeros(()),
    "float_size": lambda lib: lib.zeros(2.0),
    "tensor_size": lambda lib: lib.arange(6).reshape(lib.tensor([2, 3])),
    "negative": lambda lib: lib.ones(2, -3),
}


@pytest.mark.parametrize("case", list(SIZES), ids=list(SIZES))
def test_sizes_match_torch(case):
    torch = pytest.importorskip("torch")
    assert _run(llgrad, SIZES[case]) == _run(torch, SIZES[case])


OUT = {
    "zeros_into_int64": (lambda lib: lib.empty(0, dtype=lib.int64),
                         lambda lib, out: lib.zeros(2, 3, out=out)),
    "ones_shrinks": (lambda lib: lib.empty(5), lambda lib, out: lib.ones(2, out=out)),
    "full_into_int32": (lambda lib: lib.empty(2, dtype=lib.int32),
                        lambda lib, out: lib.full((2,), 7, out=out)),
    "arange": (lambda lib: lib.empty(3), lambda lib, out: lib.arange(3, out=out)),
    "linspace": (lambda lib: lib.empty(1), lambda lib, out: lib.linspace(0, 1, 3, out=out)),
    "eye": (lambda lib: lib.empty(1), lambda lib, out: lib.eye(2, out=out)),
    "randn_float64": (lambda lib: lib.empty(3, dtype=lib.float64),
                      lambda lib, out: (lib.manual_seed(0), lib.randn(3, out=out))[1]),
    "randint": (lambda lib: lib.empty(4, dtype=lib.int64),
                lambda lib, out: (lib.manual_seed(0), lib.randint(0, 10, (4,), out=out))[1]),
    "normal": (lambda lib: lib.empty(2, dtype=lib.float64),
               lambda lib, out: (lib.manual_seed(0), lib.normal(1.0, 2.0, (3,), out=out))[1]),
    "cat": (lambda lib: lib.empty(2, 3),
            lambda lib, out: lib.cat([lib.ones(1, 3), lib.zeros(1, 3)], out=out)),
    "cat_resizes": (lambda lib: lib.empty(0),
                    lambda lib, out: lib.cat([lib.ones(2), lib.zeros(1)], out=out)),
    "cat_into_float64": (lambda lib: lib.empty(2, dtype=lib.float64),
                         lambda lib, out: lib.cat([lib.ones(1), lib.zeros(1)], out=out)),
    "stack": (lambda lib: lib.empty(0),
              lambda lib, out: lib.stack([lib.ones(2), lib.arange(2.0)], 1, out=out)),
    "normalize": (lambda lib: lib.empty(2, 2),
                  lambda lib, out: lib.nn.functional.normalize(lib.ones(2, 2), out=out)),
    "dtype_mismatch": (lambda lib: lib.empty(2),
                       lambda lib, out: lib.zeros(2, dtype=lib.float64, out=out)),
    "cat_cannot_cast": (lambda lib: lib.empty(2, dtype=lib.int64),
                        lambda lib, out: lib.cat([lib.ones(1), lib.zeros(1)], out=out)),
    "cat_requires_grad": (lambda lib: lib.empty(4), lambda lib, out: lib.cat(
        [lib.ones(2, requires_grad=True)] * 2, out=out)),
    "stack_requires_grad": (lambda lib: lib.empty(4), lambda lib, out: lib.stack(
        [lib.ones(2, requires_grad=True)] * 2, out=out)),
    "zeros_into_requires_grad": (lambda lib: lib.empty(2, requires_grad=True),
                                 lambda lib, out: lib.zeros(2, out=out)),
}


@pytest.mark.parametrize("case", list(OUT), ids=list(OUT))
def test_out_matches_torch(case):
    torch = pytest.importorskip("torch")
    make_out, fn = OUT[case]

    def call(lib):
        out = make_out(lib)
        result = fn(lib, out)
        return result is out, out, out.dtype, out.shape

    assert _run(llgrad, call) == _run(torch, call)


def test_out_under_no_grad_accepts_inputs_that_require_grad():
    x = llgrad.ones(2, requires_grad=True)
    out = llgrad.empty(4)
    with llgrad.no_grad():
        assert llgrad.cat([x, x], out=out) is out
    assert out.tolist() == [1.0] * 4 and out.grad_fn is None


def test_out_of_the_same_shape_is_written_in_place():
    out = llgrad.zeros(3)
    view = out[1:]
    version = out._version
    llgrad.arange(3, out=out)
    assert view.tolist() == [1.0, 2.0] and out._version > version
