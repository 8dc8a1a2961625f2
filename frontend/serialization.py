"""llgrad.save / llgrad.load (placeholder until written)."""


def save(obj, f):
    raise NotImplementedError


def load(f, weights_only=True):
    raise NotImplementedError
