"""The checks the op table drives: building inputs for a library, gradcheck, and comparison with
PyTorch (values, gradients, grad_fn graphs, second derivatives).

Everything here is written against the API llgrad shares with PyTorch and takes the library as an
argument; nothing imports torch, so the gradcheck tests run where torch is not installed.
"""
import numpy as np

import llgrad

from .op_table import Const

LAYOUTS = ("transposed", "strided")


# ---- inputs ------------------------------------------------------------------------------------

def _tensor(lib, array, layout):
    """A tensor holding `array`, stored contiguously or as a non-contiguous view of a larger
    buffer (transposed storage, or every other element of the last dimension)."""
    if layout == "transposed" and array.ndim >= 2:
        base = lib.tensor(np.ascontiguousarray(array.T))
        return base.permute(*reversed(range(array.ndim))).detach()
    if layout in ("transposed", "strided") and array.ndim >= 1:
        base = lib.tensor(np.ascontiguousarray(np.repeat(array, 2, axis=-1)))
        return base[..., ::2].detach()
    return lib.tensor(np.array(array, order="C"))  # (ascontiguousarray makes 0-d arrays 1-d)


class Inputs:
    """A sample's arguments built for one library; `leaves` are the tensors that require grad,
    in argument order, and `call_with(leaves)` re-runs the op with other leaf tensors (for
    gradcheck, which perturbs its own inputs)."""

    def __init__(self, lib, sample, dtype, requires_grad, layout="contiguous"):
        self.lib = lib
        self.leaves = []
        self.kwargs = dict(sample.kwargs)
        self.args = tuple(self._build(a, dtype, requires_grad, layout) for a in sample.args)

    def _build(self, a, dtype, requires_grad, layout):
        lib = self.lib
        if isinstance(a, np.ndarray):
            array = a.astype(dtype) if a.dtype.kind == "f" else a
            t = _tensor(lib, array, layout)
            if requires_grad and array.dtype.kind == "f":
                t.requires_grad_(True)
                self.leaves.append(t)
            return t
        if isinstance(a, Const):
            array = a.value.astype(dtype) if a.value.dtype.kind == "f" else a.value
            return _tensor(lib, array, layout)
        if isinstance(a, list) and a and isinstance(a[0], (np.ndarray, Const)):
            return [self._build(x, dtype, requires_grad, layout) for x in a]
        return a

    def call(self, op):
        return op(self.lib, *self.args, **self.kwargs)

    def call_with(self, op, leaves):
        swap = {id(old): new for old, new in zip(self.leaves, leaves)}

        def replace(a):
            if isinstance(a, list):
                return [replace(x) for x in a]
            return swap.get(id(a), a)

        return op(self.lib, *(replace(a) for a in self.args), **self.kwargs)


def is_tensor(lib, x):
    return isinstance(x, lib.Tensor)


def outputs(lib, result):
    """The tensors an op returned (a tensor, or nested tuples such as max's (values, indices))."""
    if is_tensor(lib, result):
        return (result,)
    if isinstance(result, (tuple, list)):
        return tuple(t for r in result for t in outputs(lib, r))
    return ()


def non_tensors(lib, result):
    """The plain values among an op's results (bools from torch.equal, ...), in order."""
    if is_tensor(lib, result):
        return []
    if isinstance(result, (tuple, list)):
        return [v for r in result for v in non_tensors(lib, r)]
    return [result]


def dtype_name(t):
    return str(t.dtype).replace("torch.", "").replace("llgrad.", "")


def to_numpy(t):
    if getattr(t, "_is_zerotensor", lambda: False)():  # torch's symbolic zeros
        return np.zeros(tuple(t.shape), dtype=str(t.dtype).replace("torch.", ""))
    return t.detach().numpy().copy()


# ---- graphs ------------------------------------------------------------------------------------

def grad_fn_name(t):
    fn = t.grad_fn
    return None if fn is None else type(fn).__name__


def graph(fn, depth=0, limit=40):
    """The names of a grad_fn graph as nested tuples: (name, (child, child, ...))."""
    if fn is None:
        return None
    name = type(fn).__name__
    if depth >= limit or name == "AccumulateGrad":
        return name
    return (name, tuple(graph(child, depth + 1, limit) for child, _ in fn.next_functions))


# ---- comparisons -------------------------------------------------------------------------------

def tolerance(op, dtype):
    """(rtol, atol) for values of `dtype`: the op's float32 tolerance for float32 and narrower."""
    return op.tol64 if dtype == "float64" else op.tol32


def assert_same_array(actual, expected, rtol, atol, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def upstream(shapes_dtypes, seed=1234):
    """Random gradients for the outputs, the same for both libraries."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for shape, dtype in shapes_dtypes]


def run(lib, op, sample, dtype, layout="contiguous", backward=True):
    """Run `op` on `sample` with `lib`: its result, outputs, leaves and leaf gradients."""
    inputs = Inputs(lib, sample, dtype, requires_grad=op.differentiable, layout=layout)
    result = inputs.call(op)
    outs = outputs(lib, result)
    grads = None
    if backward and op.differentiable:
        diff = [o for o in outs if o.requires_grad]
        if diff:
            seeds = upstream([(tuple(o.shape), to_numpy(o).dtype) for o in diff])
            lib.autograd.backward(diff, [lib.tensor(s) for s in seeds])
        grads = [None if x.grad is None else to_numpy(x.grad) for x in inputs.leaves]
    return result, outs, inputs, grads


def compare_with_torch(torch, op, sample, dtype, layout="contiguous"):
    """Forward values, dtypes, requires_grad, grad_fn graphs and input gradients agree."""
    if sample.torch_differs:
        return
    where = f"{op.name} {sample} {dtype} {layout}"
    ours, our_outs, our_inputs, our_grads = run(llgrad, op, sample, dtype, layout)
    theirs, their_outs, their_inputs, their_grads = run(torch, op, sample, dtype, layout)
    assert _strides(our_inputs) == _strides(their_inputs), f"{where}: input strides differ"
    plain, their_plain = non_tensors(llgrad, ours), non_tensors(torch, theirs)
    assert [(type(v), v) for v in plain] == [(type(v), v) for v in their_plain], \
        f"{where}: {plain} != torch {their_plain}"
    assert len(our_outs) == len(their_outs), f"{where}: {len(our_outs)} tensors, torch " \
                                             f"{len(their_outs)}"
    rtol, atol = tolerance(op, dtype)
    for k, (o, t) in enumerate(zip(our_outs, their_outs)):
        what = f"{where}: output {k}"
        assert dtype_name(o) == dtype_name(t), f"{what}: dtype {o.dtype} != {t.dtype}"
        assert tuple(o.shape) == tuple(t.shape), f"{what}: shape {o.shape} != {tuple(t.shape)}"
        assert_same_array(to_numpy(o), to_numpy(t), *tolerance(op, dtype_name(t)), what)
        assert o.requires_grad == t.requires_grad, f"{what}: requires_grad differs"
        if op.graph == "full":
            assert graph(o.grad_fn) == graph(t.grad_fn), \
                f"{what}: grad_fn graph\n  llgrad {graph(o.grad_fn)}\n  torch  {graph(t.grad_fn)}"
        else:
            assert grad_fn_name(o) == grad_fn_name(t), f"{what}: grad_fn"
    if their_grads is None:
        return
    for i, (g, tg, leaf) in enumerate(zip(our_grads, their_grads, our_inputs.leaves)):
        what = f"{where}: gradient of input {i}"
        if tg is None:
            assert g is None or not np.any(g), f"{what}: torch has none, llgrad {g}"
            continue
        assert g is not None, f"{what}: llgrad has none"
        assert dtype_name(leaf.grad) == dtype_name(leaf), f"{what}: dtype {leaf.grad.dtype}"
        assert_same_array(g, tg, rtol, atol, what)


def _strides(inputs):
    """The layout of the tensor arguments (a size-1 dimension's stride is arbitrary)."""
    return [tuple(st if n > 1 else None for st, n in zip(a.stride(), a.shape))
            for a in inputs.args if is_tensor(inputs.lib, a)]


def gradcheck(op, sample):
    """llgrad.autograd.gradcheck in float64 on the sample's differentiable inputs."""
    inputs = Inputs(llgrad, sample, "float64", requires_grad=True)
    if not inputs.leaves:
        return
    assert llgrad.autograd.gradcheck(lambda *xs: inputs.call_with(op, xs), tuple(inputs.leaves)), \
        f"{op.name} {sample}"


def gradgradcheck(op, sample):
    """llgrad.autograd.gradgradcheck in float64: second derivatives by finite differences."""
    inputs = Inputs(llgrad, sample, "float64", requires_grad=True)
    assert llgrad.autograd.gradgradcheck(lambda *xs: inputs.call_with(op, xs),
                                         tuple(inputs.leaves)), f"{op.name} {sample}"


def compare_second_derivatives_with_torch(torch, op, sample, dtype="float64"):
    """`autograd.grad(..., create_graph=True)`: the gradients' grad_fn names and values, then
    the gradient of those gradients, agree with PyTorch."""
    where = f"{op.name} {sample}"
    results = []
    for lib in (llgrad, torch):
        inputs = Inputs(lib, sample, dtype, requires_grad=True)
        outs = [o for o in outputs(lib, inputs.call(op)) if o.requires_grad]
        seeds = upstream([(tuple(o.shape), to_numpy(o).dtype) for o in outs])
        firsts = lib.autograd.grad(outs, inputs.leaves, [lib.tensor(s) for s in seeds],
                                   create_graph=True, allow_unused=True)
        names = [None if g is None else grad_fn_name(g) for g in firsts]
        values = [None if g is None else to_numpy(g) for g in firsts]
        differentiable = [g for g in firsts if g is not None and g.requires_grad]
        seconds = [None] * len(inputs.leaves)
        if differentiable:
            seeds2 = upstream([(tuple(g.shape), to_numpy(g).dtype) for g in differentiable], 99)
            seconds = lib.autograd.grad(differentiable, inputs.leaves,
                                        [lib.tensor(s) for s in seeds2], allow_unused=True)
        seconds = [None if g is None else to_numpy(g) for g in seconds]
        results.append((names, values, seconds))
    (names, values, seconds), (t_names, t_values, t_seconds) = results
    if op.create_graph_names:
        assert names == t_names, f"{where}: create_graph grad_fn names {names} != torch {t_names}"
    rtol, atol = tolerance(op, dtype)
    for i, (v, tv) in enumerate(zip(values, t_values)):
        if tv is not None:
            assert_same_array(v, tv, rtol, atol, f"{where}: first derivative {i}")
    for i, (v, tv) in enumerate(zip(seconds, t_seconds)):
        if tv is None:
            assert v is None or not np.any(v), f"{where}: second derivative {i}: torch has none"
        else:
            assert v is not None, f"{where}: second derivative {i}: llgrad has none"
            assert_same_array(v, tv, rtol, atol, f"{where}: second derivative {i}")


def compare_compiled_with_eager(op, sample, dtype="float64"):
    """The op inside llgrad.compile (forward and backward traced into one graph, run by the
    compiler's backend) gives eager's values and gradients."""
    eager = Inputs(llgrad, sample, dtype, requires_grad=op.differentiable)
    compiled = Inputs(llgrad, sample, dtype, requires_grad=op.differentiable)
    if not compiled.leaves:
        return
    outs = outputs(llgrad, eager.call(op))
    diff = [o for o in outs if o.requires_grad]
    seeds = [llgrad.tensor(s) for s in upstream([(tuple(o.shape), to_numpy(o).dtype)
                                                 for o in diff])]
    if diff:
        llgrad.autograd.backward(diff, seeds)

    def step(*leaves):
        results = outputs(llgrad, compiled.call_with(op, leaves))
        differentiable = [o for o in results if o.requires_grad]
        if differentiable:
            llgrad.autograd.backward(differentiable, seeds)
        return tuple(o.detach() for o in results)

    got = llgrad.compile(step)(*compiled.leaves)
    where = f"{op.name} {sample} compiled"
    rtol, atol = tolerance(op, dtype)
    for k, (a, b) in enumerate(zip(got, outs)):
        assert_same_array(to_numpy(a), to_numpy(b), rtol, atol, f"{where}: output {k}")
    for i, (a, b) in enumerate(zip(compiled.leaves, eager.leaves)):
        if b.grad is None:
            assert a.grad is None or not to_numpy(a.grad).any(), f"{where}: gradient {i}"
        else:
            assert_same_array(to_numpy(a.grad), to_numpy(b.grad), rtol, atol,
                              f"{where}: gradient {i}")


# ---- the standard tests every family runs ------------------------------------------------------

def selects(predicate):
    """Which ops of the family a test method runs on (read by conftest's parametrization)."""

    def mark(fn):
        fn.selects = predicate
        return fn

    return mark


def _torch():
    import pytest

    return pytest.importorskip("torch")


class OpTests:
    """Run by every `test_<family>.py`: subclass with `family = "<family>"`. The `op` argument
    is parametrized over the family's rows of the table (conftest.py)."""

    family = None

    @selects(lambda op: op.differentiable and op.gradcheck)
    def test_gradcheck(self, op):
        for sample in op.sample_list():
            gradcheck(op, sample)

    @selects(lambda op: True)
    def test_matches_torch(self, op):
        torch = _torch()
        for dtype in op.dtypes:
            for sample in op.sample_list():
                compare_with_torch(torch, op, sample, dtype)

    @selects(lambda op: op.noncontiguous)
    def test_matches_torch_noncontiguous(self, op):
        torch = _torch()
        for layout in LAYOUTS:
            for sample in op.sample_list():
                compare_with_torch(torch, op, sample, op.dtypes[0], layout)

    @selects(lambda op: op.differentiable and op.traceable)
    def test_compiled_matches_eager(self, op, each_backend):
        for sample in op.sample_list():
            compare_compiled_with_eager(op, sample)

    @selects(lambda op: op.gradgrad)
    def test_gradgradcheck(self, op):
        for sample in op.sample_list()[:2]:
            gradgradcheck(op, sample)

    @selects(lambda op: op.gradgrad)
    def test_second_derivatives_match_torch(self, op):
        torch = _torch()
        for sample in op.sample_list()[:2]:
            compare_second_derivatives_with_torch(torch, op, sample)
