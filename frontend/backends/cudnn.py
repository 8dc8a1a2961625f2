"""`llgrad.backends.cudnn`: flags scripts set (`deterministic`, `benchmark`); they change
nothing here, as on a PyTorch build without cuDNN."""
enabled = True
deterministic = False
benchmark = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
