"""LinearRegression through the Moore-Penrose pseudo-inverse: golden coefficients, agreement
with np.linalg.lstsq, the course's point about the column of ones, R^2, and validation."""
from __future__ import annotations

import numpy as np
import pytest

from nncore.linear import LinearRegression, NotFittedError

RTOL = 1e-10  # float64 least squares on well-conditioned data


def exact_data():
    """y = 3 + 2 x1 - x2 on a small grid: the fit must recover it exactly."""
    X = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [2, 3], [-1, 4]], dtype=np.float64)
    return X, 3 + 2 * X[:, 0] - X[:, 1]


def test_known_coefficients_on_exact_data():
    X, y = exact_data()
    reg = LinearRegression().fit(X, y)
    np.testing.assert_allclose(reg.coef_, [2.0, -1.0], rtol=0, atol=1e-12)
    assert isinstance(reg.intercept_, float)
    assert reg.intercept_ == pytest.approx(3.0, abs=1e-12)
    assert reg.coef_.shape == (2,) and reg.n_features_in_ == 2 and reg.rank_ == 3
    np.testing.assert_allclose(reg.predict([[10.0, 5.0]]), [18.0], rtol=1e-12)
    assert reg.score(X, y) == 1.0


def test_hand_computed_line_and_r2():
    # x = 0..3, y = 1, 3, 2, 5: slope = Sxy / Sxx = 5.5 / 5 = 1.1, intercept = 2.75 - 1.1 * 1.5
    # = 1.1; residuals -0.1, 0.8, -1.3, 0.6 give SS_res = 2.7, SS_tot = 8.75, R^2 = 121/175.
    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([1.0, 3.0, 2.0, 5.0])
    reg = LinearRegression().fit(X, y)
    assert reg.coef_[0] == pytest.approx(1.1, rel=1e-12)
    assert reg.intercept_ == pytest.approx(1.1, rel=1e-12)
    assert reg.score(X, y) == pytest.approx(121 / 175, rel=1e-12)


def test_equals_lstsq_on_noisy_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = X @ [1.5, -2.0, 0.3, 4.0] + 0.7 + rng.normal(scale=0.1, size=50)
    reg = LinearRegression().fit(X, y)
    beta = np.linalg.lstsq(np.hstack([np.ones((50, 1)), X]), y, rcond=None)[0]
    np.testing.assert_allclose(reg.intercept_, beta[0], rtol=RTOL)
    np.testing.assert_allclose(reg.coef_, beta[1:], rtol=RTOL)
    assert 0.99 < reg.score(X, y) < 1.0


def test_column_of_ones_is_what_matches_an_intercept_model():
    # The course's question: pinv(X) alone fits a model through the origin, which cannot
    # reproduce data with an intercept; pinv([1 | X]) recovers it exactly.
    X, y = exact_data()
    through_origin = LinearRegression(fit_intercept=False).fit(X, y)
    assert through_origin.intercept_ == 0.0
    np.testing.assert_allclose(through_origin.coef_, np.linalg.pinv(X) @ y, rtol=RTOL)
    assert not np.allclose(through_origin.coef_, [2.0, -1.0])
    assert through_origin.score(X, y) < 1.0
    assert LinearRegression().fit(X, y).score(X, y) == 1.0


def test_multi_output_is_one_fit_per_target():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    Y = np.column_stack([X @ [1.0, 2.0, 3.0] - 1.0, X @ [0.0, -1.0, 0.5] + 2.0])
    reg = LinearRegression().fit(X, Y)
    assert reg.coef_.shape == (2, 3) and reg.intercept_.shape == (2,)
    np.testing.assert_allclose(reg.coef_, [[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]], atol=1e-12)
    np.testing.assert_allclose(reg.intercept_, [-1.0, 2.0], atol=1e-12)
    assert reg.predict(X).shape == (30, 2)
    for t in range(2):
        single = LinearRegression().fit(X, Y[:, t])
        np.testing.assert_allclose(reg.coef_[t], single.coef_, rtol=RTOL, atol=1e-12)
    assert reg.score(X, Y) == pytest.approx(1.0, abs=1e-12)


def test_dependent_columns_give_the_minimum_norm_solution():
    x = np.arange(6.0)
    X = np.column_stack([x, x])  # the same feature twice: infinitely many exact fits
    reg = LinearRegression().fit(X, 4 * x + 1)
    assert reg.rank_ == 2
    np.testing.assert_allclose(reg.coef_, [2.0, 2.0], rtol=1e-10)  # split evenly
    assert reg.intercept_ == pytest.approx(1.0, rel=1e-10)


def test_score_conventions():
    X = np.array([[0.0], [1.0], [2.0]])
    reg = LinearRegression().fit(X, [5.0, 6.0, 7.0])
    # The model y = 5 exactly (a fitted pinv would carry round-off, and R^2 of a constant
    # target is defined only through scikit-learn's 1-if-exact-else-0 convention).
    reg.coef_, reg.intercept_ = np.array([0.0]), 5.0
    assert reg.score(X, [5.0, 5.0, 5.0]) == 1.0  # constant target predicted exactly
    assert reg.score(X, [4.0, 4.0, 4.0]) == 0.0  # constant target missed
    with pytest.raises(ValueError, match="at least 2 samples"):
        reg.score([[1.0]], [5.0])


def test_predict_before_fit_is_a_not_fitted_error():
    with pytest.raises(NotFittedError, match="fit"):
        LinearRegression().predict([[1.0]])
    assert issubclass(NotFittedError, ValueError)


@pytest.mark.parametrize("X, y, error, match", [
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ValueError, "reshape"),
    (np.zeros((3, 2, 1)), np.zeros(3), ValueError, r"X.shape=\(3, 2, 1\)"),
    (np.zeros((3, 2)), np.zeros(4), ValueError, r"y.shape=\(4,\)"),
    (np.zeros((3, 2)), np.zeros((3, 1, 1)), ValueError, r"y.shape=\(3, 1, 1\)"),
    ([[1.0, np.nan], [2.0, 3.0]], [1.0, 2.0], ValueError, "X must be finite"),
    ([[1.0], [2.0]], [1.0, np.nan], ValueError, "y must be finite"),
    (np.array([[1j], [2j]]), [1.0, 2.0], TypeError, "X must hold real numbers"),
])
def test_fit_refuses_bad_input_and_keeps_the_model(X, y, error, match):
    reg = LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0])
    with pytest.raises(error, match=match):
        reg.fit(X, y)
    assert reg.coef_.tolist() == pytest.approx([2.0]) and reg.intercept_ == pytest.approx(1.0)


def test_predict_and_score_refuse_bad_input():
    reg = LinearRegression().fit(*exact_data())
    with pytest.raises(ValueError, match="fitted with 2"):
        reg.predict(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"y.shape=\(2,\)"):
        reg.score(np.zeros((3, 2)), np.zeros(2))
    # The constructor only stores its arguments (scikit-learn's rule, which clone and
    # check_estimator rely on): a bad fit_intercept is refused by fit.
    with pytest.raises(TypeError, match="fit_intercept='yes'"):
        LinearRegression(fit_intercept="yes").fit(*exact_data())
