"""Flops and bytes of a case, counted from llgrad's compiled graph (the figures `explain`
prints per kernel), never guessed.

- flops: the kernels' own counts (2mnk per GEMM, one per element and graph node in fused loops);
- bytes: what crosses the step's boundary, each input read once and each output written once
  (state updated in place counts both): the traffic no implementation can avoid, so every
  framework is held to the same figure;
- kernel_bytes: what llgrad's kernels read and write, intermediates in the arena included (how
  far its own fusion is from that minimum).
"""

BOUNDARY_KINDS = ("input", "output", "const")


def programs(compiled):
    """The native programs of the specialization a compiled function ran last (the steady
    state: a training step's first call may trace once more when .grad slots fill)."""
    if not compiled.specializations:
        raise RuntimeError("the compiled function was never called")
    spec = compiled.specializations[-1]
    found = []
    for executable in (spec.executable, getattr(spec, "backward_executable", None)):
        program = getattr(getattr(executable, "step", None), "program", None)
        if program is not None:
            found.append(program)
    if not found:
        raise RuntimeError("no native program: the function did not compile to native code")
    return found


def count(compiled):
    """{"flops", "bytes", "kernel_bytes", "kernels"} of the steady-state program(s)."""
    flops = kernel_bytes = boundary = kernels = 0
    for program in programs(compiled):
        read, written = set(), set()
        for kernel in program.kernels:
            flops += kernel.flops
            kernels += 1
            reads, writes = kernel.reads(), kernel.writes()
            kernel_bytes += sum(b.nbytes for b in reads) + sum(b.nbytes for b in writes)
            read |= {id(b): b for b in reads}.keys()
            written |= {id(b): b for b in writes}.keys()
        for buffer in program.buffers:
            if buffer.kind in BOUNDARY_KINDS:
                boundary += buffer.nbytes * ((id(buffer) in read) + (id(buffer) in written))
    return {"flops": int(flops), "bytes": int(boundary), "kernel_bytes": int(kernel_bytes),
            "kernels": kernels}


def ran_natively(compiled):
    """llgrad's compiled cases must have run native code, not the graph interpreter."""
    executions = compiled.stats["executions"]
    if not executions.get("llvm", 0) > 0:
        raise RuntimeError(f"llgrad's compiled step did not run natively: {executions}")
