"""Flatten parameters into one vector and back."""
from ...ops import shape


def parameters_to_vector(parameters):
    return shape.cat([p.view(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    from ...tensor import Tensor

    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n
