"""Conv1d / Conv2d and F.conv1d / F.conv2d against PyTorch: values and gradients (input, weight,
bias) over a table of configurations, grad_fn names, gradcheck in float64, module printing,
seeded initialization bit for bit, PyTorch's error messages, and compiled (both back ends)
against eager."""
import re
import warnings

import numpy as np
import pytest

import llgrad

torch = pytest.importorskip("torch")

# (id, function name, input shape, weight shape, bias, keyword arguments)
CONFIGS = [
    ("2d", "conv2d", (2, 3, 8, 8), (4, 3, 3, 3), True, {}),
    ("2d_batch1", "conv2d", (1, 3, 7, 9), (5, 3, 3, 3), True, {"padding": 1}),
    ("2d_pad", "conv2d", (2, 3, 8, 8), (4, 3, 3, 3), True, {"padding": 1}),
    ("2d_stride", "conv2d", (2, 3, 9, 8), (4, 3, 3, 2), True, {"stride": 2, "padding": 1}),
    ("2d_stride3_pad2", "conv2d", (2, 2, 11, 10), (3, 2, 3, 3), False,
     {"stride": 3, "padding": 2}),
    ("2d_nonsquare", "conv2d", (2, 3, 10, 7), (4, 3, 2, 5), True,
     {"stride": (2, 1), "padding": (1, 2)}),
    ("2d_dilation", "conv2d", (2, 3, 11, 9), (4, 3, 3, 3), True,
     {"dilation": 2, "padding": 2}),
    ("2d_dilation_mixed", "conv2d", (2, 4, 9, 8), (6, 2, 3, 2), True,
     {"stride": (2, 1), "padding": (1, 0), "dilation": (2, 1), "groups": 2}),
    ("2d_depthwise", "conv2d", (1, 4, 10, 7), (4, 1, 3, 3), False,
     {"stride": 3, "padding": 2, "dilation": 2, "groups": 4}),
    ("2d_groups_multiplier", "conv2d", (2, 4, 6, 6), (8, 2, 3, 3), True, {"groups": 2}),
    ("2d_1x1", "conv2d", (2, 3, 5, 5), (4, 3, 1, 1), True, {}),
    ("2d_1x1_stride", "conv2d", (2, 3, 5, 5), (4, 3, 1, 1), True, {"stride": 2}),
    ("2d_kernel_is_input", "conv2d", (2, 3, 4, 4), (2, 3, 4, 4), True, {}),
    ("2d_same_odd", "conv2d", (2, 3, 8, 8), (4, 3, 3, 3), True, {"padding": "same"}),
    ("2d_same_even", "conv2d", (2, 3, 8, 7), (4, 3, 4, 2), True, {"padding": "same"}),
    ("2d_same_dilated", "conv2d", (2, 3, 9, 8), (4, 3, 3, 2), True,
     {"padding": "same", "dilation": (2, 3)}),
    ("2d_valid", "conv2d", (2, 3, 8, 8), (4, 3, 3, 3), True, {"padding": "valid"}),
    ("2d_unbatched", "conv2d", (3, 8, 8), (4, 3, 3, 3), True, {"padding": 1}),
    ("2d_list_args", "conv2d", (2, 3, 8, 8), (4, 3, 3, 3), True,
     {"stride": [1], "padding": [1, 0], "dilation": [1]}),
    # stride-1 2-d convolutions at least 4 kernel-reaches wide take the flat-column im2col
    ("2d_flat_dilated", "conv2d", (2, 3, 6, 12), (4, 3, 3, 2), True,
     {"padding": (1, 0), "dilation": (2, 1)}),
    ("2d_flat_groups", "conv2d", (2, 4, 5, 13), (6, 2, 2, 3), False,
     {"padding": (0, 2), "dilation": (1, 2), "groups": 2}),
    ("1d", "conv1d", (2, 3, 10), (4, 3, 3), True, {}),
    ("1d_stride_pad", "conv1d", (2, 3, 11), (4, 3, 3), True, {"stride": 2, "padding": 1}),
    ("1d_dilation_groups", "conv1d", (3, 4, 12), (6, 2, 3), False,
     {"dilation": 3, "groups": 2, "padding": 2}),
    ("1d_same_even", "conv1d", (2, 3, 9), (4, 3, 4), True, {"padding": "same"}),
    ("1d_unbatched", "conv1d", (3, 10), (4, 3, 5), True, {"padding": 2}),
    ("1d_batch1", "conv1d", (1, 2, 7), (3, 2, 7), True, {}),
]


def _data(shape, rng, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _run(lib, fname, x, w, b, kwargs, upstream=None):
    tensors = [lib.tensor(a, requires_grad=True) if a is not None else None for a in (x, w, b)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(lib.nn.functional, fname)(*tensors, **kwargs)
    if upstream is not None:
        out.backward(lib.tensor(upstream))
    return out, tensors


@pytest.mark.parametrize("name,fname,xs,ws,bias,kwargs", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_conv_matches_torch(name, fname, xs, ws, bias, kwargs):
    rng = np.random.default_rng(1)
    x, w = _data(xs, rng), _data(ws, rng)
    b = _data(ws[:1], rng) if bias else None
    th_out, _ = _run(torch, fname, x, w, b, kwargs)
    upstream = _data(tuple(th_out.shape), rng)
    th_out, th_in = _run(torch, fname, x, w, b, kwargs, upstream)
    ll_out, ll_in = _run(llgrad, fname, x, w, b, kwargs, upstream)
    assert tuple(ll_out.shape) == tuple(th_out.shape)
    np.testing.assert_allclose(ll_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    assert ll_out.grad_fn.name() == type(th_out.grad_fn).__name__
    assert ll_out.is_contiguous()
    for ll, th, what in zip(ll_in, th_in, ("input", "weight", "bias")):
        if th is None:
            continue
        np.testing.assert_allclose(ll.grad.numpy(), th.grad.numpy(), rtol=1e-5, atol=1e-5,
                                   err_msg=what)
        assert ll.grad.is_contiguous()


def test_nonfinite_input_reaches_only_the_gradients_torch_gives():
    """The flat-column im2col computes extra grid positions past the output's width; an inf in
    the input must not reach weight-gradient entries whose kernel offset never meets it."""
    rng = np.random.default_rng(7)
    x = _data((2, 2, 9, 12), rng)
    x[0, 1, 3, 0] = np.inf
    x[1, 0, 5, 11] = np.nan
    w = _data((3, 2, 3, 3), rng)
    th_out, th_in = _run(torch, "conv2d", x, w, None, {"padding": 1},
                         np.ones((2, 3, 9, 12), np.float32))
    ll_out, ll_in = _run(llgrad, "conv2d", x, w, None, {"padding": 1},
                         np.ones((2, 3, 9, 12), np.float32))
    np.testing.assert_allclose(ll_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    th_grad = th_in[1].grad.numpy()
    assert np.isfinite(th_grad).any() and not np.isfinite(th_grad).all()
    np.testing.assert_allclose(ll_in[1].grad.numpy(), th_grad, rtol=1e-5, atol=1e-5)


def test_grad_fn_chain_names():
    """Unbatched inputs go through unsqueeze/squeeze, 'same' with an even kernel through a
    constant pad, as in PyTorch."""
    rng = np.random.default_rng(2)
    cases = [("conv2d", (3, 6, 6), (2, 3, 3, 3), {}),
             ("conv2d", (1, 3, 6, 6), (2, 3, 2, 2), {"padding": "same"}),
             ("conv1d", (3, 6), (2, 3, 3), {"padding": "same"})]
    for fname, xs, ws, kwargs in cases:
        x, w = _data(xs, rng), _data(ws, rng)
        th, _ = _run(torch, fname, x, w, None, kwargs)
        ll, _ = _run(llgrad, fname, x, w, None, kwargs)

        def chain(fn):
            names = []
            while fn is not None:
                names.append(type(fn).__name__)
                nxt = [f for f, _ in fn.next_functions if f is not None]
                fn = nxt[0] if nxt else None
            return names

        assert chain(ll.grad_fn) == chain(th.grad_fn)


def test_same_padding_warns_like_torch():
    x, w = llgrad.randn(1, 1, 5, 5), llgrad.randn(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="Using padding='same' with even kernel lengths"):
        from llgrad.nn import _conv

        _conv._WARNED.clear()
        llgrad.nn.functional.conv2d(x, w, padding="same")


GRADCHECK = [
    ("conv2d", (2, 2, 5, 5), (3, 2, 3, 3), {"padding": 1}),
    ("conv2d", (1, 4, 6, 5), (4, 2, 2, 3), {"stride": (2, 1), "padding": (1, 0),
                                             "dilation": (1, 2), "groups": 2}),
    ("conv2d", (2, 2, 5, 4), (2, 2, 3, 2), {"padding": "same"}),
    ("conv1d", (2, 2, 7), (3, 2, 3), {"stride": 2, "padding": 1, "dilation": 2}),
    ("conv2d", (1, 2, 4, 9), (2, 2, 2, 3), {"padding": (0, 1)}),  # flat columns
]


@pytest.mark.parametrize("fname,xs,ws,kwargs", GRADCHECK)
def test_gradcheck_float64(fname, xs, ws, kwargs):
    rng = np.random.default_rng(3)
    x = llgrad.tensor(_data(xs, rng, np.float64), requires_grad=True)
    w = llgrad.tensor(_data(ws, rng, np.float64), requires_grad=True)
    b = llgrad.tensor(_data(ws[:1], rng, np.float64), requires_grad=True)
    fn = getattr(llgrad.nn.functional, fname)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert llgrad.autograd.gradcheck(lambda x, w, b: fn(x, w, b, **kwargs), (x, w, b))


def test_second_order_gradients_match_torch():
    rng = np.random.default_rng(4)
    x, w = _data((2, 2, 5, 5), rng, np.float64), _data((3, 2, 3, 3), rng, np.float64)
    results = []
    for lib in (llgrad, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(xt, wt, padding=1, stride=2)
        (gx,) = lib.autograd.grad((y * y).sum(), xt, create_graph=True)
        (gw,) = lib.autograd.grad((gx * gx).sum(), wt)
        results.append(gw.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-10)


# ---- modules: printing, initialization ------------------------------------------------------

MODULES = [
    lambda nn: nn.Conv2d(3, 4, 3),
    lambda nn: nn.Conv2d(3, 6, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                         groups=3),
    lambda nn: nn.Conv2d(3, 6, 3, padding="same", bias=False),
    lambda nn: nn.Conv2d(3, 6, 3, padding="valid"),
    lambda nn: nn.Conv2d(2, 4, 2, stride=2, padding_mode="zeros"),
    lambda nn: nn.Conv2d(16, 32, 5, 1, 2),
    lambda nn: nn.Conv1d(3, 4, 3),
    lambda nn: nn.Conv1d(4, 8, 5, stride=2, padding=1, dilation=2, groups=4, bias=False),
    lambda nn: nn.Conv1d(3, 6, 3, padding="same"),
    lambda nn: nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 16, 3), nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(),
                             nn.Linear(64, 10)),
]


@pytest.mark.parametrize("make", MODULES)
def test_module_repr_and_seeded_init(make):
    for seed in (0, 5):
        torch.manual_seed(seed)
        th = make(torch.nn)
        after_th = torch.rand(3)
        llgrad.manual_seed(seed)
        ll = make(llgrad.nn)
        after_ll = llgrad.rand(3)
        assert repr(ll) == repr(th)
        th_state, ll_state = th.state_dict(), ll.state_dict()
        assert list(ll_state) == list(th_state)
        for k in th_state:
            assert ll_state[k].shape == th_state[k].shape, k
            assert np.array_equal(ll_state[k].numpy(), th_state[k].numpy()), k
        assert np.array_equal(after_ll.numpy(), after_th.numpy())  # the same number of draws


def test_module_forward_matches_torch():
    rng = np.random.default_rng(5)
    for make in MODULES:
        torch.manual_seed(0)
        th = make(torch.nn)
        llgrad.manual_seed(0)
        ll = make(llgrad.nn)
        first = th[0] if isinstance(th, torch.nn.Sequential) else th
        spatial = (9,) if isinstance(first, torch.nn.Conv1d) else (9, 9)
        x = _data((2, first.in_channels) + spatial, rng)
        np.testing.assert_allclose(ll(llgrad.tensor(x)).detach().numpy(),
                                   th(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_module_attributes_match_torch():
    for make in MODULES[:9]:
        th, ll = make(torch.nn), make(llgrad.nn)
        for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                     "dilation", "groups", "padding_mode", "output_padding", "transposed",
                     "_reversed_padding_repeated_twice"):
            assert getattr(ll, attr) == getattr(th, attr), attr


# ---- errors ---------------------------------------------------------------------------------

def _x(*shape):
    return lambda lib: lib.zeros(shape)


ERRORS = [
    ("input_2d", lambda F, t: F.conv2d(t(2, 3), t(4, 3, 3, 3))),
    ("input_5d", lambda F, t: F.conv2d(t(1, 2, 3, 8, 8), t(4, 3, 3, 3))),
    ("conv1d_4d", lambda F, t: F.conv1d(t(2, 3, 4, 5), t(4, 3, 3))),
    ("channels", lambda F, t: F.conv2d(t(2, 5, 8, 8), t(4, 3, 3, 3))),
    ("channels_unbatched", lambda F, t: F.conv2d(t(5, 8, 8), t(4, 3, 3, 3))),
    ("groups_channels", lambda F, t: F.conv2d(t(2, 6, 8, 8), t(4, 2, 3, 3), groups=2)),
    ("groups_out", lambda F, t: F.conv2d(t(2, 6, 8, 8), t(5, 2, 3, 3), groups=3)),
    ("groups_more_than_out", lambda F, t: F.conv2d(t(2, 8, 8, 8), t(2, 2, 3, 3), groups=4)),
    ("groups_zero", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), groups=0)),
    ("kernel_too_big", lambda F, t: F.conv2d(t(2, 3, 2, 2), t(4, 3, 3, 3))),
    ("kernel_too_big_1d", lambda F, t: F.conv1d(t(2, 3, 2), t(4, 3, 3))),
    ("kernel_too_big_dilated", lambda F, t: F.conv2d(t(1, 1, 4, 4), t(1, 1, 2, 2),
                                                      dilation=4)),
    ("stride_zero", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), stride=0)),
    ("stride_negative", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), stride=-1)),
    ("padding_negative", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), padding=-1)),
    ("dilation_zero", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), dilation=0)),
    ("bias_size", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), t(5))),
    ("bias_2d", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), t(4, 1))),
    ("weight_3d_for_conv2d", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3))),
    ("weight_1d", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4))),
    ("same_strided", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), padding="same",
                                           stride=2)),
    ("bad_padding_string", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3),
                                                 padding="foo")),
    ("stride_length", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3), stride=(1, 1, 1))),
    ("padding_length", lambda F, t: F.conv2d(t(2, 3, 8, 8), t(4, 3, 3, 3),
                                             padding=(1, 1, 1))),
    ("dilation_length", lambda F, t: F.conv1d(t(2, 3, 8), t(4, 3, 3), dilation=(1, 1))),
]


def _zeros(lib, dtype=None):
    return lambda *shape: lib.zeros(shape) if dtype is None else lib.zeros(shape, dtype=dtype)


def _error_of(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as error:  # noqa: BLE001 (the exception itself is what is compared)
        return type(error), _sorted_sets(str(error).split("\n")[0])
    return None


def _sorted_sets(message):
    """PyTorch prints Python sets ({'same', 'valid'}) in the order of its own .pyc, which
    depends on the hash seed of the process that compiled it: compare their elements sorted."""
    return re.sub(r"\{('[^{}]*')\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


@pytest.mark.parametrize("name,call", ERRORS, ids=[e[0] for e in ERRORS])
def test_functional_errors_match_torch(name, call):
    expected = _error_of(lambda: call(torch.nn.functional, _zeros(torch)))
    assert expected is not None
    assert _error_of(lambda: call(llgrad.nn.functional, _zeros(llgrad))) == expected


def test_dtype_errors_match_torch():
    for make in (lambda lib: lib.nn.functional.conv2d(lib.zeros(1, 1, 3, 3, dtype=lib.float64),
                                                      lib.zeros(1, 1, 2, 2)),
                 lambda lib: lib.nn.functional.conv2d(lib.zeros(1, 1, 3, 3),
                                                      lib.zeros(1, 1, 2, 2),
                                                      lib.zeros(1, dtype=lib.float64))):
        assert _error_of(lambda: make(llgrad)) == _error_of(lambda: make(torch))


MODULE_ERRORS = [
    lambda nn: nn.Conv2d(3, 4, 3, groups=2),
    lambda nn: nn.Conv2d(4, 3, 3, groups=2),
    lambda nn: nn.Conv2d(4, 4, 3, groups=0),
    lambda nn: nn.Conv2d(4, 4, 3, padding="foo"),
    lambda nn: nn.Conv2d(4, 4, 3, padding="same", stride=2),
    lambda nn: nn.Conv1d(4, 4, 3, padding="same", stride=(2,)),
    lambda nn: nn.Conv2d(4, 4, 3, padding_mode="foo"),
    lambda nn: nn.Conv2d(4, 4, 3)(nn._zeros(2, 3, 8, 8)),
    lambda nn: nn.Conv1d(4, 4, 3)(nn._zeros(2, 4, 2)),
]


class _NN:
    def __init__(self, lib):
        self.__dict__.update({k: getattr(lib.nn, k) for k in dir(lib.nn) if k[0].isupper()})
        self._zeros = lambda *shape: lib.zeros(shape)


@pytest.mark.parametrize("make", MODULE_ERRORS)
def test_module_errors_match_torch(make):
    expected = _error_of(lambda: make(_NN(torch)))
    assert expected is not None
    assert _error_of(lambda: make(_NN(llgrad))) == expected


PADDING_MODES = [
    (mode, shape, pad)
    for mode in ("reflect", "replicate", "circular")
    for shape, pad in (((2, 3, 5), (1, 2)), ((3, 5), (2, 0)), ((2, 3, 5, 6), (1, 2, 2, 1)),
                       ((3, 5, 6), (0, 1, 1, 0)), ((1, 2, 3, 5, 4), (1, 1, 2, 1, 1, 2)),
                       ((2, 3, 5), (-1, 2)), ((2, 3, 5, 4), (-1, -1, 2, 3)))
]


@pytest.mark.parametrize("mode,shape,pad", PADDING_MODES)
def test_pad_modes_match_torch(mode, shape, pad):
    rng = np.random.default_rng(7)
    x = _data(shape, rng)
    outs = []
    for lib in (llgrad, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.pad(t, pad, mode=mode)
        y.backward(lib.tensor(np.arange(y.numel(), dtype=np.float32).reshape(tuple(y.shape))))
        outs.append((y.detach().numpy(), t.grad.numpy(), type(y.grad_fn).__name__))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-6)
    assert outs[0][2] == outs[1][2]


PAD_ERRORS = [
    lambda F, t: F.pad(t(2, 3, 4, 5), (3, 3), mode="reflect"),
    lambda F, t: F.pad(t(2, 3, 4, 5), (1, 1, 4, 1), mode="reflect"),
    lambda F, t: F.pad(t(2, 3, 5), (5, 1), mode="reflect"),
    lambda F, t: F.pad(t(2, 3, 5), (6, 1), mode="circular"),
    lambda F, t: F.pad(t(2, 3, 5), (1, 1), mode="reflect", value=1.0),
    lambda F, t: F.pad(t(2, 3, 5), (1, 1), mode="foo"),
    lambda F, t: F.pad(t(5), (1, 1), mode="replicate"),
    lambda F, t: F.pad(t(2, 0, 5), (1, 1), mode="reflect"),
]


@pytest.mark.parametrize("call", PAD_ERRORS)
def test_pad_mode_errors_match_torch(call):
    expected = _error_of(lambda: call(torch.nn.functional, _zeros(torch)))
    assert expected is not None
    assert _error_of(lambda: call(llgrad.nn.functional, _zeros(llgrad))) == expected


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv_padding_modes_match_torch(mode):
    rng = np.random.default_rng(8)
    for make, shape in ((lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode),
                         (2, 2, 6, 7)),
                        (lambda nn: nn.Conv1d(2, 3, 3, padding=1, padding_mode=mode),
                         (2, 2, 6))):
        torch.manual_seed(0)
        th = make(torch.nn)
        llgrad.manual_seed(0)
        ll = make(llgrad.nn)
        assert repr(ll) == repr(th)
        x = _data(shape, rng)
        tx, lx = torch.tensor(x, requires_grad=True), llgrad.tensor(x, requires_grad=True)
        ty, ly = th(tx), ll(lx)
        np.testing.assert_allclose(ly.detach().numpy(), ty.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
        ty.sum().backward()
        ly.sum().backward()
        np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ll.weight.grad.numpy(), th.weight.grad.numpy(), rtol=1e-5,
                                   atol=1e-5)


# ---- compiled ---------------------------------------------------------------------------------

COMPILED = [
    ("conv2d", (2, 3, 8, 8), (4, 3, 3, 3), {"padding": 1}),
    ("conv2d", (2, 4, 9, 8), (6, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0),
                                             "dilation": (2, 1), "groups": 2}),
    ("conv2d", (2, 3, 8, 7), (4, 3, 4, 2), {"padding": "same"}),
    ("conv1d", (2, 3, 11), (4, 3, 3), {"stride": 2, "padding": 1}),
    ("conv2d", (2, 4, 6, 12), (6, 2, 3, 2), {"padding": (1, 0), "dilation": (2, 1),
                                              "groups": 2}),  # flat columns
]


@pytest.mark.parametrize("fname,xs,ws,kwargs", COMPILED)
def test_compiled_matches_eager(fname, xs, ws, kwargs, each_backend):
    rng = np.random.default_rng(6)
    x = llgrad.tensor(_data(xs, rng), requires_grad=True)
    w = llgrad.tensor(_data(ws, rng), requires_grad=True)
    b = llgrad.tensor(_data(ws[:1], rng), requires_grad=True)
    fn = getattr(llgrad.nn.functional, fname)

    def step(x, w, b):
        x.grad = w.grad = b.grad = None
        y = fn(x, w, b, **kwargs)
        (y * y.sin()).sum().backward()
        return y.detach()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = step(x, w, b).numpy()
        grads = [t.grad.numpy().copy() for t in (x, w, b)]
        compiled = llgrad.compile(step)
        for _ in range(2):
            got = compiled(x, w, b).numpy()
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
            for t, g in zip((x, w, b), grads):
                np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-4,
                                           atol=1e-5 * np.abs(g).max())
