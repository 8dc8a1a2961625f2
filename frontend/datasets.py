"""Small datasets bundled with llgrad, so examples can train with no network.

Only NumPy is used here; the data lives next to this module in ``data/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_digits", "train_test_split"]

_DATA_DIR = Path(__file__).parent / "data"
_DIGITS_PATH = _DATA_DIR / "digits.npz"

DIGITS_N_SAMPLES = 1797
DIGITS_N_FEATURES = 64
DIGITS_N_CLASSES = 10


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load the 8x8 handwritten digits (UCI, Alpaydin & Kaynak 1998; CC BY 4.0).

    Returns ``(images, labels)``: images float32 (1797, 64) scaled to [0, 1]
    (raw pixel counts 0..16 divided by 16), labels int64 (1797,) in 0..9.
    Fresh arrays are returned on every call.
    """
    with np.load(_DIGITS_PATH, allow_pickle=False) as archive:
        raw_images = archive["images"]
        raw_labels = archive["labels"]
    images = raw_images.reshape(raw_images.shape[0], -1).astype(np.float32) / np.float32(16.0)
    labels = raw_labels.astype(np.int64)
    return images, labels


def train_test_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministically split ``range(n)`` into shuffled train and test indices.

    The permutation comes from ``numpy.random.default_rng(seed)``; the test set
    is its first ``round(n * test_fraction)`` entries and the train set the rest.
    Returns ``(train_idx, test_idx)`` as int64 arrays that are disjoint and
    together cover ``0..n-1``.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    perm = np.random.default_rng(seed).permutation(n).astype(np.int64)
    n_test = int(round(n * test_fraction))
    return perm[n_test:], perm[:n_test]
