"""A real end-to-end run: a word-level feed-forward language model trained on
the King James Bible with each large-output loss (issue 5).

Corpus: the King James Version as Debian's ``bible-kjv`` package ships it
(``apt-get install bible-kjv``; its ``bible`` program prints the text, so
nothing is downloaded at run time), or any plain-text file given with
``--corpus``. Tokens: lower-cased words and punctuation; words seen fewer
than twice in training become ``<unk>``; every verse ends with ``<eos>``.
Every 20th verse is held out for validation.

Model (Bengio et al. 2003): the embeddings of the 4 previous tokens,
concatenated, a tanh layer to ``d`` features, then the output layer over the
vocabulary, its biases set so that it starts at the unigram distribution of
the training counts (for the tree: ``init_bias_from_counts``), trained with
Adam for the same steps and batches with each loss:

- full: ``F.cross_entropy(h @ W.T + b, t)``;
- fused: ``linear_cross_entropy(h, W, t, linear_bias=b)`` (same values, chunked);
- hierarchical: ``HierarchicalSoftmax`` over the Huffman tree of the counts;
- sampled: ``sampled_softmax_loss`` with S candidates (log-uniform sampler
  over the frequency-sorted vocabulary);
- nce: ``nce_loss`` with S noise samples, log Z fixed to 0.

Validation perplexity is exp(mean negative log-likelihood) under the
normalised model: the full softmax of ``h @ W.T + b`` for full, fused, sampled
and NCE, the tree's own (exactly normalised) probabilities for hierarchical.

Usage::

    python benchmarks/language_model.py           # a few minutes on 2 cores
    python benchmarks/language_model.py --quick   # seconds, smoke test
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from actlab.torch.large_output import (  # noqa: E402
    HierarchicalSoftmax,
    linear_cross_entropy,
    nce_loss,
    sampled_softmax_loss,
)

LOSSES = ("full", "fused", "hierarchical", "sampled", "nce")
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|[.,;:?!]")


def read_corpus(path: str | None) -> tuple[list[str], str]:
    if path:
        return [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()], path
    if shutil.which("bible") is None:
        raise SystemExit("no corpus: install Debian's bible-kjv (apt-get install bible-kjv) or pass --corpus FILE")
    out = subprocess.run(["bible", "-f", "Genesis1:1-Revelation22:21"], capture_output=True, text=True, check=True)
    verses = [re.sub(r"^\S+\s+", "", line) for line in out.stdout.splitlines() if line.strip()]
    return verses, "King James Bible (Debian package bible-kjv)"


def build_data(lines: list[str], context: int, limit: int | None):
    train_lines = [s for i, s in enumerate(lines) if i % 20]
    valid_lines = [s for i, s in enumerate(lines) if i % 20 == 0]
    if limit:
        train_lines, valid_lines = train_lines[:limit], valid_lines[: max(1, limit // 20)]
    tok = lambda s: TOKEN.findall(s.lower()) + ["<eos>"]
    counts = collections.Counter(w for s in train_lines for w in tok(s))
    words = sorted((w for w, c in counts.items() if c >= 2), key=lambda w: (-counts[w], w))
    vocab = ["<unk>"] + words  # <unk> first; then by decreasing frequency (log-uniform friendly)
    index = {w: i for i, w in enumerate(vocab)}
    freq = torch.zeros(len(vocab), dtype=torch.float64)
    for w, c in counts.items():
        freq[index.get(w, 0)] += c

    def windows(ls):
        ids = [index.get(w, 0) for s in ls for w in tok(s)]
        x = torch.tensor([index["<eos>"]] * context + ids)
        ctx = torch.stack([x[k:k + len(ids)] for k in range(context)], dim=1)
        return ctx, torch.tensor(ids)

    return vocab, freq, windows(train_lines), windows(valid_lines)


class FeedForwardLM(torch.nn.Module):
    def __init__(self, vocab_size: int, context: int, emb: int, d: int) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, emb)
        self.hidden = torch.nn.Linear(context * emb, d)

    def forward(self, ctx: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.hidden(self.embed(ctx).flatten(1)))


def make_output(kind: str, v: int, d: int, freq: torch.Tensor):
    """The output layer, starting (up to its random weights) at the unigram
    distribution of the training counts, whatever the loss."""
    counts = freq.clamp(min=1)
    if kind == "hierarchical":
        layer = HierarchicalSoftmax(d, class_counts=counts.tolist())
        layer.init_bias_from_counts(counts)
        return layer
    layer = torch.nn.Linear(d, v)
    torch.nn.init.normal_(layer.weight, std=d**-0.5)
    with torch.no_grad():
        layer.bias.copy_(torch.log(counts / counts.sum()))
    return layer


def loss_of(kind: str, out, h, t, num_sampled: int, gen: torch.Generator):
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


@torch.no_grad()
def perplexity(kind: str, model, out, ctx, tgt, batch: int = 4096) -> float:
    total = 0.0
    for i in range(0, len(tgt), batch):
        h = model(ctx[i:i + batch])
        t = tgt[i:i + batch]
        if kind == "hierarchical":
            total -= float(out.log_prob(h, t).double().sum())
        else:
            total += float(F.cross_entropy(F.linear(h, out.weight, out.bias), t, reduction="sum"))
    return float(torch.exp(torch.tensor(total / len(tgt))))


def run(kind: str, data, args) -> dict:
    vocab, freq, (ctx, tgt), (vctx, vtgt) = data
    torch.manual_seed(args.seed)
    model = FeedForwardLM(len(vocab), args.context, args.emb, args.d)
    out = make_output(kind, len(vocab), args.d, freq)
    opt = torch.optim.Adam(list(model.parameters()) + list(out.parameters()), lr=args.lr)
    order = torch.randperm(len(tgt), generator=torch.Generator().manual_seed(args.seed))
    gen = torch.Generator().manual_seed(args.seed + 1)
    start = time.perf_counter()
    for step in range(args.steps):
        idx = order[(step * args.batch) % len(tgt):][: args.batch]
        h = model(ctx[idx])
        loss = loss_of(kind, out, h, tgt[idx], args.num_sampled, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    ppl = perplexity(kind, model, out, vctx, vtgt)
    return dict(loss=kind, train_s=train_s, eval_s=time.perf_counter() - start, ppl=ppl)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few seconds: small data, few steps")
    ap.add_argument("--corpus", help="plain-text file instead of the KJV Bible (one sentence or verse a line)")
    ap.add_argument("--losses", nargs="*", default=list(LOSSES))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--context", type=int, default=4)
    ap.add_argument("--emb", type=int, default=64)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--num-sampled", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared 2-core machine two OpenMP threads mostly wait for each other)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "large_output_language_model.md"))
    args = ap.parse_args()
    if args.quick:
        args.steps, args.batch, args.num_sampled = 20, 128, 64
    torch.set_num_threads(args.threads)
    lines, source = read_corpus(args.corpus)
    data = build_data(lines, args.context, 2000 if args.quick else None)
    vocab, _, (_, tgt), (_, vtgt) = data
    print(f"{source}: {len(tgt)} training and {len(vtgt)} validation tokens, V = {len(vocab)}", flush=True)
    rows = []
    for kind in args.losses:
        r = run(kind, data, args)
        rows.append(r)
        print(f"{kind:>12}: train {r['train_s']:.1f} s, eval {r['eval_s']:.1f} s, valid ppl {r['ppl']:.1f}", flush=True)
    full = next((r for r in rows if r["loss"] == "full"), None)
    lines_out = [
        f"Corpus: {source}; {len(tgt)} training tokens, {len(vtgt)} validation tokens (every 20th verse), "
        f"V = {len(vocab)}. Model: {args.context}-token context, embeddings {args.emb}, tanh layer d = {args.d}; "
        f"Adam lr {args.lr}, {args.steps} steps of {args.batch} tokens (seed {args.seed}); "
        f"S = {args.num_sampled} for sampled/NCE; {torch.get_num_threads()} thread(s); wall times.",
        "",
        "| loss | train wall s | speed-up vs full | valid perplexity | eval s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        speed = f"{full['train_s'] / r['train_s']:.2f}x" if full else "-"
        lines_out.append(f"| {r['loss']} | {r['train_s']:.1f} | {speed} | {r['ppl']:.1f} | {r['eval_s']:.1f} |")
    text = "\n".join(lines_out) + "\n"
    print(text)
    if not args.quick:
        Path(args.out).write_text("# Large output spaces: a word-level language model\n\nCommand: "
                                  "`python benchmarks/language_model.py`\n\n" + text)


if __name__ == "__main__":
    main()
