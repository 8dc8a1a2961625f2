"""The Tensor class itself: its name, type strings and conversions, the legacy constructors
(Tensor(...), FloatTensor(...), ...), and copy.copy."""
import copy

import numpy as np
import pytest

import llgrad


def _run(lib, fn):
    try:
        result = fn(lib)
    except Exception as error:  # noqa: BLE001 (compared with torch's)
        return f"{type(error).__name__}: {error}"
    return repr(result).replace("torch.", "llgrad.").replace("'torch'", "'llgrad'")


CASES = {
    "type_names": lambda lib: [lib.zeros(1, dtype=d).type() for d in
                               (lib.float32, lib.float64, lib.float16, lib.int64, lib.int32,
                                lib.int16, lib.int8, lib.uint8, lib.bool)],
    "type_to_dtype": lambda lib: lib.tensor([1.5, 2.5]).type(lib.int64),
    "type_to_name": lambda lib: lib.tensor([1, 2]).type("torch.DoubleTensor"),
    "type_to_class": lambda lib: lib.tensor([1.5]).type(lib.IntTensor),
    "class_of_tensor": lambda lib: (type(lib.zeros(1)), type(lib.nn.Parameter(lib.zeros(1)))),
    "legacy_sizes": lambda lib: (lib.Tensor(2, 3).shape, lib.Tensor(lib.Size([4])).shape,
                                 lib.Tensor(2, 3).dtype, lib.Tensor(0).shape),
    "legacy_data": lambda lib: (lib.Tensor([1, 2]), lib.Tensor((2, 3)), lib.Tensor([[True]]),
                                lib.Tensor(np.array([1, 2])), lib.Tensor()),
    "legacy_typed": lambda lib: (lib.FloatTensor([1, 2]), lib.LongTensor([1, 2]),
                                 lib.DoubleTensor([1]), lib.IntTensor([1.7]),
                                 lib.BoolTensor([1, 0]), lib.ByteTensor([3]),
                                 lib.LongTensor(3).shape, lib.HalfTensor([1])),
    "legacy_classes": lambda lib: (lib.FloatTensor, lib.LongTensor),
    "legacy_isinstance": lambda lib: (isinstance(lib.zeros(1), lib.FloatTensor),
                                      isinstance(lib.zeros(1), lib.DoubleTensor),
                                      isinstance(lib.tensor([1]), lib.LongTensor),
                                      isinstance(lib.zeros(1), lib.Tensor)),
    "legacy_float_argument": lambda lib: lib.Tensor(2.5),
    "legacy_negative_size": lambda lib: lib.Tensor(-1),
    "legacy_wrong_tensor_type": lambda lib: lib.LongTensor(lib.tensor([1.0])),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _run(llgrad, CASES[case]), _run(torch, CASES[case])
    if case == "legacy_wrong_tensor_type":  # PyTorch prints its TensorOptions
        assert ours.startswith("TypeError: expected long int tensor (got float tensor)")
        assert theirs.startswith("TypeError: expected TensorOptions(dtype=long int")
        return
    assert ours == theirs


def test_legacy_constructor_of_a_tensor_is_an_alias():
    x = llgrad.tensor([1.0, 2.0])
    y = llgrad.Tensor(x)
    y[0] = 5.0
    assert x.tolist() == [5.0, 2.0] and y is not x


def test_legacy_constructors_follow_the_default_dtype():
    llgrad.set_default_dtype(llgrad.float64)
    try:
        assert llgrad.Tensor(2).dtype is llgrad.float64
        assert llgrad.Tensor([1]).dtype is llgrad.float64
        assert llgrad.FloatTensor(1).dtype is llgrad.float32
    finally:
        llgrad.set_default_dtype(llgrad.float32)


def test_subclasses_still_construct_themselves():
    p = llgrad.nn.Parameter(llgrad.ones(2))
    assert type(p) is llgrad.nn.Parameter and p.requires_grad

    class Tagged(llgrad.Tensor):
        pass

    t = Tagged([1, 2])
    assert type(t) is Tagged and t.tolist() == [1.0, 2.0] and (t * 2).tolist() == [2.0, 4.0]


def test_copy_shares_storage_not_the_version_counter_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (llgrad, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        c = copy.copy(x)
        assert c is not x and c.requires_grad and c.is_leaf and c.grad is None
        with lib.no_grad():
            c[0] = 7.0
        assert x.tolist() == [7.0, 2.0]
        assert x._version == 0 and c._version > 0
        d = copy.copy(x * 2)  # PyTorch copies non-leaves too: a new leaf
        assert d.is_leaf and d.requires_grad and d.tolist() == [14.0, 4.0]
        p = copy.copy(lib.nn.Parameter(lib.zeros(2)))
        assert isinstance(p, lib.nn.Parameter)


def test_copy_module_shallowly():
    model = llgrad.nn.Linear(2, 2)
    clone = copy.copy(model)
    assert clone.weight is model.weight
