"""Benchmark: TALLRec rows scored by likelihood against the same rows answered by generation.

One tiny random-weight Llama model (built offline, :func:`llmrec.testing.tiny_model.
build_tiny_model`), TALLRec-style yes/no rows from random ratings, one batch size for both
readings: **score** is one forward pass per batch reading the first answer token's "Yes" and
"No" log-probabilities (:meth:`llmrec.local_models.LocalModel.next_token_logprobs`); **generate**
writes the answer greedily (``max_new_tokens``, default 4: "Yes." and the end token), as reading
the model by its text would. Prints rows per second for each and their ratio; the machine is
printed first. Timings include no model loading (loaded once, one warm-up batch each).

Run: ``python benchmarks/bench_likelihood.py`` (``--rows 256 --batch-size 16``).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from llmrec.data import Catalog, Movie, Ratings
from llmrec.prompts import TALLREC_INSTRUCTION
from llmrec.protocols import tallrec


def rows(n_users: int, seed: int = 0) -> tallrec.TallRecSet:
    rng = np.random.default_rng(seed)
    catalog = Catalog(Movie(m, f"Film {m}", 1950 + m % 50) for m in range(1, 201))
    users, movies, stars, times = [], [], [], []
    for u in range(n_users):
        for j, m in enumerate(rng.choice(200, 20, replace=False) + 1):
            users.append(u + 1)
            movies.append(int(m))
            stars.append(int(rng.integers(1, 6)))
            times.append(1_000_000 + 1000 * u + j)
    t = np.asarray(times)
    ratings = Ratings(users, movies, stars, t // 86_400, time=t)
    return tallrec.build(ratings, catalog, window=10, last=None, split=(1.0, 0.0, 0.0)).train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=4)
    args = parser.parse_args()
    import torch

    from llmrec.local_models import LocalModel
    from llmrec.testing.tiny_model import build_tiny_model

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads); load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    part = rows(max(1, args.rows // 10 + 1)).sample(args.rows, seed=0)
    alpaca = part.to_alpaca()
    conversations = [tallrec.chat_messages(r) for r in alpaca]
    with tempfile.TemporaryDirectory() as tmp:
        texts = [TALLREC_INSTRUCTION, "Yes.", "No.", *(r["input"] for r in alpaca)]
        folder = build_tiny_model(Path(tmp) / "tiny", part.catalog, extra_texts=texts)
        model = LocalModel(folder, device="cpu", batch_size=args.batch_size)
        warm = conversations[: args.batch_size]
        model.next_token_logprobs(warm, tallrec.YES_NO)
        model.generate(warm, max_new_tokens=args.max_new_tokens)

        began = time.perf_counter()
        model.next_token_logprobs(conversations, tallrec.YES_NO)
        scored = time.perf_counter() - began
        began = time.perf_counter()
        model.generate(conversations, max_new_tokens=args.max_new_tokens)
        generated = time.perf_counter() - began
    n = len(conversations)
    print(f"rows: {n}, batch size {args.batch_size}, generation up to {args.max_new_tokens} tokens")
    print(f"score (one forward pass):  {n / scored:8.1f} rows/s  ({scored:.2f} s)")
    print(f"generate the answer:       {n / generated:8.1f} rows/s  ({generated:.2f} s)")
    print(f"scoring is {generated / scored:.1f}x faster")


if __name__ == "__main__":
    main()
