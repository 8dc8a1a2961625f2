"""The linalg rows of the op table: gradcheck, PyTorch parity (values, gradients, grad_fn graphs,
non-contiguous inputs) and second derivatives."""
from .harness import OpTests


class TestLinalgOps(OpTests):
    family = "linalg"


# ---- beyond the table: errors and integer products ---------------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import llgrad  # noqa: E402

LINALG_ERRORS = ["a @ b", "lib.mm(a, a)", "lib.mm(v, a)", "lib.bmm(a, a)", "lib.dot(v, a)",
                 "lib.dot(v, w)", "lib.mv(a, w)", "a @ lib.zeros(2)", "v @ lib.zeros(())",
                 "a @ a.double()", "lib.mm(a, a.t().double())", "v @ v.double()",
                 "lib.zeros(2, 2, 3) @ lib.zeros(3, 2, 3)", "lib.addmm(lib.zeros(2), a, a)"]


@pytest.mark.parametrize("expr", LINALG_ERRORS)
def test_linalg_errors_match_torch(expr):
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (llgrad, torch):
        env = {"lib": lib, "a": lib.ones(2, 3), "b": lib.ones(2, 3), "v": lib.ones(3),
               "w": lib.ones(4)}
        try:
            outcomes.append(tuple(eval(expr, env).shape))
        except (RuntimeError, TypeError, ValueError) as error:
            outcomes.append(type(error).__name__)
    assert outcomes[0] == outcomes[1], outcomes


@pytest.mark.parametrize("shapes", [((2, 3), (3, 4)), ((3,), (3,)), ((2, 2, 3), (3,)),
                                    ((2, 3), (2, 3, 2))])
def test_integer_matmul_matches_torch(shapes):
    torch = pytest.importorskip("torch")
    a = np.arange(np.prod(shapes[0])).reshape(shapes[0]) - 3
    b = np.arange(np.prod(shapes[1])).reshape(shapes[1]) % 4
    ours = llgrad.tensor(a) @ llgrad.tensor(b)
    theirs = torch.tensor(a) @ torch.tensor(b)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


EINSUM_ERRORS = ["lib.einsum('ij,jk', a)", "lib.einsum('ij', a, a)", "lib.einsum('ijk', a)",
                 "lib.einsum('ij->ik', a)", "lib.einsum('ij->ii', a)",
                 "lib.einsum('ij,jk->ik', a, lib.ones(4, 2))", "lib.einsum('i1', a)"]


@pytest.mark.parametrize("expr", EINSUM_ERRORS)
def test_einsum_errors_match_torch(expr):
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (llgrad, torch):
        try:
            eval(expr, {"lib": lib, "a": lib.ones(2, 3)})
            outcomes.append("no error")
        except (RuntimeError, ValueError) as error:
            outcomes.append(type(error).__name__)
    assert outcomes[0] == outcomes[1], outcomes


def test_einsum_forms_llgrad_does_not_support_say_so():
    x = llgrad.ones(3, 3)
    with pytest.raises(NotImplementedError, match="ellipsis"):
        llgrad.einsum("...ij->...ji", x)
    with pytest.raises(NotImplementedError, match="repeated"):
        llgrad.einsum("ii->i", x)


def test_einsum_broadcasts_size_one_dims_and_takes_a_list_like_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 1, 3)), rng.standard_normal((1, 4, 3))
    ours = llgrad.einsum("bij,bkj->bik", [llgrad.tensor(a), llgrad.tensor(b)])
    theirs = torch.einsum("bij,bkj->bik", [torch.tensor(a), torch.tensor(b)])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
