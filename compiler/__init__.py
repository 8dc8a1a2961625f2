"""llgrad.compiler: primitives, graph IR, autodiff, passes and lowering.

It knows nothing about the frontend's Tensor: values reach it as NumPy arrays or graph values.
"""
from . import dtypes, primitives
from .primitive import REGISTRY, Primitive, register_handler
