"""Tests for llgrad.datasets (bundled 8x8 digits and the index split)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest


def _import_datasets():
    try:
        return importlib.import_module("llgrad.datasets")
    except ImportError:
        # Fallback while the package (frontend/__init__.py) is not importable:
        # load frontend/datasets.py directly; it only depends on NumPy.
        path = Path(__file__).resolve().parents[2] / "frontend" / "datasets.py"
        spec = importlib.util.spec_from_file_location("_llgrad_datasets_by_path", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


datasets = _import_datasets()

# Per-class counts of the UCI optdigits test set (as in sklearn.datasets.load_digits).
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
RAW_PIXEL_SUM = 561718


@pytest.fixture(scope="module")
def digits():
    return datasets.load_digits()


def test_shapes_and_dtypes(digits):
    images, labels = digits
    assert images.shape == (1797, 64)
    assert images.dtype == np.float32
    assert labels.shape == (1797,)
    assert labels.dtype == np.int64
    assert images.flags.c_contiguous


def test_value_range_and_scaling(digits):
    images, _ = digits
    assert np.isfinite(images).all()
    assert images.min() == 0.0
    assert images.max() == 1.0
    raw = images * 16.0
    # Every value is an exact multiple of 1/16 of an integer count 0..16.
    np.testing.assert_array_equal(raw, np.round(raw))
    assert int(raw.astype(np.int64).sum()) == RAW_PIXEL_SUM


def test_label_counts(digits):
    _, labels = digits
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels, minlength=10).tolist() == CLASS_COUNTS
    # The file keeps the original order, which starts 0, 1, ..., 9.
    assert labels[:10].tolist() == list(range(10))


def test_load_returns_fresh_arrays(digits):
    images, labels = digits
    images2, labels2 = datasets.load_digits()
    np.testing.assert_array_equal(images, images2)
    np.testing.assert_array_equal(labels, labels2)
    images2[0, 0] = 123.0
    assert images[0, 0] != 123.0


def test_raw_file_layout():
    path = Path(datasets.__file__).parent / "data" / "digits.npz"
    assert path.stat().st_size < 300_000
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["images", "labels"]
        assert archive["images"].dtype == np.uint8
        assert archive["images"].shape == (1797, 8, 8)
        assert archive["labels"].dtype == np.uint8
        assert archive["labels"].shape == (1797,)
        assert int(archive["images"].max()) == 16


def test_images_are_mostly_distinct(digits):
    # Sanity check that images differ across the dataset (not a constant fill).
    images, _ = digits
    assert len(np.unique(images, axis=0)) > 1700


def test_split_disjoint_and_complete():
    train_idx, test_idx = datasets.train_test_split(1797)
    assert len(test_idx) == 359
    assert len(train_idx) == 1797 - 359
    assert np.intersect1d(train_idx, test_idx).size == 0
    np.testing.assert_array_equal(
        np.sort(np.concatenate([train_idx, test_idx])), np.arange(1797)
    )
    assert np.issubdtype(train_idx.dtype, np.integer)
    assert np.issubdtype(test_idx.dtype, np.integer)


def test_split_deterministic_and_seeded():
    a_train, a_test = datasets.train_test_split(1797, 0.2, seed=0)
    b_train, b_test = datasets.train_test_split(1797, 0.2, seed=0)
    np.testing.assert_array_equal(a_train, b_train)
    np.testing.assert_array_equal(a_test, b_test)
    c_train, c_test = datasets.train_test_split(1797, 0.2, seed=1)
    assert not np.array_equal(a_test, c_test)
    # Shuffled, not a contiguous slice.
    assert not np.array_equal(np.sort(a_test), np.arange(a_test.min(), a_test.min() + len(a_test)))


def test_split_matches_default_rng_permutation():
    perm = np.random.default_rng(7).permutation(100)
    train_idx, test_idx = datasets.train_test_split(100, test_fraction=0.25, seed=7)
    np.testing.assert_array_equal(test_idx, perm[:25])
    np.testing.assert_array_equal(train_idx, perm[25:])


@pytest.mark.parametrize("fraction,n_test", [(0.0, 0), (1.0, 10), (0.5, 5)])
def test_split_edge_fractions(fraction, n_test):
    train_idx, test_idx = datasets.train_test_split(10, test_fraction=fraction)
    assert len(test_idx) == n_test
    assert len(train_idx) == 10 - n_test


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError):
        datasets.train_test_split(10, test_fraction=fraction)


def test_split_stratification_reasonable(digits):
    # Not stratified, but every class must appear in the held-out 20%.
    _, labels = digits
    _, test_idx = datasets.train_test_split(len(labels))
    assert (np.bincount(labels[test_idx], minlength=10) > 0).all()
