"""Element types shared by every layer, and PyTorch's type-promotion rules.

A DType is a small immutable object; the frontend re-exports the instances as
`llgrad.float32`, `llgrad.long`, ... so `x.dtype is llgrad.float32` holds.
"""
import numpy as np


class DType:
    __slots__ = ("name", "np", "kind", "itemsize", "is_floating_point", "is_signed", "category",
                 "rank")

    def __init__(self, name, np_dtype, category, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.kind = self.np.kind  # 'f', 'i', 'u', 'b': as NumPy's, so code can ask either kind
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == FLOAT
        self.is_signed = name != "bool"
        self.category = category  # BOOL < INT < FLOAT: what a Python scalar can promote to
        self.rank = rank  # order within the promotion lattice

    def __repr__(self):
        return f"llgrad.{self.name}"

    def __reduce__(self):
        return (from_name, (self.name,))

    def to_real(self):
        return self


BOOL, INT, FLOAT = 0, 1, 2

bool_ = DType("bool", np.bool_, BOOL, 0)
uint8 = DType("uint8", np.uint8, INT, 1)
int8 = DType("int8", np.int8, INT, 1)
int16 = DType("int16", np.int16, INT, 2)
int32 = DType("int32", np.int32, INT, 3)
int64 = DType("int64", np.int64, INT, 4)
float16 = DType("float16", np.float16, FLOAT, 5)
float32 = DType("float32", np.float32, FLOAT, 6)
float64 = DType("float64", np.float64, FLOAT, 7)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}

DEFAULT_FLOAT = float32
DEFAULT_INT = int64


def from_numpy(np_dtype):
    """The DType of a NumPy dtype; raises TypeError for types llgrad does not hold."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.") from None


def from_name(name):
    return _BY_NAME[name]


def promote(a, b):
    """The result type of an op between two tensors of types `a` and `b` (same priority)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if {a, b} == {uint8, int8}:
        return int16
    return a if a.rank > b.rank else b


def scalar_category(value):
    """BOOL/INT/FLOAT for a Python scalar, or None if it is not one."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    return None


def default_for_category(category):
    return (bool_, DEFAULT_INT, DEFAULT_FLOAT)[category]
