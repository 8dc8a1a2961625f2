"""The shape rows of the op table: gradcheck, PyTorch parity (values, gradients, grad_fn graphs,
non-contiguous inputs) and second derivatives."""
from .harness import OpTests


class TestShapeOps(OpTests):
    family = "shape"


# ---- beyond the table: views and storage, integer tensors --------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import llgrad  # noqa: E402

SHAPE_OPS = {
    "reshape": lambda lib, x: x.reshape(4, 3), "t": lambda lib, x: x.t(),
    "flatten": lambda lib, x: x.flatten(), "unsqueeze": lambda lib, x: x.unsqueeze(1),
    "expand": lambda lib, x: x[:1].expand(2, 4), "cat": lambda lib, x: lib.cat([x, x], 1),
    "stack": lambda lib, x: lib.stack([x, x]), "split": lambda lib, x: x.split(1)[2],
    "flip": lambda lib, x: x.flip(1), "repeat": lambda lib, x: x.repeat(2, 1),
    "roll_by_cat": lambda lib, x: lib.cat([x[:, 1:], x[:, :1]], 1),
    "tril": lambda lib, x: x.tril(), "diag": lambda lib, x: lib.diag(x),
    "repeat_interleave": lambda lib, x: x.repeat_interleave(2, dim=0),
    "movedim": lambda lib, x: x.unsqueeze(0).movedim(0, 2), "cumsum": lambda lib, x: x.cumsum(1),
}


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "float16"])
def test_shape_ops_on_other_dtypes_match_torch(dtype):
    torch = pytest.importorskip("torch")
    data = np.arange(12).reshape(3, 4) % 5
    for name, fn in SHAPE_OPS.items():
        if dtype == "bool" and name == "cumsum":
            continue
        outs = [fn(lib, lib.tensor(data).to(getattr(lib, dtype))) for lib in (llgrad, torch)]
        assert str(outs[0].dtype).split(".")[-1] == str(outs[1].dtype).split(".")[-1], name
        np.testing.assert_array_equal(outs[0].numpy(), outs[1].numpy(), err_msg=name)


def test_views_share_storage_and_copies_do_not():
    x = llgrad.zeros(2, 6)
    for view in (x.view(3, 4), x.reshape(12), x.t(), x.unsqueeze(0), x[:, ::2], x.flatten(),
                 x.split(3, 1)[1], x.unbind(0)[0], x.expand(3, 2, 6)[0], x.transpose(0, 1)):
        assert np.shares_memory(view.numpy(), x.numpy()), view
    for copy in (x.t().reshape(12), x.t().contiguous(), x.clone(), x.repeat(1, 2), x.flip(0)):
        assert not np.shares_memory(copy.numpy(), x.numpy())
    assert x.contiguous() is x


def test_view_of_noncontiguous_raises_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (llgrad, torch):
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            lib.zeros(3, 4).t().view(12)
        assert tuple(lib.zeros(3, 4).t().reshape(12).shape) == (12,)


def test_shape_errors_match_torch():
    torch = pytest.importorskip("torch")
    for expr in ["x.reshape(5, 3)", "x.view(-1, -1)", "x.expand(2, 3)", "x.permute(0, 0)",
                 "x.permute(1)", "lib.cat([x, x.t()])", "lib.stack([x, x[:1]])", "x.squeeze(3)",
                 "x.transpose(0, 2)", "x.unflatten(1, (3, 2))", "x.split([1, 1])", "x.t().t().t()",
                 "lib.zeros(2, 2, 2).t()", "x.narrow(1, 3, 2)", "x.movedim(0, 5)"]:
        raised = []
        for lib in (llgrad, torch):
            x = lib.zeros(3, 4)
            try:
                eval(expr, {"lib": lib, "x": x})
                raised.append(None)
            except (RuntimeError, IndexError, ValueError, TypeError) as error:
                raised.append(type(error).__name__)
        assert raised[0] == raised[1], (expr, raised)
