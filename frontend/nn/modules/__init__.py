"""The layers of `llgrad.nn`."""
# `name as name`: a re-export, as type checkers require of a typed package.
from .activation import (
    ELU as ELU, GELU as GELU, Hardtanh as Hardtanh, LeakyReLU as LeakyReLU,
    LogSigmoid as LogSigmoid, LogSoftmax as LogSoftmax, ReLU as ReLU, ReLU6 as ReLU6,
    Sigmoid as Sigmoid, SiLU as SiLU, Softmax as Softmax, Softmin as Softmin, Softplus as Softplus,
    Softsign as Softsign, Tanh as Tanh, Tanhshrink as Tanhshrink,
)
from .conv import Conv1d as Conv1d, Conv2d as Conv2d
from .container import (
    ModuleDict as ModuleDict, ModuleList as ModuleList, ParameterDict as ParameterDict,
    ParameterList as ParameterList, Sequential as Sequential,
)
from .dropout import Dropout as Dropout
from .flatten import Flatten as Flatten, Unflatten as Unflatten
from .linear import Identity as Identity, Linear as Linear
from .batchnorm import BatchNorm1d as BatchNorm1d, BatchNorm2d as BatchNorm2d
from .loss import (
    BCELoss as BCELoss, BCEWithLogitsLoss as BCEWithLogitsLoss,
    CrossEntropyLoss as CrossEntropyLoss, HuberLoss as HuberLoss, KLDivLoss as KLDivLoss,
    L1Loss as L1Loss, MSELoss as MSELoss, NLLLoss as NLLLoss, SmoothL1Loss as SmoothL1Loss,
)
from .module import Module as Module
from .normalization import LayerNorm as LayerNorm
from .pooling import (
    AdaptiveAvgPool2d as AdaptiveAvgPool2d, AvgPool2d as AvgPool2d, MaxPool2d as MaxPool2d,
)
from .rnn import (
    GRU as GRU, LSTM as LSTM, RNN as RNN, GRUCell as GRUCell, LSTMCell as LSTMCell,
    RNNBase as RNNBase, RNNCell as RNNCell, RNNCellBase as RNNCellBase,
)
from .sparse import Embedding as Embedding
