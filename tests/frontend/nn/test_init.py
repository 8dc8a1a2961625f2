"""nn.init against PyTorch: after the same seed every initializer must produce the same values
(bit for bit where PyTorch's math is reproduced exactly) and leave the generator in the same
state."""
import math
import warnings

import numpy as np
import pytest

import llgrad

torch = pytest.importorskip("torch")

INITS = [
    ("uniform_", lambda init, t: init.uniform_(t, -0.3, 0.7)),
    ("normal_", lambda init, t: init.normal_(t, 0.5, 2.0)),
    ("constant_", lambda init, t: init.constant_(t, 0.25)),
    ("ones_", lambda init, t: init.ones_(t)),
    ("zeros_", lambda init, t: init.zeros_(t)),
    ("xavier_uniform_", lambda init, t: init.xavier_uniform_(t, gain=1.5)),
    ("xavier_normal_", lambda init, t: init.xavier_normal_(t)),
    ("kaiming_uniform_", lambda init, t: init.kaiming_uniform_(t, a=math.sqrt(5))),
    ("kaiming_uniform_relu_fan_out", lambda init, t: init.kaiming_uniform_(
        t, mode="fan_out", nonlinearity="relu")),
    ("kaiming_normal_", lambda init, t: init.kaiming_normal_(t, nonlinearity="tanh")),
    ("trunc_normal_", lambda init, t: init.trunc_normal_(t, std=0.5, a=-0.6, b=0.6)),
    ("trunc_normal_narrow", lambda init, t: init.trunc_normal_(t, mean=1.0, std=1.0, a=2.5,
                                                               b=3.0)),
    ("sparse_", lambda init, t: init.sparse_(t, 0.4) if t.ndim == 2 else init.zeros_(t)),
]

SHAPES = [(3, 5), (17, 9), (4, 3, 2, 2)]


@pytest.mark.parametrize("name,apply", INITS, ids=[i[0] for i in INITS])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_init_matches_torch(name, apply, shape, dtype):
    results = []
    for lib in (llgrad, torch):
        lib.manual_seed(11)
        t = lib.empty(shape, dtype=getattr(lib, dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = apply(lib.nn.init, t)
        assert out is t
        results.append((t.numpy().copy(), lib.rand(4).numpy()))
    (ll, ll_next), (th, th_next) = results
    if name.startswith("trunc_normal"):
        # rejection sampling compares logs computed by NumPy and by PyTorch: a 1-ulp difference
        # could flip a borderline acceptance, but values drawn are PyTorch's
        np.testing.assert_allclose(ll, th, rtol=1e-6, atol=1e-7)
    else:
        assert np.array_equal(ll, th)
    assert np.array_equal(ll_next, th_next)  # the generator advanced by the same amount


def test_inits_on_parameters_do_not_record_graph():
    p = llgrad.nn.Parameter(llgrad.empty(3, 4))
    for fn in (llgrad.nn.init.kaiming_uniform_, llgrad.nn.init.xavier_normal_,
               llgrad.nn.init.zeros_, llgrad.nn.init.eye_):
        fn(p)
        assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_eye_dirac_orthogonal():
    for lib in (llgrad, torch):
        t = lib.empty(3, 4)
        lib.nn.init.eye_(t)
        assert t.tolist() == np.eye(3, 4).tolist()
    ll = llgrad.nn.init.dirac_(llgrad.empty(4, 2, 3, 3), groups=2)
    th = torch.nn.init.dirac_(torch.empty(4, 2, 3, 3), groups=2)
    assert np.array_equal(ll.numpy(), th.numpy())
    for shape in ((3, 5), (5, 3), (4, 2, 2)):
        llgrad.manual_seed(2)
        torch.manual_seed(2)
        a = llgrad.nn.init.orthogonal_(llgrad.empty(shape), gain=2.0)
        b = torch.nn.init.orthogonal_(torch.empty(shape), gain=2.0)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_calculate_gain_and_fans():
    init_ll, init_th = llgrad.nn.init, torch.nn.init
    for args in (("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",),
                 ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu",)):
        assert init_ll.calculate_gain(*args) == init_th.calculate_gain(*args)
    for args, error in ((("foo",), "Unsupported nonlinearity foo"),
                        (("leaky_relu", True), "negative_slope True not a valid number")):
        with pytest.raises(ValueError, match=error):
            init_ll.calculate_gain(*args)
    for shape in ((3, 5), (4, 3, 2, 2)):
        assert init_ll._calculate_fan_in_and_fan_out(llgrad.empty(shape)) == \
            init_th._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor "
                                         "with fewer than 2 dimensions"):
        init_ll._calculate_fan_in_and_fan_out(llgrad.empty(3))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of "
                                         r"\['fan_in', 'fan_out'\]"):
        init_ll.kaiming_uniform_(llgrad.empty(2, 2), mode="fan_avg")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init_ll.kaiming_uniform_(llgrad.empty(0, 3))
    with pytest.warns(FutureWarning, match="nn.init.normal` is now deprecated"):
        init_ll.normal(llgrad.empty(2))
