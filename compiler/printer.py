"""Readable text and Graphviz DOT for graphs: one line per node with shapes and dtypes."""
import numpy as np

_SHORT = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32",
          "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "bool"}


def type_str(aval):
    return f"{_SHORT.get(aval.dtype.name, aval.dtype.name)}[{','.join(map(str, aval.shape))}]"


def _param_str(key, value):
    if isinstance(value, np.ndarray):
        if value.size <= 4:
            return f"{key}={value.tolist()}"
        return f"{key}=<{value.dtype}{list(value.shape)}>"
    if callable(value) or (isinstance(value, tuple) and value and callable(value[0])):
        return f"{key}=<rule>"
    if key == "dtype":
        return f"{key}={value.name}"
    return f"{key}={value}"


def node_line(node):
    outs = ", ".join(f"%{v.name}:{type_str(v.aval)}" for v in node.outputs)
    args = ", ".join(f"%{v.name}" for v in node.inputs)
    params = " ".join(_param_str(k, v) for k, v in node.params.items() if k != "params")
    return f"  {outs} = {node.prim.name}({args}){' ' + params if params else ''}"


def format_graph(graph, title=None):
    ins = ", ".join(f"%{v.name}:{type_str(v.aval)}" for v in graph.inputs)
    lines = [f"{title or graph.name}({ins}) {{"]
    lines += [node_line(node) for node in graph.nodes]
    outs = ", ".join(f"%{v.name}" for v in graph.outputs)
    lines.append(f"  return {outs}")
    lines.append("}")
    return "\n".join(lines)


def to_dot(graph):
    """The graph as Graphviz DOT: inputs as boxes, nodes as ellipses, edges labelled by type."""
    lines = [f'digraph "{graph.name}" {{', "  rankdir=TB;"]
    for v in graph.inputs:
        lines.append(f'  "v{v.name}" [shape=box,label="%{v.name}\\n{type_str(v.aval)}"];')
    for i, node in enumerate(graph.nodes):
        lines.append(f'  "n{i}" [label="{node.prim.name}"];')
        for v in node.inputs:
            source = f"v{v.name}" if v.node is None else f"n{graph.nodes.index(v.node)}"
            lines.append(f'  "{source}" -> "n{i}" [label="{type_str(v.aval)}"];')
    for k, v in enumerate(graph.outputs):
        lines.append(f'  "out{k}" [shape=box,label="out {k}"];')
        source = f"v{v.name}" if v.node is None else f"n{graph.nodes.index(v.node)}"
        lines.append(f'  "{source}" -> "out{k}";')
    lines.append("}")
    return "\n".join(lines)
