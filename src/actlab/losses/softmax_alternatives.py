"""Knowledge distillation and the cross-entropies of the spherical
and Taylor softmax [de Brebisson & Vincent 2016]."""

from __future__ import annotations

import math

from .. import _xp
from .._simplex import check_temperature, move_axis_last
from ..registry import Param
from ..simplex.alternatives import log_ratio, spherical_terms, taylor_terms
from ..simplex.softmax import log_softmax
from ._reduction import check_reduction, reduce_loss
from .cross_entropy import nll_from_log_probs, register_loss

__all__ = ["distillation_loss", "spherical_cross_entropy", "taylor_cross_entropy"]


def distillation_loss(student_logits, teacher_logits, /, temperature, *, axis=-1, reduction="mean"):
    r"""Knowledge-distillation loss :math:`T^2\,\mathrm{KL}(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T))`
    (Hinton et al. 2015), per row summed over classes.

    Computed from the two exact log-softmaxes: ``sum p_t (log p_t - log p_s)``
    with ``0 log 0 = 0``. The ``T^2`` keeps the gradient's scale
    independent of T: d/ds = T (softmax(s/T) - softmax(t/T)).

    Args:
        student_logits, teacher_logits: same shape; ``axis`` the class axis.
        temperature: T, positive and finite.
        reduction: "mean" over rows (PyTorch's ``kl_div`` "batchmean"), "sum",
            or "none" (one value per row).

    Returns:
        The loss: a 0-d array for ``reduction="mean"`` or ``"sum"``, one value per sample (the class
        axis removed) for ``"none"``; the array type and floating dtype of the scores.

    Example:
        >>> import actlab
        >>> float(actlab.distillation_loss([[1.0, 2.0]], [[1.0, 2.0]], 2.0))
        0.0
        >>> round(float(actlab.distillation_loss([[0.0, 0.0]], [[0.0, 2.0]], 1.0)), 6)
        0.327813
    """
    check_reduction(reduction, "distillation_loss")
    t = check_temperature(temperature, "distillation_loss")
    if t < 0:
        raise ValueError(f"distillation_loss(): temperature must be positive, got {temperature!r}")
    xp, s = _xp.as_float_array(student_logits, "student_logits")
    _, te = _xp.as_float_array(teacher_logits, "teacher_logits")
    if tuple(s.shape) != tuple(te.shape):
        raise ValueError(f"distillation_loss(): shapes differ: {tuple(s.shape)} and {tuple(te.shape)}")
    s, _ = move_axis_last(s, axis, xp, "distillation_loss")
    te, _ = move_axis_last(te, axis, xp, "distillation_loss")
    ls = log_softmax(s, axis=-1, temperature=t)
    lt = log_softmax(te, axis=-1, temperature=t)
    # 0 log 0 = 0: classes the teacher gives no mass (masked, or underflowed)
    # drop out before the difference, which would be -inf - -inf there
    pt = xp.exp(lt)
    keep = pt > 0.0
    terms = xp.where(keep, pt * (xp.where(keep, lt, 0.0) - xp.where(keep, ls, 0.0)), 0.0)
    return reduce_loss((t * t) * xp.sum(terms, axis=-1), None, None, reduction, xp)


def _ratio_loss(owner, terms, logits, target, axis, weight, ignore_index, reduction, label_smoothing):
    xp, z = _xp.as_float_array(logits, "logits")
    z, _ = move_axis_last(z, axis, xp, owner)
    logp = log_ratio(z, terms, xp)
    return nll_from_log_probs(logp, target, xp, owner=owner, axis=axis, weight=weight,
                              ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)


def spherical_cross_entropy(logits, target, /, *, axis=-1, eps=1e-6, weight=None, ignore_index=-100,
                            reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy of the spherical softmax (the log-spherical softmax loss of
    de Brebisson & Vincent 2016): :math:`-\log(z_k^2+\epsilon) + \log\sum_j (z_j^2+\epsilon)`.

    Targets, ``weight``, ``ignore_index``, ``reduction`` and
    ``label_smoothing`` as in :func:`cross_entropy`; ``eps > 0``.

    Returns:
        The loss: a 0-d array for ``reduction="mean"`` or ``"sum"``, one value per sample (the class
        axis removed) for ``"none"``; the array type and floating dtype of the scores.

    Example:
        >>> import actlab
        >>> round(float(actlab.spherical_cross_entropy([[1.0, 2.0]], [1], eps=0.0)), 6)
        0.223144
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"spherical_cross_entropy(): eps must be >= 0 and finite, got {eps!r}")
    return _ratio_loss("spherical_cross_entropy", spherical_terms(float(eps)), logits, target, axis, weight,
                       ignore_index, reduction, label_smoothing)


def taylor_cross_entropy(logits, target, /, *, axis=-1, order=2, weight=None, ignore_index=-100,
                         reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy of the Taylor softmax (the log-Taylor softmax loss of
    de Brebisson & Vincent 2016): :math:`-\log t(z_k) + \log\sum_j t(z_j)`,
    ``t`` the even-order Taylor polynomial of exp.

    Targets, ``weight``, ``ignore_index``, ``reduction`` and
    ``label_smoothing`` as in :func:`cross_entropy`; ``order`` even >= 2.

    Returns:
        The loss: a 0-d array for ``reduction="mean"`` or ``"sum"``, one value per sample (the class
        axis removed) for ``"none"``; the array type and floating dtype of the scores.

    Example:
        >>> import actlab
        >>> round(float(actlab.taylor_cross_entropy([[0.0, 2.0]], [1])), 6)
        0.182322
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 2 or order % 2:
        raise ValueError(f"taylor_cross_entropy(): order must be an even integer >= 2, got {order!r}")
    return _ratio_loss("taylor_cross_entropy", taylor_terms(order), logits, target, axis, weight,
                       ignore_index, reduction, label_smoothing)


_RED = Param("reduction", "mean", "choice", choices=("mean", "sum", "none"))
register_loss(
    distillation_loss,
    latex=r"L=T^2\,\mathrm{KL}\left(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\right)",
    dlatex=r"\nabla_s L=T\left(\mathrm{softmax}(s/T)-\mathrm{softmax}(t/T)\right)",
    reference="Hinton, Vinyals & Dean 2015.",
    params=(Param("temperature", 2.0, "> 0", valid=lambda v: v > 0 and math.isfinite(v), sweep=(1.0, 2.0, 4.0)), _RED),
)
register_loss(
    spherical_cross_entropy,
    latex=r"L(z,k)=-\log(z_k^2+\epsilon)+\log\sum_j(z_j^2+\epsilon)",
    dlatex=r"\partial_{z_j} L=\frac{2z_j}{\sum_i(z_i^2+\epsilon)}-[j=k]\frac{2z_k}{z_k^2+\epsilon}",
    reference="de Brebisson & Vincent, ICLR 2016 (arXiv 1511.05042).",
    params=(Param("eps", 1e-6, ">= 0", valid=lambda v: v >= 0 and math.isfinite(v)), _RED),
)
register_loss(
    taylor_cross_entropy,
    latex=r"L(z,k)=-\log t(z_k)+\log\sum_j t(z_j),\ t(x)=1+x+\tfrac{x^2}{2}",
    dlatex=r"\partial_{z_j} L=\frac{t'(z_j)}{\sum_i t(z_i)}-[j=k]\frac{t'(z_k)}{t(z_k)}",
    reference="de Brebisson & Vincent, ICLR 2016 (arXiv 1511.05042).",
    params=(Param("order", 2, "even integer >= 2", valid=lambda v: v >= 2 and v == int(v) and int(v) % 2 == 0), _RED),
)
