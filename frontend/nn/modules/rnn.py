"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, as in torch.nn.

Each layer is a composition of llgrad ops written the way PyTorch's CPU implementation
(ATen's RNN.cpp) computes it, so values, gradients and node names follow PyTorch's:

- the input projection of a whole layer is one `linear` over every time step
  (`x W_ih^T + b_ih`), then unbound into steps;
- each step adds `h W_hh^T + b_hh` and applies the cell's gates (PyTorch's formulas and gate
  order: LSTM i, f, g, o; GRU r, z, n; the GRU's new gate is `tanh(x_n + r * (h W_hn^T + b_hn))`);
- a layer's outputs are stacked (StackBackward0); a bidirectional layer runs the reverse
  direction over the reversed steps and concatenates both on the feature axis (CatBackward0);
- dropout (PyTorch's CPU stream, through `F.dropout`) applies to the output of every layer but
  the last, in training mode; the final states of all layers and directions are stacked.

The time loop is plain Python: eagerly it builds the autograd graph step by step, and under
`llgrad.compile` it unrolls into one graph (a sequence of 32 steps is 32 copies of the cell)
that the native back end fuses and compiles.

A float32 LSTM layer without projection is, as in PyTorch (its oneDNN path), one op per layer
and direction (node MkldnnRnnLayerBackward0) whose forward and backward-through-time are
written in compiler primitives; see LSTM_LAYER below. Everything else (RNN, GRU, float64 or
projected LSTMs, the cells) is the step-by-step composition PyTorch's native path records.

Parameters, their names (`weight_ih_l0`, `bias_hh_l1_reverse`, ...), shapes, order and
initialisation (every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), drawn in
registration order) are PyTorch's, so a seeded model starts from PyTorch's exact weights.
PackedSequence inputs are not supported (a NotImplementedError says so).
"""
import math
import numbers
import warnings

from ...compiler import dtypes
from ...compiler import primitives as P
from ...compiler.primitive import shape_of
from ...dispatch import Op, apply, primitive_op
from ...ops import creation, elementwise, shape
from ...ops.linalg import linear, matmul
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

# PyTorch finishes a batch_first RNN or GRU layer with an in-place `output.transpose_(0, 1)` on
# the freshly stacked output, whose node is TransposeBackward1; the result is that transposed
# tensor (not a view of anything the caller can see), so it is not marked as a view here either.
_TRANSPOSE_INPLACE = primitive_op("TransposeBackward1", P.permute)


def _transpose01_inplace(t):
    perm = (1, 0) + tuple(range(2, t.ndim))
    return apply(_TRANSPOSE_INPLACE, (t,), {"perm": perm})


# `t.unbind(0)` of an axis of length 1 (llgrad's unbind currently returns the tensor with that
# axis kept): the one piece, recorded as PyTorch records it.
_UNBIND_ONE = Op("UnbindBackward0", lambda x: P.reshape(x, shape=shape_of(x)[1:]),
                 (lambda g, out, x: P.reshape(g, shape=shape_of(x)),))


def _unbind0(t):
    if t.shape[0] == 1:
        return (shape.as_view(apply(_UNBIND_ONE, (t,)), t),)
    return shape.unbind(t, 0)


# PyTorch's cells split their gates with unsafe_chunk (node UnsafeSplitBackward0; the pieces are
# not views).
_UNSAFE_SPLITS = {}


def _unsafe_chunk(t, chunks):
    op = _UNSAFE_SPLITS.get(chunks)
    if op is None:
        op = _UNSAFE_SPLITS[chunks] = Op("UnsafeSplitBackward0", shape._split_forward,
                                         (shape._split_vjp,), n_outputs=chunks)
    n = t.shape[1] // chunks
    return apply(op, (t,), {"axis": 1, "sections": (n,) * chunks})


def _packed_sequence_error(name):
    return NotImplementedError(
        f"{name}: PackedSequence inputs are not supported by llgrad yet; pass a padded tensor "
        f"of shape (L, N, H_in) (or (N, L, H_in) with batch_first=True) instead")


def _is_packed(input):
    return not isinstance(input, Tensor) and (
        type(input).__name__ == "PackedSequence" or hasattr(input, "batch_sizes"))


# ---- one step of each cell: PyTorch's formulas (ATen RNN.cpp), with the input projection given --

def _simple_step(activation):
    def step(xw, h, w_hh, b_hh, w_hr=None):
        return activation(linear(h, w_hh, b_hh) + xw)
    return step


def _lstm_step(xw, hidden, w_hh, b_hh, w_hr=None):
    hx, cx = hidden
    gates = linear(hx, w_hh, b_hh) + xw
    ingate, forgetgate, cellgate, outgate = _unsafe_chunk(gates, 4)
    ingate = elementwise.sigmoid(ingate)
    forgetgate = elementwise.sigmoid(forgetgate)
    cellgate = elementwise.tanh(cellgate)
    outgate = elementwise.sigmoid(outgate)
    cy = forgetgate * cx + ingate * cellgate
    hy = outgate * elementwise.tanh(cy)
    if w_hr is not None:
        hy = matmul(hy, w_hr.t())
    return hy, cy


def _gru_step(xw, hx, w_hh, b_hh, w_hr=None):
    i_r, i_z, i_n = _unsafe_chunk(xw, 3)
    h_r, h_z, h_n = _unsafe_chunk(linear(hx, w_hh, b_hh), 3)
    resetgate = elementwise.sigmoid(h_r + i_r)
    inputgate = elementwise.sigmoid(h_z + i_z)
    newgate = elementwise.tanh(i_n + h_n * resetgate)
    return (hx - newgate) * inputgate + newgate


_STEPS = {
    "RNN_TANH": _simple_step(elementwise.tanh),
    "RNN_RELU": _simple_step(elementwise.relu),
    "LSTM": _lstm_step,
    "GRU": _gru_step,
}


# ---- the float32 LSTM layer as one op: PyTorch's oneDNN path -------------------------------------
#
# PyTorch runs a float32 LSTM layer (no projection) as one oneDNN call per layer and direction,
# recorded as one MkldnnRnnLayerBackward0 node with outputs (output, h_n, c_n, workspace). llgrad
# does the same: one op, its forward and its VJP written in compiler primitives, so it runs
# eagerly on arrays, on tensors under create_graph=True, and inside llgrad.compile, where the
# time loop unrolls into the graph. The VJP is backpropagation through time over the saved gate
# activations and cell states: one small matmul per step (the hidden state's gradient), then
# the weight gradients of all steps as single matmuls over the stacked gate gradients, which is
# far less work for the compiler than differentiating 32 copies of the cell.

def _rows(x, start, stop):
    return P.slice_(x, starts=(start, 0), stops=(stop, shape_of(x)[1]), steps=(1, 1))


def _cols(x, start, stop):
    return P.slice_(x, starts=(0, start), stops=(shape_of(x)[0], stop), steps=(1, 1))


def _step(x, t):
    """x[t] of a (T, B, H) value."""
    _, B, H = shape_of(x)
    return P.reshape(P.slice_(x, starts=(t, 0, 0), stops=(t + 1, B, H), steps=(1, 1, 1)),
                     shape=(B, H))


def _lstm_layer_forward(x, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse):
    """x (T, B, I), hx and cx (B, H). Returns (output (T, B, H), h_n, c_n, the gates before
    their activations (T*B, 4H: i, f, g, o), the cell states (T*B, H)), rows in time order."""
    T, B, I = shape_of(x)
    H = shape_of(hx)[1]
    x2 = P.reshape(x, shape=(T * B, I))
    w_ih_t = P.transpose_last2(w_ih)
    xw = P.matmul(x2, w_ih_t) if b_ih is None else P.matmul_add(b_ih + b_hh, x2, w_ih_t)
    w_hh_t = P.transpose_last2(w_hh)
    hs, gates, cells = [None] * T, [None] * T, [None] * T
    h, c = hx, cx
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        z = P.matmul_add(_rows(xw, t * B, (t + 1) * B), h, w_hh_t)
        i, f, g, o = _lstm_gates(z, H)
        c = f * c + i * g
        h = o * P.tanh(c)
        hs[t], gates[t], cells[t] = h, z, c
    output = P.reshape(P.concat(*hs, axis=0), shape=(T, B, H))
    return output, h, c, P.concat(*gates, axis=0), P.concat(*cells, axis=0)


def _lstm_gates(z, H):
    return (P.sigmoid(_cols(z, 0, H)), P.sigmoid(_cols(z, H, 2 * H)),
            P.tanh(_cols(z, 2 * H, 3 * H)), P.sigmoid(_cols(z, 3 * H, 4 * H)))


def _lstm_layer_vjp(grads, outs, x, w_ih, w_hh, b_ih, b_hh, hx, cx, reverse):
    # Cotangents of the workspace outputs (gates, cells) only arise in higher-order derivatives
    # (create_graph=True), where this rule's own results read them; they join the recurrence.
    g_out, g_hy, g_cy, g_gates, g_cells = grads
    output, _, _, gates, cells = outs
    T, B, I = shape_of(x)
    H = shape_of(hx)[1]
    dh, dc = g_hy, g_cy
    order = range(T - 1, -1, -1) if reverse else range(T)
    d_gates = [None] * T
    previous = None
    for t in reversed(order):
        rows = (t * B, (t + 1) * B)
        if g_out is not None:
            g_t = _step(g_out, t)
            dh = g_t if dh is None else dh + g_t
        if dh is None:
            dh = P.full_like(hx, shape=(B, H), value=0)
        i, f, g, o = _lstm_gates(_rows(gates, *rows), H)
        first = t == (T - 1 if reverse else 0)
        c_prev = cx if first else _rows(cells, *((t + 1) * B, (t + 2) * B) if reverse
                                        else ((t - 1) * B, t * B))
        tanh_c = P.tanh(_rows(cells, *rows))
        d_o = dh * tanh_c
        d_c = dh * o * (1 - tanh_c * tanh_c)
        if dc is not None:
            d_c = d_c + dc
        if g_cells is not None:
            d_c = d_c + _rows(g_cells, *rows)
        d_g = P.concat(d_c * g * i * (1 - i), d_c * c_prev * f * (1 - f),
                       d_c * i * (1 - g * g), d_o * o * (1 - o), axis=1)
        if g_gates is not None:
            d_g = d_g + _rows(g_gates, *rows)
        dc = d_c * f
        dh = P.matmul(d_g, w_hh)
        d_gates[t] = d_g
    d_g = P.concat(*d_gates, axis=0)  # (T*B, 4H), rows in time order
    out2 = P.reshape(output, shape=(T * B, H))
    # the hidden state each step read, in time order
    h_prev = (P.concat(_rows(out2, B, T * B), hx, axis=0) if reverse
              else P.concat(hx, _rows(out2, 0, (T - 1) * B), axis=0)) if T > 1 else hx
    d_g_t = P.transpose_last2(d_g)
    d_w_hh = P.matmul(d_g_t, h_prev)
    d_w_ih = P.matmul(d_g_t, P.reshape(x, shape=(T * B, I)))
    d_x = P.reshape(P.matmul(d_g, w_ih), shape=(T, B, I))
    d_b = None if b_ih is None else P.reduce_sum(d_g, axes=(0,), keepdims=False)
    return d_x, d_w_ih, d_w_hh, d_b, d_b, dh, dc


LSTM_LAYER = Op("MkldnnRnnLayerBackward0", _lstm_layer_forward, _lstm_layer_vjp,
                saves=(0, 1, 2, 5, 6), saves_out=True, n_outputs=5)

# The dtypes whose LSTM layers run as that one op, as PyTorch's oneDNN path does (float64 layers
# are composed step by step, as PyTorch's native path composes them). The tests widen it to
# float64 for gradcheck.
_FUSED_LSTM_DTYPES = {dtypes.float32}


class RNNBase(Module):
    """Shared construction (parameters in PyTorch's layout and order), argument checks and the
    layer stack for RNN, LSTM and GRU."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"]
    __jit_unused_properties__ = ["all_weights"]

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1

        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError("batch_first should be of type bool, got: "
                            f"{type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")

        if mode == "LSTM":
            gate_size = 4 * hidden_size
        elif mode == "GRU":
            gate_size = 3 * hidden_size
        elif mode in ("RNN_TANH", "RNN_RELU"):
            gate_size = hidden_size
        else:
            raise ValueError("Unrecognized RNN mode: " + mode)

        def empty(*size):
            return Parameter(creation.empty(size, dtype=dtype, device=device))

        self._flat_weights_names = []
        self._all_weights = []
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                w_ih = empty(gate_size, layer_input_size)
                w_hh = empty(gate_size, real_hidden_size)
                b_ih = empty(gate_size)
                b_hh = empty(gate_size)
                layer_params = (w_ih, w_hh, b_ih, b_hh) if bias else (w_ih, w_hh)
                if proj_size > 0:
                    layer_params += (empty(proj_size, hidden_size),)
                suffix = "_reverse" if direction == 1 else ""
                param_names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    param_names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    param_names += ["weight_hr_l{}{}"]
                param_names = [x.format(layer, suffix) for x in param_names]
                for name, param in zip(param_names, layer_params):
                    setattr(self, name, param)
                self._flat_weights_names.extend(param_names)
                self._all_weights.append(param_names)
        self._init_flat_weights()
        self.reset_parameters()

    # ---- parameter bookkeeping (PyTorch's attributes; flattening is cuDNN's and a no-op here) --

    def _init_flat_weights(self):
        self._flat_weights = [getattr(self, wn) if hasattr(self, wn) else None
                              for wn in self._flat_weights_names]

    def __setattr__(self, attr, value):
        if "_flat_weights_names" in self.__dict__ and attr in self._flat_weights_names:
            self._flat_weights[self._flat_weights_names.index(attr)] = value
        super().__setattr__(attr, value)

    def flatten_parameters(self):
        """A no-op, as PyTorch's is off the GPU (it packs weights for cuDNN)."""

    def _apply(self, fn, recurse=True):
        ret = super()._apply(fn, recurse)
        self._init_flat_weights()
        return ret

    @property
    def all_weights(self):
        """The parameters per layer and direction, as PyTorch's `all_weights`: a list of
        [weight_ih, weight_hh, bias_ih, bias_hh(, weight_hr)] lists."""
        return [[getattr(self, weight) for weight in weights] for weights in self._all_weights]

    def reset_parameters(self):
        """Every parameter drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in
        PyTorch's order, so a seeded layer gets PyTorch's exact weights."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # ---- checks (PyTorch's messages) ------------------------------------------------------------

    def check_input(self, input, batch_sizes):
        """PyTorch's checks of the input's dtype (the weights'), rank (3, or 2 for packed
        data) and feature size, with its messages."""
        weight_dtype = self._flat_weights[0].dtype
        if input.dtype != weight_dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dtype}). "
                f"Convert input: input.to({weight_dtype}), or convert model: "
                f"model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got "
                               f"{input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes):
        """(num_layers * num_directions, batch, proj_size or hidden_size), as PyTorch's."""
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, size)

    def check_hidden_size(self, hx, expected_hidden_size,
                          msg="Expected hidden size {}, got {}"):
        """Raises PyTorch's RuntimeError (`msg`) when `hx` is not of the expected size."""
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes):
        """The input's and the initial state's checks, as PyTorch's."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        """`hx` itself: the permutation of a PackedSequence's sorted batch is never needed,
        since llgrad does not take PackedSequence inputs (NotImplementedError)."""
        if permutation is None:
            return hx
        raise _packed_sequence_error(type(self).__name__)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ---- the layer stack ------------------------------------------------------------------------

    def _zeros(self, input, size):
        batch = input.size(0) if self.batch_first else input.size(1)
        return creation.zeros((self.num_layers * (2 if self.bidirectional else 1), batch, size),
                              dtype=input.dtype)

    def _direction(self, step, layer_input, hidden, names, reverse):
        """One direction of one layer over the whole sequence: the stacked outputs (in time
        order) and the final hidden state."""
        params = [getattr(self, n) for n in names]
        w_ih, w_hh = params[0], params[1]
        b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
        w_hr = params[-1] if self.proj_size > 0 else None
        steps = _unbind0(linear(layer_input, w_ih, b_ih))
        if reverse:
            steps = steps[::-1]
        outputs = []
        for xw in steps:
            hidden = step(xw, hidden, w_hh, b_hh, w_hr)
            outputs.append(hidden[0] if isinstance(hidden, tuple) else hidden)
        if reverse:
            outputs.reverse()
        return shape.stack(outputs, 0), hidden

    def _fused_lstm_direction(self, step, layer_input, hidden, names, reverse):
        """One direction of one LSTM layer as the single LSTM_LAYER op (PyTorch's oneDNN path)."""
        params = [getattr(self, n) for n in names]
        w_ih, w_hh = params[0], params[1]
        b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
        output, h_n, c_n, _, _ = apply(LSTM_LAYER, (layer_input, w_ih, w_hh, b_ih, b_hh) + hidden,
                                       {"reverse": reverse})
        return output, (h_n, c_n)

    def _run(self, input, hiddens):
        """input: (L, N, H_in), time-major. hiddens: one state per layer and direction (for the
        LSTM an (h, c) pair). Returns the last layer's output and the final states in order."""
        if input.size(0) == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        step = _STEPS[self.mode]
        direction = self._direction
        if (self.mode == "LSTM" and self.proj_size == 0 and input.dtype in _FUSED_LSTM_DTYPES
                and input.numel() > 0):
            direction = self._fused_lstm_direction
        num_directions = 2 if self.bidirectional else 1
        final = []
        layer_input = input
        for layer in range(self.num_layers):
            index = layer * num_directions
            output, last = direction(step, layer_input, hiddens[index], self._all_weights[index],
                                     False)
            final.append(last)
            if self.bidirectional:
                rev_output, rev_last = direction(step, layer_input, hiddens[index + 1],
                                                 self._all_weights[index + 1], True)
                final.append(rev_last)
                output = shape.cat([output, rev_output], output.dim() - 1)
            layer_input = output
            if self.dropout != 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, final

    def _prepare(self, input):
        """PyTorch's input handling shared by the three layers: 2-D (unbatched) input given a
        batch axis. Returns (input, is_batched, batch_dim)."""
        batch_dim = 0 if self.batch_first else 1
        is_batched = input.dim() == 3
        if not is_batched:
            input = shape.unsqueeze(input, batch_dim)
        return input, is_batched, batch_dim

    def _finish(self, output, is_batched, batch_dim):
        if self.batch_first:
            if self.mode == "LSTM":
                # PyTorch's LSTM transposes out of place (TransposeBackward0, a view).
                output = shape.transpose(output, 0, 1)
            else:
                output = _transpose01_inplace(output)
        if not is_batched:
            output = shape.squeeze(output, batch_dim)
        return output

    def _time_major(self, input):
        return shape.transpose(input, 0, 1) if self.batch_first else input

    def _forward_with_hidden_state(self, input, hx):
        """RNN's and GRU's forward after their input checks: one hidden state (no cell state),
        checked and shaped as PyTorch does."""
        input, is_batched, batch_dim = self._prepare(input)
        if hx is not None:
            if not is_batched:
                if hx.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got "
                                       f"{hx.dim()}-D tensor")
                hx = shape.unsqueeze(hx, 1)
            elif hx.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                   f"{hx.dim()}-D tensor")
        else:
            hx = self._zeros(input, self.hidden_size)
        self.check_forward_args(input, hx, None)
        output, final = self._run(self._time_major(input), _unbind0(hx))
        hidden = shape.stack(final, 0)
        output = self._finish(output, is_batched, batch_dim)
        if not is_batched:
            hidden = shape.squeeze(hidden, 1)
        return output, hidden


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or ReLU)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        if _is_packed(input):
            raise _packed_sequence_error(type(self).__name__)
        if input.dim() not in (2, 3):
            raise ValueError(f"RNN: Expected input to be 2D or 3D, got {input.dim()}D tensor "
                             f"instead")
        return self._forward_with_hidden_state(input, hx)


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o; optional projection of h by weight_hr)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes):
        """(num_layers * num_directions, batch, hidden_size): c_0's size, as PyTorch's."""
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes):
        """The input's, h_0's and c_0's checks, as PyTorch's."""
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def forward(self, input, hx=None):
        if _is_packed(input):
            raise _packed_sequence_error(type(self).__name__)
        if input.dim() not in (2, 3):
            raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
        input, is_batched, batch_dim = self._prepare(input)
        real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            hx = (self._zeros(input, real_hidden_size), self._zeros(input, self.hidden_size))
        else:
            if is_batched:
                if hx[0].dim() != 3 or hx[1].dim() != 3:
                    raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but "
                                       f"got ({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            else:
                if hx[0].dim() != 2 or hx[1].dim() != 2:
                    raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but "
                                       f"got ({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                hx = (shape.unsqueeze(hx[0], 1), shape.unsqueeze(hx[1], 1))
        self.check_forward_args(input, hx, None)
        states = list(zip(_unbind0(hx[0]), _unbind0(hx[1])))
        output, final = self._run(self._time_major(input), states)
        h_n = shape.stack([h for h, _ in final], 0)
        c_n = shape.stack([c for _, c in final], 0)
        output = self._finish(output, is_batched, batch_dim)
        if not is_batched:
            h_n, c_n = shape.squeeze(h_n, 1), shape.squeeze(c_n, 1)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n; n = tanh(x_n + r * (h W_hn^T + b_hn)))."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        if _is_packed(input):
            raise _packed_sequence_error(type(self).__name__)
        if input.dim() not in (2, 3):
            raise ValueError(f"GRU: Expected input to be 2D or 3D, got {input.dim()}D instead")
        return self._forward_with_hidden_state(input, hx)


# ---- cells --------------------------------------------------------------------------------------

def _check_cell_input(input, input_size):
    if input.size(1) != input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected "
                           f"{input_size}")


def _check_cell_hidden(input, hx, hidden_size, label):
    if input.size(0) != hx.size(0):
        raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{label} batch "
                           f"size {hx.size(0)}")
    if hx.size(1) != hidden_size:
        raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {hx.size(1)}, "
                           f"expected {hidden_size}")


class RNNCellBase(Module):
    """The base of RNNCell, LSTMCell and GRUCell, as PyTorch's: weight_ih
    (num_chunks * hidden_size, input_size), weight_hh (num_chunks * hidden_size, hidden_size)
    and, with bias, bias_ih and bias_hh, drawn as PyTorch draws them (`reset_parameters`).
    The cells are compositions of llgrad ops (PyTorch's node names); a 1-d input is one
    unbatched sample."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(creation.empty((num_chunks * hidden_size, input_size),
                                                  dtype=dtype, device=device))
        self.weight_hh = Parameter(creation.empty((num_chunks * hidden_size, hidden_size),
                                                  dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, dtype=dtype,
                                                    device=device))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, dtype=dtype,
                                                    device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        """Every parameter drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), in
        PyTorch's order, so a seeded cell gets PyTorch's exact weights."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _batched(self, input, hx, name):
        if _is_packed(input):
            raise _packed_sequence_error(name)
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and not isinstance(hx, tuple) and hx.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = shape.unsqueeze(input, 0)
        return input, is_batched

    def _zeros(self, input):
        return creation.zeros((input.size(0), self.hidden_size), dtype=input.dtype)


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or ReLU)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, is_batched = self._batched(input, hx, "RNNCell")
        if hx is None:
            hx = self._zeros(input)
        elif not is_batched:
            hx = shape.unsqueeze(hx, 0)
        if self.nonlinearity == "tanh":
            step = _STEPS["RNN_TANH"]
        elif self.nonlinearity == "relu":
            step = _STEPS["RNN_RELU"]
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        _check_cell_input(input, self.weight_ih.size(1))
        _check_cell_hidden(input, hx, self.weight_hh.size(1), 0)
        ret = step(linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh, self.bias_hh)
        if not is_batched:
            ret = shape.squeeze(ret, 0)
        return ret


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if _is_packed(input):
            raise _packed_sequence_error("LSTMCell")
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got "
                                     f"{value.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = shape.unsqueeze(input, 0)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        else:
            hx = ((shape.unsqueeze(hx[0], 0), shape.unsqueeze(hx[1], 0)) if not is_batched
                  else tuple(hx))
        _check_cell_input(input, self.weight_ih.size(1))
        _check_cell_hidden(input, hx[0], self.weight_hh.size(1), 0)
        _check_cell_hidden(input, hx[1], self.weight_hh.size(1), 1)
        ret = _lstm_step(linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh,
                         self.bias_hh)
        if not is_batched:
            ret = (shape.squeeze(ret[0], 0), shape.squeeze(ret[1], 0))
        return ret


class GRUCell(RNNCellBase):
    """One GRU step: returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, is_batched = self._batched(input, hx, "GRUCell")
        if hx is None:
            hx = self._zeros(input)
        elif not is_batched:
            hx = shape.unsqueeze(hx, 0)
        _check_cell_input(input, self.weight_ih.size(1))
        _check_cell_hidden(input, hx, self.weight_hh.size(1), 0)
        ret = _gru_step(linear(input, self.weight_ih, self.bias_ih), hx, self.weight_hh,
                        self.bias_hh)
        if not is_batched:
            ret = shape.squeeze(ret, 0)
        return ret
