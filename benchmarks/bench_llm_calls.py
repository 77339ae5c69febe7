"""Benchmark: LLM calls through llmrec against a plain ``openai`` SDK thread pool, same server.

``LocalOpenAIServer`` (the local OpenAI-compatible test server) answers every chat request after
``--latency`` seconds; 200 distinct profiles of 10 movies are asked for 10 recommendations with
16 requests in flight. The anchor, timed in the same run and interleaved round by round, is what
one would write by hand: ``ThreadPoolExecutor(16)`` mapping ``client.chat.completions.create``
over the same bodies (no cache, no parsing). llmrec does the whole pipeline: prompts, cache
keys, the response cache (each answer committed as it arrives), parsing, title resolution.

``--server process`` runs the server in its own process (as a real server); ``--server thread``
runs it in this interpreter, so the pipeline's CPU competes with the server's (a test's load).
The median and best of ``--rounds`` rounds are printed, with the ratio llmrec / plain.

    python benchmarks/bench_llm_calls.py --server process --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_backends import (
    _OPENAI_N_MOVIES,
    _openai_catalog,
    _openai_fake_model,
    _OpenAIServerProcess,
)
from llmrec.data.ratings import Ratings
from llmrec.prompts import PromptTemplate
from llmrec.recommenders.openai import OpenAIRecommender


class _ThreadServer:
    def __init__(self, latency: float) -> None:
        from llmrec.testing.server import LocalOpenAIServer

        self.server = LocalOpenAIServer(_openai_fake_model, latency=latency)
        self.server.__enter__()
        self.base_url = self.server.base_url

    def close(self) -> None:
        self.server.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("process", "thread"), default="process")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import openai

    n, conc = args.requests, args.concurrency
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load}; {n} requests, {conc} in flight, "
        f"{args.latency * 1000:.0f} ms per answer, server in a {args.server}; floor "
        f"{-(-n // conc) * args.latency:.2f} s",
        flush=True,
    )
    rng = np.random.default_rng(0)
    profiles = [
        tuple(int(m) for m in rng.choice(_OPENAI_N_MOVIES, 10, replace=False) + 1) for _ in range(n)
    ]
    catalog = _openai_catalog()
    ratings = Ratings([1], [1], [5], np.array(["2005-01-01"], "M8[D]"))
    template = PromptTemplate()
    folder = Path(tempfile.mkdtemp(prefix="llmrec-bench-llm-"))
    server: Any = (
        _OpenAIServerProcess(args.latency, 0.0, 0)
        if args.server == "process"
        else _ThreadServer(args.latency)
    )
    try:
        client = openai.OpenAI(base_url=server.base_url, api_key="bench", max_retries=0)
        bodies = [
            {
                "model": "gpt-4o-mini-2024-07-18",
                "messages": template.messages(p, catalog, k=10),
                "temperature": 0.0,
                "max_tokens": 400,
            }
            for p in profiles
        ]

        def plain() -> float:
            with ThreadPoolExecutor(conc) as pool:
                start = time.perf_counter()
                answers = list(pool.map(lambda b: client.chat.completions.create(**b), bodies))
                seconds = time.perf_counter() - start
            assert len(answers) == n
            return seconds

        def ours(round_: int) -> float:
            rec = OpenAIRecommender(
                base_url=server.base_url,
                api_key="bench",
                cache=folder / f"round{round_}.sqlite",
                max_concurrency=conc,
            ).fit(ratings, catalog)
            rec.transport().client()  # built lazily: not part of the timing
            start = time.perf_counter()
            recs = rec.recommend_many(profiles, 10)
            seconds = time.perf_counter() - start
            assert len(recs) == n and not any(r.cached for r in recs)
            rec.close()
            return seconds

        plain()  # warm up: connections, imports
        ours(-1)
        a: list[float] = []
        b: list[float] = []
        for r in range(args.rounds):
            a.append(plain())
            b.append(ours(r))
            print(f"  round {r + 1}: plain SDK pool {a[-1]:6.3f} s   llmrec {b[-1]:6.3f} s")
        print(
            f"median: plain {statistics.median(a):.3f} s, llmrec {statistics.median(b):.3f} s, "
            f"ratio {statistics.median(b) / statistics.median(a):.3f}; best: plain {min(a):.3f} "
            f"s, llmrec {min(b):.3f} s, ratio {min(b) / min(a):.3f} (target <= 1.10)"
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
