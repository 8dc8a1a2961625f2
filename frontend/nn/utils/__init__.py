"""llgrad.nn.utils: gradient clipping and parameter/vector conversion."""
# `name as name`: a re-export, as type checkers require of a typed package.
from . import hooks as hooks  # noqa: F401
from .clip_grad import (  # noqa: F401
    clip_grad_norm_ as clip_grad_norm_, clip_grad_value_ as clip_grad_value_,
)
from .convert_parameters import (  # noqa: F401
    parameters_to_vector as parameters_to_vector, vector_to_parameters as vector_to_parameters,
)
