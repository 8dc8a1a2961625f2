"""Check analytical gradients against finite differences, as torch.autograd.gradcheck does."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by gradcheck/gradgradcheck when analytical and numerical gradients differ."""


FAILED_NONDET_MSG = """\n
NOTE: If your op relies on non-deterministic operations i.e., it is listed here:
https://pytorch.org/docs/stable/generated/torch.use_deterministic_algorithms.html
this failure might be expected.

If you are adding a new operator, please file an issue and then use one of the
workarounds. The workaround depends on how your test invokes gradcheck/gradgradcheck.
If the test
- manually invokes gradcheck/gradgradcheck, then call gradcheck/gradgradcheck
  with `nondet_tol=<tol>` as a keyword argument.
- is OpInfo-based (e.g., in test_ops_gradients.py), then modify the OpInfo for the test
  to have `gradcheck_nondet_tol=<tol>`.
- is a Module test (e.g., in common_nn.py), then modify the corresponding
  module_test entry to have `gradcheck_nondet_tol=<tol>`
"""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_tensor(x):
    from ..tensor import Tensor

    return isinstance(x, Tensor)


def _diff_inputs(inputs):
    return [x for x in inputs if _is_tensor(x) and x.requires_grad]


def _differentiable_outputs(func_out):
    return tuple(o for o in _as_tuple(func_out) if _is_tensor(o) and o.requires_grad)


def _jacobian_tensor(array):
    from ..tensor import Tensor

    return Tensor._wrap(array)


# ---- PyTorch's slow-mode gradcheck: the full Jacobians, column by column (finite differences)
# and row by row (vector-Jacobian products with one-hot vectors) ----------------------------------

def _check_inputs(inputs):
    import warnings

    any_requires_grad = False
    for idx, x in enumerate(inputs):
        if _is_tensor(x) and x.requires_grad:
            if x.dtype.name != "float64":
                warnings.warn(f"Input #{idx} requires gradient and is not a double precision "
                              f"floating point or complex. This check will likely fail if all the "
                              f"inputs are not of double precision floating point or complex. ",
                              UserWarning, stacklevel=4)
            if x.numel() and not all(st > 0 or sz <= 1 for st, sz in zip(x.stride(), x.shape)):
                raise RuntimeError(
                    f"The {idx}th input has a dimension with stride 0. gradcheck only supports "
                    f"inputs that are non-overlapping to be able to compute the numerical "
                    f"gradients correctly. You should call .contiguous on the input before "
                    f"passing it to gradcheck.")
            any_requires_grad = True
    if not any_requires_grad:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")


def _numerical_jacobians(func, inputs, eps):
    """For each differentiable input, one Jacobian per floating-point output of `func`, of shape
    (input numel, output numel) and the output's dtype, by central differences. The input's
    storage is perturbed in place without touching its version (PyTorch perturbs `input.data`);
    `func` runs with grad mode as it is, so it may itself differentiate (gradgradcheck)."""
    jacobians = []
    for x in _diff_inputs(inputs):
        data = x._data
        columns = []
        for flat_index in range(data.size):
            idx = np.unravel_index(flat_index, data.shape)
            original = data[idx].copy()
            step = np.asarray(eps, dtype=data.dtype)
            data[idx] = original - step
            minus = _float_outputs(func, inputs)
            data[idx] = original + step
            plus = _float_outputs(func, inputs)
            data[idx] = original
            columns.append([((b - a) / (2 * eps)).reshape(-1) for a, b in zip(minus, plus)])
        outs = _float_outputs(func, inputs) if not columns else None
        n_outputs = len(columns[0]) if columns else len(outs)
        per_output = []
        for k in range(n_outputs):
            if columns:
                per_output.append(np.stack([c[k].astype(columns[0][k].dtype) for c in columns]))
            else:
                per_output.append(np.zeros((0, outs[k].size), outs[k].dtype))
        jacobians.append(per_output)
    return jacobians


def _float_outputs(func, inputs):
    return [np.array(o._data, copy=True) for o in _as_tuple(func(*inputs))
            if _is_tensor(o) and o.dtype.is_floating_point]


def _analytical_jacobian(inputs, output, nondet_tol, check_grad_dtypes):
    """Per differentiable input, the Jacobian (input numel, output numel) in the input's dtype,
    computed twice to check that backward is reentrant."""
    first, sizes_ok, types_ok = _analytical_rows(inputs, output)
    second, _, _ = _analytical_rows(inputs, output)
    if not types_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not sizes_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    for a, b in zip(first, second):
        if a.size and np.abs(a - b).max() > nondet_tol:
            raise GradcheckError(
                "Backward is not reentrant, i.e., running backward with same input and "
                "grad_output multiple times gives different values, although analytical gradient "
                f"matches numerical gradient.The tolerance for nondeterminism was {nondet_tol}."
                + FAILED_NONDET_MSG)
    return first


def _analytical_rows(inputs, output):
    from . import grad as autograd_grad
    from ..tensor import Tensor

    diff = _diff_inputs(inputs)
    n_out = output._data.size
    jacobians = [np.zeros((x._data.size, n_out), x._data.dtype) for x in diff]
    sizes_ok = types_ok = True
    for j in range(n_out):
        seed = np.zeros(n_out, output._data.dtype)
        seed[j] = 1
        grads = autograd_grad(output, diff, Tensor._wrap(seed.reshape(output._data.shape)),
                              retain_graph=True, allow_unused=True)
        for i, (x, g) in enumerate(zip(diff, grads)):
            if g is None:
                continue
            if tuple(g.shape) != tuple(x.shape):
                sizes_ok = False
            elif g.dtype is not x.dtype:
                types_ok = False
            if g._data.size == x._data.size:
                jacobians[i][:, j] = g._data.reshape(-1)
    return jacobians, sizes_ok, types_ok


def _notallclose_message(analytical, numerical, output_idx, input_idx):
    return (f"Jacobian mismatch for output {output_idx:d} with respect to input {input_idx:d},\n"
            f"numerical:{_jacobian_tensor(numerical)}\nanalytical:{_jacobian_tensor(analytical)}\n")


def _allclose(a, b, rtol, atol):
    dtype = np.promote_types(a.dtype, b.dtype)
    return bool(np.allclose(a.astype(dtype), b.astype(dtype), rtol=rtol, atol=atol))


def _slow_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes,
                    nondet_tol):
    float_outs = [o for o in _as_tuple(func_out) if _is_tensor(o) and o.dtype.is_floating_point]
    if not outputs:
        for per_output in _numerical_jacobians(func, inputs, eps):
            for jacobian in per_output:
                if np.count_nonzero(jacobian):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    numerical = _numerical_jacobians(func, inputs, eps)  # [input][output]
    numerical = [[per_input[k] for per_input in numerical]
                 for k, o in enumerate(float_outs) if o.requires_grad]  # [output][input]
    for i, o in enumerate(outputs):
        analytical = _analytical_jacobian(inputs, o, nondet_tol, check_grad_dtypes)
        for j, (a, n) in enumerate(zip(analytical, numerical[i])):
            if not _allclose(a, n, rtol, atol):
                raise GradcheckError(_notallclose_message(a, n, i, j))
    return True


def _test_backward_mul_by_grad_output(outputs, inputs):
    """Zero output gradients must give zero input gradients of the inputs' dtype and shape."""
    from . import grad as autograd_grad
    from ..ops.creation import zeros_like

    diff = _diff_inputs(inputs)
    if not diff:
        raise GradcheckError("no Tensors requiring grad found in input")
    grads = autograd_grad(outputs, diff, [zeros_like(o) for o in outputs], allow_unused=True)
    for g, x in zip(grads, diff):
        if g is None:
            continue
        if np.count_nonzero(g._data):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype is not x.dtype:
            raise GradcheckError("grad is incorrect type")
        if tuple(g.shape) != tuple(x.shape):
            raise GradcheckError("grad is incorrect size")
    return True


def gradcheck(func: Callable[..., Any], inputs: Tensor | Sequence[Any], *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
              nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False,
              masked: bool | None = None) -> bool:
    """True when the analytical Jacobians of `func` at `inputs` (reverse mode) match finite
    differences within `atol + rtol * |numerical|`; otherwise raises GradcheckError with both
    Jacobians (or returns False when raise_exception=False). PyTorch's slow mode; `fast_mode`
    runs it too. Forward-mode and vmap checks are not available in llgrad."""
    if check_forward_ad or check_batched_grad or check_batched_forward_grad:
        raise NotImplementedError("llgrad has no forward-mode AD or vmap: gradcheck supports "
                                  "check_backward_ad only")
    if not check_backward_ad:
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad to "
                             "be True")
    try:
        inputs = _as_tuple(inputs)
        _check_inputs(inputs)
        func_out = func(*inputs)
        outputs = _differentiable_outputs(func_out)
        _slow_gradcheck(func, func_out, inputs, outputs, eps, rtol, atol, check_grad_dtypes,
                        nondet_tol)
        _test_backward_mul_by_grad_output(outputs, inputs)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(func: Callable[..., Any], inputs: Tensor | Sequence[Any],
                  grad_outputs: Tensor | Sequence[Tensor] | None = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """gradcheck of the function (inputs, grad_outputs) -> vector-Jacobian product, so second
    derivatives are checked with respect to both. Without grad_outputs they are drawn uniformly
    from [-1, 1) with llgrad's generator, as PyTorch's make_tensor does with its generator."""
    from ..ops.creation import empty
    from . import grad as autograd_grad

    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        outputs = _differentiable_outputs(func(*inputs))
        grad_outputs = tuple(
            empty(tuple(o.shape), dtype=o.dtype).uniform_(-1, 1).requires_grad_(True)
            for o in outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    num_outputs = len(grad_outputs)
    diff_input_indices = {i for i, x in enumerate(inputs) if _is_tensor(x) and x.requires_grad}

    def new_func(*args):
        input_args = args[:-num_outputs] if num_outputs else args
        outputs = _differentiable_outputs(func(*input_args))
        diff_input_args = tuple(x for i, x in enumerate(input_args) if i in diff_input_indices)
        grad_inputs = autograd_grad(outputs, diff_input_args, args[len(input_args):],
                                    create_graph=True, allow_unused=True)
        return tuple(g for g in grad_inputs if g is not None)

    return gradcheck(new_func, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, check_backward_ad=check_rev_over_rev,
                     fast_mode=fast_mode)
