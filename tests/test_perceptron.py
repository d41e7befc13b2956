"""The course's perceptron: step, the gates with its weights, XOR = AND(NAND, OR), and the
perceptron learning rule (converging on AND/OR/NAND, bounded and warned on XOR)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from nncore.linear import NotFittedError
from nncore.perceptron import AND, NAND, OR, XOR, ConvergenceWarning, Perceptron, step

# The truth tables of the lecture notes, rows in their order: (x1, x2) = 00, 10, 01, 11.
INPUTS = [(0, 0), (1, 0), (0, 1), (1, 1)]
TABLES = {
    "AND": [0, 0, 0, 1],
    "OR": [0, 1, 1, 1],
    "NAND": [1, 1, 1, 0],
    "XOR": [0, 1, 1, 0],
}
GATES = {"AND": AND, "OR": OR, "NAND": NAND, "XOR": XOR}


def test_step_is_one_only_above_zero():
    assert step(0.5) == 1 and step(0) == 0 and step(-3) == 0
    assert isinstance(step(2.0), int)
    out = step(np.array([[-1.0, 0.0], [1e-12, 2.0]]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[0, 0], [1, 1]])


@pytest.mark.parametrize("name", ["AND", "OR", "NAND", "XOR"])
def test_gate_truth_tables_on_scalars(name):
    gate = GATES[name]
    outputs = [gate(x1, x2) for x1, x2 in INPUTS]
    assert outputs == TABLES[name]
    assert all(type(v) is int for v in outputs)


@pytest.mark.parametrize("name", ["AND", "OR", "NAND", "XOR"])
def test_gate_truth_tables_on_arrays(name):
    gate = GATES[name]
    X = np.array(INPUTS)
    np.testing.assert_array_equal(gate(X[:, 0], X[:, 1]), TABLES[name])
    np.testing.assert_array_equal(gate(X), TABLES[name])  # one (n, 2) argument
    # Any leading shape works: the inputs are the last axis.
    np.testing.assert_array_equal(gate(X.reshape(2, 2, 2)), np.reshape(TABLES[name], (2, 2)))


def test_gates_have_the_course_weights():
    assert AND.weights.tolist() == [0.5, 0.5] and AND.bias == -0.7
    assert OR.weights.tolist() == [1.0, 1.0] and OR.bias == -0.5
    assert NAND.weights.tolist() == [-0.5, -0.5] and NAND.bias == 0.7
    # The notes' worked sum for x = (0, 1): 0*0.5 + 1*0.5 - 0.7, printed -0.19999999999999996.
    assert np.sum(AND.weights * np.array([0, 1])) + AND.bias == -0.19999999999999996


def test_nand_matches_the_course_definition():
    # The notes write NAND as AND's weights and bias with the output inverted.
    def course_nand(x1, x2):
        return 1 if 0.5 * x1 + 0.5 * x2 - 0.7 <= 0 else 0

    assert [NAND(a, b) for a, b in INPUTS] == [course_nand(a, b) for a, b in INPUTS]


def test_xor_hidden_layer_is_the_course_table():
    # The notes' table: s1 = NAND, s2 = OR, y = AND(s1, s2).
    s1 = [NAND(a, b) for a, b in INPUTS]
    s2 = [OR(a, b) for a, b in INPUTS]
    assert s1 == [1, 1, 1, 0] and s2 == [0, 1, 1, 1]
    assert [AND(a, b) for a, b in zip(s1, s2)] == [0, 1, 1, 0]


def test_repr_is_readable():
    assert repr(AND) == "Perceptron(weights=[0.5, 0.5], bias=-0.7, name='AND')"
    assert repr(Perceptron()) == "Perceptron(weights=None, bias=0.0)"


def test_predict_single_pair_and_batch():
    p = Perceptron(weights=[1.0, -1.0, 0.5], bias=0.0)
    assert p.predict([1, 0, 0]) == 1
    np.testing.assert_array_equal(p.predict([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), [1, 0, 1])


def test_fit_and_hand_computed_trajectory():
    # Worked by hand (learning_rate 1 keeps every number an integer): from w = (0, 0), b = 0,
    # visiting 00, 10, 01, 11 each epoch, the mistakes per epoch are 1, 3, 3, 2, 1, 0 and the
    # rule stops at w = (1, 2), b = -2.
    p = Perceptron().fit(np.array(INPUTS), TABLES["AND"], learning_rate=1.0)
    assert p.converged_ is True
    assert p.errors_ == [1, 3, 3, 2, 1, 0]
    assert p.n_epochs_ == 6
    # fit writes coef_/intercept_; the constructor's weights/bias stay as given
    # (scikit-learn's rule, which clone and GridSearchCV rely on).
    assert p.coef_.tolist() == [1.0, 2.0] and p.intercept_ == -2.0
    assert p.weights is None and p.bias == 0.0


def test_learning_rate_only_scales_the_weights_from_zero_start():
    # Starting from zero, every weight is learning_rate times an integer, and step only
    # sees signs: the same mistakes happen, with weights scaled by the learning rate.
    p = Perceptron().fit(np.array(INPUTS), TABLES["AND"], learning_rate=0.1)
    assert p.errors_ == [1, 3, 3, 2, 1, 0]
    np.testing.assert_allclose(p.coef_, [0.1, 0.2], rtol=1e-12)
    assert p.intercept_ == pytest.approx(-0.2, rel=1e-12)


@pytest.mark.parametrize("name", ["AND", "OR", "NAND"])
def test_fit_learns_linearly_separable_gates(name):
    X, y = np.array(INPUTS, dtype=np.float32), np.array(TABLES[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converging must not warn
        p = Perceptron().fit(X, y)
    assert p.converged_ is True
    assert p.errors_[-1] == 0 and all(e > 0 for e in p.errors_[:-1])
    assert p.n_epochs_ == len(p.errors_) <= 100
    np.testing.assert_array_equal(p.predict(X), y)
    assert p.score(X, y) == 1.0


def test_fit_on_xor_stops_at_the_bound_and_warns():
    X, y = np.array(INPUTS), np.array(TABLES["XOR"])
    with pytest.warns(ConvergenceWarning, match="not linearly separable") as record:
        p = Perceptron().fit(X, y, max_epochs=25)
    assert len(record) == 1
    assert p.converged_ is False
    assert p.n_epochs_ == 25 and len(p.errors_) == 25
    assert min(p.errors_) > 0
    assert p.score(X, y) < 1.0  # no line gets all four right
    assert issubclass(ConvergenceWarning, UserWarning)


def test_fit_with_shuffle_is_reproducible():
    X, y = np.array(INPUTS), np.array(TABLES["OR"])
    a = Perceptron().fit(X, y, shuffle=True, random_state=3)
    b = Perceptron().fit(X, y, shuffle=True, random_state=3)
    assert a.converged_ and a.errors_ == b.errors_
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict(X), y)


def test_predict_before_fit_is_refused():
    with pytest.raises(NotFittedError, match="fit"):
        Perceptron().predict([0, 1])
    assert issubclass(NotFittedError, ValueError)


@pytest.mark.parametrize("X, y, match", [
    ([0, 1, 1], [0, 1, 1], "X.shape=(3,)"),                       # 1-D X
    (np.zeros((2, 2, 2)), [0, 1], "X.shape=(2, 2, 2)"),            # 3-D X
    (np.zeros((4, 2)), [0, 1, 1], "y.shape=(3,)"),                 # one label short
    (np.zeros((4, 2)), [[0], [1], [1], [0]], "y.shape=(4, 1)"),    # 2-D y
    (np.zeros((2, 2)), [0, 2], "binary"),                          # label 2
    (np.zeros((2, 2)), [0, 0.5], "binary"),                        # label 0.5
    ([[0, np.nan], [1, 1]], [0, 1], "X must be finite"),           # NaN
    ([[0, 0], [1, 1]], [0, np.inf], "y must be finite"),           # inf label
])
def test_fit_refuses_bad_data(X, y, match):
    p = Perceptron(weights=[1.0, 1.0], bias=-1.5)
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        p.fit(X, y)
    assert p.weights == [1.0, 1.0] and p.bias == -1.5  # left as it was
    assert not hasattr(p, "coef_")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"learning_rate": 0.0}, ValueError, "learning_rate=0.0"),
    ({"learning_rate": float("nan")}, ValueError, "learning_rate=nan"),
    ({"learning_rate": "0.1"}, ValueError, "learning_rate='0.1'"),
    ({"max_epochs": 0}, ValueError, "max_epochs=0"),
    ({"max_epochs": 2.5}, TypeError, "max_epochs=2.5"),
])
def test_fit_refuses_bad_hyperparameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        Perceptron().fit(np.array(INPUTS), TABLES["AND"], **kwargs)


def test_bad_inputs_to_a_gate():
    with pytest.raises(ValueError, match=r"X.shape=\(3,\)"):
        AND.predict([1, 0, 1])
    with pytest.raises(ValueError, match="same shape"):
        OR([0, 1], [0, 1, 1])
    with pytest.raises(TypeError, match="X must hold real numbers"):
        AND.predict(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="x1 must be finite"):
        AND(np.nan, 1)
    # The constructor only stores its arguments (scikit-learn's rule); they are checked
    # when the weights are used.
    with pytest.raises(ValueError, match="weights"):
        Perceptron(weights=[[0.5, 0.5]]).predict([0, 1])
    with pytest.raises(TypeError, match="bias=None"):
        Perceptron(weights=[0.5, 0.5], bias=None)([0, 1])
