"""view() on non-contiguous tensors succeeds exactly when PyTorch's does, with the same values."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llgrad

torch = pytest.importorskip("torch")


@st.composite
def strided_view_cases(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    order = draw(st.permutations(range(len(shape))))
    step = draw(st.integers(1, 2))
    numel = int(np.prod(shape[:-1])) * len(range(0, shape[-1], step))
    factors, rest = [], numel
    for candidate in draw(st.lists(st.integers(1, 4), max_size=4)):
        if rest % candidate == 0:
            factors.append(candidate)
            rest //= candidate
    target = draw(st.permutations(factors + [rest]))
    return shape, order, step, target


@settings(max_examples=300, deadline=None)
@given(strided_view_cases())
def test_view_is_allowed_exactly_when_pytorch_allows_it(case):
    shape, order, step, target = case
    base = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    ours = llgrad.tensor(base)[..., ::step].permute(*order)
    theirs = torch.tensor(base)[..., ::step].permute(*order)
    try:
        expected = theirs.view(*target)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            ours.view(*target)
        return
    got = ours.view(*target)
    assert np.array_equal(got.numpy(), expected.numpy())
