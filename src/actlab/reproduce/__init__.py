"""``actlab reproduce NAME``: the source articles' experiments, rerun with
actlab's own maps and losses, each printing its table beside what the paper
reports.

========================  ==============================================================
name                      what
========================  ==============================================================
sparsemax-proportions     label proportions, softmax vs sparsemax loss (Martins & Astudillo 2016, fig. 3)
sparsemax-multilabel      logistic / softmax / sparsemax multi-label F1 on Yeast (same paper, table 2 protocol)
softmax-vs-normalization  the scale experiment and a classifier per output map (Goodfellow et al. 2016, 6.2.2.3)
large-vocabulary          full, fused, hierarchical, sampled and NCE losses on a KJV Bible language model
attention-saturation      attention's gradient without the 1/sqrt(d_k) scale (Vaswani et al. 2017)
========================  ==============================================================

The modules import their heavy dependencies (scipy, scikit-learn, river,
torch) only when run; ``pip install 'actlab[reproduce]'`` brings them.
:data:`RECORDS` holds the records of the default-size runs that
``docs/reproductions.md`` shows and the gallery draws.

Example:
    >>> from actlab.reproduce import EXPERIMENTS, experiment
    >>> sorted(EXPERIMENTS)[:2]
    ['attention-saturation', 'large-vocabulary']
    >>> experiment("softmax-vs-normalization").fields
    ('part', 'map')
"""

from __future__ import annotations

from pathlib import Path

from . import attention, language_model, multilabel, normalization, proportions
from ._report import Experiment, Progress, read_record, report_text, write_record

__all__ = ["EXPERIMENTS", "RECORDS", "Experiment", "Progress", "experiment", "read_record", "report_text",
           "write_record"]

EXPERIMENTS: dict[str, Experiment] = {m.EXPERIMENT.name: m.EXPERIMENT for m in (
    proportions, multilabel, normalization, language_model, attention)}

RECORDS = Path(__file__).resolve().parent / "records"
"""The default-size runs' records, ``NAME.json`` (written by ``scripts/make_reproductions.py``)."""


def experiment(name: str) -> Experiment:
    """The experiment called ``name`` (ValueError listing the known names)."""
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None
