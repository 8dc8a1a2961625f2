"""`llgrad.backends.mps`: Apple's Metal backend, never available in llgrad."""


def is_available():
    return False


def is_built():
    return False
