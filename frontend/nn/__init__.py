"""llgrad.nn: modules, parameters, functional ops and initializers, as in torch.nn."""
# `name as name`: a re-export, as type checkers require of a typed package.
from . import functional as functional, init as init, utils as utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import Module as Module  # noqa: F401
from .modules.module import (  # noqa: F401
    register_module_forward_hook as register_module_forward_hook,
    register_module_forward_pre_hook as register_module_forward_pre_hook,
)
from .parameter import Buffer as Buffer, Parameter as Parameter  # noqa: F401


# A name PyTorch has here and llgrad does not: an AttributeError saying it is not provided yet.
from .._missing import missing_attributes as _missing_attributes  # noqa: E402

__getattr__ = _missing_attributes(__name__)
