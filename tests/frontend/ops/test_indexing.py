"""The indexing rows of the op table: gradcheck, PyTorch parity (values, gradients, grad_fn graphs,
non-contiguous inputs) and second derivatives."""
from .harness import OpTests


class TestIndexingOps(OpTests):
    family = "indexing"


# ---- beyond the table: plain-NumPy writes, errors ------------------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import llgrad  # noqa: E402

WRITES = {
    "int": lambda lib: (1, 5.0),
    "negative": lambda lib: ((-1, -2), 5.0),
    "slice_step": lambda lib: ((slice(None, None, 2), 1), lib.tensor([7.0, 8.0, 9.0, 1.0, 2.0])),
    "ellipsis": lambda lib: ((Ellipsis, 0), 3.0),
    "none": lambda lib: ((None, 1), lib.ones(4, 5)),
    "list": lambda lib: ([0, 2], -1.0),
    "tensor": lambda lib: (lib.tensor([2, 0, 2]), lib.arange(20.0).reshape(4, 5)),
    "mask": lambda lib: (lib.arange(60.0).reshape(3, 4, 5) % 3 == 0, 0.5),
    "mask_rows": lambda lib: (lib.tensor([True, False, True]), lib.zeros(2, 4, 5)),
    "pairs": lambda lib: ((lib.tensor([0, 1]), slice(None), lib.tensor([4, 0])), 9.0),
    "int_tensor_value": lambda lib: (0, lib.tensor(3)),
}


@pytest.mark.parametrize("name", WRITES)
def test_setitem_without_autograd_matches_torch(name):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (llgrad, torch):
        x = lib.arange(60.0).reshape(3, 4, 5)
        index, value = WRITES[name](lib)
        before = x._version
        x[index] = value
        results.append((x.numpy().copy(), x._version - before))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1] == 1


ERRORS = {
    "int_out_of_range": lambda lib, x: x[3],
    "negative_out_of_range": lambda lib, x: x[:, -5],
    "too_many": lambda lib, x: x[0, 0, 0, 0],
    "tensor_out_of_range": lambda lib, x: x[lib.tensor([0, 3])],
    "float_index": lambda lib, x: x[lib.tensor([0.0])],
    "mask_shape": lambda lib, x: x[lib.tensor([True, False])],
    "zero_step": lambda lib, x: x[::0],
    "negative_step": lambda lib, x: x[::-1],
}


@pytest.mark.parametrize("name", ERRORS)
def test_index_errors_match_torch(name):
    torch = pytest.importorskip("torch")
    raised = []
    for lib in (llgrad, torch):
        x = lib.zeros(3, 4, 5)
        with pytest.raises(Exception) as error:
            ERRORS[name](lib, x)
        raised.append(error.type)
    assert issubclass(raised[0], (IndexError, ValueError, RuntimeError))
    assert raised[0] is raised[1] or issubclass(raised[0], raised[1]), raised


def test_second_ellipsis_stands_for_no_dims_like_torch():
    assert tuple(llgrad.zeros(3, 4, 5)[..., 0, ...].shape) == (3, 4)


def test_views_from_indexing_share_storage():
    x = llgrad.zeros(3, 4)
    row, column, block = x[1], x[:, 2], x[1:, ::2]
    row[0] = 1.0
    column.add_(2.0)
    block.mul_(3.0)
    expected = np.zeros((3, 4))
    expected[1, 0] = 1.0
    expected[:, 2] += 2.0
    expected[1:, ::2] *= 3.0
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x[[0, 1]]._base is None  # advanced indexing copies


MASKED_FILL = {
    "int_with_float": lambda lib: lib.tensor([1, 2, 3]).masked_fill(
        lib.tensor([True, False, True]), 1.5),
    "int_with_negative_float": lambda lib: lib.tensor([1, 2, 3]).masked_fill(
        lib.tensor([True, False, True]), -1.7),
    "bool_with_float": lambda lib: lib.tensor([True, False]).masked_fill(
        lib.tensor([True, False]), 0.0),
    "bool_with_int": lambda lib: lib.tensor([True, False]).masked_fill(
        lib.tensor([False, True]), 2),
    "float_with_int": lambda lib: lib.tensor([1.0, 2.0]).masked_fill(
        lib.tensor([True, False]), 5),
    "int32_with_int": lambda lib: lib.tensor([1, 2], dtype=lib.int32).masked_fill(
        lib.tensor([True, False]), 7),
    "in_place_int": lambda lib: lib.tensor([1, 2, 3]).masked_fill_(
        lib.tensor([False, True, False]), 9.9),
    "int_with_float_tensor": lambda lib: lib.tensor([1, 2]).masked_fill(
        lib.tensor([True, False]), lib.tensor(2.5)),
}


@pytest.mark.parametrize("name", MASKED_FILL)
def test_masked_fill_casts_the_value_like_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = MASKED_FILL[name](llgrad), MASKED_FILL[name](torch)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert ours.tolist() == theirs.tolist()


def test_scatter_in_place_matches_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (llgrad, torch):
        x = lib.zeros(3, 4)
        index = lib.tensor([[0, 1], [2, 3]])
        x.scatter_(1, index, lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        x.scatter_(0, lib.tensor([[2, 2, 2, 2]]), 5.0)
        y = lib.zeros(5, dtype=lib.int64).scatter_(0, lib.tensor([0, 0, 4]), 7)
        w = lib.ones(2, 3, requires_grad=True)
        z = w * 2
        z.scatter_(1, lib.tensor([[0], [2]]), lib.tensor([[9.0], [8.0]]))
        z.sum().backward()
        results.append((x.tolist(), y.tolist(), z.tolist(), type(z.grad_fn).__name__,
                        w.grad.tolist()))
    assert results[0] == results[1]


def test_scatter_errors_match_torch():
    torch = pytest.importorskip("torch")
    cases = [lambda lib: lib.zeros(3).scatter(0, lib.tensor([3]), 1.0),
             lambda lib: lib.zeros(3).scatter(0, lib.tensor([-1]), 1.0),
             lambda lib: lib.zeros(3).scatter(0, lib.tensor([0]), lib.ones(1, dtype=lib.float64))]
    for case in cases:
        messages = []
        for lib in (llgrad, torch):
            with pytest.raises(RuntimeError) as error:
                case(lib)
            messages.append(str(error.value))
        assert messages[0] == messages[1]
