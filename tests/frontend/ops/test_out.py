"""`out=` on the functions PyTorch gives it (llgrad/ops/out.py), against PyTorch: the value
written, `out` returned (and resized, with PyTorch's warning), each family's dtype rule and its
message, the autograd refusal (by the name PyTorch gives), (values, indices) pairs, argument
errors; then what holds without torch."""
import warnings

import numpy as np
import pytest

import llgrad


def _tensors(lib):
    x = lib.tensor([[0.5, -1.5, 2.0], [3.0, -0.25, 1.0]])
    return x, lib.tensor([[1, 2, 3], [4, 5, 6]]), lib.tensor([2.0, -1.0, 0.5])


def _outcome(lib, fn):
    """What PyTorch shows: `out` (and whether it was returned), or the error; the resize
    warning, if any (PyTorch's C++ suffix left out)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            text = fn(lib)
        except Exception as error:  # noqa: BLE001 (compared with torch's)
            text = f"{type(error).__name__}: {error}"
    resized = [str(w.message).split(" (Triggered")[0] for w in caught
               if "was resized" in str(w.message)]
    return text.replace("torch.", "llgrad."), resized[:1]


def _into(make_out, call):
    """A case: `call(lib, out)` with `out = make_out(lib)`, shown as PyTorch shows it."""
    def run(lib):
        out = make_out(lib)
        result = call(lib, out)
        return f"{result is out} {out!r} {out.requires_grad}"

    return run


def _empty(dtype_name=None, requires_grad=False, size=0):
    def make(lib):
        dtype = getattr(lib, dtype_name) if dtype_name else None
        return lib.zeros(size, dtype=dtype, requires_grad=requires_grad) if size else \
            lib.empty(0, dtype=dtype, requires_grad=requires_grad)

    return make


def _x(lib, requires_grad=False):
    return _tensors(lib)[0].requires_grad_(requires_grad)


CASES = {}


def _family(name, call, dtypes=("float32", "float64", "int64", "bool")):
    """The call into out of each dtype, into an out that requires grad, with an input that
    requires grad, and into an out of another shape (resized)."""
    for dtype in dtypes:
        CASES[f"{name}-{dtype}"] = _into(_empty(dtype), lambda lib, out: call(lib, out, False))
    CASES[f"{name}-out_requires_grad"] = _into(_empty(requires_grad=True),
                                               lambda lib, out: call(lib, out, False))
    CASES[f"{name}-input_requires_grad"] = _into(_empty(), lambda lib, out: call(lib, out, True))
    CASES[f"{name}-resized"] = _into(_empty(size=7), lambda lib, out: call(lib, out, False))


# elementwise ("result type ... can't be cast")
_family("mul", lambda lib, out, rg: lib.mul(_x(lib, rg), 2, out=out))
_family("add_alpha", lambda lib, out, rg: lib.add(_x(lib, rg), _tensors(lib)[2], alpha=2, out=out))
_family("sub_int", lambda lib, out, rg: lib.sub(_tensors(lib)[1], 1, out=out))
_family("div_int", lambda lib, out, rg: lib.div(_tensors(lib)[1], 4, out=out))
_family("div_floor", lambda lib, out, rg: lib.div(_x(lib, rg), 2, rounding_mode="floor", out=out))
_family("exp", lambda lib, out, rg: lib.exp(_x(lib, rg), out=out))
_family("sqrt_int", lambda lib, out, rg: lib.sqrt(_tensors(lib)[1], out=out))
_family("pow", lambda lib, out, rg: lib.pow(_x(lib, rg), 2, out=out))
_family("maximum", lambda lib, out, rg: lib.maximum(_x(lib, rg), _tensors(lib)[2], out=out))
_family("addcmul", lambda lib, out, rg: lib.addcmul(_x(lib, rg), _x(lib), _x(lib), value=0.5,
                                                    out=out))
_family("lerp", lambda lib, out, rg: lib.lerp(_x(lib, rg), lib.ones(3), 0.25, out=out))
_family("eq", lambda lib, out, rg: lib.eq(_x(lib, rg), 2, out=out))
_family("logical_and", lambda lib, out, rg: lib.logical_and(_x(lib, rg), _x(lib), out=out))
_family("bitwise_and", lambda lib, out, rg: lib.bitwise_and(_tensors(lib)[1], 6, out=out))
_family("floor_divide", lambda lib, out, rg: lib.floor_divide(_x(lib, rg), 2, out=out))
_family("clamp_tensor", lambda lib, out, rg: lib.clamp(_x(lib, rg), min=lib.zeros(3),
                                                       out=out))
_family("square_int", lambda lib, out, rg: lib.square(_tensors(lib)[1], out=out))
_family("outer", lambda lib, out, rg: lib.outer(_tensors(lib)[2].requires_grad_(rg),
                                                lib.ones(2), out=out))
# aliases: the autograd error names the op they stand for
_family("multiply", lambda lib, out, rg: lib.multiply(_x(lib, rg), 2, out=out), ("float32",))
_family("true_divide", lambda lib, out, rg: lib.true_divide(_x(lib, rg), 2, out=out), ("int64",))
_family("arcsin", lambda lib, out, rg: lib.arcsin(_x(lib, rg) / 4, out=out), ("float64",))
# same type as the input ("Found dtype ... but expected ...")
_family("abs", lambda lib, out, rg: lib.abs(_x(lib, rg), out=out))
_family("neg_int", lambda lib, out, rg: lib.neg(_tensors(lib)[1], out=out))
_family("floor", lambda lib, out, rg: lib.floor(_x(lib, rg), out=out))
_family("clamp", lambda lib, out, rg: lib.clamp(_x(lib, rg), -1, 1, out=out))
_family("clip", lambda lib, out, rg: lib.clip(_x(lib, rg), max=1, out=out), ("float64",))
_family("clamp_min", lambda lib, out, rg: lib.clamp_min(_x(lib, rg), 0, out=out))
_family("bitwise_not", lambda lib, out, rg: lib.bitwise_not(_tensors(lib)[1], out=out))
# matrix products ("Expected out tensor to have dtype ...")
_B = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]]
_family("matmul", lambda lib, out, rg: lib.matmul(_x(lib, rg), lib.tensor(_B), out=out))
_family("matmul_mv", lambda lib, out, rg: lib.matmul(_x(lib, rg), lib.ones(3), out=out))
_family("matmul_vm", lambda lib, out, rg: lib.matmul(lib.ones(2, requires_grad=rg), _x(lib),
                                                     out=out))
_family("matmul_batched", lambda lib, out, rg: lib.matmul(lib.stack([_x(lib)] * 2)
                                                          .requires_grad_(rg), lib.tensor(_B),
                                                          out=out))
_family("matmul_dot", lambda lib, out, rg: lib.matmul(lib.ones(3, requires_grad=rg),
                                                      lib.ones(3), out=out))
_family("mm", lambda lib, out, rg: lib.mm(_x(lib, rg), lib.tensor(_B), out=out))
_family("mm_int", lambda lib, out, rg: lib.mm(_tensors(lib)[1], lib.ones(3, 1, dtype=lib.int64),
                                              out=out), ("float32", "int64"))
_family("bmm", lambda lib, out, rg: lib.bmm(_x(lib, rg)[None], lib.tensor([_B]), out=out))
_family("mv", lambda lib, out, rg: lib.mv(_x(lib, rg), lib.ones(3), out=out))
_family("addmm", lambda lib, out, rg: lib.addmm(lib.ones(2), _x(lib, rg), lib.tensor(_B),
                                                beta=0.5, alpha=2, out=out))
_family("dot", lambda lib, out, rg: lib.dot(lib.ones(3, requires_grad=rg), lib.ones(3),
                                            out=out))
# reductions
_family("sum", lambda lib, out, rg: lib.sum(_x(lib, rg), 1, out=out))
_family("sum_int_input", lambda lib, out, rg: lib.sum(_tensors(lib)[1], 0, out=out))
_family("sum_dtype", lambda lib, out, rg: lib.sum(_x(lib, rg), 1, dtype=lib.float64, out=out))
_family("sum_keepdim", lambda lib, out, rg: lib.sum(_x(lib, rg), 0, keepdim=True, out=out))
_family("prod", lambda lib, out, rg: lib.prod(_x(lib, rg), 1, out=out))
_family("cumsum", lambda lib, out, rg: lib.cumsum(_x(lib, rg), 1, out=out))
_family("cumprod", lambda lib, out, rg: lib.cumprod(_x(lib, rg), 0, out=out))
_family("mean", lambda lib, out, rg: lib.mean(_x(lib, rg), 0, out=out))
_family("mean_dtype", lambda lib, out, rg: lib.mean(_x(lib, rg), 0, dtype=lib.float64, out=out))
_family("std", lambda lib, out, rg: lib.std(_x(lib, rg), 1, out=out))
_family("var", lambda lib, out, rg: lib.var(_x(lib, rg), 0, keepdim=True, out=out))
_family("amax", lambda lib, out, rg: lib.amax(_x(lib, rg), 1, out=out))
_family("amin_int", lambda lib, out, rg: lib.amin(_tensors(lib)[1], 0, out=out))
_family("argmax", lambda lib, out, rg: lib.argmax(_x(lib, rg), 1, out=out))
_family("argmin", lambda lib, out, rg: lib.argmin(_x(lib, rg), 0, keepdim=True, out=out))
_family("all", lambda lib, out, rg: lib.all(_x(lib, rg), 1, out=out))
_family("any", lambda lib, out, rg: lib.any(_x(lib, rg) > 2, 0, out=out))
_family("logsumexp", lambda lib, out, rg: lib.logsumexp(_x(lib, rg), 1, out=out))
_family("norm", lambda lib, out, rg: lib.norm(_x(lib, rg), dim=1, out=out))
_family("softmax", lambda lib, out, rg: lib.softmax(_x(lib, rg), 1, out=out))
_family("log_softmax", lambda lib, out, rg: lib.log_softmax(_x(lib, rg), 0, out=out))
_family("max_whole", lambda lib, out, rg: lib.max(_x(lib, rg), out=out))
_family("min_elementwise", lambda lib, out, rg: lib.min(_x(lib, rg), _x(lib) * 0, out=out))
# indexing and shapes
_family("gather", lambda lib, out, rg: lib.gather(_x(lib, rg), 1, lib.tensor([[0, 0], [1, 2]]),
                                                  out=out))
_family("index_select", lambda lib, out, rg: lib.index_select(_x(lib, rg), 1,
                                                              lib.tensor([0, 2]), out=out))
_family("masked_select", lambda lib, out, rg: lib.masked_select(_x(lib, rg), _x(lib) > 0,
                                                                out=out))
_family("take_along_dim", lambda lib, out, rg: lib.take_along_dim(
    _x(lib, rg), lib.tensor([[0], [1]]), 1, out=out))
_family("where", lambda lib, out, rg: lib.where(_x(lib) > 0, _x(lib, rg), lib.tensor(0.0),
                                                out=out))
_family("tril", lambda lib, out, rg: lib.tril(_x(lib, rg), out=out))
_family("triu", lambda lib, out, rg: lib.triu(_x(lib, rg), 1, out=out))
_family("diag", lambda lib, out, rg: lib.diag(_x(lib, rg), out=out))
_family("diag_embed", lambda lib, out, rg: lib.diag(lib.ones(2, requires_grad=rg), out=out))
_family("msort", lambda lib, out, rg: lib.msort(_x(lib, rg), out=out))
_family("nonzero", lambda lib, out, rg: lib.nonzero(_x(lib, rg), out=out))
_family("hstack", lambda lib, out, rg: lib.hstack([_x(lib, rg), _x(lib)], out=out))
_family("vstack", lambda lib, out, rg: lib.vstack([_x(lib, rg), _x(lib)], out=out))
_family("cat", lambda lib, out, rg: lib.cat([_x(lib, rg), _x(lib)], out=out))


def _pair_case(call, values="float32", indices="int64", size=0, requires_grad=False):
    def run(lib):
        out = (lib.zeros(size, dtype=getattr(lib, values), requires_grad=requires_grad),
               lib.zeros(size, dtype=getattr(lib, indices)))
        result = call(lib, out)
        return f"{type(result).__name__} {result[0] is out[0]} {result[1] is out[1]}\n{result!r}"

    return run


PAIRS = {
    "max_dim": lambda lib, out: lib.max(_x(lib), 1, out=out),
    "min_dim_keepdim": lambda lib, out: lib.min(_x(lib), 1, keepdim=True, out=out),
    "sort": lambda lib, out: lib.sort(_x(lib), 1, descending=True, out=out),
    "topk": lambda lib, out: lib.topk(_x(lib), 2, out=out),
    "kthvalue": lambda lib, out: lib.kthvalue(_x(lib), 2, 1, out=out),
}
for _name, _call in PAIRS.items():
    CASES[f"{_name}-pair"] = _pair_case(_call)
    CASES[f"{_name}-resized"] = _pair_case(_call, size=5)
    CASES[f"{_name}-float64_values"] = _pair_case(_call, values="float64")
    CASES[f"{_name}-int32_indices"] = _pair_case(_call, indices="int32")
    CASES[f"{_name}-requires_grad"] = _pair_case(_call, requires_grad=True)
    CASES[f"{_name}-one_tensor"] = _into(_empty(), lambda lib, out, c=_call: c(lib, (out,)))
    CASES[f"{_name}-three_tensors"] = _into(_empty(), lambda lib, out, c=_call: c(
        lib, (out, out, out)))
    CASES[f"{_name}-not_a_tensor"] = _into(_empty(), lambda lib, out, c=_call: c(lib, (out, 3)))
    if _name in ("topk", "kthvalue"):  # (max, min and sort: PyTorch lists their overloads)
        CASES[f"{_name}-a_tensor"] = _into(_empty(), lambda lib, out, c=_call: c(lib, out))

# argument errors
CASES["not_a_tensor"] = _into(_empty(), lambda lib, out: lib.exp(_x(lib), out=[1]))
CASES["cat_not_a_tensor"] = _into(_empty(), lambda lib, out: lib.cat([_x(lib)], out=(out,)))
CASES["norm_not_a_tensor"] = _into(_empty(), lambda lib, out: lib.norm(_x(lib), dim=1, out=[1]))
CASES["cumsum_bool"] = _into(_empty("bool"), lambda lib, out: lib.cumsum(_x(lib), 0, out=out))
CASES["under_no_grad"] = _into(_empty(), lambda lib, out: (lib.set_grad_enabled(False),
                                                            lib.mul(_x(lib, True), 2, out=out),
                                                            lib.set_grad_enabled(True))[1])
CASES["into_itself"] = lambda lib: repr(lib.mul(_x(lib), 2, out=_x(lib)))
CASES["into_a_view"] = lambda lib: (lambda base: (lib.exp(lib.zeros(3), out=base[1]),
                                                  repr(base))[1])(lib.zeros(2, 3))


# Left out on purpose. With an input that requires grad, PyTorch writes these ops (whose out=
# variants autograd does not check) into `out` with grad_fn=<NotImplemented>, a graph that
# fails on backward; llgrad writes the values without a graph.
NOT_IMPLEMENTED_GRAPH = {"floor_divide-input_requires_grad", "softmax-input_requires_grad",
                         "log_softmax-input_requires_grad", "diag-input_requires_grad",
                         "diag_embed-input_requires_grad"}
# PyTorch resizes out to an intermediate shape first (the 1 x n product of a vector @ matrix,
# kthvalue's keepdim shape), which its warning names; llgrad names the final shape.
INTERMEDIATE_SHAPE_IN_WARNING = {"matmul_vm-resized", "kthvalue-resized"}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    ours, theirs = _outcome(llgrad, CASES[case]), _outcome(torch, CASES[case])
    if case in NOT_IMPLEMENTED_GRAPH:
        theirs = (theirs[0].replace(", grad_fn=<NotImplemented>) True", ") False"), theirs[1])
    if case in INTERMEDIATE_SHAPE_IN_WARNING:
        ours, theirs = ours[0], theirs[0]
    assert ours == theirs


# ---- without torch -----------------------------------------------------------------------------

def test_out_is_written_in_place_and_returned():
    out = llgrad.zeros(3)
    view = out[1:]
    version = out._version
    result = llgrad.add(llgrad.ones(3), llgrad.tensor([1.0, 2.0, 3.0]), out=out)
    assert result is out and out.tolist() == [2.0, 3.0, 4.0] and view.tolist() == [3.0, 4.0]
    assert out._version > version and out.grad_fn is None


def test_methods_and_operators_take_no_out():
    x = llgrad.ones(2)
    with pytest.raises(TypeError):
        x.exp(out=llgrad.empty(0))
    assert (x * 2).tolist() == [2.0, 2.0]


def test_resizing_warns_only_when_out_had_elements():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        llgrad.mul(llgrad.ones(2, 3), 2, out=llgrad.empty(0))
    assert not caught
    with pytest.warns(UserWarning, match=r"had shape \[7\], which does not match the required "
                                         r"output shape \[2, 3\]"):
        llgrad.mul(llgrad.ones(2, 3), 2, out=llgrad.empty(7))


def test_sum_into_integers_casts_the_input_first():
    out = llgrad.empty(0, dtype=llgrad.int64)
    llgrad.sum(llgrad.tensor([[0.6, 0.6, 0.6]]), 1, out=out)
    assert out.tolist() == [0]  # each 0.6 became 0 before the sum, as in PyTorch
    np.testing.assert_array_equal(llgrad.sum(llgrad.ones(2, 2), 0, out=llgrad.empty(0)).numpy(),
                                  [2.0, 2.0])


def test_refusals():
    with pytest.raises(RuntimeError, match="mul\\(\\): functions with out=... arguments"):
        llgrad.mul(llgrad.ones(2, requires_grad=True), 2, out=llgrad.empty(0))
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired "
                                           "output type Long"):
        llgrad.exp(llgrad.ones(2), out=llgrad.empty(0, dtype=llgrad.int64))
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype float, but got "
                                           "double instead"):
        llgrad.mm(llgrad.ones(2, 2), llgrad.ones(2, 2), out=llgrad.empty(0, dtype=llgrad.float64))


def test_torch_spellings_of_mul_sub_div():
    a, b = llgrad.tensor([6.0, 8.0]), llgrad.tensor([2.0, 4.0])
    assert llgrad.multiply(a, b).tolist() == [12.0, 32.0]
    assert llgrad.subtract(a, b).tolist() == [4.0, 4.0]
    assert llgrad.divide(a, b).tolist() == [3.0, 2.0]
    assert {"multiply", "subtract", "divide"} <= set(llgrad.ops.__all__)
