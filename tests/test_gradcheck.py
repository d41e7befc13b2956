"""nncore.gradcheck: central differences in float64 accept a right gradient and refuse a
wrong one, naming what was checked."""
import numpy as np
import pytest

from nncore.gradcheck import check_gradient, numerical_gradient, relative_error


def test_numerical_gradient_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    expected = np.cos(x ** 2) * 2 * x  # d/dx sin(x**2)
    np.testing.assert_allclose(numerical_gradient(lambda x: float(np.sin(x ** 2).sum()), x),
                               expected, rtol=1e-8)
    assert x[0, 0] == 0.3  # restored


def test_check_gradient_accepts_the_right_gradient_and_refuses_a_wrong_one():
    x = np.linspace(-2, 2, 6).reshape(2, 3)
    f = lambda x: float(np.sum(np.tanh(x)))  # noqa: E731
    assert check_gradient("tanh", f, lambda x: 1 - np.tanh(x) ** 2, x) < 1e-8
    with pytest.raises(ValueError, match="The gradient of tanh does not match"):
        check_gradient("tanh", f, lambda x: 1 - np.tanh(x), x)
    with pytest.raises(ValueError, match="must have the shape of its input"):
        check_gradient("tanh", f, lambda x: np.ones(3), x)
    with pytest.raises(ValueError, match="does not match"):
        check_gradient("tanh", f, lambda x: np.full(x.shape, np.nan), x)


def test_relative_error_is_absolute_for_small_derivatives():
    assert relative_error(np.array([1e-9]), np.array([0.0])) == 1e-9
    assert relative_error(np.array([101.0]), np.array([100.0])) == pytest.approx(0.01)
