"""`llgrad.device`: where a tensor lives, as torch.device.

llgrad computes on the CPU only. Other device types can still be named, because scripts build
`device("cuda")` before asking whether it is available; using one for a tensor raises.
"""
from __future__ import annotations

DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
                "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                "privateuseone")


class device:  # noqa: N801 (torch.device)
    """`device("cpu")`, `device("cuda:1")`, `device("cuda", 1)`, `device(other_device)`."""

    __slots__ = ("_type", "_index")

    def __init__(self, type: str | device,  # noqa: A002 (torch's argument name)
                 index: int | None = None) -> None:
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): a device object takes no index")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError("Cannot access accelerator device when none is available.")
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got "
                            f"({_type_name(type)})")
        name, _, given = type.partition(":")
        if name not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start "
                               f"of device string: {type}")
        if given:
            if index is not None or not given.isdigit() or (len(given) > 1 and given[0] == "0"):
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(given)
        if index is not None:
            index = int(index)
            if index < 0:
                raise RuntimeError("Device index must not be negative")
        self._type, self._index = name, index

    @property
    def type(self) -> str:
        """The device type: "cpu", "cuda", ..."""
        return self._type

    @property
    def index(self) -> int | None:
        """The device index, or None when none was given."""
        return self._index

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __eq__(self, other):
        # As torch.device: equal to devices only (device("cpu") == "cpu" is False there too).
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self):
        return hash((self._type, self._index))

    def __reduce__(self):
        return device, (self._type, self._index)


def _type_name(value):
    return type(value).__name__


CPU = device("cpu")

CUDA_UNAVAILABLE = "llgrad not compiled with CUDA enabled (llgrad runs on the CPU only)"


def check_device(requested):
    """Accept a device argument naming the CPU (a device, a string, or None); anything else
    raises as a CPU-only PyTorch build does."""
    if requested is None or requested is CPU:
        return
    if isinstance(requested, int) and not isinstance(requested, bool):
        device(requested)  # raises: an index names an accelerator
    kind = requested.type if isinstance(requested, device) else device(str(requested)).type
    if kind == "cpu":
        return
    if kind == "cuda":
        raise AssertionError(CUDA_UNAVAILABLE)
    raise RuntimeError(f"llgrad runs on the CPU only; got device '{requested}'")


# ---- the default device (torch.set_default_device) ---------------------------------------------

_default_device = None  # as given to set_default_device; None: never set, or reset


def set_default_device(device_: str | device | int | None) -> None:
    """PyTorch's set_default_device: factories without `device=` allocate there. Only the CPU
    exists here, so the CPU (any spelling, with or without index) is accepted and changes
    nothing, None resets, and another device raises at once. (PyTorch accepts "cuda:0" or
    "meta" here and raises at the next factory call; llgrad could never honour them.)"""
    global _default_device
    if device_ is None:
        _default_device = None
        return
    chosen = device_ if isinstance(device_, device) else device(device_)
    check_device(chosen)
    _default_device = chosen


def get_default_device() -> device:
    """The device set by set_default_device (the CPU unless set): as PyTorch, with its index
    when one was given, else `device(type='cpu')`."""
    if _default_device is not None and _default_device.index is not None:
        return _default_device
    return CPU
