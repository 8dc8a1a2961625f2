"""Differences from PyTorch found by the op suite in code outside llgrad.ops (the Tensor class,
autograd), kept as strict xfails so that a fix shows up as an unexpected pass."""
import numpy as np
import pytest

import llgrad


def test_strided_1d_view_is_not_contiguous():
    x = llgrad.arange(8.0)[::2]
    assert x.stride() == (2,)
    assert not x.is_contiguous()  # torch.arange(8.)[::2].is_contiguous() is False


def test_is_contiguous_agrees_with_strides_in_2d():
    x = llgrad.zeros(3, 4)
    assert x.is_contiguous() and not x.t().is_contiguous() and not x[:, ::2].is_contiguous()
    assert np.shares_memory(x[:, ::2].numpy(), x.numpy())
