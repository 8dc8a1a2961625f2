"""Matrix products. Each entry point records the node PyTorch records for the same call:
dot (1-D @ 1-D), mv, mm, bmm, addmm (nn.Linear on a batch), matmul's batched form."""
from ..compiler import primitives as P
from ..compiler.primitive import shape_of
from ..compiler.primitives.matmul import matmul_grad_lhs, matmul_grad_rhs
from ..dispatch import Op, apply, primitive_op
from .shape import reshape, squeeze, unsqueeze


def _dot_forward(a, b):
    return P.reduce_sum(a * b, axes=(0,), keepdims=False)


DOT = Op("DotBackward0", _dot_forward,
         (lambda g, out, a, b: g * b, lambda g, out, a, b: g * a), saves=(0, 1), promote="common")


def _mv_forward(m, v):
    return P.reshape(P.matmul(m, P.reshape(v, shape=(shape_of(v)[0], 1))), shape=(shape_of(m)[0],))


def _mv_vjp_matrix(g, out, m, v):
    return P.matmul(P.reshape(g, shape=(shape_of(g)[0], 1)), P.reshape(v, shape=(1, shape_of(v)[0])))


def _mv_vjp_vector(g, out, m, v):
    return P.reshape(P.matmul(P.transpose_last2(m), P.reshape(g, shape=(shape_of(g)[0], 1))),
                     shape=(shape_of(m)[1],))


MV = Op("MvBackward0", _mv_forward, (_mv_vjp_matrix, _mv_vjp_vector), saves=(0, 1),
        promote="common")
MM = primitive_op("MmBackward0", P.matmul, promote="common")
BMM = primitive_op("BmmBackward0", P.matmul, promote="common")


def _addmm_forward(bias, a, b, beta=1, alpha=1):
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
        raise RuntimeError(f"self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} "
                           f"and {b.shape[0]}x{b.shape[1]})")


def _check_dtypes(a, b, name):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{a.dtype.name} != {b.dtype.name}" if name == "mm" else
                           f"expected scalar type {_scalar(a)} but found {_scalar(b)}")


def _scalar(t):
    from .reduction import _scalar_type_name

    return _scalar_type_name(t.dtype)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.shape[0] != other.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{other.shape[0]}] to have the same number of elements, but got "
                           f"{input.shape[0]} and {other.shape[0]} elements respectively")
    _check_dtypes(input, other, "dot")
    return apply(DOT, (input, other))


vdot = inner = dot


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got "
                           f"{vec.ndim}, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}x"
                           f"{input.shape[1]}), vec ({vec.shape[0]})")
    return apply(MV, (input, vec))


def mm(input, mat2):
    _check_mm(input, mat2)
    _check_dtypes(input, mat2, "mm")
    return apply(MM, (input, mat2))


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if input.ndim != 3
                           else "batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    return apply(BMM, (input, mat2))


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    _check_mm(mat1, mat2)
    return apply(ADDMM, (input, mat1, mat2), {"beta": beta, "alpha": alpha})


def matmul(input, other):
    """`@` with PyTorch's rules for 1-D operands and broadcast batch dimensions."""
    a_dim, b_dim = input.ndim, other.ndim
    if a_dim == 0 or b_dim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a_dim}D and {b_dim}D")
    if a_dim == 1 and b_dim == 1:
        return dot(input, other)
    if a_dim == 2 and b_dim == 1:
        return mv(input, other)
    if a_dim == 1 and b_dim == 2:
        return squeeze(mm(unsqueeze(input, 0), other), 0)
    if a_dim == 2 and b_dim == 2:
        return mm(input, other)
    return _batched_matmul(input, other)


def _batched_matmul(input, other):
    a, b = input, other
    if a.ndim == 1:
        a = unsqueeze(a, 0)
    if b.ndim == 1:
        b = unsqueeze(b, -1)
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[-3] if a.ndim > 2 else 1}, {a.shape[-1]}] but got: "
                           f"[{b.shape[-3] if b.ndim > 2 else 1}, {b.shape[-2]}].")
    out = apply(BMM, (a, b))
    if input.ndim == 1:
        out = squeeze(out, -2)
    if other.ndim == 1:
        out = squeeze(out, -1)
    return out


def outer(input, vec2):
    return unsqueeze(input, 1) * unsqueeze(vec2, 0)


ger = outer


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, recorded as PyTorch records it (addmm for a batch of rows)."""
    weight_t = weight.t()
    if input.ndim == 2 and bias is not None:
        return addmm(bias, input, weight_t)
    if input.ndim == 2:
        return mm(input, weight_t)
    if input.ndim == 1 and bias is None:
        return squeeze(mm(unsqueeze(input, 0), weight_t), 0)
    # Other ranks (1-D with a bias too): rows through addmm, viewed back, as PyTorch records it.
    lead = tuple(input.shape[:-1])
    flat = reshape(input, (-1, input.shape[-1]))
    out = addmm(bias, flat, weight_t) if bias is not None else mm(flat, weight_t)
    return reshape(out, lead + (weight.shape[0],))
