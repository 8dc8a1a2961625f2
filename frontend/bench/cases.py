"""The benchmark cases: one table of what is measured, each with the same computation written
for llgrad (compiled to native code), NumPy (by hand, forward and backward), PyTorch (eager and
torch.compile) and JAX (jit).

A case has sizes: "cache" (its working set fits the last-level cache), "dram" (far larger than
it) and "tiny" (for tests). A builder returns a zero-argument callable that runs one call to
completion (JAX's asynchronous results are waited for), or None when a framework has no fair way
to run it (NumPy's GELU needs SciPy's erf). llgrad's builder also returns the compiled function,
whose native program gives the flops and bytes counted from the graph.
"""
import numpy as np

FRAMEWORKS = ("llgrad", "numpy", "torch", "torch.compile", "jax")


class Case:
    """`family` groups cases in the table; `sizes` maps a size label to the case's parameters;
    `builders` maps a framework to builder(params, data, libs); `quick` lists the sizes --quick
    runs; `full_only` cases run with --full only."""

    def __init__(self, name, family, sizes, data, builders, quick=(), full_only=False,
                 describe=None):
        self.name, self.family, self.sizes = name, family, sizes
        self.data, self.builders = data, builders
        self.quick, self.full_only = tuple(quick), full_only
        self.describe = describe or (lambda p: "x".join(map(str, p)))

    def ident(self, size):
        return f"{self.name}/{self.describe(self.sizes[size])}"


def _rng():
    return np.random.default_rng(0)


def _f32(rng, *shape):
    return rng.standard_normal(shape, dtype=np.float32)


def _llgrad_compile(fn):
    import llgrad

    return llgrad.compile(fn, backend="llvm")


def _jax_runner(jax, f, *args):
    f = jax.jit(f)
    args = [jax.numpy.asarray(a) for a in args]
    return lambda: jax.block_until_ready(f(*args))


def _torch_maybe_compiled(torch, fn, compiled):
    return torch.compile(fn) if compiled else fn


# ---- elementwise chains, forward and backward -----------------------------------------------
# y = f(x), then y.backward(g): the step reads x and g, writes y and x.grad.

def _erf():
    try:
        from scipy.special import erf
    except ImportError:
        return None
    return erf


def _np_gelu(x, g):
    erf = _erf()
    cdf = 0.5 * (1.0 + erf(x * np.float32(0.7071067811865476)))
    pdf = np.exp(-0.5 * x * x) * np.float32(0.3989422804014327)
    return x * cdf, g * (cdf + x * pdf)


def _np_sigmoid_mul(x, g):
    s = 1.0 / (1.0 + np.exp(-x))
    return x * s, g * (s + x * s * (1.0 - s))


def _np_exp_log(x, g):
    e = np.exp(x)
    return np.log(e + 1.0), g * (e / (e + 1.0))


ELEMENTWISE = {
    # name: (forward given the library and x, NumPy forward+backward, NumPy needs SciPy)
    "gelu": (lambda lib, x: lib.nn.functional.gelu(x), _np_gelu, True),
    "sigmoid-mul": (lambda lib, x: x * lib.sigmoid(x), _np_sigmoid_mul, False),
    "exp-log": (lambda lib, x: lib.log(lib.exp(x) + 1.0), _np_exp_log, False),
}


def _elementwise_data(params):
    rng = _rng()
    (n,) = params
    return {"x": _f32(rng, n), "g": _f32(rng, n)}


def _fwd_bwd_lib(lib, forward, compiled_with):
    """The step `x.grad = None; y = forward(x); y.backward(g); return y.detach()`."""
    def step(x, g):
        x.grad = None
        y = forward(lib, x)
        y.backward(g)
        return y.detach()

    return compiled_with(step)


def _elementwise(kind):
    forward, numpy_version, needs_scipy = ELEMENTWISE[kind]

    def llgrad_build(params, data, libs):
        import llgrad

        step = _fwd_bwd_lib(llgrad, forward, _llgrad_compile)
        x, g = llgrad.tensor(data["x"], requires_grad=True), llgrad.tensor(data["g"])
        return (lambda: step(x, g)), step

    def numpy_build(params, data, libs):
        if needs_scipy and _erf() is None:
            return None
        x, g = data["x"], data["g"]
        return lambda: numpy_version(x, g)

    def torch_build(params, data, libs, compiled=False):
        torch = libs["torch"]
        step = _fwd_bwd_lib(torch, forward,
                            lambda f: _torch_maybe_compiled(torch, f, compiled))
        x = torch.tensor(data["x"], requires_grad=True)
        g = torch.tensor(data["g"])
        return lambda: step(x, g)

    def jax_build(params, data, libs):
        jax = libs["jax"]
        jnp = jax.numpy
        jax_forward = {"gelu": lambda x: jax.nn.gelu(x, approximate=False),
                       "sigmoid-mul": lambda x: x * jax.nn.sigmoid(x),
                       "exp-log": lambda x: jnp.log(jnp.exp(x) + 1.0)}[kind]

        def f(x, g):
            y, vjp = jax.vjp(jax_forward, x)
            return y, vjp(g)

        return _jax_runner(jax, f, data["x"], data["g"])

    return _builders(llgrad_build, numpy_build, torch_build, jax_build)


def _builders(llgrad_build, numpy_build, torch_build, jax_build):
    return {"llgrad": llgrad_build, "numpy": numpy_build, "torch": torch_build,
            "torch.compile": lambda p, d, libs: torch_build(p, d, libs, compiled=True),
            "jax": jax_build}


# ---- reductions over rows and columns (forward) ---------------------------------------------

def _matrix_data(params):
    rows, cols = params
    rng = _rng()
    return {"x": _f32(rng, rows, cols), "g": _f32(rng, rows, cols),
            "w": np.ones(cols, np.float32), "b": np.zeros(cols, np.float32),
            "target": rng.integers(0, cols, rows)}


def _reduction(op, axis):
    def llgrad_build(params, data, libs):
        import llgrad

        fn = _llgrad_compile(
            (lambda x: x.sum(axis)) if op == "sum" else (lambda x: x.amax(axis)))
        x = llgrad.tensor(data["x"])
        return (lambda: fn(x)), fn

    def numpy_build(params, data, libs):
        x = data["x"]
        return (lambda: x.sum(axis)) if op == "sum" else (lambda: x.max(axis))

    def torch_build(params, data, libs, compiled=False):
        torch = libs["torch"]
        fn = (lambda x: x.sum(axis)) if op == "sum" else (lambda x: x.amax(axis))
        fn = _torch_maybe_compiled(torch, fn, compiled)
        x = torch.tensor(data["x"])
        return lambda: fn(x)

    def jax_build(params, data, libs):
        jnp = libs["jax"].numpy
        return _jax_runner(libs["jax"], (lambda x: jnp.sum(x, axis)) if op == "sum"
                           else (lambda x: jnp.max(x, axis)), data["x"])

    return _builders(llgrad_build, numpy_build, torch_build, jax_build)


# ---- row-wise ops: softmax, log_softmax, layer norm, cross-entropy (forward and backward) -----

def _np_softmax(x, g):
    e = np.exp(x - x.max(-1, keepdims=True))
    y = e / e.sum(-1, keepdims=True)
    return y, y * (g - (g * y).sum(-1, keepdims=True))


def _np_log_softmax(x, g):
    shifted = x - x.max(-1, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return y, g - np.exp(y) * g.sum(-1, keepdims=True)


def _np_layer_norm(x, g, w, b, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    rstd = 1.0 / np.sqrt((centred * centred).mean(-1, keepdims=True) + np.float32(eps))
    xhat = centred * rstd
    y = xhat * w + b
    dxhat = g * w
    dx = rstd * (dxhat - dxhat.mean(-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(-1, keepdims=True))
    return y, dx, (g * xhat).sum(0), g.sum(0)


def _np_cross_entropy(x, target):
    rows = np.arange(x.shape[0])
    shifted = x - x.max(-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(-1, keepdims=True)
    loss = -(shifted[rows, target] - np.log(total[:, 0])).mean()
    grad = e / total
    grad[rows, target] -= 1.0
    return loss, grad / np.float32(x.shape[0])


def _rows(kind):
    def lib_forward(lib, x, w, b):
        functional = lib.nn.functional
        if kind == "softmax":
            return functional.softmax(x, -1)
        if kind == "log_softmax":
            return functional.log_softmax(x, -1)
        return functional.layer_norm(x, (x.shape[-1],), w, b)

    def lib_step(lib, compiled_with, w, b):
        if kind == "cross_entropy":
            def step(x, target):
                x.grad = None
                loss = lib.nn.functional.cross_entropy(x, target)
                loss.backward()
                return loss.detach()
        else:
            def step(x, g):
                x.grad = None
                if w is not None:
                    w.grad = b.grad = None
                y = lib_forward(lib, x, w, b)
                y.backward(g)
                return y.detach()
        return compiled_with(step)

    def lib_args(lib, data):
        x = lib.tensor(data["x"], requires_grad=True)
        other = lib.tensor(data["target"] if kind == "cross_entropy" else data["g"])
        w = b = None
        if kind == "layer_norm":
            w = lib.tensor(data["w"], requires_grad=True)
            b = lib.tensor(data["b"], requires_grad=True)
        return x, other, w, b

    def llgrad_build(params, data, libs):
        import llgrad

        x, other, w, b = lib_args(llgrad, data)
        step = lib_step(llgrad, _llgrad_compile, w, b)
        return (lambda: step(x, other)), step

    def torch_build(params, data, libs, compiled=False):
        torch = libs["torch"]
        x, other, w, b = lib_args(torch, data)
        step = lib_step(torch, lambda f: _torch_maybe_compiled(torch, f, compiled), w, b)
        return lambda: step(x, other)

    def numpy_build(params, data, libs):
        x, g, w, b, target = (data[k] for k in ("x", "g", "w", "b", "target"))
        if kind == "softmax":
            return lambda: _np_softmax(x, g)
        if kind == "log_softmax":
            return lambda: _np_log_softmax(x, g)
        if kind == "layer_norm":
            return lambda: _np_layer_norm(x, g, w, b)
        return lambda: _np_cross_entropy(x, target)

    def jax_build(params, data, libs):
        jax = libs["jax"]
        jnp = jax.numpy
        if kind == "cross_entropy":
            def loss(x, target):
                logp = jax.nn.log_softmax(x, -1)
                return -jnp.mean(jnp.take_along_axis(logp, target[:, None], axis=1))

            return _jax_runner(jax, jax.value_and_grad(loss), data["x"],
                               data["target"].astype(np.int32))

        def layer_norm(x, w, b):
            mean = x.mean(-1, keepdims=True)
            var = ((x - mean) ** 2).mean(-1, keepdims=True)
            return (x - mean) / jnp.sqrt(var + 1e-5) * w + b

        forward = {"softmax": lambda x, w, b: jax.nn.softmax(x, -1),
                   "log_softmax": lambda x, w, b: jax.nn.log_softmax(x, -1),
                   "layer_norm": layer_norm}[kind]
        if kind == "layer_norm":
            def f(x, g, w, b):
                y, vjp = jax.vjp(forward, x, w, b)
                return y, vjp(g)
        else:
            def f(x, g, w, b):
                y, vjp = jax.vjp(lambda x: forward(x, w, b), x)
                return y, vjp(g)

        return _jax_runner(jax, f, data["x"], data["g"], data["w"], data["b"])

    return _builders(llgrad_build, numpy_build, torch_build, jax_build)


# ---- float32 GEMM: square, transposed operands, skinny ---------------------------------------
# params (m, n, k): C (m x n) = A (m x k) @ B (k x n); "nt" multiplies by a stored B's
# transpose (B kept n x k, as nn.Linear's weight), "tn" by A's (A kept k x m: a weight gradient).

def _gemm_data(layout):
    def data(params):
        m, n, k = params
        rng = _rng()
        a = _f32(rng, k, m) if layout == "tn" else _f32(rng, m, k)
        b = _f32(rng, n, k) if layout == "nt" else _f32(rng, k, n)
        return {"a": a, "b": b}
    return data


def _gemm(layout):
    def product(a, b, t):
        if layout == "nt":
            return a @ t(b)
        if layout == "tn":
            return t(a) @ b
        return a @ b

    def llgrad_build(params, data, libs):
        import llgrad

        fn = _llgrad_compile(lambda a, b: product(a, b, lambda v: v.t()))
        a, b = llgrad.tensor(data["a"]), llgrad.tensor(data["b"])
        return (lambda: fn(a, b)), fn

    def numpy_build(params, data, libs):
        a, b = data["a"], data["b"]
        return lambda: product(a, b, np.transpose)

    def torch_build(params, data, libs, compiled=False):
        torch = libs["torch"]
        fn = _torch_maybe_compiled(torch, lambda a, b: product(a, b, lambda v: v.t()), compiled)
        a, b = torch.tensor(data["a"]), torch.tensor(data["b"])
        return lambda: fn(a, b)

    def jax_build(params, data, libs):
        return _jax_runner(libs["jax"], lambda a, b: product(a, b, lambda v: v.T),
                           data["a"], data["b"])

    return _builders(llgrad_build, numpy_build, torch_build, jax_build)


# ---- MLP training steps: Linear/ReLU layers, cross-entropy, SGD with momentum or Adam ---------
# params (batch, sizes): sizes are the layer widths, input first, classes last.

def _mlp_data(params):
    batch, sizes = params
    rng = _rng()
    return {"x": _f32(rng, batch, sizes[0]), "y": rng.integers(0, sizes[-1], batch)}


def mlp_step(lib, sizes, optimizer="sgd", seed=0):
    """The MLP training step every MLP benchmark and test times, for llgrad or torch: Linear
    and ReLU layers of `sizes`, cross-entropy, SGD with momentum ("sgd") or Adam, parameters
    drawn after manual_seed(seed)."""
    lib.manual_seed(seed)
    nn = lib.nn
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    if optimizer == "sgd":
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _init_params(sizes):
    rng = np.random.default_rng(1)
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(a)
        params.append([rng.uniform(-bound, bound, (b, a)).astype(np.float32),
                       rng.uniform(-bound, bound, b).astype(np.float32)])
    return params


class NumpyMLP:
    """The training step by hand in NumPy: forward, cross-entropy's gradient, backward through
    the layers, and the optimizer's update in place (PyTorch's SGD-with-momentum and Adam)."""

    def __init__(self, sizes, optimizer):
        self.params = _init_params(sizes)
        self.optimizer = optimizer
        self.state = [[np.zeros_like(p) for p in layer] for layer in self.params]
        self.second = [[np.zeros_like(p) for p in layer] for layer in self.params]
        self.t = 0

    def __call__(self, x, y):
        inputs, h = [], x
        last = len(self.params) - 1
        for i, (w, b) in enumerate(self.params):
            inputs.append(h)
            h = h @ w.T + b
            if i < last:
                np.maximum(h, 0, out=h)
        loss, dz = _np_cross_entropy(h, y)
        grads = [None] * len(self.params)
        for i in range(last, -1, -1):
            w = self.params[i][0]
            grads[i] = (dz.T @ inputs[i], dz.sum(0))
            if i:
                dz = (dz @ w) * (inputs[i] > 0)
        self.t += 1
        for layer, state, second, grad in zip(self.params, self.state, self.second, grads):
            for p, m, v, g in zip(layer, state, second, grad):
                if self.optimizer == "sgd":
                    m *= 0.9
                    m += g
                    p -= np.float32(0.01) * m
                else:
                    m *= 0.9
                    m += np.float32(0.1) * g
                    v *= 0.999
                    v += np.float32(0.001) * g * g
                    c1, c2 = 1 - 0.9 ** self.t, 1 - 0.999 ** self.t
                    p -= np.float32(1e-3 / c1) * m / (np.sqrt(v / np.float32(c2)) + 1e-8)
        return loss


def jax_mlp_runner(jax, sizes, optimizer, x, y):
    """A zero-argument callable running one jitted JAX training step (SGD with momentum or
    Adam, as PyTorch updates) on x, y; benchmarks/test_scale.py uses it too."""
    jnp = jax.numpy
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in _init_params(sizes)]
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

    def loss_fn(params, x, y):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w.T + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def sgd(params, state, grads):
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + g, state[0], grads)
        return jax.tree_util.tree_map(lambda p, m: p - 0.01 * m, params, m), (m,)

    def adam(params, state, grads):
        m, v, t = state
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grads)
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - 1e-3 * (m / c1) / (jnp.sqrt(v / c2) + 1e-8), params, m, v)
        return params, (m, v, t)

    update = sgd if optimizer == "sgd" else adam
    state = [params, (zeros,) if optimizer == "sgd" else (zeros, zeros, jnp.float32(0))]

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        params, opt_state = update(params, opt_state, grads)
        return params, opt_state, loss

    x, y = jnp.asarray(x), jnp.asarray(y.astype(np.int32))

    def run():
        state[0], state[1], loss = step(state[0], state[1], x, y)
        return loss.block_until_ready()

    return run


def _mlp(optimizer):
    def llgrad_build(params, data, libs):
        import llgrad

        batch, sizes = params
        step = _llgrad_compile(mlp_step(llgrad, sizes, optimizer))
        x, y = llgrad.tensor(data["x"]), llgrad.tensor(data["y"])
        return (lambda: step(x, y)), step

    def numpy_build(params, data, libs):
        step = NumpyMLP(params[1], optimizer)
        return lambda: step(data["x"], data["y"])

    def torch_build(params, data, libs, compiled=False):
        torch = libs["torch"]
        step = _torch_maybe_compiled(torch, mlp_step(torch, params[1], optimizer), compiled)
        x, y = torch.tensor(data["x"]), torch.tensor(data["y"])
        return lambda: step(x, y)

    def jax_build(params, data, libs):
        return jax_mlp_runner(libs["jax"], params[1], optimizer, data["x"], data["y"])

    return _builders(llgrad_build, numpy_build, torch_build, jax_build)


def _mlp_name(params):
    batch, sizes = params
    return f"{batch}x" + "-".join(map(str, sizes))


# ---- the table ---------------------------------------------------------------------------------
# "cache": the working set (inputs, outputs, gradients) fits a 32 MiB last-level cache with room
# to spare (~4 MiB); "dram": 32 MiB and more per array, a working set 4x that cache and more.

def _table():
    cases = []
    for kind in ELEMENTWISE:
        cases.append(Case(f"{kind}-fwd-bwd", "elementwise",
                          {"tiny": (4096,), "cache": (1 << 18,), "dram": (1 << 23,)},
                          _elementwise_data, _elementwise(kind),
                          quick=("cache",) if kind == "gelu" else ()))
    for op in ("sum", "max"):
        for axis, where in ((1, "rows"), (0, "cols")):
            cases.append(Case(f"{op}-over-{where}", "reduction",
                              {"tiny": (64, 64), "cache": (512, 512), "dram": (4096, 4096)},
                              _matrix_data, _reduction(op, axis),
                              quick=("dram",) if (op, axis) == ("sum", 1) else ()))
    for kind in ("softmax", "log_softmax", "layer_norm", "cross_entropy"):
        cases.append(Case(kind.replace("_", "-") + "-fwd-bwd", "rows",
                          {"tiny": (16, 64), "cache": (256, 1024), "dram": (4096, 2048)},
                          _matrix_data, _rows(kind),
                          quick=("cache",) if kind in ("softmax", "layer_norm") else ()))
    gemms = [("sgemm-nn", "nn", (256, 256, 256), (2048, 2048, 2048)),
             ("sgemm-nt", "nt", (256, 256, 256), (1024, 1024, 1024)),
             ("sgemm-tn", "tn", (256, 256, 256), (1024, 1024, 1024)),
             ("sgemm-skinny", "nn", (32, 512, 512), (32, 4096, 4096)),
             ("sgemm-skinny-nt", "nt", (32, 512, 512), (32, 4096, 4096))]
    for name, layout, cache, dram in gemms:
        cases.append(Case(name, "gemm", {"tiny": (32, 32, 32), "cache": cache, "dram": dram},
                          _gemm_data(layout), _gemm(layout),
                          quick=("cache",) if name == "sgemm-nn" else (),
                          describe=lambda p: "{}x{}x{}".format(*p)))
    for optimizer in ("sgd", "adam"):
        cases.append(Case(f"mlp-{optimizer}-step", "mlp",
                          {"tiny": (8, (16, 32, 10)), "cache": (128, (784, 512, 512, 10)),
                           "dram": (512, (1024, 2048, 2048, 10))},
                          _mlp_data, _mlp(optimizer),
                          describe=_mlp_name))
    cases.append(Case("mlp-sgd-step-small", "mlp",
                      {"tiny": (8, (16, 32, 10)), "cache": (32, (64, 128, 128, 10))},
                      _mlp_data, _mlp("sgd"), quick=("cache",), full_only=True,
                      describe=_mlp_name))
    return cases


CASES = _table()


def select(mode, matches=None):
    """(case, size) pairs a run of `mode` ("tiny", "quick", "default", "full") measures, in
    table order, filtered by `matches(ident)` (the -k expression)."""
    chosen = []
    for case in CASES:
        if mode == "quick":
            sizes = case.quick
        elif mode == "tiny":
            sizes = ("tiny",)
        else:
            if case.full_only and mode != "full":
                continue
            sizes = tuple(s for s in ("cache", "dram") if s in case.sizes)
        for size in sizes:
            if matches is None or matches(case.ident(size)):
                chosen.append((case, size))
    return chosen
