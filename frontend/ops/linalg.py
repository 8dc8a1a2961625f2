"""Matrix products. Each entry point records the node PyTorch records for the same call:
dot (1-D @ 1-D), mv, mm, bmm, addmm (nn.Linear on a batch), matmul's batched form."""
from __future__ import annotations

import numpy as np
from typing import TYPE_CHECKING, Any

from ..compiler import primitives as P
from ..compiler.primitive import broadcast_shapes, shape_of
from ..compiler.primitives.matmul import matmul_grad_lhs, matmul_grad_rhs
from ..dispatch import Op, apply, primitive_op
from .shape import (as_view, contiguous, expand, permute, reshape, squeeze, unsafe_view,
                    unsqueeze, view)

if TYPE_CHECKING:
    from .._typing import Number
    from ..tensor import Tensor


def _dot_forward(a, b):
    return P.reduce_sum(a * b, axes=(0,), keepdims=False)


DOT = Op("DotBackward0", _dot_forward,
         (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a), saves=(0, 1), promote="common")
VDOT = Op("VdotBackward0", _dot_forward, DOT.vjp, saves=(0, 1), promote="common")


def _mv_forward(m, v):
    return P.reshape(P.matmul(m, P.reshape(v, shape=(shape_of(v)[0], 1))), shape=(shape_of(m)[0],))


def _mv_vjp_matrix(g, out, m, v):
    # PyTorch's grad.ger(vec): an outer product, a broadcast multiply
    return P.reshape(g, shape=(shape_of(g)[0], 1)) * P.reshape(v, shape=(1, shape_of(v)[0]))


def _mv_vjp_vector(g, out, m, v):
    return P.reshape(P.matmul(P.transpose_last2(m), P.reshape(g, shape=(shape_of(g)[0], 1))),
                     shape=(shape_of(m)[1],))


MV = Op("MvBackward0", _mv_forward, (_mv_vjp_matrix, _mv_vjp_vector), saves=(0, 1),
        promote="common")
MM = primitive_op("MmBackward0", P.matmul, promote="common")
BMM = primitive_op("BmmBackward0", P.matmul, promote="common")


def _addmm_forward(bias, a, b, beta=1, alpha=1):
    if beta == 1 and alpha == 1:
        return P.matmul_add(bias, a, b)
    product = P.matmul(a, b)
    if alpha != 1:
        product = product * alpha
    return product + (bias if beta == 1 else bias * beta)


ADDMM = Op("AddmmBackward0", _addmm_forward,
           (lambda g, out, bias, a, b, beta=1, alpha=1: g if beta == 1 else g * beta,
            lambda g, out, bias, a, b, beta=1, alpha=1: _scaled(matmul_grad_lhs(g, a, b), alpha),
            lambda g, out, bias, a, b, beta=1, alpha=1: _scaled(matmul_grad_rhs(g, a, b), alpha)),
           saves=(1, 2), promote="common")


def _scaled(x, alpha):
    return x if alpha == 1 else x * alpha


def _check_mm(a, b):
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} "
                           f"and {b.shape[0]}x{b.shape[1]})")


def _check_dtypes(a, b, name):
    """PyTorch refuses mixed dtypes in its matrix products (no promotion), each kernel in its
    own words."""
    if a.dtype is b.dtype:
        return
    if name == "mm":
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_cpp(a)} != "
                           f"{_cpp(b)}")
    if name == "dot":
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_scalar(a)} and {_scalar(b)}")
    if name == "mv":  # (addmv's check, whose result takes the vector's type)
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_scalar(b)}, "
                           f"{_scalar(a)}, and {_scalar(b)}")
    raise RuntimeError(f"expected scalar type {_scalar(a)} but found {_scalar(b)}")


def _check_addmm_dtypes(bias, mat1, mat2):
    """addmm's checks, in its order: the added term against mat2, then mat1 against mat2 (so a
    float64 batch into a float32 nn.Linear is "mat1 and mat2 must have the same dtype")."""
    for name, t in (("self", bias), ("mat1", mat1)):
        if t.dtype is not mat2.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got {_scalar(t)} "
                               f"and {_scalar(mat2)}")


def _scalar(t):
    from .reduction import _scalar_type_name

    return _scalar_type_name(t.dtype)


def _cpp(t):
    from ..tensor import _CPP_TYPE_NAMES

    return _CPP_TYPE_NAMES[t.dtype.name]


def dot(input: Tensor, other: Tensor, _op: Any = DOT) -> Tensor:
    """The inner product of two 1-d tensors of one dtype, a 0-d tensor, as torch.dot."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{other.shape[0]}] to have the same number of elements, but got "
                           f"{input.shape[0]} and {other.shape[0]} elements respectively")
    _check_dtypes(input, other, "dot")
    return apply(_op, (input, other))


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of the conjugate of input with other: dot, for real tensors."""
    return dot(input, other, _op=VDOT)


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum over the last dimension of both, as PyTorch's tensordot computes it."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    k = input.shape[-1]
    if input.dtype is not other.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if other.shape[-1] != k:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(input.shape)} and {list(other.shape)}")
    a = permute(input, tuple(range(input.ndim)))
    b = permute(other, (other.ndim - 1,) + tuple(range(other.ndim - 1)))
    out_shape = tuple(input.shape[:-1]) + tuple(other.shape[:-1])
    if input.ndim == 1 and other.ndim == 1:
        return view(dot(a, b), out_shape)
    return view(mm(reshape(a, (-1, k)), reshape(b, (k, -1))), out_shape)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """The matrix-vector product of an (n, m) matrix and an m-vector, as torch.mv."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got "
                           f"{vec.ndim}, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x"
                           f"{input.shape[1]}), vec ({vec.shape[0]})")
    _check_dtypes(input, vec, "mv")
    return apply(MV, (input, vec))


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of an (n, m) and an (m, p) matrix, as torch.mm (no broadcasting; the operands'
    dtypes must match, as in PyTorch)."""
    _check_mm(input, mat2)
    _check_dtypes(input, mat2, "mm")
    return apply(MM, (input, mat2))


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix products of (b, n, m) and (b, m, p) tensors, as torch.bmm."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input.ndim != 3
                           else "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    _check_dtypes(input, mat2, "bmm")
    return apply(BMM, (input, mat2))


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: Number = 1,
          alpha: Number = 1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2), as torch.addmm (`input` broadcasts to the product's
    shape)."""
    _check_mm(mat1, mat2)
    _check_addmm_dtypes(input, mat1, mat2)
    return apply(ADDMM, (input, mat1, mat2), {"beta": beta, "alpha": alpha})


# matmul's in-place squeeze_(0) of a vector @ matrix product
SQUEEZE_INPLACE = primitive_op("SqueezeBackward4", P.reshape)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """`@`, decomposed into the products PyTorch's matmul calls (dot, mv, mm, or mm/mv on a
    folded tensor, or bmm on broadcast batches), so grad_fn chains are PyTorch's."""
    a_dim, b_dim = input.ndim, other.ndim
    if a_dim == 0 or b_dim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a_dim}D and {b_dim}D")
    if a_dim == 1 and b_dim == 1:
        return dot(input, other)
    if a_dim == 2 and b_dim == 1:
        return mv(input, other)
    if a_dim == 1 and b_dim == 2:
        product = mm(unsqueeze(input, 0), other)
        return as_view(apply(SQUEEZE_INPLACE, (product,), {"shape": tuple(product.shape[1:])}),
                       product)
    if a_dim == 2 and b_dim == 2:
        return mm(input, other)
    if _should_fold(input, other):
        return _folded_matmul(input, other)
    return _batched_matmul(input, other)


def _layout(t, transpose_last2=False):
    """Shape and element strides of t (or of t.mT), without recording anything."""
    shape, strides = list(t.shape), list(t.stride()) if type(t._data) is np.ndarray else None
    if strides is None:  # a traced value has no layout: take it as contiguous
        strides = [0] * len(shape)
        step = 1
        for i in reversed(range(len(shape))):
            strides[i], step = step, step * shape[i]
    if transpose_last2:
        shape[-2:], strides[-2:] = shape[:-3:-1], strides[:-3:-1]
    return shape, strides


def _should_fold(t1, t2):
    """PyTorch's should_fold: multiply a >= 3-D operand as one matrix (mm/mv) rather than by
    batches, when the other operand is at most 2-D and that needs no copy (or saves one in
    the backward)."""
    larger = t1.ndim >= t2.ndim
    shape, strides = _layout(t1) if larger else _layout(t2, transpose_last2=True)
    small = t2 if larger else t1
    if not (len(shape) >= 3 and small.ndim <= 2):
        return False
    if small._requires_grad:
        return True
    if t1.ndim == 2:
        return False
    if 0 in shape:
        return True
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _folded_matmul(input, other):
    transpose = other.ndim > input.ndim
    t1 = other.mT if transpose else input
    t2 = other if not transpose else (input.t() if input.ndim == 2 else input)
    out_shape = tuple(t1.shape[:-1])
    rows = 1
    for d in out_shape:
        rows *= d
    folded = reshape(t1, (rows, t1.shape[-1]))
    if t2.ndim == 2:
        out = unsafe_view(mm(folded, t2), out_shape + (t2.shape[1],))
        return contiguous(out.mT) if transpose else out
    return unsafe_view(mv(folded, t2), out_shape)


def _batched_matmul(input, other):
    a_dim, b_dim = input.ndim, other.ndim
    n = input.shape[-2] if a_dim > 1 else 1
    m1 = input.shape[-1]
    m2 = other.shape[-2] if b_dim > 1 else other.shape[0]
    p = other.shape[-1] if b_dim > 1 else 1
    if m1 != m2:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[-3] if a_dim > 2 else 1}, {m1}] but got: "
                           f"[{other.shape[-3] if b_dim > 2 else 1}, {m2}].")
    batch1 = tuple(input.shape[:max(a_dim - 2, 0)])
    batch2 = tuple(other.shape[:max(b_dim - 2, 0)])
    if a_dim == 3 and b_dim == 3 and batch1[0] != batch2[0]:
        # A batch of one that requires grad is multiplied without broadcasting (PyTorch).
        if batch1[0] == 1 and input._requires_grad:
            return matmul(squeeze(input, 0), other)
        if batch2[0] == 1 and other._requires_grad:
            return matmul(input, squeeze(other, 0))
    batch = broadcast_shapes(batch1, batch2)
    count = 1
    for d in batch:
        count *= d
    a = reshape(expand(input, batch + (n, m1)), (count, n, m1))
    if b_dim == 1:
        b = unsqueeze(reshape(expand(other, batch + (m2,)), (count, m2)), 2)
    else:
        b = reshape(expand(other, batch + (m2, p)), (count, m2, p))
    product = bmm(a, b)
    if b_dim == 1:
        product = squeeze(product, -1)
    out_shape = batch + ((n,) if a_dim > 1 else ()) + ((p,) if b_dim > 1 else ())
    return unsafe_view(product, out_shape)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-d tensors, an (n, m) matrix, as torch.outer."""
    return reshape(input, (input.shape[0], 1)) * vec2  # PyTorch's outer


ger = outer


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias, recorded as PyTorch records it (addmm for a batch of rows)."""
    weight_t = weight.t()
    if bias is not None:
        _check_addmm_dtypes(bias, input, weight)  # (every rank: PyTorch's addmm path checks)
    if input.ndim == 2 and bias is not None:
        return addmm(bias, input, weight_t)
    if bias is not None and bias.ndim == 1 and _is_contiguous(input):
        # Other ranks: rows through addmm, viewed back (PyTorch's _flatten_nd_linear).
        lead = tuple(input.shape[:-1])
        flat = reshape(input, (-1, input.shape[-1]))
        return view(addmm(bias, flat, weight_t), lead + (weight.shape[0],))
    out = matmul(input, weight_t)
    return out if bias is None else out + bias


def _is_contiguous(t):
    data = t._data
    return type(data) is not np.ndarray or data.flags.c_contiguous


# ---- einsum: permutes, reshapes and one bmm per pair of operands -------------------------------

def einsum(equation: str, *operands: Tensor) -> Tensor:
    """Einstein summation for subscripts without ellipses or repeated letters within an operand
    (diagonals): operands are contracted left to right, each pair as one batched matmul."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, output = _parse_einsum(equation, operands)
    sizes = _einsum_sizes(terms, operands)
    current, letters = operands[0], terms[0]
    for i in range(1, len(operands)):
        needed = set(output).union(*terms[i + 1:])
        current, letters = _contract_pair(current, letters, operands[i], terms[i], needed, sizes)
    # The output's letters first, in order, then the ones summed away (as PyTorch does).
    summed = [c for c in letters if c not in output]
    order = [letters.index(c) for c in output + summed]
    if order != list(range(len(order))):
        current = permute(current, order)
    if summed:
        from .reduction import sum as sum_

        current = sum_(current, tuple(range(len(output), len(order))))
    return current


def _parse_einsum(equation, operands):
    equation = equation.replace(" ", "")
    if "." in equation:
        raise NotImplementedError("einsum with an ellipsis ('...') is not supported by llgrad; "
                                  "write the dimensions out, or reshape first")
    lhs, arrow, rhs = equation.partition("->")
    terms = [list(term) for term in lhs.split(",")]
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    for i, (term, operand) in enumerate(zip(terms, operands)):
        for c in term:
            if not c.isascii() or not c.isalpha():
                raise RuntimeError(f"einsum(): invalid subscript given at index {lhs.index(c)} "
                                   f"in the equation string, subscripts must be in [a-zA-Z]")
        if len(term) != operand.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(term)}) "
                               f"does not match the number of dimensions ({operand.ndim}) for "
                               f"operand {i} and no ellipsis was given")
        if len(set(term)) != len(term):
            raise NotImplementedError("einsum with a subscript repeated within one operand (a "
                                      "diagonal or trace) is not supported by llgrad; take the "
                                      "diagonal first (x.diag() for a matrix)")
    counts = {}
    for term in terms:
        for c in term:
            counts[c] = counts.get(c, 0) + 1
    if arrow:
        output = list(rhs)
        for c in output:
            if output.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output")
            if c not in counts:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
    else:  # implicit: the letters seen once, in PyTorch's order (A-Z before a-z)
        output = sorted((c for c, n in counts.items() if n == 1), key=lambda c: (c.islower(), c))
    return terms, output


def _einsum_sizes(terms, operands):
    """Each letter's size; a size 1 broadcasts against the others, as in PyTorch."""
    sizes = {}
    for i, (term, operand) in enumerate(zip(terms, operands)):
        for c, n in zip(term, operand.shape):
            seen = sizes.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {seen}")
            sizes[c] = n if n != 1 else seen
    return sizes


def _contract_pair(a, la, b, lb, needed, sizes):
    """a (letters la) times b (letters lb), summed over shared letters not `needed` later:
    (batch, a-only, shared) @ (batch, shared, b-only) as one bmm."""
    from .reduction import sum as sum_

    a, la = _sum_unneeded(a, la, set(lb) | needed, sum_)
    b, lb = _sum_unneeded(b, lb, set(la) | needed, sum_)
    batch = [c for c in la if c in lb and c in needed]
    shared = [c for c in la if c in lb and c not in needed]
    a_only = [c for c in la if c not in lb]
    b_only = [c for c in lb if c not in la]

    def arranged(t, letters, order, rows, cols):
        t = _ordered(t, letters, order)
        full = tuple(sizes[c] for c in order)
        if tuple(t.shape) != full:
            t = expand(t, full)
        return reshape(t, (_prod(sizes[c] for c in batch), rows, cols))

    letters = batch + a_only + b_only
    if not shared:  # nothing to sum: a broadcast product, as PyTorch's einsum takes it
        a = _ordered(a, la, batch + a_only)
        b = _ordered(b, lb, batch + b_only)
        a = reshape(a, tuple(a.shape) + (1,) * len(b_only))
        b = reshape(b, tuple(b.shape[:len(batch)]) + (1,) * len(a_only) +
                    tuple(b.shape[len(batch):]))
        return a * b, letters
    m, k, n = (_prod(sizes[c] for c in group) for group in (a_only, shared, b_only))
    product = bmm(arranged(a, la, batch + a_only + shared, m, k),
                  arranged(b, lb, batch + shared + b_only, k, n))
    return reshape(product, tuple(sizes[c] for c in letters)), letters


def _ordered(t, letters, order):
    perm = [letters.index(c) for c in order]
    return t if perm == list(range(len(perm))) else permute(t, perm)


def _sum_unneeded(t, letters, keep, sum_):
    dims = tuple(d for d, c in enumerate(letters) if c not in keep)
    if not dims:
        return t, letters
    return sum_(t, dims), [c for c in letters if c in keep]


def _prod(values):
    n = 1
    for v in values:
        n *= v
    return n
