"""llgrad.cuda answers as a CPU-only PyTorch build does, so device selection code runs as is."""
import pytest

import llgrad


def test_no_cuda_device():
    assert llgrad.cuda.is_available() is False
    assert llgrad.cuda.device_count() == 0
    assert llgrad.cuda.is_initialized() is False


def test_seeding_and_synchronize_do_nothing():
    llgrad.manual_seed(3)
    expected = llgrad.rand(3).tolist()
    llgrad.manual_seed(3)
    assert llgrad.cuda.manual_seed(7) is None
    assert llgrad.cuda.manual_seed_all(7) is None
    assert llgrad.cuda.synchronize() is None
    assert llgrad.cuda.empty_cache() is None
    assert llgrad.rand(3).tolist() == expected  # the CPU generator was not touched


def test_the_common_device_idiom():
    device = "cuda" if llgrad.cuda.is_available() else "cpu"
    model = llgrad.nn.Linear(2, 3).to(device)
    x = llgrad.ones(4, 2).to(device)
    assert model(x).device == llgrad.device("cpu")


def test_matches_torch():
    torch = pytest.importorskip("torch")
    for lib in (llgrad, torch):
        assert lib.cuda.is_available() is False and lib.cuda.device_count() == 0
        assert lib.cuda.manual_seed(1) is None and lib.cuda.manual_seed_all(1) is None
        with pytest.raises(AssertionError, match="not compiled with CUDA enabled"):
            lib.cuda.current_device()
