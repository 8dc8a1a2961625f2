"""`llgrad.utils.data`: datasets, samplers and the DataLoader, as torch.utils.data.

Shuffling draws from llgrad's generator exactly where PyTorch's DataLoader draws from its own,
so after `manual_seed(s)` the batches (and the random numbers drawn afterwards) are PyTorch's.
"""
# `name as name`: a re-export, as type checkers require of a typed package.
from .collate import (  # noqa: F401
    default_collate as default_collate, default_convert as default_convert,
)
from .dataloader import DataLoader as DataLoader, get_worker_info as get_worker_info  # noqa: F401
from .dataset import (  # noqa: F401
    ConcatDataset as ConcatDataset, Dataset as Dataset, IterableDataset as IterableDataset,
    Subset as Subset, TensorDataset as TensorDataset, random_split as random_split,
)
from .sampler import (  # noqa: F401
    BatchSampler as BatchSampler, RandomSampler as RandomSampler, Sampler as Sampler,
    SequentialSampler as SequentialSampler, SubsetRandomSampler as SubsetRandomSampler,
    WeightedRandomSampler as WeightedRandomSampler,
)


# A name PyTorch has here and llgrad does not: an AttributeError saying it is not provided yet.
from ..._missing import missing_attributes as _missing_attributes  # noqa: E402

__getattr__ = _missing_attributes(__name__)
