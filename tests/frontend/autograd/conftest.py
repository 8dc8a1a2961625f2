import pytest


@pytest.fixture
def torch():
    """PyTorch, for the tests that compare with it; they are skipped where it is not installed."""
    return pytest.importorskip("torch")
