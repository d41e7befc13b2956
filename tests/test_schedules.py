"""Learning-rate schedules (nncore.optimizers.schedules) against values worked out by hand
from Keras 3's definitions, and inside an optimizer, where the rate follows the step
count."""
import math

import numpy as np
import pytest

import nncore as nn
from nncore.optimizers import schedules
from nncore.optimizers.schedules import CosineDecay, ExponentialDecay, PiecewiseConstantDecay


# --------------------------------------------------------------------------- by hand
@pytest.mark.parametrize("step, expected", [
    (0, 0.1), (5, 0.1 * math.sqrt(0.5)), (10, 0.05), (25, 0.1 * 0.5 ** 2.5), (100, 0.1 / 1024),
])
def test_exponential_decay(step, expected):
    assert ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(step) == \
        pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("step, expected", [
    (0, 0.1), (9, 0.1), (10, 0.05), (19, 0.05), (20, 0.025), (35, 0.0125),
])
def test_exponential_decay_staircase(step, expected):
    schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert schedule(step) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("step, expected", [
    # Keras: values[0] while step <= boundaries[0], values[1] while step <= boundaries[1]...
    (0, 1.0), (10, 1.0), (11, 0.5), (20, 0.5), (21, 0.1), (10**6, 0.1),
])
def test_piecewise_constant_decay_boundaries_are_inclusive(step, expected):
    assert PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])(step) == expected


@pytest.mark.parametrize("step, expected", [
    (0, 1.0), (2, 0.5 * (1 + math.cos(0.2 * math.pi))), (5, 0.5), (8, 0.5 * (1 + math.cos(0.8 * math.pi))),
    (10, 0.0), (15, 0.0),  # held at the end
])
def test_cosine_decay(step, expected):
    assert CosineDecay(1.0, decay_steps=10)(step) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("step, expected", [
    (0, 2.0), (5, 2.0 * (0.8 * 0.5 + 0.2)), (10, 2.0 * 0.2), (50, 2.0 * 0.2),
])
def test_cosine_decay_to_alpha(step, expected):
    assert CosineDecay(2.0, decay_steps=10, alpha=0.2)(step) == pytest.approx(expected,
                                                                              rel=1e-15)


@pytest.mark.parametrize("step, expected", [
    # Linear from initial_learning_rate 0.1 to warmup_target 1.1 over 4 steps...
    (0, 0.1), (1, 0.35), (2, 0.6), (3, 0.85),
    # ...then cosine from warmup_target over decay_steps 10, down to alpha * warmup_target.
    (4, 1.1), (9, 1.1 * (0.9 * 0.5 + 0.1)), (14, 1.1 * 0.1), (99, 1.1 * 0.1),
])
def test_cosine_decay_with_warmup(step, expected):
    schedule = CosineDecay(0.1, decay_steps=10, alpha=0.1, warmup_target=1.1, warmup_steps=4)
    assert schedule(step) == pytest.approx(expected, rel=1e-14)


def test_cosine_decay_ignores_warmup_steps_without_a_warmup_target():
    # Keras 3: with warmup_target None there is no warm-up phase at all; warmup_steps does
    # not delay the decay.
    schedule = CosineDecay(1.0, decay_steps=10, warmup_steps=4)
    for step in (0, 2, 5, 10):
        assert schedule(step) == pytest.approx(CosineDecay(1.0, decay_steps=10)(step),
                                               abs=1e-15)


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize("schedule", [
    ExponentialDecay(0.1, 7, 0.9, staircase=True), PiecewiseConstantDecay([3, 8], [1.0, 0.5, 0.25]),
    CosineDecay(0.5, 20, alpha=0.1, warmup_target=1.0, warmup_steps=5),
], ids=lambda s: type(s).__name__)
def test_serialize_round_trip(schedule):
    again = schedules.deserialize(schedules.serialize(schedule))
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert [again(s) for s in range(40)] == [schedule(s) for s in range(40)]


def test_bad_arguments_are_refused_with_their_name():
    with pytest.raises(ValueError, match="decay_steps"):
        ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(TypeError, match="decay_steps"):
        ExponentialDecay(0.1, decay_steps=2.5, decay_rate=0.5)
    with pytest.raises(ValueError, match="initial_learning_rate"):
        ExponentialDecay(-0.1, decay_steps=1, decay_rate=0.5)
    with pytest.raises(ValueError, match="one more element"):
        PiecewiseConstantDecay([10, 20], [1.0, 0.5])
    with pytest.raises(ValueError, match="increasing"):
        PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1])
    with pytest.raises(ValueError, match="alpha"):
        CosineDecay(1.0, decay_steps=10, alpha=1.5)
    with pytest.raises(ValueError, match="warmup_steps"):
        CosineDecay(1.0, decay_steps=10, warmup_steps=-1)
    with pytest.raises(ValueError, match="Unknown learning-rate schedule"):
        schedules.deserialize({"class_name": "InverseTimeDecay", "config": {}})


# --------------------------------------------------------------------------- in an optimizer
def test_optimizer_learning_rate_follows_iterations(backend):
    schedule = PiecewiseConstantDecay([1, 2], [0.5, 0.25, 0.125])
    optimizer = nn.optimizers.SGD(learning_rate=schedule)
    w, g = np.array([1.0]), np.array([1.0])
    rates, weights = [], []
    for _ in range(4):
        rates.append(optimizer.learning_rate)
        optimizer.apply([w], [g.copy()], backend)
        weights.append(float(w[0]))
    # Step t (iterations = t before it) uses schedule(t): 0.5, 0.5, 0.25, 0.125.
    assert rates == [0.5, 0.5, 0.25, 0.125]
    assert weights == pytest.approx([0.5, 0.0, -0.25, -0.375], abs=1e-15)
    assert optimizer.iterations == 4 and optimizer.learning_rate == 0.125


def test_schedule_in_fit_counts_batches_not_epochs(backend):
    model = nn.Sequential([nn.layers.Dense(1, input_dim=2)], seed=0, backend=backend)
    schedule = ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model.compile(nn.optimizers.Adam(learning_rate=schedule), "mse")
    x, y = np.ones((10, 2)), np.zeros(10)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)  # 3 batches per epoch
    assert model.optimizer.iterations == 6
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 2 ** 6, rel=1e-15)


def test_setting_a_schedule_on_an_optimizer_and_its_config_round_trip():
    optimizer = nn.optimizers.SGD(learning_rate=0.1)
    optimizer.learning_rate = CosineDecay(1.0, decay_steps=4)
    assert optimizer.learning_rate == 1.0
    optimizer.iterations = 2
    assert optimizer.learning_rate == pytest.approx(0.5, abs=1e-15)
    again = nn.optimizers.deserialize(nn.optimizers.serialize(optimizer))
    assert isinstance(again._learning_rate, CosineDecay)
    assert again.learning_rate == 1.0  # a new optimizer starts at step 0
