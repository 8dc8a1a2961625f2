"""PyTorch-compatible CPU random numbers on NumPy.

``llgrad.manual_seed(s)`` followed by random calls reproduces, bit for bit,
what PyTorch's default CPU generator (torch 2.13) produces after
``torch.manual_seed(s)``: ``rand``/``uniform_``, ``randn``/``normal_``,
``randint``, ``randperm``, ``bernoulli_`` and the dropout mask.  The state
carried between calls (mt19937 position and the cached Box-Muller value) is
reproduced too, so whole sequences of calls line up.

How PyTorch draws (the behaviours mirrored below; file names are in
``aten/src/ATen``):

* ``CPUGeneratorImpl`` owns a 32-bit mt19937 (``core/MT19937RNGEngine.h``)
  seeded with ``seed & 0xffffffff``.  ``random()`` is one engine word,
  ``random64()`` is two words joined as ``(first << 32) | second``.
* ``uniform_real`` (``core/TransformationHelper.h``) keeps the low 24 bits
  of ``random()`` for float32 and the low 53 bits of ``random64()`` for
  float64, scales by 2**-digits and returns ``x * (to - from) + from``.
  GCC contracts that expression into one fused multiply-add, which we
  emulate exactly.
* ``normal_`` (``native/cpu/DistributionTemplates.h``) has two paths.
  Contiguous tensors with >= 16 elements are first filled with uniforms,
  then transformed in blocks of 16 by Box-Muller over the pairs
  (j, j + 8); if the size is not a multiple of 16, 16 *fresh* uniforms are
  drawn and the last 16 outputs are recomputed from them.  For float32 the
  block transform is ``normal_fill_16_AVX2`` built on the Cephes polynomials
  of ``native/cpu/avx_mathfun.h`` (compiled with FMA contraction), not libm.
  Smaller tensors use ``normal_distribution<double>`` one value at a time;
  it produces two normals per pair of uniforms and caches the second one in
  the generator for the next small-tensor call.
* ``randint`` is ``(word % range) + low`` with a 64-bit word when the range
  is >= 2**28, ``randperm`` is the "small n" Fisher-Yates of
  ``native/TensorFactories.cpp``, ``bernoulli_(p)`` compares a 53-bit
  uniform with ``p``, and CPU dropout is ``bernoulli_(1 - p)``.

Limits: the float32 block path copies the AVX2 kernel, which torch also
uses on AVX512 machines.  On x86 CPUs without AVX2, or with
ATEN_CPU_CAPABILITY=default, torch uses libm ``logf``/``cosf``/``sinf``
instead, and ``randn`` of >= 16 float32 values then differs in the last
bits.  The float64 paths call libm through the ``math`` module, as torch
does, so they match when both use the same C library.

Only NumPy is used; no torch, no other llgrad module.
"""

from __future__ import annotations

import math
import os
import struct
from typing import Any

import numpy as np

__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
]

# torch.Generator() starts from this seed (c10 default_rng_seed_val).
DEFAULT_SEED = 67280421310721

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_U64_MASK = (1 << 64) - 1
_SMALLEST_NORMAL_F32 = np.float32(2.0 ** -126)


# ============================================================================
# mt19937, vectorised over the 624-word state
# ============================================================================

_STATE_WORDS = 624
_SHIFT = 397                       # "M" of mt19937
_GAP = _STATE_WORDS - _SHIFT       # 227
_MATRIX_A = np.uint32(0x9908B0DF)
_UPPER_BIT = np.uint32(0x80000000)
_LOWER_BITS = np.uint32(0x7FFFFFFF)


def _twist_words(word, next_word):
    """mt19937's per-word twist of (word, next_word), on whole arrays."""
    mixed = (word & _UPPER_BIT) | (next_word & _LOWER_BITS)
    # all-ones where next_word is odd (0 - 1 wraps), so & keeps MATRIX_A
    odd_mask = np.uint32(0) - (next_word & np.uint32(1))
    return (mixed >> np.uint32(1)) ^ (odd_mask & _MATRIX_A)


def _regenerate(state):
    """Replace the 624-word state by the next one, in place.

    Word i becomes ``state[i + 397] ^ twist(state[i], state[i + 1])`` with
    indices mod 624, where words below i already hold their *new* value.
    Words 0..226 read only old words, so they form one vector step; later
    words read words updated 227 positions earlier, so they go in slices
    of at most 227 words, each reading only finished slices.
    """
    state[:_GAP] = state[_SHIFT:] ^ _twist_words(state[:_GAP], state[1:_GAP + 1])
    for start in range(_GAP, _STATE_WORDS - 1, _GAP):
        stop = min(start + _GAP, _STATE_WORDS - 1)
        partner = state[start - _GAP:stop - _GAP]
        state[start:stop] = partner ^ _twist_words(state[start:stop], state[start + 1:stop + 1])
    last = _STATE_WORDS - 1
    state[last] = state[_SHIFT - 1] ^ _twist_words(state[last:], state[:1])[0]


def _temper(words):
    words = words ^ (words >> np.uint32(11))
    words = words ^ ((words << np.uint32(7)) & np.uint32(0x9D2C5680))
    words = words ^ ((words << np.uint32(15)) & np.uint32(0xEFC60000))
    return words ^ (words >> np.uint32(18))


class _MT19937:
    """at::mt19937 with the same bookkeeping (seed, left, next) as PyTorch,
    so that its state can be exported in torch.get_rng_state() layout."""

    def __init__(self, seed):
        """mt19937(seed): the state is initialised from the low 32 bits."""
        self.seed = seed
        word = seed & 0xFFFFFFFF
        words = [word]
        for index in range(1, _STATE_WORDS):
            word = (1812433253 * (word ^ (word >> 30)) + index) & 0xFFFFFFFF
            words.append(word)
        self.state = np.array(words, dtype=np.uint32)
        # PyTorch's engine decrements `left` before every draw and
        # regenerates when it reaches 0; a fresh engine has left == 1.
        self.left = 1
        self.next = 0

    def words(self, count):
        """The next `count` 32-bit outputs (what `random()` returns)."""
        raw = np.empty(count, dtype=np.uint32)
        filled = 0
        while filled < count:
            available = self.left - 1
            if available == 0:
                _regenerate(self.state)
                self.left = _STATE_WORDS + 1
                self.next = 0
                continue
            take = min(available, count - filled)
            raw[filled:filled + take] = self.state[self.next:self.next + take]
            self.next += take
            self.left -= take
            filled += take
        return _temper(raw)

    def words64(self, count):
        """The next `count` values of `random64()`: (first << 32) | second."""
        pairs = self.words(2 * count).astype(np.uint64)
        return (pairs[0::2] << np.uint64(32)) | pairs[1::2]


# ============================================================================
# Exact fused multiply-add (GCC contracts a * b + c in the kernels we mirror)
# ============================================================================

def _fma_f32(a, b, c):
    """float32 fma(a, b, c) = round_f32(a * b + c), rounded once.

    The float32 product is exact in float64 and the float64 sum is then
    rounded twice (to 53, then 24 bits).  That only goes wrong when the sum
    lands exactly half-way between two float32 values, so those few lanes
    are recomputed with the exact rounding error of the sum.
    """
    product = _as_f64(a) * _as_f64(b)
    addend = _as_f64(c)
    total = np.asarray(product + addend)
    result = total.astype(_F32)
    halfway = (total.view(np.uint64) & np.uint64(0x1FFFFFFF)) == np.uint64(0x10000000)
    # float32 subnormals have a different half-way bit pattern: check them all
    suspicious = halfway | (np.abs(result) <= _SMALLEST_NORMAL_F32)
    if suspicious.any():
        where = np.nonzero(suspicious)
        product, addend = np.broadcast_arrays(product, addend)
        result[where] = _round_sum_to_f32(product[where], addend[where], total[where])
    return result


def _as_f64(value):
    """float32 arrays -> float64 arrays; scalars stay (cheap) scalars."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value.astype(_F64)
    return np.float64(np.float32(value))


def _round_sum_to_f32(x, y, total):
    """round_f32(x + y) exactly, given the float64 sum `total` = fl(x + y)."""
    error = _two_sum_error(x, y, total)
    nearest = total.astype(_F32)
    nearest_64 = nearest.astype(_F64)
    above = total > nearest_64
    neighbour = np.nextafter(nearest, np.where(above, _F32.type(np.inf), _F32.type(-np.inf)))
    tie = (total != nearest_64) & (total == (nearest_64 + neighbour.astype(_F64)) * 0.5)
    # on an exact tie the hidden error decides which neighbour is nearer
    toward_neighbour = tie & (error != 0) & ((error > 0) == above)
    return np.where(toward_neighbour, neighbour, nearest)


def _two_sum_error(x, y, total):
    """Exact error of total = fl(x + y) (Knuth's TwoSum)."""
    y_part = total - x
    return (x - (total - y_part)) + (y - y_part)


def _split(value):
    """Veltkamp split of float64 into two 26-bit halves (hi + lo == value)."""
    scaled = 134217729.0 * value          # 2**27 + 1
    high = scaled - (scaled - value)
    return high, value - high


def _fma_f64(a, b, c):
    """float64 fma(a, b, c) rounded once, without hardware FMA.

    Boldo & Melquiond's emulation: exact product (Dekker) and exact sum
    (Knuth), then the two error terms are added with round-to-odd so the
    final round-to-nearest addition cannot double-round.
    """
    a, b, c = np.broadcast_arrays(np.asarray(a, _F64), np.asarray(b, _F64), np.asarray(c, _F64))
    product = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    product_error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) + a_low * b_low
    head = c + product
    head_error = _two_sum_error(c, product, head)
    tail = _add_round_to_odd(head_error, product_error)
    return head + tail


def _add_round_to_odd(x, y):
    total = x + y
    error = _two_sum_error(x, y, total)
    even = (total.view(np.int64) & 1) == 0
    bump = (error != 0) & even
    if not bump.any():
        return total
    toward = np.where(error > 0, np.inf, -np.inf)
    return np.where(bump, np.nextafter(total, toward), total)


def _scale_and_shift(values, scale, shift, dtype):
    """values * scale + shift as a single fused multiply-add in `dtype`."""
    if scale == 1:      # fma(v, 1, s) is exactly a plain add
        return values + dtype.type(shift)
    if shift == 0:      # fma(v, s, 0) is a product, except that -0 becomes +0
        return values * dtype.type(scale) + dtype.type(0)
    fma = _fma_f32 if dtype == _F32 else _fma_f64
    return fma(values, scale, shift)


# ============================================================================
# Bits -> floats (TransformationHelper.h: uniform_real)
# ============================================================================

def _unit_f32(words):
    """[0, 1) float32 from the low 24 bits of 32-bit words."""
    return (words & np.uint32(0xFFFFFF)).astype(_F32) * _F32.type(2.0 ** -24)


def _unit_f64(words64):
    """[0, 1) float64 from the low 53 bits of 64-bit words."""
    return (words64 & np.uint64((1 << 53) - 1)).astype(_F64) * (2.0 ** -53)


# ============================================================================
# Box-Muller for float32 blocks of 16, as normal_fill_16_AVX2 computes it.
# Every polynomial step of avx_mathfun.h below is an fma: GCC fuses each
# _mm256_mul_ps whose only use is an add.  Verified bit-exact against torch.
# ============================================================================

_LOG_POLY = [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
             1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
             3.3333331174e-1]
_LOG_Q1 = -2.12194440e-4
_LOG_Q2 = 0.693359375
_SQRT_HALF = 0.707106781186547524
_FOUR_OVER_PI = 1.27323954473516
_PI_PARTS = (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8)
_COS_POLY = (2.443315711809948e-005, -1.388731625493765e-003, 4.166664568298827e-002)
_SIN_POLY = (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)


def _f32(value):
    return _F32.type(value)


def _avx_log(x):
    """log256_ps: Cephes logf on float32 lanes (x > 0)."""
    x = np.maximum(x, _SMALLEST_NORMAL_F32)
    bits = x.view(np.int32)
    exponent = ((bits >> 23) - 0x7F).astype(_F32) + _f32(1)
    # mantissa scaled into [0.5, 1)
    x = ((bits & ~0x7F800000) | _f32(0.5).view(np.int32)).view(_F32)
    small = x < _f32(_SQRT_HALF)
    exponent = exponent - np.where(small, _f32(1), _f32(0))
    x = (x - _f32(1)) + np.where(small, x, _f32(0))
    x_squared = x * x
    poly = np.full_like(x, _f32(_LOG_POLY[0]))
    for coefficient in _LOG_POLY[1:]:
        poly = _fma_f32(poly, x, _f32(coefficient))
    poly = poly * x
    poly = _fma_f32(poly, x_squared, exponent * _f32(_LOG_Q1))
    poly = poly - x_squared * _f32(0.5)
    return _fma_f32(exponent, _f32(_LOG_Q2), x + poly)


def _avx_sincos(x):
    """sincos256_ps: Cephes sinf/cosf on float32 lanes; returns (sin, cos)."""
    sin_negative = np.signbit(x)
    x = np.abs(x)
    octant = (x * _f32(_FOUR_OVER_PI)).astype(np.int32)     # cvttps: truncate
    octant = (octant + 1) & ~1
    octant_f = octant.astype(_F32)
    sin_negative = sin_negative ^ ((octant & 4) != 0)
    cos_negative = (~(octant - 2) & 4) != 0
    use_sin_poly = (octant & 2) == 0
    for pi_part in _PI_PARTS:                 # extended-precision x - octant*pi/4
        x = _fma_f32(octant_f, _f32(pi_part), x)
    z = x * x
    cos_poly = np.full_like(x, _f32(_COS_POLY[0]))
    for coefficient in _COS_POLY[1:]:
        cos_poly = _fma_f32(cos_poly, z, _f32(coefficient))
    cos_poly = cos_poly * z
    cos_poly = _fma_f32(cos_poly, z, -(z * _f32(0.5))) + _f32(1)
    sin_poly = np.full_like(x, _f32(_SIN_POLY[0]))
    for coefficient in _SIN_POLY[1:]:
        sin_poly = _fma_f32(sin_poly, z, _f32(coefficient))
    sin_poly = _fma_f32(sin_poly * z, x, x)
    sine = np.where(use_sin_poly, sin_poly, cos_poly)
    cosine = np.where(use_sin_poly, cos_poly, sin_poly)
    return np.where(sin_negative, -sine, sine), np.where(cos_negative, -cosine, cosine)


def _box_muller_blocks_f32(uniforms, mean, std):
    """normal_fill_16_AVX2 on rows of 16 uniforms (float32)."""
    first = _f32(1) - uniforms[:, :8]                      # (0, 1] for log
    radius = np.sqrt(_f32(-2) * _avx_log(first))
    theta = _f32(2.0 * math.pi) * uniforms[:, 8:]
    sine, cosine = _avx_sincos(theta)
    block = np.concatenate([radius * cosine, radius * sine], axis=1)
    return _scale_and_shift(block, _f32(std), _f32(mean), _F32)   # _mm256_fmadd_ps


def _libm(function, values):
    """Apply a math-module (C libm) function elementwise.

    NumPy's SIMD log/log1p differ from glibc in the last bit for a fraction
    of inputs; PyTorch's double kernels call glibc, so we do too.
    """
    flat = values.ravel().tolist()
    return np.fromiter(map(function, flat), dtype=_F64, count=len(flat)).reshape(values.shape)


def _box_muller_blocks_f64(uniforms, mean, std):
    """normal_fill_16<double> on rows of 16 uniforms (std::log/cos/sin)."""
    radius = np.sqrt(-2.0 * _libm(math.log, 1.0 - uniforms[:, :8]))
    theta = (2.0 * math.pi) * uniforms[:, 8:]
    block = np.concatenate([radius * _libm(math.cos, theta), radius * _libm(math.sin, theta)],
                           axis=1)
    return _scale_and_shift(block, std, mean, _F64)


# ============================================================================
# Argument helpers
# ============================================================================

def _shape_tuple(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(size) for size in shape)


def _numel(shape):
    return int(np.prod(shape, dtype=np.int64))


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (_F32, _F64):
        raise TypeError(f"only float32 and float64 are supported, got {dtype}")
    return dtype


def _check_probability(p):
    if not 0 <= p <= 1:
        raise ValueError(f"probability must be in [0, 1], got {p}")


# torch.get_rng_state() layout: CPUGeneratorImplState in CPUGeneratorImpl.cpp
_STATE_HEAD = struct.Struct("<QiiQ")         # initial seed, left, seeded, next
_STATE_NORMAL = struct.Struct("<dddi4x")      # normal_x, normal_y, normal_rho, valid
_STATE_FLOAT = struct.Struct("<f?3x")         # next_float_normal_sample, valid
_STATE_SIZE = _STATE_HEAD.size + 8 * _STATE_WORDS + _STATE_NORMAL.size + _STATE_FLOAT.size


# ============================================================================
# Generator
# ============================================================================

class Generator:
    """A PyTorch CPU generator (``torch.Generator()``) on NumPy.

    Each method equals the PyTorch call named in its docstring, drawing
    from the same stream, and returns a NumPy array of the given shape.
    """

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self.manual_seed(seed)

    # ---- seeding and state ------------------------------------------------

    def manual_seed(self, seed: int) -> Generator:
        """torch.Generator.manual_seed: negative seeds wrap to uint64."""
        seed = int(seed)
        if not -(1 << 63) <= seed <= _U64_MASK:
            raise ValueError(f"seed must fit in 64 bits, got {seed}")
        self._engine = _MT19937(seed & _U64_MASK)
        # set_current_seed() forgets the cached Box-Muller values
        self._next_double_normal = None
        self._next_float_normal = None
        return self

    def seed(self) -> int:
        """Reseed from the OS entropy pool (like torch: 64 bits of
        /dev/urandom) and return the new seed."""
        new_seed = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._engine.seed

    def get_state(self) -> np.ndarray:
        """The state as uint8 bytes, in the layout of torch.get_rng_state()
        (so states can be exchanged with PyTorch)."""
        engine = self._engine
        head = _STATE_HEAD.pack(engine.seed, engine.left, 1, engine.next)
        words = engine.state.astype("<u8").tobytes()
        has_double = self._next_double_normal is not None
        normal = _STATE_NORMAL.pack(0.0, self._next_double_normal if has_double else 0.0,
                                    0.0, int(has_double))
        has_float = self._next_float_normal is not None
        single = _STATE_FLOAT.pack(self._next_float_normal if has_float else 0.0, has_float)
        return np.frombuffer(head + words + normal + single, dtype=np.uint8).copy()

    def set_state(self, state: Any) -> None:
        """Restore a state from get_state() or from torch.get_rng_state()."""
        raw = np.asarray(state, dtype=np.uint8).tobytes()
        if len(raw) != _STATE_SIZE:
            raise ValueError(f"expected a state of {_STATE_SIZE} bytes, got {len(raw)}")
        seed, left, seeded, next_index = _STATE_HEAD.unpack_from(raw, 0)
        if not (seeded and 0 < left <= _STATE_WORDS and next_index <= _STATE_WORDS):
            raise ValueError("invalid mt19937 state")
        offset = _STATE_HEAD.size
        words = np.frombuffer(raw, dtype="<u8", count=_STATE_WORDS, offset=offset)
        offset += 8 * _STATE_WORDS
        _, normal_y, _, has_double = _STATE_NORMAL.unpack_from(raw, offset)
        offset += _STATE_NORMAL.size
        next_float, has_float = _STATE_FLOAT.unpack_from(raw, offset)
        engine = self._engine
        engine.seed, engine.left, engine.next = seed, left, next_index
        engine.state = words.astype(np.uint32)
        self._next_double_normal = normal_y if has_double else None
        self._next_float_normal = next_float if has_float else None

    # ---- uniform ----------------------------------------------------------

    def uniform(self, shape, low=0.0, high=1.0, dtype=np.float32):
        """torch.empty(shape, dtype=dtype).uniform_(low, high); with the
        defaults, torch.rand(shape, dtype=dtype)."""
        shape, dtype = _shape_tuple(shape), _float_dtype(dtype)
        # uniform_kernel casts the bounds to the tensor's dtype first
        low, high = dtype.type(low), dtype.type(high)
        if not low <= high:
            raise ValueError(f"uniform expects low <= high, got low={low}, high={high}")
        count = _numel(shape)
        if dtype == _F32:
            unit = _unit_f32(self._engine.words(count))
        else:
            unit = _unit_f64(self._engine.words64(count))
        # uniform_real: x * (to - from) + from, compiled to one fma
        values = _scale_and_shift(unit, high - low, low, dtype)
        return values.reshape(shape)

    # ---- normal -----------------------------------------------------------

    def normal(self, shape, mean=0.0, std=1.0, dtype=np.float32):
        """torch.empty(shape, dtype=dtype).normal_(mean, std); also
        torch.randn(shape) (mean 0, std 1) and torch.normal(mean, std, shape)."""
        shape, dtype = _shape_tuple(shape), _float_dtype(dtype)
        if not std >= 0:
            raise ValueError(f"normal expects std >= 0, got {std}")
        count = _numel(shape)
        if count >= 16:
            # normal_kernel: contiguous and >= 16 elements -> normal_fill
            values = self._normal_fill(count, mean, std, dtype)
        else:
            values = self._normal_one_by_one(count, mean, std).astype(dtype)
        return values.reshape(shape)

    def _normal_fill(self, count, mean, std, dtype):
        """normal_fill / normal_fill_AVX2: uniforms for the whole tensor,
        then Box-Muller per block of 16; a ragged tail redraws 16 uniforms
        and recomputes the last 16 outputs."""
        if dtype == _F32:
            draw, transform = self._uniform_f32, _box_muller_blocks_f32
            mean, std = _f32(mean), _f32(std)       # static_cast<float> in normal_kernel
        else:
            draw, transform = self._uniform_f64, _box_muller_blocks_f64
            mean, std = float(mean), float(std)
        uniforms = draw(count)
        whole = count - count % 16
        values = np.empty(count, dtype=dtype)
        values[:whole] = transform(uniforms[:whole].reshape(-1, 16), mean, std).ravel()
        if whole != count:
            values[count - 16:] = transform(draw(16).reshape(1, 16), mean, std).ravel()
        return values

    def _normal_one_by_one(self, count, mean, std):
        """normal_distribution<double>, element by element (small tensors).

        Each fresh pair of uniforms gives r*cos(theta), returned now, and
        r*sin(theta), cached in the generator and returned by the next
        scalar-path draw, even one in a later call.
        """
        mean, std = float(mean), float(std)
        values = np.empty(count, dtype=_F64)
        for index in range(count):
            if self._next_double_normal is not None:
                standard, self._next_double_normal = self._next_double_normal, None
            else:
                u1, u2 = self._uniform_f64(2).tolist()
                radius = math.sqrt(-2.0 * math.log1p(-u2))
                theta = 2.0 * math.pi * u1
                self._next_double_normal = radius * math.sin(theta)
                standard = radius * math.cos(theta)
            # transformation::normal: val * std + mean, contracted to an fma
            values[index] = _scale_and_shift(np.array([standard]), std, mean, _F64)[0]
        return values

    def _uniform_f32(self, count):
        return _unit_f32(self._engine.words(count))

    def _uniform_f64(self, count):
        return _unit_f64(self._engine.words64(count))

    # ---- integers ---------------------------------------------------------

    def randint(self, low, high, shape, dtype=np.int64):
        """torch.randint(low, high, shape, dtype=dtype)."""
        shape, dtype = _shape_tuple(shape), np.dtype(dtype)
        low, high = int(low), int(high)
        if not low < high:
            raise ValueError(f"randint expects low < high, got low={low}, high={high}")
        span = high - low
        count = _numel(shape)
        # uniform_int_from_to_distribution in public builds: 64-bit draws
        # for a range of 2**28 or more, whatever the dtype (the 2**32 rule
        # in the same header is only compiled for FBCODE_CAFFE2)
        wide = span >= 1 << 28
        draws = self._engine.words64(count) if wide else self._engine.words(count).astype(np.uint64)
        # (val % range) + base in uint64 arithmetic, then read as int64
        offsets = draws % np.uint64(span) + np.uint64(low & _U64_MASK)
        return offsets.view(np.int64).astype(dtype).reshape(shape)

    def random_full(self, shape, dtype=np.int64):
        """tensor.random_() without bounds: uniform_int_distribution<scalar_t>, 64-bit draws for
        int64 and float64 and 32-bit ones otherwise, each reduced modulo the type's range
        (max + 1 for integers, 2**digits + 1 for floats, the low bit for bool)."""
        shape, dtype = _shape_tuple(shape), np.dtype(dtype)
        count = _numel(shape)
        wide = dtype in (np.dtype(np.int64), np.dtype(np.float64))
        draws = self._engine.words64(count) if wide else \
            self._engine.words(count).astype(np.uint64)
        if dtype.kind == "b":
            values = (draws & np.uint64(1)).astype(np.bool_)
        elif dtype.kind == "f":
            values = draws % np.uint64((1 << (np.finfo(dtype).nmant + 1)) + 1)
        else:
            values = draws % np.uint64(int(np.iinfo(dtype).max) + 1)
        return values.astype(dtype).reshape(shape)

    def randperm(self, n, dtype=np.int64):
        """torch.randperm(n, dtype=dtype)."""
        n = int(n)
        if n < 0:
            raise ValueError(f"randperm expects n >= 0, got {n}")
        if n < (2 ** 32 - 1) // 20:
            order = self._randperm_small(n)
        else:
            order = self._randperm_large(n)
        return np.asarray(order, dtype=np.int64).astype(dtype)

    def _randperm_small(self, n):
        """randperm_cpu "small n" path: Fisher-Yates from the front,
        swapping position i with i + random() % (n - i)."""
        order = list(range(n))
        if n < 2:
            return order
        remaining = np.arange(n, 1, -1, dtype=np.uint64)
        jumps = (self._engine.words(n - 1).astype(np.uint64) % remaining).tolist()
        for position, jump in enumerate(jumps):
            other = position + jump
            order[position], order[other] = order[other], order[position]
        return order

    def _randperm_large(self, n):
        """randperm_cpu for n >= 2**32 / 20: inside-out Fisher-Yates with
        random64() % (i + 1).  (Unverified: too large to test against torch.)"""
        order = [0] * n
        for position in range(n):
            other = int(self._engine.words64(1)[0]) % (position + 1)
            order[position] = order[other]
            order[other] = position
        return order

    # ---- bernoulli and dropout ----------------------------------------------

    def bernoulli(self, shape, p, dtype=np.float32):
        """torch.empty(shape, dtype=dtype).bernoulli_(p) with a float p:
        one 53-bit uniform per element, success when uniform < p."""
        shape, dtype = _shape_tuple(shape), np.dtype(dtype)
        p = float(p)
        _check_probability(p)
        unit = self._uniform_f64(_numel(shape))
        return (unit < p).astype(dtype).reshape(shape)

    def bernoulli_tensor(self, probs):
        """torch.bernoulli(probs): one draw per element in C order; float64
        probabilities use 53-bit uniforms, other floats 24-bit uniforms
        compared in float32 (bernoulli_distribution<float>).  The result has
        the dtype of `probs`."""
        probs = np.ascontiguousarray(probs)
        if not np.issubdtype(probs.dtype, np.floating):
            raise TypeError(f"bernoulli expects floating-point probabilities, got {probs.dtype}")
        if probs.size and not ((probs >= 0).all() and (probs <= 1).all()):
            raise ValueError("bernoulli expects all probabilities in [0, 1]")
        if probs.dtype == _F64:
            success = self._uniform_f64(probs.size) < probs.ravel()
        else:
            success = self._uniform_f32(probs.size) < probs.ravel().astype(_F32)
        return success.astype(probs.dtype).reshape(probs.shape)

    def dropout_mask(self, shape, p, dtype=np.float32, scaled=False):
        """The mask torch.nn.functional.dropout(x, p, training=True) applies
        to a CPU tensor x of this shape and dtype.

        On CPU, at::dropout is `noise = empty_like(x).bernoulli_(1 - p);
        noise.div_(1 - p); return x * noise`, so this returns the 0/1 keep
        mask by default; with scaled=True it returns `noise` after the
        division (0 or 1/(1-p) rounded to `dtype`), and dropout(x) is then
        exactly `x * mask` in `dtype`.  p == 0 and p == 1 draw nothing,
        like PyTorch (all kept / all dropped).
        """
        shape, dtype = _shape_tuple(shape), np.dtype(dtype)
        p = float(p)
        _check_probability(p)
        if p == 0 or _numel(shape) == 0:
            return np.ones(shape, dtype=dtype)
        if p == 1:
            return np.zeros(shape, dtype=dtype)
        keep = 1.0 - p
        mask = self.bernoulli(shape, keep, dtype)
        if scaled:
            mask = mask / dtype.type(keep)
        return mask


# ============================================================================
# The default generator and the torch-style module functions
# ============================================================================

# Like torch's default CPU generator, it starts from a non-deterministic
# seed; call manual_seed() for reproducible numbers.
default_generator = Generator()
default_generator.seed()


def manual_seed(seed):
    """torch.manual_seed: seed the default generator and return it."""
    return default_generator.manual_seed(seed)


def seed():
    """torch.seed: reseed the default generator non-deterministically."""
    return default_generator.seed()


def initial_seed():
    """torch.initial_seed."""
    return default_generator.initial_seed()


def get_rng_state():
    """torch.get_rng_state (same byte layout)."""
    return default_generator.get_state()


def set_rng_state(state):
    """torch.set_rng_state; accepts states from get_rng_state() or torch."""
    default_generator.set_state(state)
