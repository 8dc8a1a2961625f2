"""nn.functional against PyTorch: losses with every reduction and option, their gradients and
autograd graphs (node names along the whole chain), the other functional ops, error messages."""
import warnings

import numpy as np
import pytest

import llgrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def graph(fn):
    """The autograd graph below a node as nested names (AccumulateGrad leaves as 'leaf'). Empty
    edges are left out: llgrad's MaskedFillBackward0 keeps one for a scalar fill value where
    PyTorch's has none."""
    if fn is None:
        return None
    name = type(fn).__name__ if not hasattr(fn, "name") or type(fn).__name__ == "AccumulateGrad" \
        else fn.name()
    if name == "AccumulateGrad":
        return "leaf"
    return (name, tuple(graph(child) for child, _ in fn.next_functions if child is not None))


def compare(fn, arrays, grads=(0,), rtol=1e-5, atol=1e-6, check_graph=True):
    """Run fn(lib, *tensors) in both libraries; compare values, gradients and graphs."""
    outs = []
    for lib in (llgrad, torch):
        tensors = [lib.tensor(a, requires_grad=(i in grads)) if a.dtype.kind == "f"
                   else lib.tensor(a) for i, a in enumerate(arrays)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(lib, *tensors)
        upstream = np.ones(tuple(out.shape), dtype=out.detach().numpy().dtype) * 0.7
        if out.requires_grad:
            out.backward(lib.tensor(upstream))
        outs.append((out, [t.grad for i, t in enumerate(tensors) if i in grads]))
    (ll, ll_grads), (th, th_grads) = outs
    np.testing.assert_allclose(ll.detach().numpy(), th.detach().numpy(), rtol=rtol, atol=atol)
    assert tuple(ll.shape) == tuple(th.shape)
    for a, b in zip(ll_grads, th_grads):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=rtol, atol=atol)
    if check_graph:
        assert graph(ll.grad_fn) == graph(th.grad_fn)
    return ll, th


REDUCTIONS = ["mean", "sum", "none"]
X = randn(5, 4)
Y = randn(5, 4)
T = np.array([0, 3, 1, 3, 2], dtype=np.int64)
T_IGNORE = np.array([0, -100, 1, 3, -100], dtype=np.int64)
W = np.abs(randn(4)) + 0.1
PROBS = RNG.uniform(0.05, 0.95, (5, 4)).astype(np.float32)
LABELS = (RNG.uniform(size=(5, 4)) > 0.5).astype(np.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss(reduction):
    compare(lambda lib, x, y: lib.nn.functional.mse_loss(x, y, reduction=reduction), [X, Y],
            grads=(0, 1))
    compare(lambda lib, x, y: lib.nn.MSELoss(reduction=reduction)(x, y), [X, Y], grads=(0,))
    # broadcasting target (PyTorch warns, then broadcasts inside the one node)
    compare(lambda lib, x, y: lib.nn.functional.mse_loss(x, y, reduction=reduction),
            [X, Y[0]], grads=(0, 1))
    compare(lambda lib, x, y, w: lib.nn.functional.mse_loss(x, y, reduction=reduction, weight=w),
            [X, Y, np.abs(Y)], grads=(0,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss(reduction):
    compare(lambda lib, x, y: lib.nn.functional.l1_loss(x, y, reduction=reduction), [X, Y],
            grads=(0, 1))
    compare(lambda lib, x, y: lib.nn.L1Loss(reduction=reduction)(x, y), [X, Y])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": W}, {"ignore_index": -100},
                                     {"label_smoothing": 0.15},
                                     {"label_smoothing": 0.1, "weight": W}])
def test_cross_entropy_class_indices(reduction, options):
    options = dict(options)
    weight = options.pop("weight", None)
    target = T_IGNORE if "ignore_index" in options or "label_smoothing" in options else T

    def fn(lib, x, t):
        w = None if weight is None else lib.tensor(weight)
        return lib.nn.functional.cross_entropy(x, t, weight=w, reduction=reduction, **options)

    compare(fn, [X, target])

    def module(lib, x, t):
        w = None if weight is None else lib.tensor(weight)
        return lib.nn.CrossEntropyLoss(weight=w, reduction=reduction, **options)(x, t)

    compare(module, [X, target])


def test_cross_entropy_graph_is_nll_over_log_softmax():
    x = llgrad.randn(3, 4, requires_grad=True)
    loss = llgrad.nn.functional.cross_entropy(x, llgrad.tensor([0, 1, 3]))
    assert loss.grad_fn.name() == "NllLossBackward0"
    assert loss.grad_fn.next_functions[0][0].name() == "LogSoftmaxBackward0"


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_probabilities(reduction, label_smoothing):
    target = np.exp(Y) / np.exp(Y).sum(1, keepdims=True)
    compare(lambda lib, x, t: lib.nn.functional.cross_entropy(
        x, t, reduction=reduction, label_smoothing=label_smoothing), [X, target])
    compare(lambda lib, x, t, w: lib.nn.functional.cross_entropy(
        x, t, weight=w, reduction=reduction, label_smoothing=label_smoothing),
        [X, target, W], grads=(0,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_higher_rank_and_1d(reduction):
    x = randn(2, 4, 3)
    t = np.array([[0, 1, 3], [2, 2, -100]], dtype=np.int64)
    compare(lambda lib, a, b: lib.nn.functional.cross_entropy(a, b, reduction=reduction), [x, t])
    x4 = randn(2, 4, 3, 2)
    t4 = RNG.integers(0, 4, (2, 3, 2))
    compare(lambda lib, a, b: lib.nn.functional.cross_entropy(a, b, reduction=reduction),
            [x4, t4])
    compare(lambda lib, a, b: lib.nn.functional.cross_entropy(a[0], b[0], reduction=reduction),
            [X, T])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    logp = np.log(PROBS / PROBS.sum(1, keepdims=True))
    compare(lambda lib, x, t: lib.nn.functional.nll_loss(x, t, reduction=reduction), [logp, T])
    compare(lambda lib, x, t, w: lib.nn.NLLLoss(weight=w, reduction=reduction)(x, t),
            [logp, T, W], grads=(0,))
    compare(lambda lib, x, t: lib.nn.functional.nll_loss(x, t, reduction=reduction,
                                                         ignore_index=3), [logp, T])
    compare(lambda lib, x, t: lib.nn.functional.nll_loss(x.reshape(5, 2, 2), t,
                                                         reduction=reduction),
            [logp, RNG.integers(0, 2, (5, 2))])


def test_nll_loss_all_ignored_is_nan_like_torch():
    ll = llgrad.nn.functional.nll_loss(llgrad.randn(2, 3), llgrad.tensor([-100, -100]))
    th = torch.nn.functional.nll_loss(torch.randn(2, 3), torch.tensor([-100, -100]))
    assert np.isnan(ll.item()) and np.isnan(th.item())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    compare(lambda lib, p, y: lib.nn.functional.binary_cross_entropy(p, y, reduction=reduction),
            [PROBS, LABELS], grads=(0, 1))
    compare(lambda lib, x, y: lib.nn.functional.binary_cross_entropy(x.sigmoid(), y,
                                                                     reduction=reduction),
            [X, PROBS])
    compare(lambda lib, p, y, w: lib.nn.BCELoss(weight=w, reduction=reduction)(p, y),
            [PROBS, LABELS, W], grads=(0,))
    # saturated probabilities: PyTorch clamps the logs at -100
    compare(lambda lib, p, y: lib.nn.functional.binary_cross_entropy(p, y, reduction=reduction),
            [np.array([0.0, 1.0, 0.5], np.float32), np.array([1.0, 0.0, 1.0], np.float32)],
            grads=())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    F = "binary_cross_entropy_with_logits"
    compare(lambda lib, x, y: getattr(lib.nn.functional, F)(x, y, reduction=reduction),
            [X * 4, PROBS], grads=(0, 1))
    compare(lambda lib, x, y, w, pw: getattr(lib.nn.functional, F)(
        x, y, weight=w, pos_weight=pw, reduction=reduction),
        [X * 4, PROBS, W, W[::-1].copy()], grads=(0, 1))
    compare(lambda lib, x, y, pw: lib.nn.BCEWithLogitsLoss(pos_weight=pw, reduction=reduction)(
        x, y), [X * 30, LABELS, W], grads=(0,))


def test_loss_module_reprs_and_buffers():
    for name in ("MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
                 "BCEWithLogitsLoss"):
        assert repr(getattr(llgrad.nn, name)()) == repr(getattr(torch.nn, name)())
    ll = llgrad.nn.CrossEntropyLoss(weight=llgrad.ones(3))
    th = torch.nn.CrossEntropyLoss(weight=torch.ones(3))
    assert repr(ll.state_dict()) == repr(th.state_dict()).replace("torch", "llgrad")
    assert list(llgrad.nn.BCEWithLogitsLoss().state_dict()) == []
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert llgrad.nn.MSELoss(size_average=False).reduction == "sum"


def test_loss_errors_match_torch():
    F = llgrad.nn.functional
    x = llgrad.randn(4, 3)
    cases = [
        (lambda: F.nll_loss(x, llgrad.tensor([0, 1, 2, 3])), IndexError,
         "Target 3 is out of bounds."),
        (lambda: F.nll_loss(x, llgrad.tensor([0.0, 1, 2, 1])), RuntimeError,
         "expected target dtype to be Long or Byte, but got Float"),
        (lambda: F.cross_entropy(x, llgrad.tensor([0, 1, 2])), ValueError,
         r"Expected input batch_size \(4\) to match target batch_size \(3\)."),
        (lambda: F.nll_loss(x, llgrad.tensor([0, 1, 2, 1]), reduction="foo"), ValueError,
         "foo is not a valid value for reduction"),
        (lambda: F.cross_entropy(x, llgrad.tensor([0, 1, 2, 1]), label_smoothing=1.5),
         RuntimeError, "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
        (lambda: F.cross_entropy(x, llgrad.tensor([0, 1, 2, 1]), weight=llgrad.ones(4)),
         RuntimeError, r"weight tensor should be defined either for all 3 classes or no classes "
                       r"but got weight tensor of shape: \[4\]"),
        (lambda: F.binary_cross_entropy(x, x), RuntimeError,
         "all elements of input should be between 0 and 1"),
        (lambda: F.binary_cross_entropy(x.sigmoid(), x[0].sigmoid()), ValueError,
         "that is different to the input size"),
        (lambda: F.binary_cross_entropy_with_logits(x, x[0]), ValueError,
         "must be the same as input size"),
        (lambda: F.mse_loss(x, llgrad.randn(5, 3)), RuntimeError,
         r"The size of tensor a \(4\) must match the size of tensor b \(5\) at non-singleton "
         r"dimension 0"),
        (lambda: F.nll_loss(x, llgrad.tensor([0, 1, 2, 1]), weight=llgrad.ones(3,
                                                                              requires_grad=True)),
         RuntimeError, "The function 'nll_loss_forward' is not differentiable with respect to "
                       "argument 'weight'. This input cannot have requires_grad True."),
    ]
    for fn, error, message in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(error, match=message):
                fn()
    with pytest.warns(UserWarning, match=r"Using a target size \(llgrad.Size\(\[3\]\)\) that is "
                                         r"different to the input size"):
        F.mse_loss(x, llgrad.randn(3))


def test_activations_functional():
    F = "functional"
    for name, kwargs in [("relu", {}), ("gelu", {}), ("gelu", {"approximate": "tanh"}),
                         ("silu", {}), ("leaky_relu", {"negative_slope": 0.3}), ("elu", {}),
                         ("softplus", {"beta": 2.0}), ("hardtanh", {}), ("relu6", {}),
                         ("logsigmoid", {}), ("softsign", {}), ("tanhshrink", {}),
                         ("sigmoid", {}), ("tanh", {}), ("softmax", {"dim": 1}),
                         ("softmin", {"dim": 0}), ("log_softmax", {"dim": -1})]:
        compare(lambda lib, x: getattr(getattr(lib.nn, F), name)(x, **kwargs), [X * 3])


def test_inplace_activations():
    for lib in (llgrad, torch):
        x = lib.tensor([-1.0, 2.0])
        out = lib.nn.functional.relu(x, inplace=True)
        assert out is x and x.tolist() == [0.0, 2.0]


def test_linear_functional_and_nodes():
    w, b = randn(3, 4), randn(3)
    for shape in [(4,), (2, 4), (2, 5, 4)]:
        x = randn(*shape)
        compare(lambda lib, a, c, d: lib.nn.functional.linear(a, c, d), [x, w, b], grads=(0, 1, 2))
    compare(lambda lib, a, c: lib.nn.functional.linear(a, c), [randn(2, 4), w], grads=(0, 1))


@pytest.mark.parametrize("p", [1, 2, 3.0])
def test_normalize(p):
    x = X.copy()
    x[1] = 0.0  # a zero row: the norm is clamped, the gradient stays finite
    compare(lambda lib, a: lib.nn.functional.normalize(a, p=p, dim=1), [x])
    compare(lambda lib, a: lib.nn.functional.normalize(a, dim=0), [x])


@pytest.mark.parametrize("pads", [(1, 2), (0, 0, 1, 1), (-1, 2, 1, -2), (2, 1, 0, 0, 1, 1)])
def test_pad_constant(pads):
    x = randn(2, 3, 4)
    compare(lambda lib, a: lib.nn.functional.pad(a, pads), [x])
    compare(lambda lib, a: lib.nn.functional.pad(a, pads, value=-2.5), [x])
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        llgrad.nn.functional.pad(llgrad.tensor(x), (1,))


def test_one_hot():
    for num_classes in (-1, 5):
        a = llgrad.nn.functional.one_hot(llgrad.tensor([0, 2, 1]), num_classes)
        b = torch.nn.functional.one_hot(torch.tensor([0, 2, 1]), num_classes)
        assert a.tolist() == b.tolist() and a.dtype is llgrad.int64
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        llgrad.nn.functional.one_hot(llgrad.tensor([1.0]))
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        llgrad.nn.functional.one_hot(llgrad.tensor([-1]))


def test_embedding_functional():
    w = randn(6, 3)
    idx = np.array([[1, 2], [5, 1]], dtype=np.int64)
    compare(lambda lib, i, e: lib.nn.functional.embedding(i, e), [idx, w], grads=(1,))
    compare(lambda lib, i, e: lib.nn.functional.embedding(i, e, padding_idx=1), [idx, w],
            grads=(1,))


def test_layer_norm_functional():
    x, w, b = randn(3, 2, 5), randn(2, 5), randn(2, 5)
    compare(lambda lib, a, c, d: lib.nn.functional.layer_norm(a, (2, 5), c, d, eps=1e-3),
            [x, w, b], grads=(0, 1, 2))
    compare(lambda lib, a, c: lib.nn.functional.layer_norm(a, (5,), c), [x, w[0]], grads=(0, 1))


def test_clip_grad_norm_matches_torch():
    results = []
    for lib in (llgrad, torch):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))
        model(lib.ones(5, 3) * 3).pow(2).sum().backward()
        norm = lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        results.append((norm.item(), [p.grad.numpy().copy() for p in model.parameters()]))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5)


# ---- smooth L1, Huber, KL divergence -----------------------------------------------------------

# Differences of every size around the loss's kink (beta or delta away from zero).
SPREAD = (RNG.standard_normal((5, 4)) * 2).astype(np.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1_loss(reduction, beta):
    compare(lambda lib, x, y: lib.nn.functional.smooth_l1_loss(x, y, reduction=reduction,
                                                               beta=beta),
            [SPREAD, Y], grads=(0, 1))
    compare(lambda lib, x, y: lib.nn.SmoothL1Loss(reduction=reduction, beta=beta)(x, y),
            [SPREAD, Y[0]], grads=(0,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3])
def test_huber_loss(reduction, delta):
    compare(lambda lib, x, y: lib.nn.functional.huber_loss(x, y, reduction=reduction,
                                                           delta=delta),
            [SPREAD, Y], grads=(0, 1))
    compare(lambda lib, x, y: lib.nn.HuberLoss(reduction=reduction, delta=delta)(x, y),
            [SPREAD, Y], grads=(0,))
    compare(lambda lib, x, y, w: lib.nn.functional.huber_loss(x, y, reduction=reduction,
                                                              delta=delta, weight=w),
            [SPREAD, Y, np.abs(Y)], grads=(0, 2))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    target = np.log(PROBS) if log_target else PROBS
    compare(lambda lib, x, t: lib.nn.functional.kl_div(x, t, reduction=reduction,
                                                       log_target=log_target),
            [np.log(PROBS[::-1].copy()), target], grads=(0,))
    compare(lambda lib, x, t: lib.nn.KLDivLoss(reduction=reduction, log_target=log_target)(x, t),
            [np.log(PROBS[::-1].copy()), target], grads=(0, 1))


def test_kl_div_zero_targets_and_mean_warning_like_torch():
    zero_rows = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], dtype=np.float32)
    compare(lambda lib, x, t: lib.nn.functional.kl_div(x, t, reduction="sum"),
            [randn(2, 3), zero_rows], grads=(0, 1))
    with pytest.warns(UserWarning, match="reduction: 'mean' divides the total loss by both"):
        llgrad.nn.functional.kl_div(llgrad.zeros(2), llgrad.ones(2))


def test_xlogy_matches_torch():
    compare(lambda lib, x, y: lib.xlogy(x, y), [np.array([0.0, 1.5, 2.0, 0.0], np.float32),
                                               np.array([0.0, 2.0, 0.5, 3.0], np.float32)],
            grads=(0, 1))
    compare(lambda lib, y: lib.xlogy(2.0, y), [np.abs(Y) + 0.1], grads=(0,))
    compare(lambda lib, x: x.xlogy(3.0), [Y], grads=(0,))


def test_new_losses_pass_gradcheck():
    F = llgrad.nn.functional
    rng = np.random.default_rng(3)
    x = llgrad.tensor(rng.standard_normal((3, 4)) * 2, requires_grad=True)
    y = llgrad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    # keep the differences off the kinks, where finite differences mean nothing
    assert (((x - y).abs() - 1.0).abs() > 1e-3).all() and (((x - y).abs() - 0.5).abs() > 1e-3).all()
    p = llgrad.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    for fn in (lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
               lambda a, b: F.huber_loss(a, b, reduction="sum"),
               lambda a, b: F.kl_div(a, b.sigmoid(), reduction="batchmean")):
        assert llgrad.autograd.gradcheck(fn, (x, y))
    assert llgrad.autograd.gradcheck(lambda a: F.kl_div(x, a, reduction="sum"), (p,))


def test_new_loss_module_reprs_and_errors_match_torch():
    for name, kwargs in (("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {"delta": 2.0}),
                         ("KLDivLoss", {"reduction": "batchmean", "log_target": True})):
        ll, th = getattr(llgrad.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
        assert repr(ll) == repr(th)
        assert {k: getattr(ll, k) for k in kwargs} == {k: getattr(th, k) for k in kwargs}
    for call in (lambda lib: lib.nn.functional.smooth_l1_loss(lib.ones(2), lib.ones(2), beta=-1),
                 lambda lib: lib.nn.functional.huber_loss(lib.ones(2), lib.ones(2), delta=0),
                 lambda lib: lib.nn.functional.kl_div(lib.ones(2), lib.ones(2), reduction="x"),
                 lambda lib: lib.nn.HuberLoss(delta="1")):
        errors = []
        for lib in (llgrad, torch):
            with pytest.raises(Exception) as error:
                call(lib)
            errors.append((type(error.value), str(error.value)))
        assert errors[0] == errors[1]


# ---- batch norm --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_functional(shape, affine):
    def run(lib, x, w, b):
        mean, var = lib.zeros(3), lib.ones(3)
        out = lib.nn.functional.batch_norm(x, mean, var, w if affine else None,
                                           b if affine else None, training=True, momentum=0.3)
        return out * (1 + mean.sum() + var.sum())  # (the updated running statistics)

    compare(run, [randn(*shape), randn(3), randn(3)], grads=(0, 1, 2), rtol=1e-4, atol=1e-5,
            check_graph=False)
    compare(lambda lib, x, w, b: lib.nn.functional.batch_norm(
        x, None, None, w if affine else None, b if affine else None, training=True),
        [randn(*shape), randn(3), randn(3)], grads=(0, 1, 2), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 4)])
def test_batch_norm_eval_functional(shape):
    stats = [RNG.standard_normal(3).astype(np.float32), RNG.uniform(0.5, 2, 3).astype(np.float32)]
    compare(lambda lib, x, w, b, m, v: lib.nn.functional.batch_norm(x, m, v, w, b),
            [randn(*shape), randn(3), randn(3)] + stats, grads=(0, 1, 2))
    compare(lambda lib, x, m, v: lib.nn.functional.batch_norm(x, m, v), [randn(*shape)] + stats,
            grads=(0,))


def test_batch_norm_passes_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(4)
    F = llgrad.nn.functional
    x = llgrad.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    w = llgrad.tensor(rng.standard_normal(3), requires_grad=True)
    b = llgrad.tensor(rng.standard_normal(3), requires_grad=True)
    m = llgrad.tensor(rng.standard_normal(3))
    v = llgrad.tensor(rng.uniform(0.5, 2, 3))
    train = lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True)  # noqa: E731
    evaluate = lambda x, w, b: F.batch_norm(x, m, v, w, b)  # noqa: E731
    for fn in (train, evaluate):
        assert llgrad.autograd.gradcheck(fn, (x, w, b))
    assert llgrad.autograd.gradgradcheck(train, (x, w, b))


def test_batch_norm_errors_match_torch():
    for call in (lambda lib: lib.nn.functional.batch_norm(lib.ones(1, 3), None, None,
                                                          training=True),
                 lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), lib.zeros(2),
                                                          lib.ones(3)),
                 lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None,
                                                          training=True, eps=0.0)):
        errors = []
        for lib in (llgrad, torch):
            with pytest.raises(Exception) as error:
                call(lib)
            errors.append((type(error.value), str(error.value).replace("torch.", "llgrad.")))
        assert errors[0] == errors[1]
