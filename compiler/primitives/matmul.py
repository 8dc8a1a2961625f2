"""Batched matrix multiplication: (..., m, k) @ (..., k, n) with broadcast batch dimensions."""
import numpy as np

from ..primitive import Aval, broadcast_shapes, define, shape_of
from .movement import permute


def transpose_last2(x):
    n = len(shape_of(x))
    return permute(x, tuple(range(n - 2)) + (n - 1, n - 2))


def _matmul_abstract(a, b):
    sa, sb = shape_of(a), shape_of(b)
    if sa[-1] != sb[-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa[-2]}x{sa[-1]} and {sb[-2]}x{sb[-1]})")
    return Aval(broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1]), a.dtype)


matmul = define("matmul", np.matmul, _matmul_abstract,
                (lambda g, out, a, b: matmul(g, transpose_last2(b)),
                 lambda g, out, a, b: matmul(transpose_last2(a), g)),
                saves=(0, 1), family="matmul")
