"""llgrad.optim: optimizers and learning-rate schedulers, as in torch.optim."""
# `name as name`: a re-export, as type checkers require of a typed package.
from . import lr_scheduler as lr_scheduler  # noqa: F401
from .adagrad import Adagrad as Adagrad  # noqa: F401
from .adam import Adam as Adam, AdamW as AdamW  # noqa: F401
from .optimizer import Optimizer as Optimizer  # noqa: F401
from .rmsprop import RMSprop as RMSprop  # noqa: F401
from .sgd import SGD as SGD  # noqa: F401


# A name PyTorch has here and llgrad does not: an AttributeError saying it is not provided yet.
from .._missing import missing_attributes as _missing_attributes  # noqa: E402

__getattr__ = _missing_attributes(__name__)
