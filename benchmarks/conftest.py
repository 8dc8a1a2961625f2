"""Shared benchmark settings.

NumPy's OpenBLAS and PyTorch each keep a pool of worker threads that spin for a while after a
call; on this 2-core machine a pool that is still spinning slows the next library's benchmark.
Each benchmark therefore starts after a pause that lets the other pools go to sleep, and warms
up before measuring.
"""
import time

import pytest

SETTLE_SECONDS = 1.0


@pytest.fixture(autouse=True)
def settle():
    time.sleep(SETTLE_SECONDS)
    yield
