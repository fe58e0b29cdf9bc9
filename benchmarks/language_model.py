"""A real end-to-end run: a word-level feed-forward language model trained on
the King James Bible with each large-output loss. The corpus, model and
training loop live in :mod:`actlab.reproduce.language_model` (also run by
``actlab reproduce large-vocabulary``); this script times 600 steps per loss
and writes docs/large_output_language_model.md.

Usage::

    python benchmarks/language_model.py           # a few minutes on 2 cores
    python benchmarks/language_model.py --quick   # seconds, smoke test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from actlab.reproduce.language_model import LOSSES, Settings, build_data, read_corpus, train_one  # noqa: E402


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
    try:
        lines, source = read_corpus(args.corpus)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    s = Settings(steps=args.steps, batch=args.batch, context=args.context, emb=args.emb, d=args.d,
                 num_sampled=args.num_sampled, lr=args.lr, seed=args.seed)
    data = build_data(lines, args.context, 2000 if args.quick else None)
    vocab, _, (_, tgt), (_, vtgt) = data
    print(f"{source}: {len(tgt)} training and {len(vtgt)} validation tokens, V = {len(vocab)}", flush=True)
    rows = []
    for kind in args.losses:
        r = train_one(kind, data, s)
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
