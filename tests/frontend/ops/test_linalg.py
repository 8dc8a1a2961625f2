"""The linalg rows of the op table: gradcheck, PyTorch parity (values, gradients, grad_fn graphs,
non-contiguous inputs) and second derivatives."""
from .harness import OpTests


class TestLinalgOps(OpTests):
    family = "linalg"
