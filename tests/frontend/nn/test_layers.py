"""Each layer against PyTorch: same weights (copied across), same input and upstream gradient;
outputs, input and parameter gradients, grad_fn names and reprs must agree. Seeded
initialization must give PyTorch's weights bit for bit."""
import numpy as np
import pytest

import llgrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def copy_weights(src_torch, dst_llgrad):
    """Load the torch module's state dict into the llgrad module (exact values)."""
    state = {k: llgrad.tensor(v.detach().numpy()) for k, v in src_torch.state_dict().items()}
    dst_llgrad.load_state_dict(state)


def run_both(ll_module, th_module, inputs, grad_inputs=(0,), train=True, atol=1e-5, rtol=1e-5):
    """Forward and backward in both libraries; compare output, gradients, grad_fn name."""
    ll_module.train(train)
    th_module.train(train)
    ll_in = [llgrad.tensor(a, requires_grad=i in grad_inputs) if a.dtype.kind == "f"
             else llgrad.tensor(a) for i, a in enumerate(inputs)]
    th_in = [torch.tensor(a, requires_grad=i in grad_inputs) if a.dtype.kind == "f"
             else torch.tensor(a) for i, a in enumerate(inputs)]
    ll_out = ll_module(*ll_in)
    th_out = th_module(*th_in)
    np.testing.assert_allclose(ll_out.detach().numpy(), th_out.detach().numpy(), rtol=rtol,
                               atol=atol)
    assert ll_out.dtype.name == str(th_out.dtype).replace("torch.", "")
    if th_out.grad_fn is not None:
        assert ll_out.grad_fn.name() == type(th_out.grad_fn).__name__
    upstream = _randn(*th_out.shape, dtype=th_out.detach().numpy().dtype)
    ll_out.backward(llgrad.tensor(upstream))
    th_out.backward(torch.tensor(upstream))
    for i in grad_inputs:
        np.testing.assert_allclose(ll_in[i].grad.numpy(), th_in[i].grad.numpy(), rtol=rtol,
                                   atol=atol)
    ll_params = dict(ll_module.named_parameters())
    for name, p in th_module.named_parameters():
        if p.grad is None:
            assert ll_params[name].grad is None
        else:
            np.testing.assert_allclose(ll_params[name].grad.numpy(), p.grad.numpy(), rtol=rtol,
                                       atol=atol, err_msg=name)
    return ll_out, th_out


LAYERS = [
    # (id, constructor taking the nn namespace, input arrays)
    ("linear", lambda nn: nn.Linear(5, 3), [_randn(4, 5)]),
    ("linear_1d", lambda nn: nn.Linear(5, 3), [_randn(5)]),
    ("linear_3d", lambda nn: nn.Linear(5, 3), [_randn(2, 4, 5)]),
    ("linear_nobias", lambda nn: nn.Linear(5, 3, bias=False), [_randn(4, 5)]),
    ("linear_f64", lambda nn: nn.Linear(5, 3, dtype=nn._dtype64), [_randn(4, 5, dtype=np.float64)]),
    ("identity", lambda nn: nn.Identity(3, foo=1), [_randn(4, 5)]),
    ("relu", lambda nn: nn.ReLU(), [_randn(4, 5)]),
    ("sigmoid", lambda nn: nn.Sigmoid(), [_randn(4, 5)]),
    ("tanh", lambda nn: nn.Tanh(), [_randn(4, 5)]),
    ("gelu", lambda nn: nn.GELU(), [_randn(4, 5)]),
    ("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), [_randn(4, 5)]),
    ("silu", lambda nn: nn.SiLU(), [_randn(4, 5)]),
    ("leaky_relu", lambda nn: nn.LeakyReLU(0.2), [_randn(4, 5)]),
    ("elu", lambda nn: nn.ELU(), [_randn(4, 5)]),
    ("softplus", lambda nn: nn.Softplus(), [_randn(4, 5)]),
    ("hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.5), [_randn(4, 5)]),
    ("relu6", lambda nn: nn.ReLU6(), [_randn(4, 5) * 5]),
    ("logsigmoid", lambda nn: nn.LogSigmoid(), [_randn(4, 5) * 10]),
    ("softmax", lambda nn: nn.Softmax(dim=1), [_randn(4, 5)]),
    ("softmax0", lambda nn: nn.Softmax(dim=0), [_randn(4, 5)]),
    ("softmin", lambda nn: nn.Softmin(dim=-1), [_randn(4, 5)]),
    ("log_softmax", lambda nn: nn.LogSoftmax(dim=1), [_randn(4, 5)]),
    ("layer_norm", lambda nn: nn.LayerNorm(5), [_randn(4, 5)]),
    ("layer_norm_2d", lambda nn: nn.LayerNorm([3, 5], eps=1e-3), [_randn(2, 3, 5)]),
    ("layer_norm_noaffine", lambda nn: nn.LayerNorm(5, elementwise_affine=False), [_randn(4, 5)]),
    ("layer_norm_nobias", lambda nn: nn.LayerNorm(5, bias=False), [_randn(4, 5)]),
    ("flatten", lambda nn: nn.Flatten(), [_randn(2, 3, 4)]),
    ("flatten_range", lambda nn: nn.Flatten(0, 1), [_randn(2, 3, 4)]),
    ("unflatten", lambda nn: nn.Unflatten(1, (2, 2)), [_randn(3, 4)]),
    ("dropout_eval", lambda nn: nn.Dropout(0.3), [_randn(4, 5)]),
    ("mlp", lambda nn: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(),
                                     nn.LayerNorm(8), nn.Linear(8, 2)), [_randn(6, 5)]),
]


class _NN:
    """The nn namespace plus the float64 dtype of the library (for dtype= arguments)."""

    def __init__(self, module, dtype64):
        self.__dict__.update({k: getattr(module, k) for k in dir(module) if not k.startswith("_")})
        self._dtype64 = dtype64


LL_NN = _NN(llgrad.nn, llgrad.float64)
TH_NN = _NN(torch.nn, torch.float64)


@pytest.mark.parametrize("name,make,inputs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, make, inputs):
    torch.manual_seed(0)
    th = make(TH_NN)
    ll = make(LL_NN)
    copy_weights(th, ll)
    assert repr(ll) == repr(th)
    run_both(ll, th, inputs, train=not name.startswith("dropout"))


@pytest.mark.parametrize("name,make,inputs", LAYERS, ids=[c[0] for c in LAYERS])
def test_seeded_init_is_bit_identical(name, make, inputs):
    for seed in (0, 7):
        torch.manual_seed(seed)
        th = make(TH_NN)
        llgrad.manual_seed(seed)
        ll = make(LL_NN)
        th_state = th.state_dict()
        ll_state = ll.state_dict()
        assert list(ll_state) == list(th_state)
        for k in th_state:
            assert np.array_equal(ll_state[k].numpy(), th_state[k].numpy()), k


@pytest.mark.parametrize("shape", [(1, 1), (10, 1), (1, 10), (7, 13), (64, 32)])
def test_linear_default_init_and_random_stream(shape):
    for seed in (0, 1, 1234):
        torch.manual_seed(seed)
        th = torch.nn.Linear(shape[1], shape[0])
        th_next = torch.rand(3)
        llgrad.manual_seed(seed)
        ll = llgrad.nn.Linear(shape[1], shape[0])
        ll_next = llgrad.rand(3)
        assert np.array_equal(ll.weight.detach().numpy(), th.weight.detach().numpy())
        assert np.array_equal(ll.bias.detach().numpy(), th.bias.detach().numpy())
        assert np.array_equal(ll_next.numpy(), th_next.numpy())  # same number of draws


def test_embedding_matches_torch():
    for kwargs in ({}, {"padding_idx": 1}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                   {"padding_idx": 0, "scale_grad_by_freq": True}):
        torch.manual_seed(3)
        th = torch.nn.Embedding(6, 4, **kwargs)
        llgrad.manual_seed(3)
        ll = llgrad.nn.Embedding(6, 4, **kwargs)
        assert np.array_equal(ll.weight.detach().numpy(), th.weight.detach().numpy())
        assert repr(ll) == repr(th)
        idx = np.array([[0, 1, 2], [1, 1, 5]], dtype=np.int64)
        ll_out, th_out = run_both(ll, th, [idx], grad_inputs=())
        assert ll_out.grad_fn.name() == "EmbeddingBackward0"


def test_embedding_max_norm_renormalizes_like_torch():
    torch.manual_seed(3)
    th = torch.nn.Embedding(6, 4, max_norm=1.0)
    ll = llgrad.nn.Embedding(6, 4, max_norm=1.0)
    copy_weights(th, ll)
    idx = np.array([0, 2, 2, 4], dtype=np.int64)
    run_both(ll, th, [idx], grad_inputs=())
    np.testing.assert_allclose(ll.weight.detach().numpy(), th.weight.detach().numpy(), rtol=1e-6)


def test_embedding_from_pretrained_and_errors():
    w = np.arange(6, dtype=np.float32).reshape(3, 2)
    th = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    ll = llgrad.nn.Embedding.from_pretrained(llgrad.tensor(w))
    assert repr(ll) == repr(th)
    assert ll.weight.requires_grad is False
    with pytest.raises(IndexError, match="index out of range in self"):
        ll(llgrad.tensor([3]))


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_dropout_mask_matches_torch(p):
    x = _randn(8, 16)
    torch.manual_seed(5)
    th_x = torch.tensor(x, requires_grad=True)
    th_out = torch.nn.functional.dropout(th_x, p)
    llgrad.manual_seed(5)
    ll_x = llgrad.tensor(x, requires_grad=True)
    ll_out = llgrad.nn.functional.dropout(ll_x, p)
    assert np.array_equal(ll_out.detach().numpy(), th_out.detach().numpy())
    if p == 0.0:
        assert ll_out is ll_x
        return
    assert ll_out.grad_fn.name() == type(th_out.grad_fn).__name__ == "MulBackward0"
    ll_out.sum().backward()
    th_out.sum().backward()
    assert np.array_equal(ll_x.grad.numpy(), th_x.grad.numpy())


def test_dropout_module_train_eval():
    x = llgrad.randn(4, 4)
    drop = llgrad.nn.Dropout(0.5)
    assert repr(drop) == repr(torch.nn.Dropout(0.5)) == "Dropout(p=0.5, inplace=False)"
    drop.eval()
    assert drop(x) is x
    drop.train()
    llgrad.manual_seed(0)
    torch.manual_seed(0)
    assert np.array_equal(drop(x).numpy(), torch.nn.Dropout(0.5)(torch.tensor(x.numpy())).numpy())
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got"):
        llgrad.nn.Dropout(1.5)


def test_layer_norm_node_and_next_functions():
    ln = llgrad.nn.LayerNorm(3)
    x = llgrad.randn(2, 3, requires_grad=True)
    out = ln(x)
    assert out.grad_fn.name() == "NativeLayerNormBackward0"
    assert len(out.grad_fn.next_functions) == 3
    plain = llgrad.nn.functional.layer_norm(llgrad.randn(2, 3), (3,))
    assert plain.grad_fn is None
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                                           r"shape \[\*, 4\], but got input of size\[2, 3\]"):
        llgrad.nn.functional.layer_norm(x, (4,))


def test_layer_norm_double_backward_matches_torch():
    x = _randn(3, 4, dtype=np.float64)
    w = _randn(4, dtype=np.float64)
    results = []
    for lib in (llgrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        out = lib.nn.functional.layer_norm(xt, (4,), wt)
        (g,) = lib.autograd.grad((out * out).sum(), xt, create_graph=True)
        g.sum().backward()
        results.append((g.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


def test_gradcheck_of_new_ops():
    from llgrad.autograd import gradcheck

    F = llgrad.nn.functional
    x = llgrad.tensor(_randn(3, 4, dtype=np.float64), requires_grad=True)
    w = llgrad.tensor(_randn(4, dtype=np.float64), requires_grad=True)
    b = llgrad.tensor(_randn(4, dtype=np.float64), requires_grad=True)
    y = llgrad.tensor(_randn(3, 4, dtype=np.float64), requires_grad=True)
    t = llgrad.tensor([1, 0, 3])
    probs = llgrad.tensor(RNG.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    assert gradcheck(lambda a, c, d: F.layer_norm(a, (4,), c, d), (x, w, b))
    assert gradcheck(lambda a, c: F.mse_loss(a, c), (x, y))
    assert gradcheck(lambda a: F.nll_loss(a.log_softmax(1), t), (x,))
    assert gradcheck(lambda a: F.cross_entropy(a, t, label_smoothing=0.2), (x,))
    assert gradcheck(lambda a, c: F.binary_cross_entropy(a, c), (probs, probs.detach() * 0.5))
    assert gradcheck(lambda a, c: F.binary_cross_entropy_with_logits(a, c, pos_weight=w.detach()
                                                                      .abs()), (x, y.sigmoid()))
    assert gradcheck(lambda a: F.normalize(a, dim=1), (x,))
    assert gradcheck(lambda a: F.pad(a, (1, -1, 2, 0), value=3.0), (x,))
    emb = llgrad.tensor(_randn(5, 3, dtype=np.float64), requires_grad=True)
    indices = llgrad.tensor([[0, 4], [4, 2]])
    assert gradcheck(lambda e: F.embedding(indices, e, padding_idx=1), (emb,))
    assert gradcheck(lambda a: F.logsigmoid(a), (x,))
    assert gradcheck(lambda a: F.hardtanh(a, -0.5, 0.5), (x,))


def test_parameter_semantics_match_torch():
    data = llgrad.tensor([1.0, 2.0])
    p = llgrad.nn.Parameter(data)
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(p) == repr(tp) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert str(p) == str(tp)
    assert repr(llgrad.nn.Parameter(data, requires_grad=False)) == repr(
        torch.nn.Parameter(torch.tensor([1.0, 2.0]), requires_grad=False))
    assert p.is_leaf and p.requires_grad and isinstance(p, llgrad.Tensor)
    with llgrad.no_grad():
        p[0] = 5.0
    assert data[0].item() == 5.0  # shares storage with the tensor it was made from
    out = p * 2
    assert type(out) is llgrad.Tensor and out.grad_fn.name() == "MulBackward0"
    assert type(p.detach()) is llgrad.Tensor
    assert type(llgrad.nn.Parameter()) is llgrad.nn.Parameter
    assert llgrad.nn.Parameter().shape == (0,)
    (p.exp().sum() + (p @ p)).backward()  # primitives dispatch on Parameters too
    np.testing.assert_allclose(p.grad.numpy(), np.exp([5.0, 2.0]) + 2 * np.array([5.0, 2.0]),
                               rtol=1e-6)
    import copy

    q = copy.deepcopy(p)
    assert type(q) is llgrad.nn.Parameter and q.requires_grad
    assert np.array_equal(q.detach().numpy(), p.detach().numpy())
    assert q._data is not p._data
