"""`llgrad.backends`: the switches PyTorch scripts set for accelerator libraries. llgrad has
none of those libraries, so each reports itself unavailable and its flags are plain settings."""
from . import cudnn, mps  # noqa: F401
