"""`llgrad.utils.data`: datasets, samplers and the DataLoader, as torch.utils.data.

Shuffling draws from llgrad's generator exactly where PyTorch's DataLoader draws from its own,
so after `manual_seed(s)` the batches (and the random numbers drawn afterwards) are PyTorch's.
"""
from .collate import default_collate, default_convert  # noqa: F401
from .dataloader import DataLoader, get_worker_info  # noqa: F401
from .dataset import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,  # noqa: F401
                      random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                      SubsetRandomSampler, WeightedRandomSampler)


# A name PyTorch has here and llgrad does not: an AttributeError saying it is not provided yet.
from ..._missing import missing_attributes as _missing_attributes  # noqa: E402

__getattr__ = _missing_attributes(__name__)
