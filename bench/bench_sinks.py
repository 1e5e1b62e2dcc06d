"""The attention-sink experiment (Xiao et al., "Efficient Streaming Language Models with Attention Sinks", 2023,
Section 3.2, Figure 1) on SmolLM2-135M-Instruct (attnviz.decoder), on three texts of 150–256 tokens.

For each text and window w: next-token perplexity (exp of the mean loss, in nats) with full attention, with a
sliding window of w tokens alone (the query included), and with the same window keeping the first 4 tokens (the
paper's k = 4), the sinks scored at their positions in a rolling cache (`attnviz.decoder.sinks.windowed`). Each is
given over every prediction of the text and over the predictions past the window (positions w … T−2, where the
window alone has lost token 0). Then the share of each head's weight on the first token, layer by layer (min /
median / max over the 9 heads; each row's weight on token 0, averaged over the rows after it), for one text.

The texts: the opening of the attention article the course follows (/work/shared/seed/attention-article.txt, or
--article), and the two longest paragraph presets of the course's sidebar (assets/presets.json: the ferry and the
honeybee paragraphs), each cut at 256 tokens.

    python bench/bench_sinks.py                      # about 30 s on a quiet 2-core machine
    python bench/bench_sinks.py --windows 8,16,32,64 --share-text 0
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from attnviz.decoder import PAPER_SINKS, encode, forward, load_model, sink_experiment, sink_share  # noqa: E402

ARTICLE = Path("/work/shared/seed/attention-article.txt")


def texts(article: Path) -> list[tuple[str, str]]:
    """(name, text) of the three texts: the article's opening paragraphs, and two course presets."""
    if not article.is_file():
        raise SystemExit(f"the article is not at {article}: pass --article PATH")
    paragraphs = [p.strip() for p in article.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 80]
    presets = json.loads((ROOT / "assets" / "presets.json").read_text(encoding="utf-8"))
    longest = sorted(presets, key=len, reverse=True)[:2]  # the ferry (1,141 characters), the honeybee (838)
    return [
        ("article opening", " ".join(paragraphs)),  # cut at 256 tokens by encode
        (f"preset “{longest[0][:24]}…”", longest[0]),
        (f"preset “{longest[1][:24]}…”", longest[1]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", default="8,16,32,64", help="comma-separated window sizes")
    parser.add_argument("--sinks", type=int, default=PAPER_SINKS, help="first tokens kept beside the window")
    parser.add_argument("--share-text", type=int, default=0, help="which text's sink share to print (0, 1, 2)")
    parser.add_argument("--article", type=Path, default=ARTICLE)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",") if w.strip()]
    torch.set_num_threads(args.threads)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"{now} · load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    model = load_model("cpu")
    start = time.perf_counter()
    print()
    print(f"Perplexity: all predictions / past the window (positions w … T−2); sinks = first {args.sinks} tokens")
    print("| text (tokens) | window | full attention | window alone | window + sinks | window alone ÷ full, past w "
          "| window + sinks ÷ full, past w |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    fulls = []
    for name, text in texts(args.article):
        tokens = encode(model, text)
        full = forward(model, tokens, keep_weights=False)
        fulls.append(tokens)
        for w in windows:
            e = sink_experiment(model, tokens, window=w, sinks=args.sinks, full=full)
            f, a, s = (c.perplexity_from(w) for c in (e.full, e.window_only, e.with_sinks))
            print(f"| {name} ({len(tokens)}) | {w} | {e.full.perplexity:.1f} / {f:.1f} | "
                  f"{e.window_only.perplexity:.1f} / {a:.1f} | {e.with_sinks.perplexity:.1f} / {s:.1f} | "
                  f"{a / f:.2f} | {s / f:.2f} |")  # fmt: skip
    tokens = fulls[args.share_text]
    share = sink_share(forward(model, tokens).weights, first=1)  # (L, H)
    print()
    print(f"Share of each row's weight on the first token, text {args.share_text} ({len(tokens)} tokens), "
          "per layer over the 9 heads: min / median / max")  # fmt: skip
    print("| layer | min | median | max |")
    print("|---|---|---|---|")
    for layer, heads in enumerate(share):
        values = sorted(float(x) for x in heads)
        print(f"| {layer} | {values[0]:.2f} | {statistics.median(values):.2f} | {values[-1]:.2f} |")
    everything = share.flatten()
    print(f"all 270 heads: median {float(everything.median()):.2f}; heads above 0.5: "
          f"{int((everything > 0.5).sum())}; above 0.9: {int((everything > 0.9).sum())}")  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
