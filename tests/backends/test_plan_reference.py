"""The native compiled training step against its definition, the numpy backend's
DensePlan (nncore/backends/numpy_backend/plan.py), over random Dense stacks: depth,
widths, activations, losses (fused with the last activation or not), dtypes, batch
sizes and sample weights.

Tolerance: the per-dtype table of conftest with scale 10. The two backends run the same
formulas but sum in different orders (BLAS blocking against NumPy's pairwise sums), and a
gradient passes through up to four layers, each adding a few ulps of its largest term.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import BACKENDS, assert_close
from nncore import backends
from nncore.backends.base import ACTIVATION_CODES, ACTIVATIONS, DEFAULT_ALPHA, LOSS_CODES
from nncore.backends.codes import FUSED, fuses
from nncore.backends.numpy_backend.plan import DensePlan

pytestmark = pytest.mark.skipif("native" not in BACKENDS, reason="the native extension "
                                "is not built")



def targets(rng, loss: str, n: int, m: int, dtype):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, m, size=n).astype(np.int64)
    if loss == "categorical_crossentropy":
        return np.eye(m, dtype=dtype)[rng.integers(0, m, size=n)]
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=(n, m)).astype(dtype)
    if loss == "kl_divergence":
        return rng.dirichlet(np.ones(m), size=n).astype(dtype)
    if loss == "poisson":
        return rng.poisson(2.0, size=(n, m)).astype(dtype)
    return rng.normal(size=(n, m)).astype(dtype)


stack = st.fixed_dictionaries({
    "widths": st.lists(st.integers(1, 7), min_size=2, max_size=5),
    "hidden": st.lists(st.sampled_from(ACTIVATIONS), min_size=4, max_size=4),
    "last": st.sampled_from(ACTIVATIONS),
    "loss": st.sampled_from(sorted(LOSS_CODES)),
    "from_logits": st.booleans(),
    "dtype": st.sampled_from([np.float32, np.float64]),
    "n": st.integers(1, 9),
    "weighted": st.booleans(),
    "bias": st.lists(st.booleans(), min_size=4, max_size=4),
    "seed": st.integers(0, 2**16),
})


@settings(max_examples=150, deadline=None)
@given(spec=stack)
def test_native_plan_equals_the_numpy_definition(spec):
    rng = np.random.default_rng(spec["seed"])
    dtype, widths, n, loss = spec["dtype"], spec["widths"], spec["n"], spec["loss"]
    if loss == "sparse_categorical_crossentropy" and widths[-1] < 2:
        widths = widths[:-1] + [2]
    acts = spec["hidden"][:len(widths) - 2] + [spec["last"]]
    # Outputs of the kind these losses take: a distribution, a positive rate (else both
    # sides divide by the 1e-7 clip and compare noise).
    acts[-1] = {"kl_divergence": "softmax", "poisson": "softplus"}.get(loss, acts[-1])
    from_logits = spec["from_logits"]
    if loss.endswith("crossentropy") and (acts[-1], loss) not in FUSED:
        # Probabilities come from a sigmoid or softmax; other outputs are logits (a
        # cross-entropy of tanh outputs clipped at 1e-7 is no computation worth comparing).
        from_logits = True
    fused = fuses(acts[-1], loss, from_logits)
    weights = [(rng.normal(0, 0.7, size=(k, m)).astype(dtype),
                rng.normal(0, 0.1, size=m).astype(dtype) if bias else None)
               for k, m, bias in zip(widths[:-1], widths[1:], spec["bias"])]
    codes = [ACTIVATION_CODES[a] for a in acts]
    alphas = [DEFAULT_ALPHA.get(a, 0.0) for a in acts]
    X = rng.normal(size=(n, widths[0])).astype(dtype)
    T = targets(rng, loss, n, widths[-1], dtype)
    sw = rng.uniform(0.5, 1.5, size=n).astype(dtype) if spec["weighted"] else None
    results = {}
    for name in ("native", "numpy"):
        grads = [(np.full_like(W, np.nan), None if b is None else np.full_like(b, np.nan))
                 for W, b in weights]
        args = (weights, grads, codes, alphas, LOSS_CODES[loss], from_logits, 1.0, fused)
        plan = backends.get_backend("native").dense_plan(*args) if name == "native" \
            else DensePlan(*args)
        value, Y = plan.train_step(X, T, sw)
        results[name] = (value, Y.copy(), [g for pair in grads for g in pair if g is not None])
    (value, Y, grads), (ref_value, ref_Y, ref_grads) = results["native"], results["numpy"]
    assert_close(value, ref_value, dtype, scale=10.0)
    assert_close(Y, ref_Y, dtype, scale=10.0)
    for got, want in zip(grads, ref_grads):
        assert not np.isnan(got).any()
        assert_close(got, want, dtype, scale=10.0)
