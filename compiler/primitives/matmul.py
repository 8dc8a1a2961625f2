"""Batched matrix multiplication: (..., m, k) @ (..., k, n) with broadcast batch dimensions."""
import numpy as np

from ..primitive import Aval, broadcast_shapes, define, shape_of
from .movement import permute


def transpose_last2(x):
    n = len(shape_of(x))
    return permute(x, perm=tuple(range(n - 2)) + (n - 1, n - 2))


def _matmul_abstract(a, b):
    sa, sb = shape_of(a), shape_of(b)
    if sa[-1] != sb[-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa[-2]}x{sa[-1]} and {sb[-2]}x{sb[-1]})")
    return Aval(broadcast_shapes(sa[:-2], sb[:-2]) + (sa[-2], sb[-1]), a.dtype)


def _column_major(x):
    """An eager array stored transposed (a `weight.t()` view). Only a layout hint: graph
    values have no layout, and both formulas below are the same product."""
    return type(x) is np.ndarray and x.ndim == 2 and x.flags.f_contiguous and not x.flags.c_contiguous


def matmul_grad_lhs(g, a, b):
    """d(a @ b)/da applied to g, produced in a's memory layout."""
    if _column_major(a):
        return transpose_last2(matmul(b, transpose_last2(g)))
    return matmul(g, transpose_last2(b))


def matmul_grad_rhs(g, a, b):
    """d(a @ b)/db applied to g, produced in b's memory layout (so the gradient of a weight
    used as `weight.t()` comes out contiguous, with no copy: PyTorch's mm_mat2_backward)."""
    if _column_major(b):
        return transpose_last2(matmul(transpose_last2(g), a))
    return matmul(transpose_last2(a), g)


matmul = define("matmul", np.matmul, _matmul_abstract,
                (lambda g, out, a, b: matmul_grad_lhs(g, a, b),
                 lambda g, out, a, b: matmul_grad_rhs(g, a, b)),
                saves=(0, 1), family="matmul")


def _matmul_add_impl(bias, a, b):
    out = np.matmul(a, b)
    if out.dtype == np.result_type(out, bias) and out.ndim >= np.ndim(bias):
        np.add(out, bias, out=out)  # the fresh product takes the bias in place
        return out
    return out + bias


def _matmul_add_abstract(bias, a, b):
    product = _matmul_abstract(a, b)
    return Aval(broadcast_shapes(shape_of(bias), product.shape), product.dtype)


# bias + a @ b: a matmul with its bias epilogue fused (nn.Linear's addmm), one kernel.
matmul_add = define("matmul_add", _matmul_add_impl, _matmul_add_abstract,
                    (lambda g, out, bias, a, b: g,
                     lambda g, out, bias, a, b: matmul_grad_lhs(g, a, b),
                     lambda g, out, bias, a, b: matmul_grad_rhs(g, a, b)),
                    saves=(1, 2), family="matmul")
