"""Check analytical gradients against finite differences, as torch.autograd.gradcheck does."""
import numpy as np


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    from ..tensor import Tensor

    return tuple(o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor))


def _numerical_jacobians(fn, inputs, eps):
    """J[i][k] has shape (numel of output k, numel of input i), by central differences."""
    from .grad_mode import no_grad

    jacobians = []
    with no_grad():
        for x in inputs:
            if not getattr(x, "requires_grad", False):
                jacobians.append(None)
                continue
            data = x._data
            flat = data.reshape(-1)  # a view for contiguous inputs: perturb in place
            columns = []
            for j in range(flat.size):
                original = flat[j]
                flat[j] = original + eps
                plus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
                flat[j] = original - eps
                minus = [o._data.astype(np.float64).reshape(-1).copy() for o in _outputs(fn, inputs)]
                flat[j] = original
                columns.append([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
            n_out = len(columns[0]) if columns else len(_outputs(fn, inputs))
            jacobians.append([np.stack([c[k] for c in columns], axis=1) if columns else
                              np.zeros((0, 0)) for k in range(n_out)])
    return jacobians


def _analytical_jacobians(fn, inputs, outputs):
    from . import grad as autograd_grad
    from ..tensor import Tensor

    diff_inputs = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    per_output = []
    for out in outputs:
        rows = []
        flat_size = out._data.size
        for r in range(flat_size):
            seed = np.zeros(flat_size, dtype=out._data.dtype)
            seed[r] = 1
            if not out.requires_grad:
                rows.append([np.zeros(x._data.size) for x in diff_inputs])
                continue
            grads = autograd_grad(out, diff_inputs,
                                  Tensor._wrap(seed.reshape(out._data.shape)),
                                  retain_graph=True, allow_unused=True)
            rows.append([np.zeros(x._data.size) if g is None else
                         g._data.astype(np.float64).reshape(-1) for x, g in zip(diff_inputs, grads)])
        per_output.append([np.stack([row[i] for row in rows]) if rows else np.zeros((0, 0))
                           for i in range(len(diff_inputs))])
    return per_output


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **_):
    """True when every analytical Jacobian matches finite differences within tolerance."""
    from ..tensor import Tensor

    inputs = _as_tuple(inputs)
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad and x.dtype.name != "float64":
            import warnings

            warnings.warn("Input #0 requires gradient and is not a double precision floating point. "
                          "This check will likely fail if all the inputs are not of double "
                          "precision floating point. ", UserWarning, stacklevel=2)
    outputs = _outputs(func, inputs)
    numerical = _numerical_jacobians(func, inputs, eps)
    analytical = _analytical_jacobians(func, inputs, outputs)
    diff_index = 0
    for i, x in enumerate(inputs):
        if numerical[i] is None:
            continue
        for k in range(len(outputs)):
            a = analytical[k][diff_index]
            n = numerical[i][k]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                message = (f"Jacobian mismatch for output {k} with respect to input {i},\n"
                           f"numerical:{n}\nanalytical:{a}\n")
                if raise_exception:
                    raise GradcheckError(message)
                return False
        diff_index += 1
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **_):
    """gradcheck of the first derivative (vector-Jacobian product with random grad_outputs)."""
    from . import grad as autograd_grad
    from ..tensor import Tensor

    inputs = _as_tuple(inputs)
    outputs = _outputs(func, inputs)
    rng = np.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = tuple(Tensor._wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype))
                             for o in outputs)
    diff_inputs = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def first_derivative(*args):
        outs = _outputs(func, args)
        diff = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        grads = autograd_grad(outs, diff, grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    assert diff_inputs, "gradgradcheck needs at least one input that requires grad"
    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
