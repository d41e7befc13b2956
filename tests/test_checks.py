"""The checks at the API edge (nncore/_checks.py): what user data becomes, and what is
refused with which error and message."""
import warnings

import numpy as np
import pytest

from nncore._checks import (
    all_finite, as_dtype, check_choice, check_int, make_rng, to_array,
)

from conftest import DTYPES


# --------------------------------------------------------------------------- to_array
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("data", [[[1, 2], [3, 4]], ((1.0, 2.0), (3.0, 4.0)),
                                  [(1, 2.0), [3, 4]]], ids=["list", "tuple", "mixed"])
def test_lists_and_tuples_become_contiguous_arrays_of_the_dtype(data, dtype):
    out = to_array(data, "x", dtype, ndim=2)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("int_dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_integers_are_converted_exactly(int_dtype):
    info = np.iinfo(int_dtype)
    # Both ends of the small types; for the wide ones, values float32 holds exactly (2**24).
    low, high = max(info.min, -2**24), min(info.max, 2**24)
    x = np.array([low, 0, 1, high], dtype=int_dtype)
    for dtype in DTYPES:
        out = to_array(x, "x", dtype)
        assert out.dtype == dtype
        assert out.tolist() == [float(low), 0.0, 1.0, float(high)]


def test_bools_become_zeros_and_ones():
    out = to_array(np.array([True, False]), "y", np.float32)
    assert out.dtype == np.float32 and out.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_float16_is_upcast_exactly(dtype):
    # Every finite float16 (all 63488 of them, from the bit patterns): float32 and float64
    # hold each one exactly, so the upcast must change no value.
    bits = np.arange(2**16, dtype=np.uint16).view(np.float16)
    half = bits[np.isfinite(bits)]
    out = to_array(half, "x", dtype)
    assert out.dtype == dtype and out.shape == half.shape
    assert np.array_equal(out, half.astype(np.float64))
    assert np.array_equal(out.astype(np.float16).view(np.uint16), half.view(np.uint16))


def test_float64_to_float32_rounds_to_nearest():
    x = np.array([0.1, 1.0 / 3.0, -2.5e-8])
    out = to_array(x, "x", np.float32)
    assert np.array_equal(out, x.astype(np.float32))


def test_same_dtype_contiguous_input_is_not_changed_and_strided_input_is_copied():
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    strided = base[:, ::2]
    out = to_array(strided, "x", np.float64)
    assert out.flags.c_contiguous and np.array_equal(out, strided)
    out[0, 0] = 99.0
    assert base[0, 0] == 0.0  # a copy: the caller's array is untouched


@pytest.mark.parametrize("bad, what", [
    (np.array([1 + 2j, 3 + 0j]), "complex"),
    ([1j, 2j], "complex list"),
    (np.array([1.0, None], dtype=object), "object"),
    (np.array(["1", "2"]), "numpy strings"),
    (["1.0", "2.0"], "list of strings"),
    ("1.0", "a string"),
    (b"12", "bytes"),
    (np.array([np.datetime64("2020-01-01")]), "datetime"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_non_real_data_is_refused_with_a_type_error_naming_the_argument(bad, what):
    with pytest.raises(TypeError, match="x_train"):
        to_array(bad, "x_train", np.float32)


def test_ragged_lists_are_refused_with_a_type_error():
    with pytest.raises(TypeError, match="x"):
        to_array([[1.0, 2.0], [3.0]], "x", np.float32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_nan_and_inf_are_refused(bad, dtype):
    x = np.array([[1.0, 2.0], [bad, 4.0]])
    with pytest.raises(ValueError, match="y.*finite"):
        to_array(x, "y", dtype)
    with pytest.raises(ValueError, match="finite"):
        to_array(x.astype(np.float16), "y", dtype)


def test_values_beyond_float32_range_are_refused_and_say_so():
    x = np.array([1.0, 1e39])  # finite in float64, inf once cast to float32
    with pytest.raises(ValueError, match="range of float32"):
        to_array(x, "x", np.float32)
    assert to_array(x, "x", np.float64)[1] == 1e39


@pytest.mark.parametrize("shape, ndim, ok", [
    ((3,), 1, True), ((3,), 2, False), ((2, 3), 2, True), ((2, 3), (1, 2), True),
    ((2, 3, 1), (1, 2), False), ((), 1, False), ((2, 3), None, True),
])
def test_rank_is_checked(shape, ndim, ok):
    x = np.ones(shape)
    if ok:
        assert to_array(x, "x", np.float32, ndim=ndim).shape == shape
    else:
        with pytest.raises(ValueError, match=r"x must be .*-D.*Received: x\.shape="):
            to_array(x, "x", np.float32, ndim=ndim)


def test_scalars_are_arrays_of_rank_zero_when_no_rank_is_required():
    out = to_array(3, "x", np.float64)
    assert out.shape == () and out == 3.0


@pytest.mark.parametrize("empty", [[], np.zeros((0, 3)), np.zeros((4, 0))], ids=str)
def test_empty_data_is_refused_unless_allowed(empty):
    with pytest.raises(ValueError, match="x must not be empty"):
        to_array(empty, "x", np.float32)
    out = to_array(empty, "x", np.float32, allow_empty=True)
    assert out.size == 0 and out.dtype == np.float32 and out.shape == np.shape(empty)


def test_empty_check_comes_after_the_rank_check():
    with pytest.raises(ValueError, match="2-D"):
        to_array([], "x", np.float32, ndim=2)


# --------------------------------------------------------------------------- others
@pytest.mark.parametrize("name", ["float32", "float64", np.float32, np.dtype("float64")])
def test_as_dtype_accepts_the_two_float_types(name):
    assert as_dtype(name) in (np.dtype(np.float32), np.dtype(np.float64))
    assert as_dtype(name) == np.dtype(name)


@pytest.mark.parametrize("bad, exc", [("float16", ValueError), ("int32", ValueError),
                                      (np.complex64, ValueError), ("nonsense", TypeError)])
def test_as_dtype_refuses_the_rest(bad, exc):
    with pytest.raises(exc, match="dtype must be 'float32' or 'float64'"):
        as_dtype(bad)


def test_check_int():
    assert check_int(5, "units", low=1) == 5
    assert type(check_int(np.int64(5), "units")) is int
    assert check_int(None, "seed", allow_none=True) is None
    with pytest.raises(ValueError, match=r"units must be >= 1. Received: units=0"):
        check_int(0, "units", low=1)
    for bad in (True, 2.0, "3", None):
        with pytest.raises(TypeError, match="units must be an integer"):
            check_int(bad, "units")


def test_check_choice():
    assert check_choice("min", "mode", ("min", "max")) == "min"
    with pytest.raises(ValueError, match=r"mode must be one of 'min', 'max'. Received: mode='up'"):
        check_choice("up", "mode", ("min", "max"))
    with pytest.raises(ValueError, match="mode"):
        check_choice(None, "mode", ("min", "max"))


def test_make_rng_is_deterministic_and_checks_its_seed():
    assert make_rng(7).random() == make_rng(7).random()
    assert make_rng(7).random() != make_rng(8).random()
    assert isinstance(make_rng(None), np.random.Generator)
    with pytest.raises(ValueError, match="seed"):
        make_rng(-1)
    with pytest.raises(TypeError, match="seed"):
        make_rng(1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 17, -1])
@pytest.mark.parametrize("rows", [1, 3, 4097])
def test_all_finite_finds_one_bad_value_anywhere(dtype, bad, where, rows):
    a = np.linspace(-1, 1, rows * 257, dtype=dtype).reshape(rows, 257)
    assert all_finite(a)
    a.reshape(-1)[where] = bad
    assert not all_finite(a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_takes_the_extremes_of_the_dtype(dtype):
    """Values at the dtype's limits are finite (no sum of them may overflow into inf)."""
    huge = np.finfo(dtype).max
    a = np.ones((1024, 16), dtype)
    a[0, :2], a[1, :2] = [huge, -huge], [1.0, 0.5 * huge]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and without a RuntimeWarning
        assert all_finite(a)
        a[1, 0] = -np.inf
        assert not all_finite(a)
    assert all_finite(np.array(3.0, dtype)) and not all_finite(np.array(np.nan, dtype))
