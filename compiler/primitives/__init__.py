"""The compiler's closed set of primitives, one family per module.

To add a primitive, copy a neighbour in its family's module: the NumPy reference, the shape/dtype
rule, the VJP written in primitives and what the VJP reads all sit in one row.
"""
from .control import stop_gradient
from .elementwise import (
    abs_, acos, add, asin, atan, atan2, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, cast,
    ceil, cos, cosh, div, eq, erf, exp, expm1, floor, floor_divide, fmod, ge, gt, isfinite, isinf,
    isnan, le, log, log1p, logical_and, logical_not, logical_or, logical_xor, lt, maximum, minimum,
    mul, ne, neg, pow_, reciprocal, remainder, round_, rsqrt, sigmoid, sign, sin, sinh, sqrt, sub,
    tan, tanh, trunc, where)
from .matmul import matmul, matmul_add, transpose_last2
from .movement import (
    broadcast_to, concat, copy, full_like, gather, index_add, pad, permute, reshape, scatter,
    scatter_add, slice_, sum_to, take)
from .reduce import argmax, argmin, argsort, expand_back, reduce_max, reduce_min, reduce_sum
