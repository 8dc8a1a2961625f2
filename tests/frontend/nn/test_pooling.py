"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and their functional forms against PyTorch: values,
indices (PyTorch's tie and NaN rules), gradients, grad_fn names, gradcheck in float64, module
printing, PyTorch's error messages, and compiled (both back ends) against eager."""
import warnings

import numpy as np
import pytest

import llgrad

torch = pytest.importorskip("torch")

# (id, function, input shape, positional args, keyword args)
MAX_POOL = [
    ("k2", (2, 3, 8, 8), (2,), {}),
    ("k2_odd_input", (2, 3, 9, 7), (2,), {}),
    ("k3_s2_p1", (2, 3, 9, 7), (3, 2, 1), {}),
    ("k3_s2_p1_d2_ceil", (2, 3, 9, 7), (3, 2, 1, 2, True), {}),
    ("nonsquare", (2, 2, 10, 11), ((3, 2), (2, 1), (1, 1), (1, 2)), {}),
    ("ceil", (2, 3, 10, 11), (3, 3, 1), {"ceil_mode": True}),
    ("ceil_s2", (1, 2, 7, 6), (2,), {"ceil_mode": True}),
    ("stride1_overlap", (2, 2, 6, 6), (3, 1), {}),
    ("unbatched", (3, 9, 7), ((3, 2), (2, 1), (1, 1), (1, 2), True), {}),
    ("batch1", (1, 1, 28, 28), (2,), {}),
    ("k1", (2, 2, 5, 5), (1,), {}),
    ("list_args", (2, 2, 8, 8), ([2], [2, 1], [0], [1]), {}),
]


def _input(shape, rng, kind):
    x = rng.standard_normal(shape).astype(np.float32)
    if kind == "ties":
        x = np.round(x)  # many equal values in a window
    return x


def _pool(lib, name, x, args, kwargs, upstream=None, requires_grad=True):
    t = lib.tensor(x, requires_grad=requires_grad)
    out = getattr(lib.nn.functional, name)(t, *args, **kwargs)
    values = out[0] if isinstance(out, tuple) else out
    if upstream is not None:
        values.backward(lib.tensor(upstream))
    return out, t


@pytest.mark.parametrize("kind", ["random", "ties"])
@pytest.mark.parametrize("name,shape,args,kwargs", MAX_POOL, ids=[c[0] for c in MAX_POOL])
def test_max_pool_matches_torch(name, shape, args, kwargs, kind):
    rng = np.random.default_rng(0)
    x = _input(shape, rng, kind)
    kwargs = dict(kwargs, return_indices=True)
    (th_v, th_i), _ = _pool(torch, "max_pool2d", x, args, kwargs)
    upstream = rng.standard_normal(tuple(th_v.shape)).astype(np.float32)
    (th_v, th_i), th_x = _pool(torch, "max_pool2d", x, args, kwargs, upstream)
    (ll_v, ll_i), ll_x = _pool(llgrad, "max_pool2d", x, args, kwargs, upstream)
    np.testing.assert_array_equal(ll_v.detach().numpy(), th_v.detach().numpy())
    np.testing.assert_array_equal(ll_i.numpy(), th_i.numpy())
    assert ll_i.dtype is llgrad.int64 and not ll_i.requires_grad
    assert ll_v.grad_fn.name() == type(th_v.grad_fn).__name__ == "MaxPool2DWithIndicesBackward0"
    np.testing.assert_allclose(ll_x.grad.numpy(), th_x.grad.numpy(), rtol=1e-6, atol=1e-6)
    assert ll_v.is_contiguous() and ll_i.is_contiguous()


def test_max_pool_nan_and_infinity_follow_torch():
    nan, inf = float("nan"), float("inf")
    cases = [
        np.array([[[[1.0, nan], [nan, 2.0]]]]),  # the last NaN of a window wins
        np.array([[[[-inf, -inf], [-inf, -inf]]]]),  # all -inf: the first element
        np.array([[[[nan, 3.0], [3.0, nan], [5.0, 5.0]]]]),
        np.full((1, 1, 4, 4), -inf),  # padded windows: the first element inside the input
    ]
    for x, kwargs in zip(cases, ({}, {}, {"kernel_size": (1, 2)}, {"padding": 1})):
        kwargs = {"kernel_size": 2, **kwargs, "return_indices": True}
        th_v, th_i = torch.nn.functional.max_pool2d(torch.tensor(x, dtype=torch.float32),
                                                     **kwargs)
        ll_v, ll_i = llgrad.nn.functional.max_pool2d(llgrad.tensor(x, dtype=llgrad.float32),
                                                     **kwargs)
        np.testing.assert_array_equal(ll_v.numpy(), th_v.numpy())
        np.testing.assert_array_equal(ll_i.numpy(), th_i.numpy())


def test_max_pool_integers():
    x = np.array([[[[-3, -5, 2], [-7, -1, 4], [0, 9, -2]]]], dtype=np.int64)
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 2, "stride": 1}, {"kernel_size": 3,
                                                                         "padding": 1}):
        th = torch.nn.functional.max_pool2d(torch.tensor(x), **kwargs, return_indices=True)
        ll = llgrad.nn.functional.max_pool2d(llgrad.tensor(x), **kwargs, return_indices=True)
        for a, b in zip(ll, th):
            assert a.dtype is llgrad.int64
            np.testing.assert_array_equal(a.numpy(), b.numpy())


AVG_POOL = [
    ("k2", (2, 3, 8, 8), (2,), {}),
    ("k3_s2_p1", (2, 3, 9, 7), (3, 2, 1), {}),
    ("exclude_pad", (2, 3, 9, 7), (3, 2, 1), {"count_include_pad": False}),
    ("ceil_include_pad", (2, 3, 9, 7), (3, 2, 1, True, True), {}),
    ("ceil_exclude_pad", (2, 3, 9, 7), (3, 2, 1, True, False), {}),
    ("divisor_override", (2, 3, 10, 11), ((3, 2), (2, 3), (1, 1), True, False, 5), {}),
    ("nonsquare", (2, 2, 10, 9), ((2, 3), (1, 2)), {}),
    ("stride1_overlap", (2, 2, 6, 6), (3, 1, 1), {}),
    ("unbatched", (3, 10, 11), ((3, 2), (2, 3), (1, 1), True, True), {}),
    ("batch1", (1, 4, 6, 6), (3,), {}),
]


@pytest.mark.parametrize("name,shape,args,kwargs", AVG_POOL, ids=[c[0] for c in AVG_POOL])
def test_avg_pool_matches_torch(name, shape, args, kwargs):
    rng = np.random.default_rng(1)
    x = _input(shape, rng, "random")
    th_out, _ = _pool(torch, "avg_pool2d", x, args, kwargs)
    upstream = rng.standard_normal(tuple(th_out.shape)).astype(np.float32)
    th_out, th_x = _pool(torch, "avg_pool2d", x, args, kwargs, upstream)
    ll_out, ll_x = _pool(llgrad, "avg_pool2d", x, args, kwargs, upstream)
    np.testing.assert_allclose(ll_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-6,
                               atol=1e-7)
    assert ll_out.grad_fn.name() == type(th_out.grad_fn).__name__ == "AvgPool2DBackward0"
    np.testing.assert_allclose(ll_x.grad.numpy(), th_x.grad.numpy(), rtol=1e-6, atol=1e-6)
    assert ll_out.is_contiguous() and ll_x.grad.is_contiguous()


def test_avg_pool_integers_truncate_like_torch():
    x = np.array([[[[-3, -5, 2], [7, -9, 4], [1, 2, 3]]]], dtype=np.int64)
    for args in ((2,), ((1, 2),), (2, 1), (3, 1, 1, False, False)):
        th = torch.nn.functional.avg_pool2d(torch.tensor(x), *args)
        ll = llgrad.nn.functional.avg_pool2d(llgrad.tensor(x), *args)
        assert ll.dtype is llgrad.int64
        np.testing.assert_array_equal(ll.numpy(), th.numpy())


ADAPTIVE = [
    ("uniform", (2, 3, 8, 8), 2),
    ("uniform_rect", (2, 3, 8, 6), (4, 3)),
    ("nonuniform", (2, 3, 9, 7), (4, 3)),
    ("nonuniform_larger_than_input", (2, 2, 5, 4), (7, 6)),
    ("none_keeps_size", (3, 9, 7), (5, None)),
    ("one", (2, 3, 9, 7), 1),
    ("one_unbatched", (3, 9, 7), (1, 1)),
    ("identity", (2, 3, 5, 5), 5),
]


@pytest.mark.parametrize("name,shape,size", ADAPTIVE, ids=[c[0] for c in ADAPTIVE])
def test_adaptive_avg_pool_matches_torch(name, shape, size):
    rng = np.random.default_rng(2)
    x = _input(shape, rng, "random")
    th_out, _ = _pool(torch, "adaptive_avg_pool2d", x, (size,), {})
    upstream = rng.standard_normal(tuple(th_out.shape)).astype(np.float32)
    th_out, th_x = _pool(torch, "adaptive_avg_pool2d", x, (size,), {}, upstream)
    ll_out, ll_x = _pool(llgrad, "adaptive_avg_pool2d", x, (size,), {}, upstream)
    np.testing.assert_allclose(ll_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-6,
                               atol=1e-6)
    assert ll_out.grad_fn.name() == type(th_out.grad_fn).__name__
    np.testing.assert_allclose(ll_x.grad.numpy(), th_x.grad.numpy(), rtol=1e-6, atol=1e-6)


GRADCHECK = [
    ("max_pool2d", (2, 2, 6, 5), (3, 2, 1, 1, True)),
    ("max_pool2d", (1, 2, 7, 7), ((2, 3), 1, (1, 1), (2, 1))),
    ("avg_pool2d", (2, 2, 6, 5), (3, 2, 1, True, False)),
    ("avg_pool2d", (1, 2, 7, 7), ((2, 3), 1, (1, 1), False, True, 4)),
    ("adaptive_avg_pool2d", (2, 2, 7, 5), ((3, 4),)),
    ("adaptive_avg_pool2d", (2, 2, 6, 4), ((3, 2),)),
]


@pytest.mark.parametrize("name,shape,args", GRADCHECK)
def test_gradcheck_float64(name, shape, args):
    rng = np.random.default_rng(3)
    # distinct values: finite differences are meaningless across a tie of a max
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) / 7
    t = llgrad.tensor(x, requires_grad=True)
    fn = getattr(llgrad.nn.functional, name)
    assert llgrad.autograd.gradcheck(lambda t: fn(t, *args), (t,), eps=1e-6)


# ---- modules --------------------------------------------------------------------------------

MODULES = [
    lambda nn: nn.MaxPool2d(2),
    lambda nn: nn.MaxPool2d(3, 2, 1, 2, True, True),
    lambda nn: nn.MaxPool2d((3, 2), stride=(2, 1), padding=(1, 0)),
    lambda nn: nn.AvgPool2d(2),
    lambda nn: nn.AvgPool2d(3, 2, 1, True, False, 2),
    lambda nn: nn.AvgPool2d((3, 2), stride=1),
    lambda nn: nn.AdaptiveAvgPool2d((5, 7)),
    lambda nn: nn.AdaptiveAvgPool2d(1),
    lambda nn: nn.AdaptiveAvgPool2d((None, 3)),
]


@pytest.mark.parametrize("make", MODULES)
def test_module_repr_and_forward(make):
    th, ll = make(torch.nn), make(llgrad.nn)
    assert repr(ll) == repr(th)
    for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices",
                 "count_include_pad", "divisor_override", "output_size"):
        assert getattr(ll, attr, None) == getattr(th, attr, None), attr
    x = np.random.default_rng(4).standard_normal((2, 3, 9, 8)).astype(np.float32)
    th_out, ll_out = th(torch.tensor(x)), ll(llgrad.tensor(x))
    if isinstance(th_out, tuple):
        np.testing.assert_array_equal(ll_out[1].numpy(), th_out[1].numpy())
        th_out, ll_out = th_out[0], ll_out[0]
    np.testing.assert_allclose(ll_out.numpy(), th_out.numpy(), rtol=1e-6, atol=1e-6)


# ---- errors ---------------------------------------------------------------------------------

ERRORS = [
    lambda F, t: F.max_pool2d(t(8, 8), 2),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 2, padding=2),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 0),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 0, stride=1),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 2, stride=0),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 2, dilation=0),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 2, padding=-1),
    lambda F, t: F.max_pool2d(t(1, 1, 2, 2), 3),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), (2, 2, 2)),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 2, stride=(1, 1, 1)),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 2, padding=(1, 1, 1)),
    lambda F, t: F.max_pool2d(t(2, 3, 8, 8), 2, dilation=(1, 1, 1)),
    lambda F, t: F.max_pool2d(t(2, 0, 8, 8), 2),
    lambda F, t: F.avg_pool2d(t(2, 3, 8, 8), 2, padding=2),
    lambda F, t: F.avg_pool2d(t(1, 1, 2, 2), 3),
    lambda F, t: F.avg_pool2d(t(8, 8), 2),
    lambda F, t: F.avg_pool2d(t(2, 3, 8, 8), 2, stride=0),
    lambda F, t: F.avg_pool2d(t(2, 3, 8, 8), 0),
    lambda F, t: F.avg_pool2d(t(2, 3, 8, 8), 2, divisor_override=0),
    lambda F, t: F.avg_pool2d(t(2, 3, 8, 8), (2, 2, 2)),
    lambda F, t: F.adaptive_avg_pool2d(t(8, 8), 2),
    lambda F, t: F.adaptive_avg_pool2d(t(2, 3, 8, 8), -1),
    lambda F, t: F.adaptive_avg_pool2d(t(2, 3, 8, 8), (1, 2, 3)),
    lambda F, t: F.adaptive_avg_pool2d(t(2, 3, 0, 4), 2),
    lambda F, t: F.adaptive_avg_pool2d(t(2, 3, 8, 8).long(), 2),
]


def _error_of(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as error:  # noqa: BLE001 (the exception itself is what is compared)
        return type(error), str(error).split("\n")[0]
    return None


@pytest.mark.parametrize("call", ERRORS)
def test_errors_match_torch(call):
    expected = _error_of(lambda: call(torch.nn.functional, lambda *s: torch.zeros(s)))
    assert expected is not None
    assert _error_of(lambda: call(llgrad.nn.functional, lambda *s: llgrad.zeros(s))) == expected


# ---- compiled -------------------------------------------------------------------------------

COMPILED = [
    ("max_pool2d", (2, 3, 8, 8), (2,)),
    ("max_pool2d", (2, 3, 9, 7), (3, 2, 1, 2, True)),
    ("avg_pool2d", (2, 3, 9, 7), (3, 2, 1, True, False)),
    ("adaptive_avg_pool2d", (2, 3, 9, 7), ((4, 3),)),
    ("adaptive_avg_pool2d", (2, 3, 8, 6), ((4, 3),)),
]


@pytest.mark.parametrize("name,shape,args", COMPILED)
def test_compiled_matches_eager(name, shape, args, each_backend):
    rng = np.random.default_rng(5)
    x = llgrad.tensor(np.round(rng.standard_normal(shape) * 2).astype(np.float32),
                      requires_grad=True)
    fn = getattr(llgrad.nn.functional, name)

    def step(x):
        x.grad = None
        y = fn(x, *args)
        (y * y.cos()).sum().backward()
        return y.detach()

    expected, grad = step(x).numpy(), x.grad.numpy().copy()
    compiled = llgrad.compile(step)
    for _ in range(2):
        np.testing.assert_allclose(compiled(x).numpy(), expected, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-5, atol=1e-6)


def test_compiled_indices_match_eager(each_backend):
    x = llgrad.tensor(np.round(np.random.default_rng(6).standard_normal((2, 3, 9, 8)) * 2)
                      .astype(np.float32))

    def pool(x):
        return llgrad.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True)

    values, indices = pool(x)
    got_values, got_indices = llgrad.compile(pool)(x)
    np.testing.assert_array_equal(got_values.numpy(), values.numpy())
    np.testing.assert_array_equal(got_indices.numpy(), indices.numpy())
