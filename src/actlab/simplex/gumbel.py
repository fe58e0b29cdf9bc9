"""Gumbel-softmax (concrete) samples [Jang et al. 2017; Maddison et al. 2017]."""

from __future__ import annotations

from .. import _xp
from .._simplex import normalize_axis
from ..registry import Entry, Param, Properties, plain_number, positive, register
from .softmax import softmax

__all__ = ["gumbel_softmax", "gumbel_noise"]


def gumbel_noise(x, generator, xp):
    """Standard Gumbel noise ``-log(-log U)`` shaped like ``x``, drawn from
    ``generator``: a NumPy ``Generator`` (or an int seed) for any backend,
    or a ``torch.Generator`` for tensors; None uses fresh entropy (NumPy)
    or torch's global generator (tensors)."""
    return xp.gumbel(x, generator, "gumbel_softmax")


def gumbel_softmax(logits, /, tau=1.0, hard=False, *, axis=-1, generator=None):
    r"""A Gumbel-softmax sample: ``softmax((logits + g) / tau)`` with
    ``g_i = -log(-log U_i)``, ``U ~ uniform(0, 1)``.

    As ``tau -> 0`` the samples approach one-hot vectors whose arg max is
    distributed as ``softmax(logits)`` (the Gumbel-max trick). With
    ``hard=True`` the result is the one-hot vector of the sample's arg max;
    on tensors its gradient is that of the soft sample (straight-through),
    and the forward value is exactly one-hot.

    Args:
        logits: array or nested list of unnormalised log-probabilities.
        tau: the temperature, > 0.
        hard: return the one-hot arg max (straight-through on tensors).
        axis: the class axis.
        generator: ``numpy.random.Generator`` or int seed (any backend), or
            ``torch.Generator`` (tensors); reproducible for a fixed one.

    Returns:
        The probabilities, each slice along ``axis`` summing to 1: the shape, array type and
        floating dtype of the input, values in [0, 1].

    Example:
        >>> import actlab, numpy as np
        >>> y = actlab.gumbel_softmax([1.0, 2.0, 3.0], tau=0.5, generator=np.random.default_rng(0))
        >>> round(float(y.sum()), 12)
        1.0
        >>> actlab.gumbel_softmax([1.0, 2.0, 3.0], hard=True, generator=0).tolist()
        [0.0, 0.0, 1.0]
    """
    tau = plain_number(tau)
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not positive(float(tau)):
        raise ValueError(f"gumbel_softmax(): tau must be positive and finite, got {tau!r}")
    xp, x = _xp.as_float_array(logits, "logits")
    noisy = x + gumbel_noise(x, generator, xp)
    y = softmax(noisy, axis=axis, temperature=float(tau))
    if not hard or y.ndim == 0 or any(n == 0 for n in y.shape):
        return y  # (one class: y is already one-hot, 1, or 0 for -inf, or NaN)
    ax = normalize_axis(axis, y.ndim, "gumbel_softmax")
    idx = xp.argmax(y, axis=ax, keepdims=True)
    shape = [1] * y.ndim
    shape[ax] = y.shape[ax]
    cols = xp.reshape(xp.arange(y.shape[ax], dtype=idx.dtype), tuple(shape))
    one_hot = xp.astype(cols == idx, y.dtype)
    # an all -inf row (y = 0) gets zeros and a NaN row NaN, as in the soft sample
    top = xp.max(y, axis=ax, keepdims=True)
    one_hot = xp.where(top > 0, one_hot, y)
    return xp.straight_through(one_hot, y)


gumbel_softmax.entry = register(  # type: ignore[attr-defined]
    Entry(
        name="gumbel_softmax",
        kind="stochastic",
        family="softmax",
        function=gumbel_softmax,
        params=(
            Param("tau", 1.0, "> 0", valid=positive, sweep=(0.1, 0.5, 1.0, 5.0)),
            Param("hard", False, "bool", choices=(False, True)),
        ),
        latex=r"y=\mathrm{softmax}\!\left(\frac{z+g}{\tau}\right),\ g_i=-\log(-\log U_i)",
        dlatex=r"\frac{\partial y}{\partial z}=\frac{1}{\tau}(\mathrm{diag}(y)-yy^\top)",
        properties=Properties((0, 1), monotone=False, smooth=True, zero_centred=False, bounded=True),
        reference="Jang, Gu & Poole 2017; Maddison, Mnih & Teh 2017.",
        notes="Random: pass a generator for reproducible samples.",
    )
)
