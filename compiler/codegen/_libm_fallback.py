"""TEMPORARY (development only): math functions through scalar libm calls, lane by lane, until
mathlib.py lands. Not vectorized."""
from llvmlite import ir

from .types import declare, element_type, lanes_of

_NAMES = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "tanh": "tanh",
          "erf": "erf", "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh",
          "cosh": "cosh", "asin": "asin", "acos": "acos", "atan": "atan", "atan2": "atan2",
          "pow": "pow"}


def call(builder, name, args):
    scalar = element_type(args[0].type)
    lanes = lanes_of(args[0])
    if name == "sigmoid":
        one = ir.Constant(args[0].type, 1.0) if lanes == 1 else ir.Constant(
            args[0].type, [ir.Constant(scalar, 1.0)] * lanes)
        e = call(builder, "exp", [builder.fneg(args[0])])
        return builder.fdiv(one, builder.fadd(one, e))
    cname = _NAMES[name] + ("f" if isinstance(scalar, ir.FloatType) else "")
    fn = declare(builder.module, cname, ir.FunctionType(scalar, [scalar] * len(args)))
    if lanes == 1:
        return builder.call(fn, args)
    result = ir.Constant(args[0].type, ir.Undefined)
    for lane in range(lanes):
        parts = [builder.extract_element(a, ir.IntType(32)(lane)) for a in args]
        result = builder.insert_element(result, builder.call(fn, parts), ir.IntType(32)(lane))
    return result
