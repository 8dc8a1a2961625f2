"""API gaps found in real scripts, against PyTorch: autograd.Variable, set_default_device /
get_default_device, the factories' `size=` keyword, what a name PyTorch has and llgrad does not
says, and the errors PyTorch gives where llgrad used to be lenient (a float64 batch into a
float32 nn.Linear and the other matrix products; cross_entropy's target types)."""
import warnings

import pytest

import llgrad


def _outcome(lib, fn):
    """What `fn(lib)` shows (its repr, or its error) and the warnings it gave, with PyTorch's
    name and C++ suffixes normalized."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = repr(fn(lib))
        except Exception as error:  # noqa: BLE001 (compared with torch's)
            text = f"{type(error).__name__}: {error}"
    shown = [f"{w.category.__name__}: {str(w.message).split(' (Triggered')[0]}" for w in caught]
    return [s.replace("torch.", "llgrad.") for s in [text] + shown]


def _same_as_torch(cases, case):
    torch = pytest.importorskip("torch")
    assert _outcome(llgrad, cases[case]) == _outcome(torch, cases[case])


# ---- autograd.Variable -------------------------------------------------------------------------

def _var(lib, *args, **kwargs):
    return lib.autograd.Variable(*args, **kwargs)


VARIABLE = {
    "wraps": lambda lib: (lambda v: (type(v).__name__, v, v.requires_grad, v.is_leaf))(
        _var(lib, lib.ones(2))),
    "requires_grad": lambda lib: _var(lib, lib.ones(2), requires_grad=True),
    "requires_grad_positional": lambda lib: _var(lib, lib.ones(2), True),
    "requires_grad_int": lambda lib: _var(lib, lib.ones(2), requires_grad=1).requires_grad,
    "requires_grad_none": lambda lib: _var(lib, lib.ones(2), requires_grad=None),
    "data_keyword": lambda lib: _var(lib, data=lib.ones(2)),
    "no_data": lambda lib: (lambda v: (v, v.shape))(_var(lib)),
    "volatile_warns": lambda lib: _var(lib, lib.ones(2), volatile=True),
    "volatile_false": lambda lib: _var(lib, lib.ones(2), volatile=False),
    "volatile_and_requires_grad": lambda lib: _var(lib, lib.ones(2), requires_grad=True,
                                                   volatile=True),
    "volatile_none": lambda lib: _var(lib, lib.ones(2), volatile=None),
    "not_a_tensor": lambda lib: _var(lib, [1.0, 2.0]),
    "number": lambda lib: _var(lib, 3),
    "integer_requires_grad": lambda lib: _var(lib, lib.ones(2, dtype=lib.int64),
                                              requires_grad=True),
    "unknown_keyword": lambda lib: _var(lib, lib.ones(2), foo=1),
    "grad_fn": lambda lib: _var(lib, lib.ones(2), _grad_fn=1),
    "name": lambda lib: _var(lib, lib.ones(2), False, False, None, 5),
    "detaches": lambda lib: (lambda a: (lambda v: (v.grad_fn, v.requires_grad, v.is_leaf))(
        _var(lib, a * 2)))(lib.ones(2, requires_grad=True)),
    "detached_requires_grad": lambda lib: (lambda a: (lambda v: (v.grad_fn, v.is_leaf, v))(
        _var(lib, a * 2, requires_grad=True)))(lib.ones(2, requires_grad=True)),
    "parameter_gives_tensor": lambda lib: type(_var(lib, lib.nn.Parameter(lib.ones(1)))).__name__,
    "isinstance": lambda lib: (isinstance(lib.ones(1), lib.autograd.Variable),
                               isinstance(3, lib.autograd.Variable)),
    "class": lambda lib: lib.autograd.Variable,
    "trains": lambda lib: (lambda w: ((w * 3).sum().backward(), w.grad)[1])(
        _var(lib, lib.ones(2), requires_grad=True)),
}


@pytest.mark.parametrize("case", list(VARIABLE), ids=list(VARIABLE))
def test_variable_matches_torch(case):
    _same_as_torch(VARIABLE, case)


def test_variable_shares_storage():
    t = llgrad.zeros(2)
    v = llgrad.autograd.Variable(t)
    v.data[0] = 5.0
    assert t.tolist() == [5.0, 0.0] and v is not t


# ---- the default device ------------------------------------------------------------------------

def _set_then_get(device):
    def run(lib):
        try:
            lib.set_default_device(device)
            return lib.get_default_device(), lib.ones(1).device
        finally:
            lib.set_default_device(None)

    return run


DEVICE = {
    "initially_cpu": lambda lib: lib.get_default_device(),
    "cpu": _set_then_get("cpu"),
    "cpu_index": _set_then_get("cpu:0"),
    "device_object": _set_then_get(llgrad.device("cpu", 0)),
    "reset": lambda lib: (lib.set_default_device("cpu:0"), lib.set_default_device(None),
                          lib.get_default_device())[2],
    "index_only": _set_then_get(0),
    "unknown_type": _set_then_get("gpu"),
    "float": _set_then_get(3.0),
}


@pytest.mark.parametrize("case", list(DEVICE), ids=list(DEVICE))
def test_default_device_matches_torch(case):
    if case == "device_object":
        pytest.importorskip("torch")
        ours = _outcome(llgrad, DEVICE[case])
        import torch

        assert ours == _outcome(torch, _set_then_get(torch.device("cpu", 0)))
        return
    if case == "unknown_type":  # (the list of device types PyTorch knows changes by version)
        assert _outcome(llgrad, DEVICE[case])[0].startswith("RuntimeError: Expected one of cpu")
        return
    if case == "float":  # PyTorch lists its overloads; the first line is the same
        first = _outcome(llgrad, DEVICE[case])[0]
        assert first.startswith("TypeError: device() received an invalid combination of "
                                "arguments - got (float)")
        return
    _same_as_torch(DEVICE, case)


def test_other_devices_are_refused_at_once():
    # PyTorch takes "cuda:0" or "meta" here and fails at the next factory call; llgrad has only
    # the CPU, so it says so when the device is set.
    with pytest.raises(AssertionError, match="llgrad not compiled with CUDA enabled"):
        llgrad.set_default_device("cuda")
    with pytest.raises(AssertionError, match="llgrad not compiled with CUDA enabled"):
        llgrad.set_default_device(llgrad.device("cuda", 0))
    with pytest.raises(RuntimeError, match="llgrad runs on the CPU only; got device 'meta'"):
        llgrad.set_default_device("meta")
    assert llgrad.get_default_device() == llgrad.device("cpu")


# ---- size as a keyword -------------------------------------------------------------------------

SIZE = {}
for _name in ("zeros", "ones", "empty", "rand", "randn"):
    SIZE.update({
        f"{_name}-tuple": lambda lib, n=_name: getattr(lib, n)(size=(2, 3)).shape,
        f"{_name}-list": lambda lib, n=_name: getattr(lib, n)(size=[2, 3]).shape,
        f"{_name}-Size": lambda lib, n=_name: getattr(lib, n)(size=lib.Size([2])).shape,
        f"{_name}-empty": lambda lib, n=_name: getattr(lib, n)(size=()).shape,
        f"{_name}-tensor_elements": lambda lib, n=_name: getattr(lib, n)(
            size=(lib.tensor(2), 3)).shape,
        f"{_name}-dtype": lambda lib, n=_name: getattr(lib, n)(size=(2,), dtype=lib.float64).dtype,
        f"{_name}-int": lambda lib, n=_name: getattr(lib, n)(size=2),
        f"{_name}-tensor": lambda lib, n=_name: getattr(lib, n)(size=lib.tensor(3)),
        f"{_name}-float_element": lambda lib, n=_name: getattr(lib, n)(size=(2.0,)),
        f"{_name}-none": lambda lib, n=_name: getattr(lib, n)(size=None),
        f"{_name}-both": lambda lib, n=_name: getattr(lib, n)(2, size=(3,)),
        f"{_name}-both_with_dtype": lambda lib, n=_name: getattr(lib, n)(2, size=(3,),
                                                                        dtype=lib.float64),
        f"{_name}-missing": lambda lib, n=_name: getattr(lib, n)(),
    })
SIZE.update({
    "randn_values": lambda lib: (lib.manual_seed(0), lib.randn(size=(2, 2)))[1],
    "rand_generator": lambda lib: lib.rand(size=(2,), generator=lib.Generator().manual_seed(1)),
    "zeros_out": lambda lib: (lambda out: (lib.zeros(size=(2,), out=out) is out, out))(
        lib.empty(0)),
    "full": lambda lib: lib.full(size=(2,), fill_value=3),
    "randint_high_keyword": lambda lib: (lib.manual_seed(0), lib.randint(high=5, size=(3,)))[1],
    "randint_low_high_keyword": lambda lib: (lib.manual_seed(0),
                                             lib.randint(low=1, high=5, size=(3,)))[1],
    "normal": lambda lib: (lib.manual_seed(0), lib.normal(0.0, 1.0, size=(2,)))[1],
    "arange_end_keyword": lambda lib: lib.arange(end=3),
    "new_zeros": lambda lib: lib.ones(1).new_zeros(size=(2,)),
    "new_ones": lambda lib: lib.ones(1, dtype=lib.int64).new_ones(size=(2,)),
    "new_empty": lambda lib: lib.ones(1).new_empty(size=(2,)).shape,
    "new_full": lambda lib: lib.ones(1).new_full(size=(2,), fill_value=2),
})


@pytest.mark.parametrize("case", list(SIZE), ids=list(SIZE))
def test_size_keyword_matches_torch(case):
    _same_as_torch(SIZE, case)


# ---- names PyTorch has and llgrad does not -----------------------------------------------------

MISSING = {
    "llgrad": ("fft", "linalg", "special"),
    "llgrad.nn": ("Transformer", "MultiheadAttention"),
    "llgrad.nn.functional": ("ctc_loss", "grid_sample"),
    "llgrad.optim": ("LBFGS",),
    "llgrad.autograd": ("forward_ad",),
    "llgrad.utils.data": ("DistributedSampler",),
}


def _module(name):
    import importlib

    return importlib.import_module(name)


@pytest.mark.parametrize("module,name", [(m, n) for m, names in MISSING.items() for n in names])
def test_a_missing_pytorch_name_says_llgrad_does_not_provide_it(module, name):
    torch_name = "torch" + module[len("llgrad"):]
    if any(name == n for n in dir(_module(module))):
        pytest.skip(f"{module}.{name} exists now")
    with pytest.raises(AttributeError) as info:
        getattr(_module(module), name)
    assert str(info.value) == (f"module '{module}' has no attribute '{name}': llgrad does not "
                               f"provide {torch_name}.{name} yet")
    assert not hasattr(_module(module), name)


def test_other_missing_names_keep_pythons_message():
    with pytest.raises(AttributeError) as info:
        llgrad.no_such_thing  # noqa: B018
    assert str(info.value) == "module 'llgrad' has no attribute 'no_such_thing'"
    with pytest.raises(AttributeError, match="has no attribute '__wrapped__'$"):
        llgrad.nn.__wrapped__  # noqa: B018
    with pytest.raises(ImportError, match="cannot import name 'fft' from 'llgrad'"):
        from llgrad import fft  # noqa: F401
    assert hasattr(llgrad, "tensor") and hasattr(llgrad.nn, "Linear")
    assert hasattr(llgrad.nn.functional, "relu") and hasattr(llgrad, "profiler")


def test_the_recorded_names_are_torchs():
    torch = pytest.importorskip("torch")
    from llgrad import _missing
    from llgrad._torch_names import TORCH_NAMES

    for module_name in _missing.MODULES:
        current = _missing.public_names(_module(module_name))
        assert TORCH_NAMES[module_name] == current, module_name
    assert torch.__version__.startswith("2.13")


# ---- errors where PyTorch is strict ------------------------------------------------------------

def _linear(lib, bias=True):
    lib.manual_seed(0)
    return lib.nn.Linear(3, 2, bias=bias)


STRICT = {
    "linear_float64_batch": lambda lib: _linear(lib)(lib.ones(4, 3, dtype=lib.float64)),
    "linear_float64_vector": lambda lib: _linear(lib)(lib.ones(3, dtype=lib.float64)),
    "linear_float64_3d": lambda lib: _linear(lib)(lib.ones(2, 4, 3, dtype=lib.float64)),
    "linear_int64": lambda lib: _linear(lib)(lib.ones(4, 3, dtype=lib.int64)),
    "linear_half": lambda lib: _linear(lib)(lib.ones(4, 3, dtype=lib.float16)),
    "linear_no_bias": lambda lib: _linear(lib, False)(lib.ones(4, 3, dtype=lib.float64)),
    "linear_double_model_float_input": lambda lib: _linear(lib).double()(lib.ones(4, 3)),
    "linear_bias_float64": lambda lib: lib.nn.functional.linear(lib.ones(4, 3), lib.ones(2, 3),
                                                                lib.ones(2, dtype=lib.float64)),
    "linear_same_types": lambda lib: _linear(lib).double()(lib.ones(1, 3, dtype=lib.float64)),
    "mm": lambda lib: lib.mm(lib.ones(2, 3, dtype=lib.float64), lib.ones(3, 2)),
    "mm_int": lambda lib: lib.mm(lib.ones(2, 3, dtype=lib.int64), lib.ones(3, 2)),
    "matmul_operator": lambda lib: lib.ones(2, 3, dtype=lib.float64) @ lib.ones(3, 2),
    "mv": lambda lib: lib.mv(lib.ones(2, 3), lib.ones(3, dtype=lib.float64)),
    "matmul_batched_vector": lambda lib: lib.matmul(lib.ones(2, 2, 3, dtype=lib.float64),
                                                    lib.ones(3)),
    "matmul_vector_batched": lambda lib: lib.matmul(lib.ones(3, dtype=lib.float64),
                                                    lib.ones(2, 3, 2)),
    "bmm": lambda lib: lib.bmm(lib.ones(1, 2, 3), lib.ones(1, 3, 2, dtype=lib.float64)),
    "dot": lambda lib: lib.dot(lib.ones(3), lib.ones(3, dtype=lib.float64)),
    "addmm_mat1": lambda lib: lib.addmm(lib.ones(2), lib.ones(2, 3, dtype=lib.float64),
                                        lib.ones(3, 2)),
    "addmm_self": lambda lib: lib.addmm(lib.ones(2, dtype=lib.float64), lib.ones(2, 3),
                                        lib.ones(3, 2)),
    "inner": lambda lib: lib.inner(lib.ones(2, 3, dtype=lib.float64), lib.ones(2, 3)),
    "einsum": lambda lib: lib.einsum("ij,jk->ik", lib.ones(2, 3, dtype=lib.float64),
                                     lib.ones(3, 2)),
}


def _scores(lib, *shape, dtype=None):
    lib.manual_seed(0)
    return lib.randn(*shape, dtype=dtype)


CROSS_ENTROPY = {
    "float_class_indices": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.tensor([0.0, 1.0, 2.0])),
    "double_class_indices": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.tensor([0.0, 1.0, 2.0], dtype=lib.float64)),
    "int32_class_indices": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.tensor([0, 1, 2], dtype=lib.int32)),
    "bool_class_indices": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.tensor([True, False, True])),
    "module": lambda lib: lib.nn.CrossEntropyLoss()(_scores(lib, 3, 4),
                                                    lib.tensor([0.0, 1.0, 2.0])),
    "unbatched_float": lambda lib: lib.nn.functional.cross_entropy(_scores(lib, 4),
                                                                   lib.tensor(1.0)),
    "spatial_float": lambda lib: lib.nn.functional.cross_entropy(_scores(lib, 3, 4, 5),
                                                                 lib.zeros(3, 5)),
    "image_float": lambda lib: lib.nn.functional.cross_entropy(_scores(lib, 2, 3, 2, 2),
                                                               lib.zeros(2, 2, 2)),
    "batch_mismatch": lambda lib: lib.nn.functional.cross_entropy(_scores(lib, 3, 4),
                                                                  lib.tensor([0.0, 1.0])),
    "multi_target": lambda lib: lib.nn.functional.cross_entropy(_scores(lib, 3, 4),
                                                                lib.zeros(3, 2)),
    "label_smoothing_float": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.tensor([0.0, 1.0, 2.0]), label_smoothing=0.1),
    "probabilities_long": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.zeros(3, 4, dtype=lib.int64)),
    "probabilities_ignore_index": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.full((3, 4), 0.25), ignore_index=1),
    "probabilities": lambda lib: lib.nn.functional.cross_entropy(_scores(lib, 3, 4),
                                                                 lib.full((3, 4), 0.25)),
    "unbatched_same_shape_long": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 4), lib.tensor([0, 1, 0, 1])),
    "class_indices": lambda lib: lib.nn.functional.cross_entropy(_scores(lib, 3, 4),
                                                                 lib.tensor([0, 1, 2])),
    "byte_class_indices": lambda lib: lib.nn.functional.cross_entropy(
        _scores(lib, 3, 4), lib.tensor([0, 1, 2], dtype=lib.uint8)),
    "nll_float": lambda lib: lib.nn.functional.nll_loss(_scores(lib, 3, 4),
                                                        lib.tensor([0.0, 1.0, 2.0])),
    "nll_multi_target_float": lambda lib: lib.nn.functional.nll_loss(_scores(lib, 3, 4),
                                                                     lib.zeros(3, 4)),
}


@pytest.mark.parametrize("case", list(STRICT), ids=list(STRICT))
def test_matrix_products_refuse_mixed_dtypes_as_torch(case):
    _same_as_torch(STRICT, case)


@pytest.mark.parametrize("case", list(CROSS_ENTROPY), ids=list(CROSS_ENTROPY))
def test_cross_entropy_targets_as_torch(case):
    _same_as_torch(CROSS_ENTROPY, case)
