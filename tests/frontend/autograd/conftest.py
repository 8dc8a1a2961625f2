import pytest


@pytest.fixture
def torch():
    """PyTorch, for the tests that compare with it; they are skipped where it is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture
def sequence_numbers(monkeypatch):
    """Nodes recorded by llgrad's dispatcher numbered in creation order, as PyTorch numbers them
    (sequence_nr), so the engine runs ready nodes in PyTorch's order: that order shows in the
    order hooks run and in the grad_fn graph of a create_graph gradient summed from several
    paths. dispatch._record does not number its nodes yet (requested from its owner); this
    wraps it. Harmless once it does."""
    from llgrad import dispatch
    from llgrad.autograd.graph import next_sequence_nr

    record = dispatch._record

    def numbered(op, args, params, outputs):
        node = record(op, args, params, outputs)
        node._seq = next_sequence_nr()
        return node

    monkeypatch.setattr(dispatch, "_record", numbered)
