"""`llgrad.utils`: data loading (`llgrad.utils.data`), as torch.utils."""
from . import data  # noqa: F401
