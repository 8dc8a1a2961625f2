"""Creating tensors: dtype inference from data, filled tensors, and ranges bit for bit as PyTorch
computes them (arange and linspace are where naive formulas drift by an ulp)."""
import numpy as np
import pytest

import llgrad

DATA = {
    "ints": [1, 2, 3],
    "floats": [1.0, 2.5],
    "bools": [True, False],
    "int_and_float": [1, 2.5],
    "bool_and_int": [True, 2],
    "nested": [[1, 2], [3, 4]],
    "nested_floats": [[1.5], [2.0]],
    "int_scalar": 3,
    "float_scalar": 2.5,
    "bool_scalar": True,
    "empty": [],
    "empty_nested": [[], []],
    "numpy_int32": np.array([1, 2], dtype=np.int32),
    "numpy_float64": np.array([1.5, 2.5]),
    "numpy_float16": np.array([1.5], dtype=np.float16),
    "numpy_bool": np.array([True]),
    "numpy_uint8": np.array([200], dtype=np.uint8),
    "numpy_scalar_float": np.float64(1.25),
    "numpy_scalar_int": np.int32(7),
    "list_of_numpy_floats": [np.float32(1.5), np.float32(2.5)],
    "large_int": [2 ** 40],
    "negative_zero": [-0.0],
    "tuple": (1, 2.0),
    "list_of_float64_arrays": [np.array([1.0, 2.0]), np.array([3.0, 4.0])],
    "list_of_int32_arrays": [np.array([1, 2], dtype=np.int32)],
    "list_of_float64_scalars": [np.float64(1.0), np.float64(2.0)],
    "int_and_float64_scalar": [1, np.float64(2.0)],
    "float_and_float64_scalar": [1.5, np.float64(2.0)],
    "int32_scalar_and_int": [np.int32(1), 2],
    "float32_array_and_ints": [np.array([1.0, 2.0], dtype=np.float32), [3, 4]],
    "int32_and_float64_arrays": [np.array([1, 2], dtype=np.int32), np.array([1.0, 2.0])],
    "range": range(3),
    "nested_ranges": [range(2), range(2)],
}


def dtype_name(t):
    return str(t.dtype).split(".")[-1]


@pytest.mark.parametrize("name", DATA)
@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")
def test_tensor_infers_dtype_and_values_like_torch(name):
    torch = pytest.importorskip("torch")
    data = DATA[name]
    ours, theirs = llgrad.tensor(data), torch.tensor(data)
    assert dtype_name(ours) == dtype_name(theirs)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert np.signbit(ours.numpy()).tolist() == np.signbit(theirs.numpy()).tolist()


TENSORS_IN_DATA = {
    "one_element_tensors": lambda lib: [lib.tensor([3.0]), lib.tensor([1.0])],
    "0d_tensors": lambda lib: [lib.tensor(3.0), lib.tensor(1.0)],
    "int32_tensor": lambda lib: [lib.tensor([3], dtype=lib.int32)],
    "float64_and_float32_tensors": lambda lib: [lib.tensor([3.0], dtype=lib.float64),
                                                lib.tensor([1.0])],
    "tensor_and_number": lambda lib: [lib.tensor(1), 2.5],
    "nested_tensors": lambda lib: [[lib.tensor([1.0])], [lib.tensor([2.0])]],
    "longer_tensor": lambda lib: [lib.tensor([1.0, 2.0])],
    "0d_array_in_list": lambda lib: [np.array(3.0)],
}


@pytest.mark.parametrize("name", TENSORS_IN_DATA)
@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")
def test_tensors_inside_data_are_scalars_like_torch(name):
    """A tensor inside a list is one number to PyTorch (not a sequence, unlike an array)."""
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (llgrad, torch):
        try:
            t = lib.tensor(TENSORS_IN_DATA[name](lib))
            outcomes.append((dtype_name(t), tuple(t.shape), t.tolist()))
        except (TypeError, ValueError) as error:
            outcomes.append((type(error).__name__, str(error)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("name", ["ints", "floats", "bools", "nested", "numpy_float64"])
@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "int64", "bool"])
def test_tensor_with_dtype_like_torch(name, dtype):
    torch = pytest.importorskip("torch")
    ours = llgrad.tensor(DATA[name], dtype=getattr(llgrad, dtype))
    theirs = torch.tensor(DATA[name], dtype=getattr(torch, dtype))
    assert dtype_name(ours) == dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_default_dtype_drives_float_inference():
    previous = llgrad.get_default_dtype()
    try:
        llgrad.set_default_dtype(llgrad.float64)
        assert llgrad.tensor([1.5]).dtype is llgrad.float64
        assert llgrad.tensor([1]).dtype is llgrad.int64
        assert llgrad.zeros(2).dtype is llgrad.float64
        assert llgrad.arange(0, 1, 0.5).dtype is llgrad.float64
        assert (llgrad.tensor([1, 2]) * 0.5).dtype is llgrad.float64
    finally:
        llgrad.set_default_dtype(previous)
    assert llgrad.tensor([1.5]).dtype is llgrad.float32


def test_creation_errors():
    with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point"):
        llgrad.tensor([1, 2], requires_grad=True)
    with pytest.raises(ValueError):
        llgrad.tensor([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="negative dimension"):
        llgrad.zeros(2, -1)
    with pytest.raises(RuntimeError):
        llgrad.arange(0, 10, 0)


FILLED = {
    "zeros": lambda lib: lib.zeros(2, 3),
    "zeros_tuple": lambda lib: lib.zeros((2, 3), dtype=lib.int32),
    "ones": lambda lib: lib.ones([3]),
    "ones_bool": lambda lib: lib.ones(2, dtype=lib.bool),
    "empty_shape": lambda lib: lib.zeros(0, 2),
    "scalar_shape": lambda lib: lib.ones(()),
    "full_int": lambda lib: lib.full((2,), 7),
    "full_float": lambda lib: lib.full((2, 2), 1.5),
    "full_bool": lambda lib: lib.full((2,), True),
    "full_dtype": lambda lib: lib.full((2,), 3, dtype=lib.float64),
    "eye": lambda lib: lib.eye(3),
    "eye_rect": lambda lib: lib.eye(2, 4, dtype=lib.int64),
    "zeros_like": lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.int32)),
    "ones_like_dtype": lambda lib: lib.ones_like(lib.ones(2), dtype=lib.float64),
    "full_like": lambda lib: lib.full_like(lib.ones(2, 2), 2.5),
    "full_like_int": lambda lib: lib.full_like(lib.ones(2, dtype=lib.int64), 2.7),
    "new_zeros": lambda lib: lib.ones(2, dtype=lib.float64).new_zeros(3),
    "new_full": lambda lib: lib.ones(2, dtype=lib.int32).new_full((2,), 5),
    "new_tensor": lambda lib: lib.ones(2, dtype=lib.float64).new_tensor([1, 2]),
    "scalar_tensor": lambda lib: lib.scalar_tensor(3),
    "as_tensor": lambda lib: lib.as_tensor([1, 2], dtype=lib.float32),
    "from_numpy": lambda lib: lib.from_numpy(np.arange(3, dtype=np.int16)),
}


@pytest.mark.parametrize("name", FILLED)
def test_filled_tensors_match_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = FILLED[name](llgrad), FILLED[name](torch)
    assert dtype_name(ours) == dtype_name(theirs)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_from_numpy_shares_memory():
    array = np.zeros(3)
    t = llgrad.from_numpy(array)
    array[0] = 5.0
    assert t[0].item() == 5.0


def test_requires_grad_flag():
    for t in (llgrad.zeros(2, requires_grad=True), llgrad.ones(2, requires_grad=True),
              llgrad.full((2,), 1.5, requires_grad=True), llgrad.tensor([1.0], requires_grad=True),
              llgrad.arange(0.0, 2.0, requires_grad=True), llgrad.linspace(0, 1, 3,
                                                                          requires_grad=True)):
        assert t.requires_grad and t.is_leaf and t.grad_fn is None


ARANGE = [
    (5,), (2, 9), (0, 10, 3), (10, 0, -3), (-4, 4, 0.5), (0, 1, 0.1), (0.0, 1.0, 0.3),
    (1.5,), (-3.2, 5.7, 0.37), (10, -2.5, -1.3), (0, 2.3e-3, 1e-4), (1e6, 1e6 + 5, 0.25),
    (0, 10, 1.5), (3, 3), (0.5, 100.0, 7.77), (-1, 1, 1 / 3), (2 ** 24 - 4, 2 ** 24 + 4, 1.0),
    (0, 10, 0), (0, -1, 1), (0.0, 1000.0, 0.1),
]


@pytest.mark.parametrize("args", ARANGE, ids=str)
@pytest.mark.parametrize("dtype", [None, "float32", "float64", "int64", "int32"])
def test_arange_bit_exact(args, dtype):
    torch = pytest.importorskip("torch")
    kwargs = {} if dtype is None else {"dtype": dtype}
    try:
        theirs = torch.arange(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
    except (RuntimeError, ValueError) as error:
        with pytest.raises(type(error), match=str(error)):
            llgrad.arange(*args, **{k: getattr(llgrad, v) for k, v in kwargs.items()})
        return
    ours = llgrad.arange(*args, **{k: getattr(llgrad, v) for k, v in kwargs.items()})
    assert dtype_name(ours) == dtype_name(theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())  # exactly, not approximately


LINSPACE = [
    (0, 1, 5), (-2.5, 7.1, 50), (0, 1, 1), (3, 3, 4), (0, 10, 0), (5, -5, 11), (1e-3, 1e3, 17),
    (0.1, 0.7, 7), (-1, 1, 2), (0, 1, 100), (2, 3, 3), (-7.5, 2.25, 33), (0, 255, 256),
]


@pytest.mark.parametrize("args", LINSPACE, ids=str)
@pytest.mark.parametrize("dtype", [None, "float64", "int64", "float16"])
def test_linspace_bit_exact(args, dtype):
    torch = pytest.importorskip("torch")
    ours = llgrad.linspace(*args, **({} if dtype is None else {"dtype": getattr(llgrad, dtype)}))
    theirs = torch.linspace(*args, **({} if dtype is None else {"dtype": getattr(torch, dtype)}))
    assert dtype_name(ours) == dtype_name(theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("args", [(0, 2, 5), (-1, 1, 7), (0, 1, 1), (1, 3, 4, 2.0)], ids=str)
def test_logspace_matches_torch(args):
    torch = pytest.importorskip("torch")
    ours, theirs = llgrad.logspace(*args), torch.logspace(*args)
    assert dtype_name(ours) == dtype_name(theirs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_arange_without_torch():
    assert llgrad.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert llgrad.arange(5).dtype is llgrad.int64
    assert llgrad.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert llgrad.arange(0, 1, 0.25).dtype is llgrad.float32
    assert llgrad.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert llgrad.linspace(-1, 1, 3)[-1].item() == 1.0
