"""llgrad.utils.data.DataLoader, samplers and collation against torch.utils.data: the same
batches in the same order after the same seed, and the same random numbers drawn afterwards."""
import collections

import numpy as np
import pytest

import llgrad
from llgrad.utils import data as lldata

torch = pytest.importorskip("torch")
from torch.utils import data as thdata  # noqa: E402

LIBS = ((llgrad, lldata), (torch, thdata))


def _plain(value):
    """Batches as comparable Python values (tensors as (dtype, nested lists))."""
    if isinstance(value, (llgrad.Tensor, torch.Tensor)):
        return (str(value.dtype).split(".")[-1], value.tolist())
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_plain(v) for v in value]
    return value


def _both(scenario):
    """scenario(lib, data) -> anything; run with both libraries after the same seed, plus the
    next numbers of the default generator (so the draws the loader made count too)."""
    results = []
    for lib, data in LIBS:
        lib.manual_seed(0)
        out = _plain(scenario(lib, data))
        results.append((out, lib.rand(3).tolist()))
    assert results[0] == results[1]
    return results[0][0]


def _tensor_dataset(lib, data, n=10):
    return data.TensorDataset(lib.arange(2.0 * n).reshape(n, 2), lib.arange(n))


LOADERS = {
    "sequential": {"batch_size": 3},
    "shuffle": {"batch_size": 3, "shuffle": True},
    "shuffle_drop_last": {"batch_size": 4, "shuffle": True, "drop_last": True},
    "unbatched": {"batch_size": None},
    "unbatched_shuffle": {"batch_size": None, "shuffle": True},
    "batch_of_one": {},
    "workers_in_process": {"batch_size": 4, "shuffle": True, "num_workers": 2},
}


@pytest.mark.parametrize("name", list(LOADERS), ids=list(LOADERS))
def test_batches_match_torch_over_epochs(name):
    def scenario(lib, data):
        loader = data.DataLoader(_tensor_dataset(lib, data), **LOADERS[name])
        return len(loader), [list(loader) for _ in range(3)]

    _both(scenario)


def test_explicit_generator_and_samplers():
    def scenario(lib, data):
        ds = _tensor_dataset(lib, data)
        gen = lib.Generator().manual_seed(7)
        loader = data.DataLoader(ds, batch_size=4, shuffle=True, generator=gen)
        sampler = data.DataLoader(ds, batch_size=3, sampler=data.SubsetRandomSampler([1, 5, 7, 9]))
        batches = data.DataLoader(ds, batch_sampler=data.BatchSampler(
            data.SequentialSampler(ds), 4, drop_last=False))
        return [list(loader), list(sampler), list(batches),
                list(data.RandomSampler(range(7), replacement=True, num_samples=40)),
                list(data.RandomSampler(range(5), num_samples=12)),
                list(data.WeightedRandomSampler([0.1, 0.5, 0.2, 0.2], 10)),
                list(data.WeightedRandomSampler([0.1, 0.5, 0.2, 0.2], 3, replacement=False)),
                list(data.BatchSampler(range(10), 4, drop_last=True))]

    _both(scenario)


Point = collections.namedtuple("Point", "x y")


def test_default_collate_of_containers_and_numbers():
    def scenario(lib, data):
        class Items(data.Dataset):
            def __len__(self):
                return 5

            def __getitem__(self, i):
                return {"f": float(i), "i": i, "b": i % 2 == 0, "np": np.float32(i),
                        "arr": np.full(2, i, dtype=np.int32), "s": f"s{i}",
                        "pair": (lib.ones(2) * i, [i, i + 0.5]), "point": Point(i, -i)}

        return list(data.DataLoader(Items(), batch_size=2))

    _both(scenario)


def test_iterable_dataset_and_unbatched_conversion():
    def scenario(lib, data):
        class Stream(data.IterableDataset):
            def __iter__(self):
                return iter(range(7))

        return [list(data.DataLoader(Stream(), batch_size=3)),
                list(data.DataLoader(Stream(), batch_size=3, drop_last=True)),
                list(data.DataLoader(Stream(), batch_size=None)),
                data.default_convert([np.arange(3), (np.float64(2.0), "x")]),
                data.default_collate([lib.ones(2), lib.zeros(2)])]

    _both(scenario)


def test_argument_errors_match_torch():
    def ds(lib, data):
        return _tensor_dataset(lib, data)

    calls = [lambda lib, data: data.DataLoader(ds(lib, data), sampler=[0, 1], shuffle=True),
             lambda lib, data: data.DataLoader(ds(lib, data), batch_size=2,
                                               batch_sampler=[[0, 1]]),
             lambda lib, data: data.DataLoader(ds(lib, data), batch_size=None, drop_last=True),
             lambda lib, data: data.DataLoader(ds(lib, data), persistent_workers=True),
             lambda lib, data: data.DataLoader(ds(lib, data), num_workers=-1),
             lambda lib, data: data.BatchSampler(range(3), 0, False),
             lambda lib, data: data.RandomSampler(range(3), num_samples=0),
             lambda lib, data: data.default_collate([object(), object()]),
             lambda lib, data: data.default_collate([[1, 2], [3]])]
    for call in calls:
        errors = []
        for lib, data in LIBS:
            with pytest.raises(Exception) as error:
                call(lib, data)
            errors.append((type(error.value).__name__,
                           str(error.value).replace("torch", "llgrad")))
        assert errors[0] == errors[1]


def test_training_loop_with_a_loader():
    """The usual epoch loop: same shuffles, same model, same losses as PyTorch."""
    losses = []
    for lib, data in LIBS:
        lib.manual_seed(0)
        x = lib.randn(32, 4)
        y = (x.sum(1, keepdim=True) > 0).float()
        loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8, shuffle=True)
        model = lib.nn.Linear(4, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.5)
        run = []
        for _ in range(3):
            for xb, yb in loader:
                opt.zero_grad()
                loss = lib.nn.functional.binary_cross_entropy_with_logits(model(xb), yb)
                loss.backward()
                opt.step()
                run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)
