r"""Linear multi-label models trained with L-BFGS, as in Martins & Astudillo
2016 (arXiv 1602.02068), section 5.1: scores :math:`z = W^\top x + b` and

.. math:: \min_{W, b}\; \frac1N \sum_i L(z_i, y_i) + \frac\lambda2 \lVert W\rVert_F^2

(the bias is not penalised) with one of three losses, each actlab's own:

- ``"softmax"``: cross-entropy to the target distribution
  :math:`q = y / \lVert y\rVert_1`, gradient :math:`\mathrm{softmax}(z) - q`;
- ``"sparsemax"``: the sparsemax loss to :math:`q`, gradient
  :math:`\mathrm{sparsemax}(z) - q`;
- ``"logistic"``: one binary cross-entropy per label on the 0/1 labels,
  gradient :math:`\sigma(z) - y`.

The optimiser is SciPy's L-BFGS-B (``scipy.optimize.minimize``) from
:math:`W = 0`; ``warm`` restarts from a previous solution (used along a
path of decreasing :math:`\lambda`).

Example:
    >>> import numpy as np
    >>> from actlab.reproduce.linear_models import fit, predict
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((200, 3))
    >>> q = np.eye(3)[np.argmax(x, axis=1)]
    >>> w = fit(x, q, "sparsemax", 1e-3)
    >>> float(np.mean(np.argmax(predict(x, w, "sparsemax"), axis=1) == np.argmax(q, axis=1))) > 0.9
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LOSSES", "fit", "scores", "predict", "objective"]

LOSSES = ("logistic", "softmax", "sparsemax")


def scores(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ W + b``, where ``w`` stacks the bias row over ``W``: shape (D+1, K)."""
    return x @ w[1:] + w[0]


def _loss_and_grad(z: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """Summed loss over the rows of ``z`` and its gradient with respect to ``z``."""
    import actlab

    if loss == "softmax":
        return float(actlab.cross_entropy(z, y, reduction="sum")), np.asarray(actlab.softmax(z)) - y
    if loss == "sparsemax":
        return float(actlab.sparsemax_loss(z, y, reduction="sum")), np.asarray(actlab.sparsemax(z)) - y
    if loss == "logistic":
        value = float(actlab.binary_cross_entropy_with_logits(z, y, reduction="sum"))
        return value, np.asarray(actlab.sigmoid(z)) - y
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def objective(w_flat: np.ndarray, x: np.ndarray, y: np.ndarray, loss: str, lam: float) -> tuple[float, np.ndarray]:
    """The regularised mean loss and its gradient with respect to the flat
    parameters (bias row first)."""
    n, d = x.shape
    w = w_flat.reshape(d + 1, -1)
    value, gz = _loss_and_grad(scores(x, w), y, loss)
    grad = np.empty_like(w)
    grad[0] = gz.sum(axis=0) / n
    grad[1:] = x.T @ gz / n + lam * w[1:]
    return value / n + 0.5 * lam * float(np.sum(w[1:] * w[1:])), grad.ravel()


def targets(labels: np.ndarray, loss: str) -> np.ndarray:
    """What each loss is trained on: 0/1 labels for logistic, the labels
    normalised to a distribution for softmax and sparsemax (rows of ``labels``
    may already be distributions)."""
    labels = np.asarray(labels, dtype=np.float64)
    if loss == "logistic":
        return (labels > 0).astype(np.float64)
    total = labels.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("softmax and sparsemax targets need at least one label per row")
    return labels / total


def fit(x: np.ndarray, labels: np.ndarray, loss: str, lam: float, *, max_iter: int = 100,
        warm: np.ndarray | None = None) -> np.ndarray:
    """Train the model; returns ``w`` of shape (D+1, K) (bias row first).

    Args:
        x: (N, D) features.
        labels: (N, K) 0/1 labels or target distributions.
        loss: "logistic", "softmax" or "sparsemax".
        lam: the L2 weight (>= 0).
        max_iter: L-BFGS iterations (the paper runs 100).
        warm: a starting point (default zeros).
    """
    from scipy.optimize import minimize

    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not lam >= 0:
        raise ValueError(f"lam must be >= 0, got {lam!r}")
    y = targets(labels, loss)
    d, k = x.shape[1], y.shape[1]
    w0 = np.zeros((d + 1) * k) if warm is None else np.asarray(warm, dtype=np.float64).ravel()
    res: Any = minimize(objective, w0, args=(x, y, loss, lam), jac=True, method="L-BFGS-B",
                        options={"maxiter": max_iter, "maxcor": 10, "ftol": 1e-10, "gtol": 1e-6})
    return np.asarray(res.x).reshape(d + 1, k)


def predict(x: np.ndarray, w: np.ndarray, loss: str) -> np.ndarray:
    """The model's output: sigmoid per label (logistic), or the softmax or
    sparsemax distribution over the labels."""
    import actlab

    z = scores(x, w)
    if loss == "logistic":
        return np.asarray(actlab.sigmoid(z))
    if loss == "softmax":
        return np.asarray(actlab.softmax(z))
    if loss == "sparsemax":
        return np.asarray(actlab.sparsemax(z))
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Centre and scale every column by the training part's mean and standard
    deviation (constant columns are only centred)."""
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return [(a - mu) / sd for a in (train, *others)]
