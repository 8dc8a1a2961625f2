"""Nested arguments and results (tuples, lists, dicts of tensors, numbers, None) as a flat list of
leaves plus a structure that rebuilds them. Structures compare equal exactly when the nesting,
container types and dict keys match, so a structure is also a guard."""
from ..tensor import Tensor


def flatten(tree):
    leaves = []

    def walk(x):
        if isinstance(x, (list, tuple)) and not isinstance(x, Tensor):
            return (type(x), tuple(walk(v) for v in x))
        if isinstance(x, dict):
            return (dict, tuple((k, walk(v)) for k, v in x.items()))
        leaves.append(x)
        return None

    structure = walk(tree)
    return leaves, structure


def unflatten(structure, leaves):
    it = iter(leaves)

    def build(s):
        if s is None:
            return next(it)
        kind, items = s
        if kind is dict:
            return {k: build(v) for k, v in items}
        values = [build(v) for v in items]
        if kind in (list, tuple):
            return kind(values)
        return kind(*values) if hasattr(kind, "_fields") else kind(values)

    return build(structure)
