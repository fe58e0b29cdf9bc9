r"""Large vocabularies: a word-level language model trained with each
large-output loss (Bengio et al. 2003 model; the losses of
:mod:`actlab.torch.large_output`).

Corpus: the King James Version as Debian's ``bible-kjv`` package ships it
(``apt-get install bible-kjv``; its ``bible`` program prints the text, so
nothing is downloaded at run time), or any plain-text file given as
``corpus``. Tokens: lower-cased words and punctuation; words seen fewer
than twice in training become ``<unk>``; every verse ends with ``<eos>``.
Every 20th verse is held out for validation.

Model: the embeddings of the 4 previous tokens, concatenated, a tanh layer
to ``d`` features, then the output layer over the vocabulary, its biases set
so that it starts at the unigram distribution of the training counts (for
the tree: ``init_bias_from_counts``), trained with Adam for the same steps
and batches with each loss:

- full: ``F.cross_entropy(h @ W.T + b, t)``;
- fused: ``linear_cross_entropy(h, W, t, linear_bias=b)`` (same values, chunked);
- hierarchical: ``HierarchicalSoftmax`` over the Huffman tree of the counts;
- sampled: ``sampled_softmax_loss`` with S candidates (log-uniform sampler
  over the frequency-sorted vocabulary; Jean et al. 2015);
- nce: ``nce_loss`` with S noise samples, log Z fixed to 0 (Mnih & Teh 2012).

Validation perplexity is exp(mean negative log-likelihood) under the
normalised model: the full softmax of ``h @ W.T + b`` for full, fused,
sampled and NCE, the tree's own (exactly normalised) probabilities for
hierarchical. Time per epoch is the measured training time per token times
the training tokens.

Example:
    >>> from actlab.reproduce.language_model import tokenize
    >>> tokenize("In the beginning God created the heaven and the earth.")[-3:]
    ['earth', '.', '<eos>']
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._report import Experiment, Progress, fmt

__all__ = ["LOSSES", "Settings", "read_corpus", "tokenize", "build_data", "train_one", "run", "table", "EXPERIMENT"]

LOSSES = ("full", "fused", "hierarchical", "sampled", "nce")
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,;:?!]")


@dataclass
class Settings:
    """The model and training settings (defaults: those of the benchmark)."""

    steps: int = 600
    batch: int = 512
    context: int = 4
    emb: int = 64
    d: int = 128
    num_sampled: int = 512
    lr: float = 2e-3
    seed: int = 0


def tokenize(line: str) -> list[str]:
    return TOKEN.findall(line.lower()) + ["<eos>"]


def read_corpus(path: str | None = None) -> tuple[list[str], str]:
    """``(verses or lines, a description of the source)``."""
    if path:
        return [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()], path
    if shutil.which("bible") is None:
        raise RuntimeError("no corpus: install Debian's bible-kjv (apt-get install bible-kjv) or pass a corpus file")
    out = subprocess.run(["bible", "-f", "Genesis1:1-Revelation22:21"], capture_output=True, text=True, check=True)
    verses = [re.sub(r"^\S+\s+", "", line) for line in out.stdout.splitlines() if line.strip()]
    return verses, "King James Bible (Debian package bible-kjv)"


def build_data(lines: list[str], context: int, limit: int | None = None):
    """``(vocab, counts, (train contexts, targets), (valid contexts, targets))`` as torch tensors."""
    import torch

    train_lines = [s for i, s in enumerate(lines) if i % 20]
    valid_lines = [s for i, s in enumerate(lines) if i % 20 == 0]
    if limit:
        train_lines, valid_lines = train_lines[:limit], valid_lines[: max(1, limit // 20)]
    counts = collections.Counter(w for s in train_lines for w in tokenize(s))
    words = sorted((w for w, c in counts.items() if c >= 2), key=lambda w: (-counts[w], w))
    vocab = ["<unk>"] + words  # <unk> first; then by decreasing frequency (log-uniform friendly)
    index = {w: i for i, w in enumerate(vocab)}
    freq = torch.zeros(len(vocab), dtype=torch.float64)
    for w, c in counts.items():
        freq[index.get(w, 0)] += c

    def windows(ls):
        ids = [index.get(w, 0) for s in ls for w in tokenize(s)]
        x = torch.tensor([index["<eos>"]] * context + ids)
        ctx = torch.stack([x[k:k + len(ids)] for k in range(context)], dim=1)
        return ctx, torch.tensor(ids)

    return vocab, freq, windows(train_lines), windows(valid_lines)


def _model(vocab_size: int, s: Settings):
    import torch

    class FeedForwardLM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(vocab_size, s.emb)
            self.hidden = torch.nn.Linear(s.context * s.emb, s.d)

        def forward(self, ctx):
            return torch.tanh(self.hidden(self.embed(ctx).flatten(1)))

    return FeedForwardLM()


def _output(kind: str, v: int, d: int, freq) -> Any:
    """The output layer, starting (up to its random weights) at the unigram distribution."""
    import torch

    from ..torch.large_output import HierarchicalSoftmax

    counts = freq.clamp(min=1)
    if kind == "hierarchical":
        tree = HierarchicalSoftmax(d, class_counts=counts.tolist())
        tree.init_bias_from_counts(counts)
        return tree
    layer = torch.nn.Linear(d, v)
    torch.nn.init.normal_(layer.weight, std=d**-0.5)
    with torch.no_grad():
        layer.bias.copy_(torch.log(counts / counts.sum()))
    return layer


def _loss(kind: str, out, h, t, num_sampled: int, gen):
    import torch.nn.functional as F

    from ..torch.large_output import linear_cross_entropy, nce_loss, sampled_softmax_loss

    if kind == "hierarchical":
        return out(h, t)
    w, b = out.weight, out.bias
    if kind == "full":
        return F.cross_entropy(F.linear(h, w, b), t)
    if kind == "fused":
        return linear_cross_entropy(h, w, t, linear_bias=b)
    if kind == "sampled":
        return sampled_softmax_loss(h, w, t, num_sampled, b, generator=gen)
    return nce_loss(h, w, t, num_sampled, b, generator=gen)


def _perplexity(kind: str, model, out, ctx, tgt, batch: int = 4096) -> float:
    import math

    import torch
    import torch.nn.functional as F

    total = 0.0
    with torch.no_grad():
        for i in range(0, len(tgt), batch):
            h = model(ctx[i:i + batch])
            t = tgt[i:i + batch]
            if kind == "hierarchical":
                total -= float(out.log_prob(h, t).double().sum())
            else:
                total += float(F.cross_entropy(F.linear(h, out.weight, out.bias), t, reduction="sum"))
    return math.exp(total / len(tgt))


def train_one(kind: str, data, s: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Train with one loss; ``{"loss", "ppl", "train_s", "epoch_s", "eval_s", "steps"}``."""
    import torch

    if kind not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")
    vocab, freq, (ctx, tgt), (vctx, vtgt) = data
    torch.manual_seed(s.seed)
    model = _model(len(vocab), s)
    out = _output(kind, len(vocab), s.d, freq)
    opt = torch.optim.Adam(list(model.parameters()) + list(out.parameters()), lr=s.lr)
    order = torch.randperm(len(tgt), generator=torch.Generator().manual_seed(s.seed))
    gen = torch.Generator().manual_seed(s.seed + 1)
    start = time.perf_counter()
    for step in range(s.steps):
        idx = order[(step * s.batch) % len(tgt):][: s.batch]
        loss = _loss(kind, out, model(ctx[idx]), tgt[idx], s.num_sampled, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None and step % 10 == 9:
            progress.step(10)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    ppl = _perplexity(kind, model, out, vctx, vtgt)
    return {"loss": kind, "ppl": ppl, "train_s": train_s, "epoch_s": train_s / (s.steps * s.batch) * len(tgt),
            "eval_s": time.perf_counter() - start, "steps": s.steps}


def run(full: bool = False, progress: bool = True, seed: int = 0, *, losses: tuple[str, ...] = LOSSES,
        steps: int | None = None, corpus: str | None = None, limit: int | None = None, threads: int = 1,
        **settings: Any) -> list[dict[str, Any]]:
    """One row per loss. Default 300 steps of 512 tokens (a sixth of an epoch);
    ``full``: one epoch (about 1750 steps)."""
    import torch

    torch.set_num_threads(threads)
    s = Settings(seed=seed, **settings)
    lines, _ = read_corpus(corpus)
    data = build_data(lines, s.context, limit)
    n_train = len(data[2][1])
    s.steps = steps or (-(-n_train // s.batch) if full else 300)
    rows = []
    with Progress(len(losses) * s.steps, "large-vocabulary", progress) as bar:
        for kind in losses:
            bar.note(kind)
            r = train_one(kind, data, s, bar)
            r.update(vocab=len(data[0]), train_tokens=n_train)
            rows.append(r)
    return rows


def table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    full = next((r for r in rows if r["loss"] == "full"), None)
    header = ["loss", "valid perplexity", "time per epoch s", "speed-up vs full", "trained s", "steps"]
    body = [[r["loss"], f"{r['ppl']:.1f}", f"{r['epoch_s']:.0f}",
             f"{full['epoch_s'] / r['epoch_s']:.2f}x" if full else "-", fmt(r["train_s"]), str(r["steps"])]
            for r in rows]
    return header, body


EXPERIMENT = Experiment(
    name="large-vocabulary",
    title="Large vocabularies: full, fused, hierarchical, sampled softmax and NCE on a KJV Bible language model",
    paper=("The article describes (without a table) the trade-off: hierarchical softmax costs O(log V) per "
           "token instead of O(V), importance sampling and NCE O(S); sampling-based losses train faster at a "
           "small cost in perplexity, the tree at a larger one; the full softmax stays the reference at test "
           "time."),
    protocol=("Our own corpus and model (a 4-gram feed-forward LM, V about 8.5k, 1 torch thread); default 300 "
              "steps of 512 tokens with the time per epoch extrapolated from them; --full: one epoch. Wall "
              "times on a shared machine are noisy."),
    fields=("loss", "ppl", "epoch_s", "train_s"),
    run=run,
    table=table,
    needs=("torch",),
)
