"""Text rendering of tensors that matches PyTorch's ``repr`` character for character.

Everything here works on plain NumPy arrays plus a torch-style dtype name, so the
module has no dependency on the rest of llgrad.  The layout rules follow
``torch/_tensor_str.py`` (PyTorch 2.x):

* One formatter is chosen for the whole tensor (or for the part shown when the
  tensor is summarized): every element is padded to a common width, floats use
  either fixed notation, scientific notation, or "integer mode" (``1.``).
* Rows of a 1-d block wrap at ``linewidth``; nested blocks are separated by as
  many blank lines as there are inner dimensions and indented by their depth.
* Trailing items (``dtype=...``, ``grad_fn=...``) are appended on the last line
  unless that would overflow ``linewidth``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Iterable, Iterator

import numpy as np

__all__ = [
    "tensor_repr",
    "set_printoptions",
    "get_printoptions",
    "printoptions",
    "format_scalar",
]

_PREFIX = "tensor("
_DTYPE_NAMESPACE = "llgrad."
# Line breaks are decided on torch's spelling so they land where torch's do.
_TORCH_NAMESPACE = "torch."


# ---------------------------------------------------------------------------
# Print options (global, like torch.set_printoptions)
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


_OPTIONS = _PrintOptions()

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Same contract as ``torch.set_printoptions``.

    A profile is applied first and explicit arguments override it.  As in
    PyTorch, ``sci_mode`` is always overwritten: omitting it resets it to
    ``None`` (automatic choice), and an unknown profile name is ignored.
    """
    if profile in _PROFILES:
        for name, value in _PROFILES[profile].items():
            setattr(_OPTIONS, name, value)
    explicit = dict(precision=precision, threshold=threshold,
                    edgeitems=edgeitems, linewidth=linewidth)
    for name, value in explicit.items():
        if value is not None:
            setattr(_OPTIONS, name, value)
    _OPTIONS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Current options as keyword arguments accepted by :func:`set_printoptions`."""
    return dataclasses.asdict(_OPTIONS)


@contextlib.contextmanager
def printoptions(**kwargs) -> Iterator[None]:
    """Temporarily change the print options (like ``torch._tensor_str.printoptions``)."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


# ---------------------------------------------------------------------------
# Dtype names
# ---------------------------------------------------------------------------

# torch accepts these short spellings; its repr always shows the canonical name.
_DTYPE_ALIASES = {
    "float": "float32", "double": "float64", "half": "float16",
    "long": "int64", "int": "int32", "short": "int16",
    "cfloat": "complex64", "cdouble": "complex128",
}


def _canonical_dtype_name(name: str) -> str:
    for namespace in (_TORCH_NAMESPACE, _DTYPE_NAMESPACE):
        if name.startswith(namespace):
            name = name[len(namespace):]
    return _DTYPE_ALIASES.get(name, name)


def _has_default_dtype(dtype_name: str, default_float_dtype: str) -> bool:
    # torch omits the dtype for the default float type, its complex partner,
    # int64 and bool (the types that literals like 1., 1j, 1, True infer).
    default_complex = "complex128" if default_float_dtype == "float64" else "complex64"
    return dtype_name in (default_float_dtype, default_complex, "int64", "bool")


# ---------------------------------------------------------------------------
# Element formatting
# ---------------------------------------------------------------------------

# Below this many elements a Python loop over all values is cheaper than
# several NumPy reductions; above it we only look at the extreme values.
_SMALL_SAMPLE = 64


class _ElementFormatter:
    """One shared layout for all printed elements, decided from a sample.

    The sample is the whole tensor, or only the edge items when summarizing,
    exactly as torch's ``_Formatter`` does.
    """

    def __init__(self, sample: np.ndarray, precision: int, sci_option: bool | None):
        self.is_float = sample.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        self._fixed_spec = f".{precision}f"
        self._sci_spec = f".{precision}e"
        if self.is_float:
            self._inspect_floats(sample.ravel(), sci_option)
        else:
            self._inspect_exact(sample.ravel())

    def _inspect_exact(self, flat: np.ndarray) -> None:
        # Integers and bools print as str(value); the longest string belongs to
        # the maximum or the minimum ("False" is longer than "True").
        if flat.size == 0:
            return
        if flat.size <= _SMALL_SAMPLE:
            candidates = flat.tolist()
        else:
            candidates = [flat.max().item(), flat.min().item()]
        self.width = max(self.width, max(len(str(v)) for v in candidates))

    def _inspect_floats(self, flat: np.ndarray, sci_option: bool | None) -> None:
        # Zeros, nans and infs never influence the layout in torch.
        found = _nonzero_finite_summary(flat)
        if found is None:
            return
        abs_min, abs_max, all_integral, candidates = found
        self.int_mode = all_integral
        if sci_option is None:
            self.sci_mode = (abs_max / abs_min > 1000.0 or abs_max > 1.0e8
                             or abs_min < 1.0e-4)
        else:
            self.sci_mode = sci_option
        if self.sci_mode:
            widths = (len(format(v, self._sci_spec)) for v in candidates)
        elif self.int_mode:
            # The trailing "." marks the tensor as floating point.
            widths = (len(format(v, ".0f")) + 1 for v in candidates)
        else:
            widths = (len(format(v, self._fixed_spec)) for v in candidates)
        self.width = max(self.width, max(widths))

    def format(self, value) -> str:
        if not self.is_float:
            text = str(value)
        elif self.sci_mode:
            text = format(value, self._sci_spec)
        elif self.int_mode:
            text = format(value, ".0f")
            if math.isfinite(value):
                text += "."
        else:
            text = format(value, self._fixed_spec)
        return text.rjust(self.width)


def _nonzero_finite_summary(flat: np.ndarray):
    """(min |v|, max |v|, all integral?, width candidates) over nonzero finite v.

    Returns None when there is no such value.  The width candidates are values
    whose formatted text is at least as long as any other's: formatted length
    only grows with |v| (and with the exponent's magnitude in scientific
    notation), so the extremes of each sign are enough for large samples.
    """
    if flat.size <= _SMALL_SAMPLE:
        values = [v for v in flat.tolist() if v != 0.0 and math.isfinite(v)]
        if not values:
            return None
        magnitudes = [abs(v) for v in values]
        all_integral = all(v.is_integer() for v in values)
        return min(magnitudes), max(magnitudes), all_integral, values

    values = flat[np.isfinite(flat) & (flat != 0)]
    if values.size == 0:
        return None
    # float64 like torch: float16 would overflow in the ratio below.
    magnitudes = np.abs(values.astype(np.float64))
    all_integral = bool(np.all(values == np.ceil(values)))
    candidates = []
    for same_sign in (values[values > 0], values[values < 0]):
        if same_sign.size:
            candidates += [same_sign.min().item(), same_sign.max().item()]
    return magnitudes.min().item(), magnitudes.max().item(), all_integral, candidates


# ---------------------------------------------------------------------------
# Layout
# ---------------------------------------------------------------------------

def _summarized_sample(data: np.ndarray, cut_axes: tuple[bool, ...], edgeitems: int) -> np.ndarray:
    """Keep only the first and last ``edgeitems`` entries along every cut axis."""
    for axis, is_cut in enumerate(cut_axes):
        if is_cut:
            length = data.shape[axis]
            kept = np.r_[0:edgeitems, length - edgeitems:length]
            data = np.take(data, kept, axis=axis)
    return data


def _render_vector(values: list, indent: int, is_cut: bool,
                   formatter: _ElementFormatter, edgeitems: int, linewidth: int) -> str:
    items = [formatter.format(v) for v in values]
    if is_cut:
        items.insert(edgeitems, " ...")
    # Each element occupies its width plus ", "; the "[" is not counted.
    per_line = max(1, math.floor((linewidth - indent) / (formatter.width + 2)))
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _render_block(block: list, indent: int, cut_axes: tuple[bool, ...],
                  formatter: _ElementFormatter, edgeitems: int, linewidth: int) -> str:
    """Render a nested list holding ``len(cut_axes)`` dimensions."""
    if len(cut_axes) == 1:
        return _render_vector(block, indent, cut_axes[0], formatter, edgeitems, linewidth)
    inner_axes = cut_axes[1:]
    rows = [_render_block(row, indent + 1, inner_axes, formatter, edgeitems, linewidth)
            for row in block]
    if cut_axes[0]:
        rows.insert(edgeitems, "...")
    # Sub-blocks of a k-d block are separated by k-2 blank lines.
    separator = "," + "\n" * (len(cut_axes) - 1) + " " * (indent + 1)
    return "[" + separator.join(rows) + "]"


def _contents(data: np.ndarray, indent: int) -> str:
    """The bracketed element text, i.e. torch's ``_tensor_str``."""
    if data.size == 0:
        return "[]"
    opts = _OPTIONS
    summarize = data.size > opts.threshold
    if summarize and data.ndim > 0 and not opts.edgeitems:
        return "[...]"
    cut_axes = tuple(summarize and length > 2 * opts.edgeitems for length in data.shape)
    sample = _summarized_sample(data, cut_axes, opts.edgeitems) if any(cut_axes) else data
    formatter = _ElementFormatter(sample, opts.precision, opts.sci_mode)
    if data.ndim == 0:
        return formatter.format(data.item())
    return _render_block(sample.tolist(), indent, cut_axes, formatter,
                         opts.edgeitems, opts.linewidth)


def _metadata_suffixes(data: np.ndarray, dtype_name: str, is_default_dtype: bool | None,
                       default_float_dtype: str) -> list[str]:
    """The ``size=`` and ``dtype=`` items torch adds on its own (torch spelling)."""
    suffixes = []
    dtype_text = f"dtype={_TORCH_NAMESPACE}{dtype_name}"
    if data.size == 0:
        # Nothing shows the shape unless it is (0,), and no element hints at the
        # type, so every dtype except the default float one is spelled out.
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if dtype_name != default_float_dtype:
            suffixes.append(dtype_text)
        return suffixes
    if not _OPTIONS.edgeitems:
        suffixes.append(f"size={tuple(data.shape)}")
    if is_default_dtype is None:
        is_default_dtype = _has_default_dtype(dtype_name, default_float_dtype)
    if not is_default_dtype:
        suffixes.append(dtype_text)
    return suffixes


def _append_suffixes(text: str, suffixes: Iterable[tuple[str, int]], indent: int) -> str:
    """Add ", item" pieces, moving an item to a new line if it would overflow.

    Each suffix comes with the length torch would measure for it, which differs
    from the shown text for ``dtype=llgrad.X`` (torch measures ``dtype=torch.X``).
    """
    parts = [text]
    # torch's estimate of the last line's length is 2 more than the real one
    # (it counts from the newline itself, or from index -1 without one).
    last_line_length = len(text) - text.rfind("\n") + 1
    for shown, length in suffixes:
        if last_line_length + length + 2 > _OPTIONS.linewidth:
            parts.append(",\n" + " " * indent + shown)
            last_line_length = indent + length
        else:
            parts.append(", " + shown)
            last_line_length += length + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(data, dtype_name: str, suffixes: Iterable[str] = (), *, indent: int = 0,
                is_default_dtype: bool | None = None,
                default_float_dtype: str = "float32") -> str:
    """What ``repr(tensor)`` prints in PyTorch, with ``llgrad.`` for ``torch.``.

    Args:
        data: the tensor's values as a NumPy array (any shape, any strides).
        dtype_name: torch-style dtype name such as ``"float32"`` or ``"int64"``.
        suffixes: extra trailing items in order, e.g. ``["grad_fn=<MulBackward0>"]``.
            They follow the ``size=``/``dtype=`` items this function adds, except
            ``device=...`` items, which torch places first.
        indent: extra columns to the left of ``tensor(``: continuation lines are
            shifted by it and wrap earlier (the first line is not indented; torch
            itself always uses 0, also for ``Parameter containing:``).
        is_default_dtype: force whether the dtype counts as a default one (and so
            is not printed) for non-empty tensors; ``None`` applies torch's rule.
        default_float_dtype: the dtype ``torch.get_default_dtype()`` would return.
    """
    data = np.asarray(data)
    if data.dtype.kind == "c":
        raise NotImplementedError("printing complex tensors is not supported")
    dtype_name = _canonical_dtype_name(dtype_name)
    base_indent = len(_PREFIX) + indent
    suffixes = list(suffixes)
    device_items = [s for s in suffixes if s.startswith("device=")]
    other_items = [s for s in suffixes if not s.startswith("device=")]
    metadata = _metadata_suffixes(data, dtype_name, is_default_dtype, default_float_dtype)
    measured = ([(item, len(item)) for item in device_items]
                + [(item.replace(_TORCH_NAMESPACE, _DTYPE_NAMESPACE), len(item))
                   for item in metadata]
                + [(item, len(item)) for item in other_items])
    return _append_suffixes(_PREFIX + _contents(data, base_indent), measured, base_indent)


# ---------------------------------------------------------------------------
# f-string support
# ---------------------------------------------------------------------------

def _as_python_scalar(value, dtype_name: str):
    """The Python number ``tensor.item()`` would return for this dtype."""
    if hasattr(value, "item"):
        value = value.item()
    try:
        numpy_type = np.dtype(dtype_name).type
    except TypeError:  # e.g. bfloat16, which NumPy lacks
        return value
    # Round through the storage type so float32 values show their float32 digits.
    return numpy_type(value).item()


def format_scalar(value, dtype_name: str, format_spec: str) -> str:
    """What ``format(tensor, format_spec)`` (an f-string) gives in PyTorch.

    A 0-dim tensor formats its Python number (``f"{t}"`` -> ``"1.0"``).  Other
    tensors fall back to ``object.__format__``: an empty spec gives the repr
    (here without autograd suffixes) and any other spec raises ``TypeError``.
    """
    dtype_name = _canonical_dtype_name(dtype_name)
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if format_spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return tensor_repr(value, dtype_name)
    return format(_as_python_scalar(value, dtype_name), format_spec)
