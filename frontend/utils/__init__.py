"""`llgrad.utils`: data loading (`llgrad.utils.data`), as torch.utils."""
# `name as name`: a re-export, as type checkers require of a typed package.
from . import data as data  # noqa: F401
