"""`out=` on the ops PyTorch gives it (`llgrad.mul(a, b, out=c)`), with PyTorch's rules.

The op runs as usual (without autograd: PyTorch refuses `out=` wherever autograd would have to
record it), its result is checked against `out`'s dtype by the op's own rule, and written into
`out` (resized, with PyTorch's deprecation warning, when `out` has elements and another shape).
The rules differ by op family in PyTorch, and so do the messages:

* "cast": elementwise ops (TensorIterator): the result type must cast to out's
  (`result type Float can't be cast to the desired output type Long`);
* "same": unary ops that keep their input's type (abs, floor, clamp with number bounds): out
  must have the input's dtype (`Found dtype Double but expected Float`);
* "exact": matrix products, gather, softmax, argmax...: out must have the result's dtype
  (`Expected out tensor to have dtype float, but got double instead`);
* "as_dtype": sum, prod, cumsum, cumprod: computed in out's dtype unless `dtype=` is given;
* a few ops with messages of their own (dot, amax, index_select, where, all, logsumexp...).

Only the functions in the llgrad namespace take `out=` (PyTorch's Tensor methods do not), so the
methods and operators keep their direct path.
"""
import functools
import warnings
from types import SimpleNamespace

from ..autograd.grad_mode import STATE, no_grad
from ..tensor import _CPP_TYPE_NAMES, _SCALAR_TYPE_NAMES, Tensor
from . import _args

RESIZE_WARNING = (
    "An output with one or more elements was resized since it had shape {old}, which does not "
    "match the required output shape {new}. This behavior is deprecated, and in a future PyTorch "
    "release outputs will not be resized unless they have zero elements. You can explicitly "
    "reuse an out tensor t by resizing it, inplace, to zero elements with t.resize_(0).")


def _scalar(t):
    return _SCALAR_TYPE_NAMES[t.dtype.name]


def _cpp(t):
    return _CPP_TYPE_NAMES[t.dtype.name]


# ---- the dtype rules: each returns the error for (out, result, input), or None -----------------

def _cast(name, out, result, input):
    if result.dtype.category > out.dtype.category:  # PyTorch's canCast
        return RuntimeError(f"result type {_scalar(result)} can't be cast to the desired output "
                            f"type {_scalar(out)}")


def _same(name, out, result, input):
    if out.dtype is not result.dtype:
        return RuntimeError(f"Found dtype {_scalar(out)} but expected {_scalar(result)}")


def _exact(name, out, result, input):
    if out.dtype is not result.dtype:
        return RuntimeError(f"Expected out tensor to have dtype {_cpp(result)}, but got "
                            f"{_cpp(out)} instead")


def _dot(name, out, result, input):
    if out.dtype is not result.dtype:
        return RuntimeError(f"result dtype {_scalar(out)} does not match input dtype "
                            f"{_scalar(input)}")


def _same_as_input(name, out, result, input):
    if out.dtype is not input.dtype:
        return RuntimeError(f"Expected the dtype for input and out to match, but got "
                            f"{_scalar(input)} for input's dtype and {_scalar(out)} for out's "
                            f"dtype.")


def _selected(name, out, result, input):
    if out.dtype is not result.dtype:
        return RuntimeError(f"{name}(): self and result must have the same scalar type")


def _where(name, out, result, input):
    if out.dtype is not result.dtype:
        return RuntimeError(f"Expected out type to be {_scalar(result)} but got {_scalar(out)}")


def _bool_result(name, out, result, input):
    if out.dtype.name != "bool":
        return RuntimeError(f"{name} only supports bool tensor for result, got: {_scalar(out)}")


def _float_result(name, out, result, input):
    if not out.dtype.is_floating_point:
        return RuntimeError(f"{name}(): Expected floating point type for result tensor, but got: "
                            f"{_scalar(out)}")


def _long_result(name, out, result, input):
    if out.dtype.name != "int64":
        return RuntimeError(f"{name}: Expected out tensor to have scalar type Long but got scalar "
                            f"type{_scalar(out)}")


def _castable_from_input(name, out, result, input):
    if input.dtype.category > out.dtype.category:  # (PyTorch's own wording, TORCH_CHECK's)
        return RuntimeError(
            "Expected canCast( typeMetaToScalarType(self.dtype()), typeMetaToScalarType("
            "out.dtype())) to be true, but got false.  (Could this error message be improved?  "
            "If so, please report an enhancement request to PyTorch.)")


def _diag_cast(name, out, result, input):
    if result.dtype.category > out.dtype.category:
        return RuntimeError(f"diag: result type {_scalar(result)} can't be cast to the desired "
                            f"out= type {_scalar(out)}")
    return _exact(name, out, result, input)  # (castable is not enough: the type must match)


def _joined(name, out, result, input):
    if result.dtype.category > out.dtype.category:
        return TypeError(f"llgrad.cat(): input types can't be cast to the desired output type "
                         f"{_scalar(out)}")


RULES = {"cast": _cast, "same": _same, "exact": _exact, "dot": _dot, "as_dtype": _exact,
         "same_as_input": _same_as_input, "selected": _selected, "where": _where,
         "bool": _bool_result, "float": _float_result, "long": _long_result,
         "castable_from_input": _castable_from_input, "joined": _joined,
         "diag_cast": _diag_cast}


def spec(rule, grad="", out_grad="", error_name=None, given_dtype=False, public=None,
         no_bool_kernel=None):
    """How one op takes out=: its dtype `rule`; the name PyTorch's autograd error gives when an
    input requires grad (`grad`: "" the op's own name, None: inputs are not checked) and when
    `out` does (`out_grad`: likewise; "" follows `grad`); `error_name`: the name in the
    rule's own message; `given_dtype`: an explicit `dtype=` makes the rule "exact"; `public`:
    the name PyTorch's argument errors give, when not the function's; `no_bool_kernel`: the
    kernel PyTorch has no bool version of, for a bool `out`."""
    return SimpleNamespace(rule=RULES[rule], rule_name=rule, grad=grad, out_grad=out_grad,
                           error_name=error_name, given_dtype=given_dtype or rule == "as_dtype",
                           public=public, no_bool_kernel=no_bool_kernel)


# ---- applying a spec ---------------------------------------------------------------------------

def _tensors(args, kwargs):
    found = []
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Tensor):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found.extend(t for t in a if isinstance(t, Tensor))
    return found


def _check_autograd(name, s, out, inputs):
    """PyTorch's "functions with out=... arguments don't support automatic differentiation"."""
    if not STATE.enabled:
        return
    grad = name if s.grad == "" else s.grad
    out_grad = grad if s.out_grad == "" else s.out_grad
    if grad is not None and any(t._requires_grad for t in inputs):
        raise _autograd_error(grad)
    if out_grad is not None and out._requires_grad:
        raise _autograd_error(out_grad)


def _autograd_error(name):
    return RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                        f"differentiation, but one of the arguments requires grad.")


def check_out_type(name, out):
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")


def store(out, result):
    """`result` written into `out`, resized (with PyTorch's warning when out had elements)."""
    if tuple(out.shape) != tuple(result.shape) and out.numel() != 0:
        warnings.warn(RESIZE_WARNING.format(old=list(out.shape), new=list(result.shape)),
                      UserWarning, stacklevel=4)
    return _args.write_out(out, result)


def run_into(name, s, fn, out, args, kwargs):
    """fn(*args, **kwargs) written into `out` under spec `s`."""
    check_out_type(s.public or name, out)
    inputs = _tensors(args, kwargs)
    _check_autograd(name, s, out, inputs)
    rule = s.rule
    if s.given_dtype and kwargs.get("dtype") is not None:
        rule = _exact
    elif s.rule_name == "as_dtype":
        if s.no_bool_kernel and out.dtype.name == "bool":
            raise NotImplementedError(f'"{s.no_bool_kernel}" not implemented for \'Bool\'')
        kwargs = {**kwargs, "dtype": out.dtype}  # (the input is cast to out's type first)
    with no_grad():
        result = fn(*args, **kwargs)
    first = inputs[0] if inputs else result
    error = rule(s.error_name or name, out, result, first)
    if error is not None:
        raise error
    return store(out, result)


def with_out(fn, name, s):
    """fn, also taking PyTorch's keyword `out=` under spec `s`."""
    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return run_into(name, s, fn, out, args, kwargs)

    return wrapper


# ---- which ops take out=, and how --------------------------------------------------------------

_CAST = spec("cast")
_SAME = spec("same")
_EXACT = spec("exact")
_COMPARISON = spec("cast", grad=None, out_grad=None)  # never differentiable, never checked
_FLOAT_UNARY = ("exp", "log", "log1p", "log2", "log10", "expm1", "sqrt", "rsqrt", "reciprocal",
                "sin", "cos", "tan", "tanh", "sigmoid", "erf", "sinh", "cosh", "asin", "acos",
                "atan")
_ARITHMETIC = ("add", "sub", "mul", "div", "remainder", "fmod", "pow", "maximum", "minimum",
               "atan2", "xlogy", "lerp", "addcmul", "addcdiv")

SPECS = {
    **{name: _CAST for name in _FLOAT_UNARY + _ARITHMETIC},
    # aliases: PyTorch's autograd error names the op they stand for
    "arcsin": spec("cast", "asin"), "arccos": spec("cast", "acos"), "arctan": spec("cast", "atan"),
    "arctan2": spec("cast", "atan2"), "multiply": spec("cast", "mul"),
    "subtract": spec("cast", "sub"), "divide": spec("cast", "div"),
    "true_divide": spec("cast", "div"), "square": spec("cast", "pow"),
    "outer": spec("cast", "mul"),
    "floor_divide": spec("cast", None, "aten::floor_divide"),
    **{name: _COMPARISON for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "less",
                                      "not_equal", "greater_equal", "less_equal", "logical_and",
                                      "logical_or", "logical_xor", "logical_not")},
    **{name: spec("cast", None, f"aten::{name}") for name in ("bitwise_and", "bitwise_or",
                                                             "bitwise_xor")},
    **{name: _SAME for name in ("abs", "neg", "floor", "ceil", "round", "trunc", "sign")},
    "absolute": spec("same", "abs"), "negative": spec("same", "neg"),
    "bitwise_not": spec("same", None, "aten::bitwise_not"),
    # matrix products
    **{name: _EXACT for name in ("mm", "bmm", "mv", "addmm")},
    "dot": spec("dot"), "vdot": spec("dot"),
    # reductions
    "sum": spec("as_dtype"), "prod": spec("as_dtype"),
    "cumsum": spec("as_dtype", no_bool_kernel="cumsum_out_cpu"),
    "cumprod": spec("as_dtype", no_bool_kernel="cumprod_out_cpu"),
    "mean": spec("cast", given_dtype=True), "std": _CAST, "var": _CAST,
    "amax": spec("same_as_input"), "amin": spec("same_as_input"),
    "argmax": spec("exact", None, None), "argmin": spec("exact", None, None),
    "all": spec("bool", None, None), "any": spec("bool", None, None),
    "logsumexp": spec("float"),
    "norm": spec("exact", "linalg_vector_norm", given_dtype=True, public="linalg_vector_norm"),
    "softmax": spec("exact", None, "aten::softmax", given_dtype=True),
    "log_softmax": spec("exact", None, "aten::log_softmax", given_dtype=True),
    # indexing and shapes
    "gather": _EXACT, "take_along_dim": spec("exact", "gather"),
    "index_select": spec("selected"), "masked_select": spec("selected"),
    "nonzero": spec("long", None, None, error_name="nonzero"),
    "where": spec("where"), "tril": _EXACT, "triu": _EXACT, "msort": spec("exact", "sort"),
    "hstack": spec("joined", "cat"), "vstack": spec("joined", "cat"),
}


def _matmul_spec(input, other):
    return spec("dot") if input.ndim == 1 and other.ndim == 1 else _EXACT


def _clamp_spec(name):
    """clamp with number bounds keeps the input's type; with tensor bounds it promotes."""
    def choose(input, *bounds, **named):
        tensor_bounds = any(isinstance(b, Tensor) for b in bounds + tuple(named.values()))
        return spec("cast" if tensor_bounds else "same", name)

    return choose


def _diag_spec(input, diagonal=0):
    """A vector's diagonal matrix casts into out; a matrix's diagonal must have out's type."""
    if input.ndim == 1:
        return spec("diag_cast", None, "aten::diag_embed")
    return spec("exact", None, "aten::diagonal_copy")


CHOSEN_SPECS = {"matmul": _matmul_spec, "clamp": _clamp_spec("clamp"),
                "clip": _clamp_spec("clamp"), "clamp_min": _clamp_spec("clamp_min"),
                "clamp_max": _clamp_spec("clamp_max"), "diag": _diag_spec}


def with_chosen_out(fn, name, choose):
    """fn with out=, under the spec `choose(*args, **kwargs)` picks for the call's arguments."""
    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return run_into(name, choose(*args, **kwargs), fn, out, args, kwargs)

    return wrapper


# ---- (values, indices) pairs: max/min over a dim, sort, topk, kthvalue -------------------------

def _pair_return(kind):
    from .reduction import _return_type

    return _return_type(kind)


# op: (position of `out` in PyTorch's signature, for its messages; the result type)
PAIRS = {"max": 3, "min": 3, "sort": 3, "topk": 5, "kthvalue": 4}
_PAIR_RETURNS = {}


def _check_pair(name, out, position):
    if not isinstance(out, (tuple, list)):
        raise TypeError(f"{name}(): argument 'out' must be tuple of Tensors, not "
                        f"{type(out).__name__}")
    for i, t in enumerate(out):  # (the elements first, then their number, as PyTorch)
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {position}, but got "
                            f"{type(t).__name__}")
    if len(out) != 2:
        raise TypeError(f"expected tuple of 2 elements but got {len(out)}")


def _pair_dtype_error(name, out, result):
    values, indices = out
    if values.dtype is not result[0].dtype:
        if name == "kthvalue":
            return RuntimeError("output values must be of same type as input")
        return _exact(name, values, result[0], None)
    if indices.dtype.name != "int64":
        if name == "kthvalue":
            return RuntimeError("output indices must be of scalar type Long")
        return _exact(name, indices, result[1], None)


def run_into_pair(name, fn, out, args, kwargs):
    """fn's (values, indices) written into out=(values, indices)."""
    _check_pair(name, out, PAIRS[name])
    _check_autograd(name, _CAST, out[0], _tensors(args, kwargs))
    with no_grad():
        result = fn(*args, **kwargs)
    error = _pair_dtype_error(name, out, result)
    if error is not None:
        raise error
    kind = f"{name}_out"
    if kind not in _PAIR_RETURNS:
        _PAIR_RETURNS[kind] = _pair_return(kind)
    return _PAIR_RETURNS[kind](store(out[0], result[0]), store(out[1], result[1]))


def with_pair_out(fn, name):
    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return run_into_pair(name, fn, out, args, kwargs)

    return wrapper


def with_max_min_out(fn, name):
    """max/min: out= is a tensor for the whole-tensor and elementwise forms (max(a), max(a, b)),
    a (values, indices) pair over a dim (max(a, 1))."""
    @functools.wraps(fn)
    def wrapper(input, dim=None, keepdim=False, *, out=None):
        if out is None:
            return fn(input, dim, keepdim)
        if isinstance(dim, Tensor):
            return run_into(name, spec("cast", f"{name}imum"), fn, out, (input, dim), {})
        if dim is None:
            return run_into(name, spec("castable_from_input"), fn, out, (input,), {})
        return run_into_pair(name, fn, out, (input, dim, keepdim), {})

    return wrapper


# PyTorch's spellings of mul, sub and div that the namespace lacked (torch.multiply(a, b, out=c))
ALIASES = {"multiply": "mul", "subtract": "sub", "divide": "div"}


def install(namespace):
    """The namespace's functions (llgrad.*) given their out=, replacing the plain ones there."""
    for alias, name in ALIASES.items():
        if alias not in namespace:
            namespace[alias] = namespace[name]
            namespace["__all__"].append(alias)
    for name, s in SPECS.items():
        namespace[name] = with_out(namespace[name], name, s)
    for name, choose in CHOSEN_SPECS.items():
        namespace[name] = with_chosen_out(namespace[name], name, choose)
    for name in ("sort", "topk", "kthvalue"):
        namespace[name] = with_pair_out(namespace[name], name)
    for name in ("max", "min"):
        namespace[name] = with_max_min_out(namespace[name], name)
