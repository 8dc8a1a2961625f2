"""A stable native argsort of one row, written in LLVM IR.

The result equals the NumPy reference (`_argsort_impl` in compiler/primitives/reduce.py) bit
for bit. Ascending is `np.argsort(kind="stable")`. Descending is computed there by flipping
(argsort the reversed row, reverse, map positions back), which works out to a stable
descending sort: larger keys first, equal keys in increasing index, NaN first.

Method:
1. Each key becomes an unsigned integer whose order is NumPy's: floats map -0.0 to +0.0 and
   every NaN to the largest value; signed integers get their sign bit flipped; uint8 and bool
   stay as they are. Descending complements it, so one ascending sort serves both directions
   and NaN moves first, as the flip does.
2. Records (key, index) are sorted in the caller's workspace by a bottom-up merge sort:
   insertion sort on runs of RUN records, then merge passes that alternate between two
   buffers. A merge takes the left record on equal keys, so the sort is stable. Merging is
   branch-free (a select per record: on random keys a branch would mispredict half the time)
   and works from both ends at once (two independent chains of loads and compares). A row
   already in order skips the sorting.
3. The indices are written to `out`.

A record is one u64 `key << 32 | index` when the key has at most 32 bits and the row at most
2**32 elements (one compare per step, half the memory traffic); otherwise two i64, key then
index.
"""
from llvmlite import ir

from .. import dtypes
from .types import I1, I8P, I32, I64, VOID, constant, declare, storage_type

VERSION = 1
RUN = 16  # records per run sorted by insertion before the merge passes
PACKED_MAX_N = 2 ** 32  # longest row whose indices pack into 32 bits of a one-word record

_SHORT = {"float32": "f32", "float64": "f64", "int64": "i64", "int32": "i32", "int16": "i16",
          "int8": "i8", "uint8": "u8", "bool": "b8"}
_UNSIGNED = ("uint8", "bool")


def argsort_workspace_elements(n):
    """i64 scratch elements one row of `n` keys needs: two buffers of n two-word records."""
    return 4 * n


def build_argsort(module, dtype_name):
    """Define (once per module) and return the argsort of one row of `dtype_name` keys:

        void f(T* keys, i64 n, i64 key_stride, i64* out, i64 out_stride,
               i32 descending, i64* workspace)

    `workspace` holds argsort_workspace_elements(n) i64; strides count elements.
    """
    dtype = dtypes.from_name(dtype_name)
    name = f"llgrad_argsort_{_SHORT[dtype.name]}_v{VERSION}"
    if name in module.globals:
        return module.globals[name]
    key_type = storage_type(dtype)
    fn_type = ir.FunctionType(VOID, [key_type.as_pointer(), I64, I64, I64.as_pointer(), I64,
                                     I32, I64.as_pointer()])
    fn = ir.Function(module, fn_type, name)
    fn.attributes.add("nounwind")
    keys, n, key_stride, out, out_stride, descending, workspace = fn.args
    for arg, arg_name in zip(fn.args, ("keys", "n", "key_stride", "out", "out_stride",
                                       "descending", "workspace")):
        arg.name = arg_name
    for pointer in (keys, out, workspace):
        pointer.add_attribute("noalias")

    code = _Code(fn)
    b = code.b
    flip = b.icmp_unsigned("!=", descending, I32(0))

    def emit_sort(packed):
        _Sort(code, packed).emit(lambda i: _order_key(b, dtype, b.load(b.gep(keys, [
            b.mul(i, key_stride)])), flip), n, out, out_stride, workspace)

    if dtype.itemsize <= 4:
        with b.if_else(b.icmp_unsigned("<=", n, I64(PACKED_MAX_N))) as (small, large):
            with small:
                emit_sort(packed=True)
            with large:
                emit_sort(packed=False)
    else:
        emit_sort(packed=False)
    b.ret_void()
    code.finish()
    return fn


def _order_key(b, dtype, x, flip):
    """`x` as an i64 holding an unsigned integer in NumPy's order (complemented if `flip`)."""
    bits = 8 * dtype.itemsize
    int_type = ir.IntType(bits)
    sign = ir.Constant(int_type, 1 << (bits - 1))
    ones = ir.Constant(int_type, -1)
    if dtype.is_floating_point:
        x = b.select(b.fcmp_ordered("==", x, constant(x, 0)), constant(x, 0), x)  # -0.0 -> +0.0
        key = b.bitcast(x, int_type)
        # Negative floats: complement all bits (larger magnitude sorts lower); others: set sign.
        key = b.xor(key, b.or_(b.ashr(key, ir.Constant(int_type, bits - 1)), sign))
        key = b.select(b.fcmp_unordered("uno", x, x), ones, key)  # every NaN last, all equal
    elif dtype.name in _UNSIGNED:
        key = x
    else:
        key = b.xor(x, sign)
    key = b.xor(key, b.select(flip, ones, ir.Constant(int_type, 0)))
    return key if bits == 64 else b.zext(key, I64)


class _Code:
    """An IRBuilder with mutable variables (allocas, promoted to registers by mem2reg) and
    structured loops."""

    def __init__(self, fn):
        # The entry block holds only the allocas; finish() links it to the code.
        self._allocas = ir.IRBuilder(fn.append_basic_block("entry"))
        self._start = fn.append_basic_block("start")
        self.b = ir.IRBuilder(self._start)

    def finish(self):
        self._allocas.branch(self._start)

    def var(self, value, name=""):
        """A variable set to `value` here; read it with b.load, set it with b.store."""
        slot = self._allocas.alloca(value.type, name=name)
        self.b.store(value, slot)
        return slot

    def loop(self, condition, body):
        """while condition(): body()  (both emit code; condition returns an i1). A tuple of
        conditions is a short-circuit `and`: each runs only if those before it held."""
        b = self.b
        conditions = condition if isinstance(condition, tuple) else (condition,)
        head = b.append_basic_block("while.head")
        loop = b.append_basic_block("while.body")
        done = b.append_basic_block("while.done")
        b.branch(head)
        b.position_at_end(head)
        for check in conditions[:-1]:
            holds = b.append_basic_block("while.and")
            b.cbranch(check(), holds, done)
            b.position_at_end(holds)
        b.cbranch(conditions[-1](), loop, done)
        b.position_at_end(loop)
        body()
        b.branch(head)
        b.position_at_end(done)

    def range(self, start, stop, step, body):
        """for i in range(start, stop, step): body(i)  (step > 0)."""
        b = self.b
        i = self.var(start, "i")

        def step_body():
            value = b.load(i)
            body(value)
            b.store(b.add(value, step), i)

        self.loop(lambda: b.icmp_signed("<", b.load(i), stop), step_body)


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


class _Sort:
    """Emits the merge sort over one record layout: packed (one u64) or two i64 words."""

    def __init__(self, code, packed):
        self.code = code
        self.b = code.b
        self.packed = packed
        self.words = 1 if packed else 2

    # Records are tuples of i64 words; word 0 orders them (unsigned).
    def make(self, key, index):
        b = self.b
        return (b.or_(b.shl(key, I64(32)), index),) if self.packed else (key, index)

    def index(self, record):
        return self.b.and_(record[0], I64(0xFFFFFFFF)) if self.packed else record[1]

    def slot(self, buffer, i, word=0):
        return self.b.gep(buffer, [self.b.add(self.b.mul(i, I64(self.words)), I64(word))])

    def load(self, buffer, i):
        return tuple(self.b.load(self.slot(buffer, i, w)) for w in range(self.words))

    def store(self, buffer, i, record):
        for w, value in enumerate(record):
            self.b.store(value, self.slot(buffer, i, w))

    def less(self, a, b):
        """a's key sorts before b's (strictly)."""
        return self.b.icmp_unsigned("<", a[0], b[0])

    def copy(self, dst, src, count):
        """Copy `count` records from pointer `src` to pointer `dst` (memcpy)."""
        b = self.b
        memcpy = declare(b.module, "llvm.memcpy.p0.p0.i64",
                         ir.FunctionType(VOID, [I8P, I8P, I64, I1]))
        size = b.mul(count, I64(8 * self.words))
        b.call(memcpy, [b.bitcast(dst, I8P), b.bitcast(src, I8P), size, I1(0)])

    def emit(self, key_of, n, out, out_stride, workspace):
        """Sort indices 0..n-1 by key_of(i) (an i64 of NumPy's order); write them to out."""
        b, code = self.b, self.code
        first = workspace
        second = b.gep(workspace, [b.mul(n, I64(self.words))])

        code.range(I64(0), n, I64(1), lambda i: self.store(first, i, self.make(key_of(i), i)))
        src = code.var(first, "src")  # where the sorted records end up

        # A row already in order needs no sorting (the merge passes would copy it log n times).
        i = code.var(I64(1), "i")
        code.loop((lambda: b.icmp_signed("<", b.load(i), n), lambda: b.not_(self.less(
            self.load(first, b.load(i)), self.load(first, b.sub(b.load(i), I64(1)))))),
            lambda: b.store(b.add(b.load(i), I64(1)), i))
        with b.if_then(b.icmp_signed("<", b.load(i), n)):
            self.sort(first, second, src, n)

        sorted_records = b.load(src)
        code.range(I64(0), n, I64(1), lambda i: b.store(
            self.index(self.load(sorted_records, i)), b.gep(out, [b.mul(i, out_stride)])))

    def sort(self, first, second, src, n):
        """Sort the n records in `first`, using `second` as scratch; set `src` to the buffer
        holding the result."""
        b, code = self.b, self.code
        code.range(I64(0), n, I64(RUN), lambda lo: self.insertion_sort(
            first, lo, _min(b, b.add(lo, I64(RUN)), n)))

        # Merge passes: runs of `width` records in `src` merge pairwise into `dst`.
        width = code.var(I64(RUN), "width")
        dst = code.var(second, "dst")

        def merge_pass():
            w, s, d = b.load(width), b.load(src), b.load(dst)
            code.range(I64(0), n, b.add(w, w), lambda lo: self.merge(
                s, d, lo, _min(b, b.add(lo, w), n), _min(b, b.add(lo, b.add(w, w)), n)))
            b.store(d, src)
            b.store(s, dst)
            b.store(b.add(w, w), width)

        code.loop(lambda: b.icmp_signed("<", b.load(width), n), merge_pass)

    def insertion_sort(self, buffer, lo, hi):
        """Sort records lo..hi-1 in place, stably."""
        b, code = self.b, self.code

        def insert(i):
            record = self.load(buffer, i)
            j = code.var(i, "j")

            def record_above_is_greater():
                above = self.load(buffer, b.sub(b.load(j), I64(1)))
                return self.less(record, above)

            def shift_up():
                jv = b.load(j)
                below = b.sub(jv, I64(1))
                self.store(buffer, jv, self.load(buffer, below))
                b.store(below, j)

            code.loop((lambda: b.icmp_signed(">", b.load(j), lo), record_above_is_greater),
                      shift_up)
            self.store(buffer, b.load(j), record)

        code.range(b.add(lo, I64(1)), hi, I64(1), insert)

    def merge(self, src, dst, lo, mid, hi):
        """Merge sorted src[lo:mid] and src[mid:hi] into dst[lo:hi], stably."""
        b, code = self.b, self.code
        one = I64(1)
        # Already in order (or no right half: then both loads read src[mid-1]): just copy.
        right_first = self.load(src, _min(b, mid, b.sub(hi, one)))
        in_order = b.not_(self.less(right_first, self.load(src, b.sub(mid, one))))
        with b.if_else(in_order) as (copy_all, merge):
            with copy_all:
                self.copy(self.slot(dst, lo), self.slot(src, lo), b.sub(hi, lo))
            with merge:
                # The records left to merge are src[i..i_end] and src[j..j_end] (inclusive);
                # they go to dst[k..k_end]. The front takes the smallest, the back the largest.
                i, i_end = code.var(lo, "i"), code.var(b.sub(mid, one), "i_end")
                j, j_end = code.var(mid, "j"), code.var(b.sub(hi, one), "j_end")
                k, k_end = code.var(lo, "k"), code.var(b.sub(hi, one), "k_end")

                def remaining(first, last, at_least):
                    return b.icmp_signed(">=", b.sub(b.load(last), b.load(first)),
                                         I64(at_least - 1))

                # Both ends at once while each half keeps two or more records (so the ends
                # never take the same one): two independent chains of load-compare-step
                # (1.3x faster than the front alone on 1e6 float32 here).
                def both_ends():
                    self.merge_step(src, dst, i, j, k, front=True)
                    self.merge_step(src, dst, i_end, j_end, k_end, front=False)

                code.loop(lambda: b.and_(remaining(i, i_end, 2), remaining(j, j_end, 2)),
                          both_ends)
                code.loop(lambda: b.and_(remaining(i, i_end, 1), remaining(j, j_end, 1)),
                          lambda: self.merge_step(src, dst, i, j, k, front=True))
                # One half is used up: the rest of the other follows in order.
                iv, jv, kv = b.load(i), b.load(j), b.load(k)
                left_count = b.sub(b.add(b.load(i_end), one), iv)
                self.copy(self.slot(dst, kv), self.slot(src, iv), left_count)
                self.copy(self.slot(dst, b.add(kv, left_count)), self.slot(src, jv),
                          b.sub(b.add(b.load(j_end), one), jv))

    def merge_step(self, src, dst, i, j, k, front):
        """Move one record to dst[k] from src[i] (left half) or src[j] (right half), then step
        the variables i, j, k: up at the front (the smaller record moves, left on ties), down
        at the back (the larger record moves, right on ties)."""
        b = self.b
        iv, jv, kv = b.load(i), b.load(j), b.load(k)
        left, right = self.load(src, iv), self.load(src, jv)
        take_right = self.less(right, left)
        if not front:
            take_right = b.not_(take_right)
        self.store(dst, kv, tuple(b.select(take_right, r, l) for r, l in zip(right, left)))
        step = I64(1 if front else -1)
        zero = I64(0)
        b.store(b.add(jv, b.select(take_right, step, zero)), j)
        b.store(b.add(iv, b.select(take_right, zero, step)), i)
        b.store(b.add(kv, step), k)
