"""llgrad.backends: no accelerator library is available; cuDNN's flags are plain settings."""
import pytest

import llgrad


def test_flags_and_availability_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("deterministic", "benchmark", "enabled"):
        assert getattr(llgrad.backends.cudnn, name) == getattr(torch.backends.cudnn, name)
    assert llgrad.backends.cudnn.is_available() is torch.backends.cudnn.is_available() is False
    assert llgrad.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert llgrad.backends.mps.is_built() is False


def test_flags_can_be_set():
    cudnn = llgrad.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    try:
        cudnn.deterministic = True
        cudnn.benchmark = False
        assert llgrad.backends.cudnn.deterministic is True
    finally:
        cudnn.deterministic, cudnn.benchmark = saved
