"""The graph IR: a Graph is a list of Nodes in SSA form over Values.

A Value is produced by exactly one Node (or is a graph input) and carries its abstract value
(shape, dtype). Calling a primitive on Values appends a Node to their graph (the primitive's
shape rule types the result), so VJP rules written in primitives emit graph nodes when they run
on Values: that is how the autodiff pass builds the backward graph with the eager rules.
"""
import itertools

import numpy as np

from . import dtypes
from .primitive import REGISTRY, Aval, Primitive, define, numel, register_handler, shape_of


class Value:
    """One SSA value: produced by `node` (output `index`), or a graph input when node is None."""

    __slots__ = ("graph", "aval", "node", "index", "name", "__weakref__")

    def __init__(self, graph, aval, node=None, index=0, name=None):
        self.graph = graph
        self.aval = aval
        self.node = node
        self.index = index
        self.name = name

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self):
        return len(self.aval.shape)

    @property
    def size(self):
        """Number of elements, like ndarray.size (frontend code asks either kind of storage)."""
        return numel(self.aval.shape)

    def __repr__(self):
        return f"%{self.name}:{self.aval}"

    # Arithmetic, so VJP rules read like math on graph values too.
    def __add__(self, other):
        return REGISTRY["add"](self, other)

    def __radd__(self, other):
        return REGISTRY["add"](other, self)

    def __sub__(self, other):
        return REGISTRY["sub"](self, other)

    def __rsub__(self, other):
        return REGISTRY["sub"](other, self)

    def __mul__(self, other):
        return REGISTRY["mul"](self, other)

    def __rmul__(self, other):
        return REGISTRY["mul"](other, self)

    def __truediv__(self, other):
        return REGISTRY["div"](self, other)

    def __rtruediv__(self, other):
        return REGISTRY["div"](other, self)

    def __neg__(self):
        return REGISTRY["neg"](self)

    def __pow__(self, other):
        return REGISTRY["pow"](self, other)

    __hash__ = object.__hash__


class Node:
    """One primitive application: `outputs = prim(*inputs, **params)`."""

    __slots__ = ("prim", "inputs", "params", "outputs", "__weakref__")

    def __init__(self, prim, inputs, params, outputs):
        self.prim = prim
        self.inputs = inputs
        self.params = params
        self.outputs = outputs

    def __repr__(self):
        return f"<Node {self.prim.name}>"


class Graph:
    """Inputs, nodes in topological order, outputs. Nodes are appended as primitives are called on
    the graph's values; passes return new graphs."""

    def __init__(self, name="graph"):
        self.name = name
        self.inputs = []
        self.nodes = []
        self.outputs = []
        self._names = itertools.count()

    def add_input(self, aval, name=None):
        value = Value(self, aval, None, 0, name or f"in{len(self.inputs)}")
        self.inputs.append(value)
        return value

    def fresh_name(self):
        return str(next(self._names))

    def add_node(self, prim, inputs, params, avals):
        node = Node(prim, tuple(inputs), params, ())
        node.outputs = tuple(Value(self, aval, node, i, self.fresh_name())
                             for i, aval in enumerate(avals))
        self.nodes.append(node)
        return node

    def constant(self, array):
        array = np.asarray(array)
        aval = Aval(array.shape, dtypes.from_numpy(array.dtype))
        return self.add_node(CONSTANT, (), {"value": array}, (aval,)).outputs[0]

    def __repr__(self):
        from .printer import format_graph

        return format_graph(self)


# ---- building nodes by calling primitives on Values --------------------------------------------

# Operands whose dtype a Python scalar operand takes: `where(c, x, 0.5)` makes 0.5 like x, not
# like the boolean condition. Other primitives: the first graph value.
_SCALAR_TAKES_DTYPE_FROM = {"where": (1, 2)}


def _literal_dtype(prim, args):
    positions = _SCALAR_TAKES_DTYPE_FROM.get(prim.name, range(len(args)))
    for i in positions:
        if isinstance(args[i], Value):
            return args[i].dtype
    for a in args:
        if isinstance(a, Value):
            return a.dtype
    raise TypeError("a primitive on graph values needs at least one graph value operand")


def _to_value(graph, a, dtype):
    """Python scalars and arrays become constants; a scalar takes the dtype of its partner
    operand (a weak scalar, as in NumPy and PyTorch)."""
    if isinstance(a, Value):
        if a.graph is not graph:
            raise ValueError("values from two different graphs cannot be combined")
        return a
    if isinstance(a, (bool, int, float)) and not isinstance(a, np.ndarray):
        return graph.constant(np.asarray(a, dtype=dtype.np))
    if isinstance(a, (np.ndarray, np.generic)):
        return graph.constant(np.asarray(a))
    raise TypeError(f"cannot use {type(a).__name__} as an operand of a graph primitive (values "
                    f"are positional, parameters such as shape= or axes= go by keyword)")


def apply_to_values(prim, args, params):
    graph = next(a.graph for a in args if isinstance(a, Value))
    dtype = _literal_dtype(prim, args)
    inputs = [_to_value(graph, a, dtype) for a in args]
    aval = prim.abstract(*inputs, **params)
    avals = aval if isinstance(aval, tuple) else (aval,)
    node = graph.add_node(prim, inputs, params, avals)
    return node.outputs if isinstance(aval, tuple) else node.outputs[0]


register_handler(Value, apply_to_values)


def _constant_impl(value):
    return value


CONSTANT = define("constant", _constant_impl,
                  lambda value: Aval(np.shape(value), dtypes.from_numpy(np.asarray(value).dtype)),
                  family="creation")


# ---- custom VJP regions ------------------------------------------------------------------------

def _custom_vjp_impl(*args, n_inputs, rule, params, n_outputs):
    outs = args[n_inputs:]
    return outs if n_outputs > 1 else outs[0]


def _custom_vjp_abstract(*args, n_inputs, rule, params, n_outputs):
    avals = tuple(Aval(shape_of(a), a.dtype) for a in args[n_inputs:])
    return avals if n_outputs > 1 else avals[0]


# `custom_vjp(*inputs, *outputs)` is the identity on `outputs`, which a composite op computed
# from `inputs` with primitives. The autodiff pass differentiates it with the op's own VJP
# `rule` and does not look inside; afterwards `inline_custom_vjp` removes it.
CUSTOM_VJP = define("custom_vjp", _custom_vjp_impl, _custom_vjp_abstract, family="control")


def custom_vjp(inputs, outputs, rule, params):
    result = CUSTOM_VJP(*inputs, *outputs, n_inputs=len(inputs), rule=rule, params=params,
                        n_outputs=len(outputs))
    return result if isinstance(result, tuple) else (result,)


def is_primitive(obj):
    return isinstance(obj, Primitive)
