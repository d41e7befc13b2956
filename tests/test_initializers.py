"""Weight initializers (nncore.initializers) against Keras 3's definitions: shapes, dtypes,
bounds, the variance of a large draw, determinism, lookup by name and refusals.

Statistical tolerances. A draw of N = 160,000 values (a 200 x 800 kernel: fan_in 200,
fan_out 800, fan_avg 500, so each mode gives a different variance) has a sample variance
whose standard error is ``var * sqrt((kurtosis - 1) / N)``: kurtosis is 3 for a normal,
1.8 for a uniform and less than 3 for a normal truncated at 2 stddev, so
``sqrt(2 / N) = 0.0035`` relative bounds them all. We allow 5 standard errors
(``VAR_RTOL = 0.018``); the sample mean gets 5 standard errors ``5 * sqrt(var / N)``.
Every draw is seeded, so these are fixed numbers, not flaky ones; the margins only have
to hold for the seeds used.
"""
import math

import numpy as np
import pytest

from nncore import initializers
from nncore.initializers import Initializer

SHAPE = (200, 800)
FAN_IN, FAN_OUT = SHAPE
N = SHAPE[0] * SHAPE[1]
VAR_RTOL = 5 * math.sqrt(2 / N)
TRUNCATED_STD = 0.87962566103423978  # stddev of a unit normal truncated to [-2, 2]

#: name -> (distribution, variance Keras 3 targets for SHAPE)
VARIANCE_SCALING = {
    "glorot_uniform": ("uniform", 2.0 / (FAN_IN + FAN_OUT)),
    "xavier_uniform": ("uniform", 2.0 / (FAN_IN + FAN_OUT)),
    "glorot_normal": ("truncated", 2.0 / (FAN_IN + FAN_OUT)),
    "xavier_normal": ("truncated", 2.0 / (FAN_IN + FAN_OUT)),
    "he_uniform": ("uniform", 2.0 / FAN_IN),
    "he_normal": ("truncated", 2.0 / FAN_IN),
    "lecun_uniform": ("uniform", 1.0 / FAN_IN),
    "lecun_normal": ("truncated", 1.0 / FAN_IN),
}
#: The uniform limits as Keras documents them (sqrt(3 * variance) written out).
UNIFORM_LIMITS = {
    "glorot_uniform": math.sqrt(6.0 / (FAN_IN + FAN_OUT)),
    "xavier_uniform": math.sqrt(6.0 / (FAN_IN + FAN_OUT)),
    "he_uniform": math.sqrt(6.0 / FAN_IN),
    "lecun_uniform": math.sqrt(3.0 / FAN_IN),
}
ALL_NAMES = list(VARIANCE_SCALING) + ["zeros", "ones", "constant", "random_normal",
                                      "random_uniform", "variance_scaling"]


def _draw(name, dtype=np.float64, seed=0, shape=SHAPE):
    return initializers.get(name)(shape, dtype, np.random.default_rng(seed))


def _check_moments(values, mean, variance):
    values = values.astype(np.float64)
    assert abs(values.mean() - mean) <= 5 * math.sqrt(variance / values.size)
    np.testing.assert_allclose(values.var(), variance, rtol=VAR_RTOL)


# --------------------------------------------------------------------------- shape, dtype
@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("shape", [(3, 5), (7,), (1, 1)], ids=str)
def test_shape_and_dtype(name, shape, dtype):
    W = _draw(name, dtype, shape=shape)
    assert isinstance(W, np.ndarray) and W.shape == shape and W.dtype == dtype
    assert np.isfinite(W).all()


def test_constant_zeros_ones_are_exact(dtype):
    rng = np.random.default_rng(0)
    assert (initializers.get("zeros")((3, 2), dtype, rng) == 0).all()
    assert (initializers.get("ones")((3, 2), dtype, rng) == 1).all()
    assert (initializers.Constant(0.25)((3, 2), dtype, rng) == 0.25).all()
    assert (initializers.get("constant")((2,), dtype, rng) == 0).all()  # Keras: value=0


# --------------------------------------------------------------------------- bounds, variance
@pytest.mark.parametrize("name", list(UNIFORM_LIMITS))
def test_uniform_limits(name):
    limit = UNIFORM_LIMITS[name]
    for dtype in (np.float32, np.float64):
        W = _draw(name, dtype)
        assert np.abs(W).max() <= dtype(limit)
        # 160,000 uniforms all missing the outer 0.1% of [-a, a] has probability
        # 0.999**160000 = e**-160: the draw must reach both ends.
        assert W.max() > 0.999 * limit and W.min() < -0.999 * limit
    _check_moments(_draw(name), 0.0, limit ** 2 / 3)


@pytest.mark.parametrize("name", [n for n, (d, _) in VARIANCE_SCALING.items()
                                  if d == "truncated"])
def test_truncated_normals_stay_within_two_untruncated_stddevs(name):
    _, variance = VARIANCE_SCALING[name]
    # Keras draws a normal of stddev sqrt(variance) / 0.8796 truncated at 2 of those
    # stddevs, so that the truncated draw has the intended variance.
    bound = 2 * math.sqrt(variance) / TRUNCATED_STD
    W = _draw(name)
    assert np.abs(W).max() <= bound
    assert np.abs(W).max() > 0.99 * bound  # the tails are reached, not cut short
    _check_moments(W, 0.0, variance)


@pytest.mark.parametrize("name", list(VARIANCE_SCALING))
def test_variance_matches_keras(name):
    _, variance = VARIANCE_SCALING[name]
    _check_moments(_draw(name), 0.0, variance)
    _check_moments(_draw(name, np.float32, seed=1), 0.0, variance)


def test_fans_of_a_bias_vector_are_its_length():
    # Keras's compute_fans: a 1-D shape (n,) has fan_in = fan_out = n.
    W = _draw("glorot_uniform", shape=(50,))
    assert np.abs(W).max() <= math.sqrt(6.0 / 100)


def test_random_normal_and_uniform_keras_defaults():
    _check_moments(_draw("random_normal"), 0.0, 0.05 ** 2)
    W = _draw("random_uniform")
    assert W.min() >= -0.05 and W.max() < 0.05
    _check_moments(W, 0.0, 0.1 ** 2 / 12)


def test_random_normal_and_uniform_arguments():
    rng = np.random.default_rng(3)
    W = initializers.RandomNormal(mean=1.5, stddev=0.2)(SHAPE, np.float64, rng)
    _check_moments(W, 1.5, 0.04)
    W = initializers.RandomUniform(minval=2.0, maxval=4.0)(SHAPE, np.float64, rng)
    assert W.min() >= 2.0 and W.max() < 4.0
    _check_moments(W, 3.0, 4.0 / 12)


@pytest.mark.parametrize("mode, n", [("fan_in", FAN_IN), ("fan_out", FAN_OUT),
                                     ("fan_avg", (FAN_IN + FAN_OUT) / 2)])
@pytest.mark.parametrize("distribution", ["uniform", "untruncated_normal", "truncated_normal"])
def test_variance_scaling_modes_and_distributions(mode, n, distribution):
    init = initializers.VarianceScaling(scale=3.0, mode=mode, distribution=distribution)
    W = init(SHAPE, np.float64, np.random.default_rng(5))
    variance = 3.0 / n
    _check_moments(W, 0.0, variance)
    if distribution == "uniform":
        assert np.abs(W).max() <= math.sqrt(3 * variance)
    elif distribution == "truncated_normal":
        assert np.abs(W).max() <= 2 * math.sqrt(variance) / TRUNCATED_STD
    else:  # untruncated: values beyond 2 stddev occur (4.6% of them)
        assert np.abs(W).max() > 3 * math.sqrt(variance)


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", [n for n in ALL_NAMES if n not in ("zeros", "ones",
                                                                     "constant")])
def test_same_seed_same_values_other_seed_other_values(name):
    a, b, c = _draw(name, seed=11), _draw(name, seed=11), _draw(name, seed=12)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_draws_consume_the_generator_so_two_layers_differ():
    rng = np.random.default_rng(0)
    init = initializers.get("he_normal")
    assert not np.array_equal(init((4, 4), np.float32, rng), init((4, 4), np.float32, rng))


def test_float32_draw_is_the_float64_draw_rounded():
    np.testing.assert_array_equal(_draw("he_uniform", np.float32, seed=4),
                                  _draw("he_uniform", np.float64, seed=4).astype(np.float32))


# --------------------------------------------------------------------------- lookup
@pytest.mark.parametrize("alias, canonical", [
    ("xavier_uniform", initializers.GlorotUniform), ("xavier_normal", initializers.GlorotNormal),
    ("glorot_uniform", initializers.GlorotUniform), ("He_Normal", initializers.HeNormal),
    ("HE_UNIFORM", initializers.HeUniform), ("lecun_normal", initializers.LecunNormal),
    ("zeros", initializers.Zeros), ("random_normal", initializers.RandomNormal),
])
def test_get_by_name_is_case_insensitive_and_knows_the_aliases(alias, canonical):
    assert type(initializers.get(alias)) is canonical


def test_get_passes_instances_through():
    init = initializers.RandomNormal(stddev=0.3)
    assert initializers.get(init) is init


@pytest.mark.parametrize("init", [
    initializers.GlorotUniform(), initializers.HeNormal(), initializers.Constant(2.5),
    initializers.RandomNormal(0.5, 0.1), initializers.RandomUniform(-1.0, 2.0),
    initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"), initializers.Zeros(),
], ids=repr)
def test_serialize_round_trip_gives_the_same_draws(init):
    config = initializers.serialize(init)
    again = initializers.get(config)
    assert type(again) is type(init) and again.get_config() == init.get_config()
    np.testing.assert_array_equal(again((6, 3), np.float64, np.random.default_rng(2)),
                                  init((6, 3), np.float64, np.random.default_rng(2)))


def test_serialize_uses_the_canonical_name():
    assert initializers.serialize(initializers.get("xavier_uniform")) == \
        {"class_name": "glorot_uniform", "config": {}}


def test_get_none_is_none_as_in_keras():
    assert initializers.get(None) is None


@pytest.mark.parametrize("bad", ["glorot", "he", "orthogonal", "", 3, 1.0,
                                 {"class_name": "nope"}])
def test_unknown_initializers_are_refused(bad):
    with pytest.raises(ValueError, match="Unknown initializer"):
        initializers.get(bad)


def test_bad_arguments_are_refused_with_their_name():
    with pytest.raises(ValueError, match="maxval must be >= minval"):
        initializers.RandomUniform(1.0, 0.0)
    with pytest.raises(ValueError, match="stddev"):
        initializers.RandomNormal(stddev=-1.0)
    with pytest.raises(TypeError, match="value"):
        initializers.Constant("a")
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        initializers.VarianceScaling(distribution="cauchy")


def test_every_initializer_is_an_initializer_with_a_readable_repr():
    for name in ALL_NAMES:
        init = initializers.get(name)
        assert isinstance(init, Initializer)
        assert repr(init).startswith(type(init).__name__ + "(")
    assert repr(initializers.Constant(2.0)) == "Constant(value=2.0)"


def test_class_names_are_accepted_as_keras_does():
    from nncore import initializers

    assert isinstance(initializers.get("HeNormal"), initializers.HeNormal)
    assert isinstance(initializers.get("GlorotUniform"), initializers.GlorotUniform)
