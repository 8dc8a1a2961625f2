"""LLVM types and constants for llgrad's dtypes, and helpers that work on scalars and vectors
alike (so one emitter serves a vector loop body and its scalar remainder)."""
import struct

from llvmlite import ir

from .. import dtypes

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F16 = ir.HalfType()
F32 = ir.FloatType()
F64 = ir.DoubleType()
VOID = ir.VoidType()
I8P = I8.as_pointer()

_SCALAR = {
    "bool": I8,  # stored as a byte, as NumPy does; I1 in registers
    "uint8": I8, "int8": I8, "int16": I16, "int32": I32, "int64": I64,
    "float16": F16, "float32": F32, "float64": F64,
}


def storage_type(dtype):
    """The in-memory LLVM type of one element of `dtype`."""
    return _SCALAR[dtype.name]


def value_type(dtype):
    """The in-register LLVM type: booleans are i1 in registers, bytes in memory."""
    return I1 if dtype is dtypes.bool_ else _SCALAR[dtype.name]


def vector_of(scalar_type, lanes):
    return scalar_type if lanes == 1 else ir.VectorType(scalar_type, lanes)


def lanes_of(value_or_type):
    t = getattr(value_or_type, "type", value_or_type)
    return t.count if isinstance(t, ir.VectorType) else 1


def element_type(value_or_type):
    t = getattr(value_or_type, "type", value_or_type)
    return t.element if isinstance(t, ir.VectorType) else t


def is_float_type(t):
    return isinstance(element_type(t), (ir.HalfType, ir.FloatType, ir.DoubleType))


def float_constant(scalar_type, value):
    """An exactly representable constant: float32 values are rounded to float32 first (LLVM
    rejects a float constant that is not exactly representable in its type)."""
    if isinstance(scalar_type, ir.FloatType):
        value = struct.unpack("<f", struct.pack("<f", value))[0]
    return ir.Constant(scalar_type, value)


def constant(like, value):
    """A constant of the type of `like` (a type or a value; scalar or vector): vectors get the
    value splatted in every lane."""
    t = getattr(like, "type", like)
    scalar = element_type(t)
    if is_float_type(scalar):
        c = float_constant(scalar, float(value))
    else:
        c = ir.Constant(scalar, int(value))
    if isinstance(t, ir.VectorType):
        return ir.Constant(t, [c] * t.count)
    return c


def splat(builder, scalar, lanes):
    """A scalar value broadcast to every lane of a vector (returns it unchanged for 1 lane)."""
    if lanes == 1:
        return scalar
    vtype = ir.VectorType(scalar.type, lanes)
    first = builder.insert_element(ir.Constant(vtype, ir.Undefined), scalar, I32(0))
    return builder.shuffle_vector(first, ir.Constant(vtype, ir.Undefined),
                                  ir.Constant(ir.VectorType(I32, lanes), [0] * lanes))


def mangled(t):
    """LLVM's overload suffix of a type: f32, v16f32, i64, v8i1, ..."""
    if isinstance(t, ir.VectorType):
        return f"v{t.count}{mangled(t.element)}"
    if isinstance(t, ir.IntType):
        return f"i{t.width}"
    return {ir.HalfType: "f16", ir.FloatType: "f32", ir.DoubleType: "f64"}[type(t)]


def declare(module, name, function_type):
    """The function `name` of `module`, declared with `function_type` if not there yet."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, function_type, name)


def intrinsic(builder, name, args, result_type=None):
    """Call LLVM intrinsic `llvm.<name>` overloaded on the type of the first argument
    (llvm.fma, llvm.rint, llvm.fabs, llvm.maxnum, ...)."""
    t = args[0].type
    fn = declare(builder.module, f"llvm.{name}.{mangled(t)}",
                 ir.FunctionType(result_type or t, [a.type for a in args]))
    return builder.call(fn, args)
