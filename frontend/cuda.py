"""`llgrad.cuda`: what a CPU-only PyTorch build answers, so scripts that pick their device with
`"cuda" if torch.cuda.is_available() else "cpu"` run unchanged.

Seeding is accepted and does nothing, as PyTorch's is when no CUDA device exists. Asking about a
device that is not there raises PyTorch's error.
"""
from ._device import CUDA_UNAVAILABLE


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Seeds nothing: there is no CUDA generator (PyTorch defers it, and never runs it)."""


def manual_seed_all(seed):
    pass


def seed():
    pass


def seed_all():
    pass


def synchronize(device=None):
    """Nothing to wait for: every llgrad kernel has finished when its call returns."""


def empty_cache():
    pass


def current_device():
    raise AssertionError(CUDA_UNAVAILABLE)


def get_device_name(device=None):
    raise AssertionError(CUDA_UNAVAILABLE)


def set_device(device):
    raise AssertionError(CUDA_UNAVAILABLE)
