"""Datasets and random_split against torch.utils.data."""
import pytest

import llgrad
from llgrad.utils import data as lldata

torch = pytest.importorskip("torch")
from torch.utils import data as thdata  # noqa: E402

LIBS = ((llgrad, lldata), (torch, thdata))


def _plain(value):
    if isinstance(value, (llgrad.Tensor, torch.Tensor)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_tensor_dataset_indexing_and_length():
    for lib, data in LIBS:
        ds = data.TensorDataset(lib.arange(6).reshape(3, 2), lib.tensor([7, 8, 9]))
        assert len(ds) == 3
        assert _plain(ds[1]) == [[2, 3], 8] and _plain(ds[-1]) == [[4, 5], 9]
        with pytest.raises(AssertionError, match="Size mismatch between tensors"):
            data.TensorDataset(lib.ones(3), lib.ones(4))


def test_subset_concat_and_sum_of_datasets():
    for lib, data in LIBS:
        a = data.TensorDataset(lib.arange(3))
        b = data.TensorDataset(lib.arange(10, 14))
        both = a + b
        assert isinstance(both, data.ConcatDataset) and len(both) == 7
        assert [_plain(both[i]) for i in (0, 3, -1)] == [[0], [10], [13]]
        sub = data.Subset(b, [3, 1])
        assert len(sub) == 2 and _plain(sub[0]) == [13]
        assert _plain(sub.__getitems__([1, 0])) == [[11], [13]]


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.25, 0.25, 0.5], [0.33, 0.33, 0.34]])
def test_random_split_matches_torch(lengths):
    results = []
    for lib, data in LIBS:
        lib.manual_seed(3)
        parts = data.random_split(range(10), lengths)
        seeded = data.random_split(range(10), lengths,
                                   generator=lib.Generator().manual_seed(42))
        results.append(([p.indices for p in parts], [list(p) for p in seeded],
                        lib.rand(2).tolist()))
    assert results[0] == results[1]


def test_random_split_errors_and_warnings_match_torch():
    for lib, data in LIBS:
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            data.random_split(range(10), [3, 3])
        with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
            data.random_split(range(10), [1.5, -0.5])
        with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
            data.random_split(range(2), [1.0, 0.0])


def test_dataset_base_classes():
    for lib, data in LIBS:
        with pytest.raises(NotImplementedError):
            data.Dataset()[0]

        class Squares(data.Dataset):
            def __len__(self):
                return 4

            def __getitem__(self, i):
                return i * i

        assert [x for x in data.DataLoader(Squares(), batch_size=None)] == [0, 1, 4, 9]
