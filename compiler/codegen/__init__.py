"""Code generation: the loop IR lowered to LLVM IR with llvmlite.ir.

This package builds IR text only; compiling and loading it is the runtime's job
(`llgrad.runtime.llvm`), so the compiler never touches a target machine. Where generated code
depends on the machine (vector width, register count) it takes a target description with
`vector_bits`, `vector_registers` and `lanes(itemsize)`.

- `types`: LLVM types and constants for llgrad dtypes, vector splats.
- `mathlib`: vectorized exp, log, tanh, erf, ... written in IR (LLVM has no vector libm here).
- `gemm`: the packed, cache-blocked matrix multiplication with a register-blocked micro-kernel.
- `sort`: a stable native argsort.
"""
