"""sort / argsort / topk / kthvalue: values, indices and gradients against PyTorch."""
import numpy as np
import pytest

import llgrad


@pytest.mark.parametrize("call", [
    lambda lib, x: x.sort(1),
    lambda lib, x: x.sort(0, descending=True),
    lambda lib, x: x.topk(2),
    lambda lib, x: x.topk(3, dim=0, largest=False),
    lambda lib, x: x.kthvalue(2, 1),
])
def test_sorting_matches_torch(call):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    results = []
    for lib in (llgrad, torch):
        x = lib.tensor(a, requires_grad=True)
        values, indices = call(lib, x)
        (values * values).sum().backward()
        results.append((values.detach().numpy(), indices.numpy(), x.grad.numpy(),
                        type(values.grad_fn).__name__))
    (lv, li, lg, ln), (tv, ti, tg, tn) = results
    np.testing.assert_array_equal(li, ti)
    np.testing.assert_allclose(lv, tv)
    np.testing.assert_allclose(lg, tg)
    if ln != "SelectBackward0":
        assert ln == tn


def test_argsort_is_stable_and_gradcheck_passes():
    x = llgrad.tensor([2, 1, 2, 0])
    assert x.argsort().tolist() == [3, 1, 0, 2]
    values = llgrad.tensor([[0.3, -1.2, 0.7], [1.5, 0.1, -0.4]], dtype=llgrad.float64,
                           requires_grad=True)
    assert llgrad.autograd.gradcheck(lambda v: v.sort(1).values, (values,))
    assert llgrad.autograd.gradcheck(lambda v: v.topk(2).values, (values,))


def test_unique_records_a_node_without_a_derivative_like_torch():
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (llgrad, torch):
        x = lib.tensor([[1.0, 2.0], [1.0, 2.0]], requires_grad=True)
        row = []
        for kwargs in ({}, {"dim": 0}, {"return_inverse": True}):
            u = lib.unique(x, **kwargs)
            u = u[0] if isinstance(u, tuple) else u
            with pytest.raises(NotImplementedError) as error:
                u.sum().backward()
            row.append((type(u.grad_fn).__name__, str(error.value)))
        outcomes.append(row)
    assert outcomes[0] == outcomes[1]


def test_unique_of_scalars_and_empty_tensors_like_torch():
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (llgrad, torch):
        values, inverse = lib.unique(lib.tensor(3), return_inverse=True)
        empty, counts = lib.unique(lib.tensor([]), return_counts=True)
        outcomes.append((values.tolist(), inverse.tolist(), tuple(inverse.shape), empty.tolist(),
                         str(counts.dtype).split(".")[-1],
                         lib.unique(lib.tensor([True, False, True])).tolist()))
    assert outcomes[0] == outcomes[1]


def test_unique_inside_compile_says_why_it_cannot_be_traced():
    def f(x):
        return llgrad.unique(x)

    with pytest.raises(Exception, match="unique"):
        llgrad.compile(f)(llgrad.tensor([1.0, 1.0]))
