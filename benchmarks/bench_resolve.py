"""Benchmark: resolve model-written titles against a Netflix-sized catalog.

Builds a film-like catalog (default 17,770 titles, about 1 % sharing a title with another
year, like the two "Twister") from word lists, then a query mix like real model output:

* ``exact``    the catalog label "Title (Year)" as written in the catalog;
* ``variant``  case changed, leading article moved behind ("Patriot, The"), accents dropped,
               "&" spelled "and", year left out;
* ``typo``     one character deleted, doubled, swapped or replaced (titles of 8+ letters);
* ``invented`` titles built from words that no catalog title uses (hallucinations).

It times ``TitleResolver.resolve_many`` on all queries (cold cache, construction included) and
the approach a user would write instead, ``rapidfuzz.process.extractOne`` per query with
``fuzz.WRatio`` and a 90 cut-off over the "Title (Year)" labels, on a sample (its time is
extrapolated to all queries), and prints per-category accuracy for both.

    python benchmarks/bench_resolve.py                      # 17,770 titles, 100,000 queries
    python benchmarks/bench_resolve.py --queries 5000 --naive-sample 200   # quick
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import unicodedata
from collections import Counter

import numpy as np
from rapidfuzz import fuzz, process

from llmrec.data import Catalog
from llmrec.data.resolver import TitleResolver

ADJ = [
    "Dark",
    "Silent",
    "Lost",
    "Last",
    "Golden",
    "Broken",
    "Hidden",
    "Wild",
    "Final",
    "Secret",
    "Red",
    "Blue",
    "Black",
    "White",
    "Long",
    "Little",
    "Great",
    "Eternal",
    "Midnight",
    "Crimson",
    "Frozen",
    "Burning",
    "Savage",
    "Quiet",
    "Strange",
    "Deadly",
    "Lonely",
    "Sweet",
    "Bitter",
    "Electric",
    "Royal",
    "Forgotten",
    "Endless",
    "Distant",
    "Sacred",
    "Wicked",
    "Brave",
    "Hollow",
    "Iron",
]
NOUN = [
    "River",
    "Night",
    "Road",
    "City",
    "Heart",
    "Storm",
    "Dream",
    "King",
    "Queen",
    "House",
    "Garden",
    "Island",
    "Shadow",
    "Fire",
    "Moon",
    "Sun",
    "Star",
    "Ocean",
    "Mountain",
    "Forest",
    "Empire",
    "Kingdom",
    "Soldier",
    "Hunter",
    "Stranger",
    "Letter",
    "Promise",
    "Journey",
    "Secret",
    "Mirror",
    "Window",
    "Bridge",
    "Train",
    "Castle",
    "Angel",
    "Devil",
    "Ghost",
    "Wolf",
    "Tiger",
    "Dragon",
    "Summer",
    "Winter",
    "Harvest",
    "Voyage",
    "Circus",
    "Symphony",
    "Detective",
    "Witness",
    "Verdict",
    "Paradise",
    "Frontier",
]
NAME = [
    "Anna",
    "Max",
    "Rosa",
    "Oscar",
    "Amélie",
    "Zoë",
    "José",
    "Léon",
    "Chloé",
    "Björn",
    "Hugo",
    "Lena",
    "Mia",
    "Noah",
]
PATTERNS = (
    "The {a} {n}",
    "{a} {n}",
    "{n} of the {n2}",
    "The {n} and the {n2}",
    "{name}'s {n}",
    "A {n} in {n2}",
    "{n} & {n2}",
    "{a} {n}: The {n2}",
    "The {a} {n} {num}",
    "{name} and the {a} {n}",
)
FAKE = [
    "Zorvex",
    "Quillan",
    "Brastic",
    "Moor",
    "Plenth",
    "Vantor",
    "Skelda",
    "Ombrix",
    "Trevan",
    "Glimora",
    "Dravik",
]


def make_catalog(n: int, rng: np.random.Generator) -> Catalog:
    entries: dict[int, tuple[str, int | None]] = {}
    seen: set[str] = set()
    while len(entries) < n:
        mid = len(entries) + 1
        if entries and rng.random() < 0.01:  # a remake: same title, another year
            title = entries[int(rng.integers(1, mid))][0]
        else:
            pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]
            title = pattern.format(
                a=ADJ[int(rng.integers(len(ADJ)))],
                n=NOUN[int(rng.integers(len(NOUN)))],
                n2=NOUN[int(rng.integers(len(NOUN)))],
                name=NAME[int(rng.integers(len(NAME)))],
                num=int(rng.integers(2, 5)),
            )
            if title in seen:
                continue
        seen.add(title)
        entries[mid] = (title, int(rng.integers(1920, 2006)))
    return Catalog.from_mapping(entries)


def _strip_accents(text: str) -> str:
    nfkd = unicodedata.normalize("NFKD", text)
    return "".join(c for c in nfkd if not unicodedata.combining(c))


def variant(title: str, rng: np.random.Generator) -> str:
    for article in ("The ", "A "):
        if title.startswith(article) and rng.random() < 0.6:
            title = f"{title[len(article) :]}, {article.strip()}"
            break
    title = _strip_accents(title).replace("&", "and")
    return title.upper() if rng.random() < 0.3 else title.lower()


def typo(title: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(1, len(title) - 1))
    kind = int(rng.integers(4))
    if kind == 0:
        return title[:i] + title[i + 1 :]
    if kind == 1:
        return title[:i] + title[i] + title[i:]
    if kind == 2:
        return title[: i - 1] + title[i] + title[i - 1] + title[i + 1 :]
    return title[:i] + "x" + title[i + 1 :]


def make_queries(
    catalog: Catalog, n: int, rng: np.random.Generator
) -> tuple[list[str], list[int | None], list[str]]:
    movies = list(catalog)
    long_movies = [m for m in movies if len(m.title) >= 8]
    queries: list[str] = []
    truth: list[int | None] = []
    kinds: list[str] = []
    for kind in rng.choice(
        ["exact", "variant", "typo", "invented"], size=n, p=[0.5, 0.2, 0.15, 0.15]
    ).tolist():
        if kind == "invented":
            words = rng.choice(FAKE, size=int(rng.integers(2, 4)), replace=False)
            queries.append(f"The {' '.join(words)} ({int(rng.integers(1950, 2010))})")
            truth.append(None)
        else:
            pool = long_movies if kind == "typo" else movies
            m = pool[int(rng.integers(len(pool)))]
            if kind == "exact":
                queries.append(m.label())
            elif kind == "variant":
                queries.append(variant(m.title, rng))
            else:
                queries.append(f"{typo(m.title, rng)} ({m.year})")
            # Without a year, a title shared by several ids goes to the lowest id (documented).
            shared = catalog.ids_for(m.title)
            truth.append(min(shared) if kind == "variant" else m.movie_id)
        kinds.append(kind)
    return queries, truth, kinds


def accuracy(
    found: list[int | None], truth: list[int | None], kinds: list[str]
) -> dict[str, float]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for f, t, k in zip(found, truth, kinds, strict=True):
        totals[k] += 1
        hits[k] += f == t
    return {k: hits[k] / totals[k] for k in sorted(totals)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=17_770)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--naive-sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    catalog = make_catalog(args.titles, rng)
    queries, truth, kinds = make_queries(catalog, args.queries, rng)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    t0 = time.perf_counter()
    c0 = time.process_time()
    resolver = TitleResolver(catalog)
    t_build = time.perf_counter() - t0
    results = resolver.resolve_many(queries)
    t_total = time.perf_counter() - t0
    cpu_total = time.process_time() - c0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ours = accuracy([r.movie_id for r in results], truth, kinds)

    labels = [m.label() for m in catalog]
    ids = [m.movie_id for m in catalog]
    sample = rng.choice(len(queries), size=min(args.naive_sample, len(queries)), replace=False)
    t1 = time.perf_counter()
    naive: list[int | None] = []
    for q in sample.tolist():
        hit = process.extractOne(
            queries[q], labels, scorer=fuzz.WRatio, processor=str.lower, score_cutoff=90
        )
        naive.append(None if hit is None else ids[hit[2]])
    t_naive = (time.perf_counter() - t1) / len(sample) * len(queries)
    naive_acc = accuracy(naive, [truth[q] for q in sample], [kinds[q] for q in sample])

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f} at start of the timing"
    )
    print(f"catalog: {len(catalog):,} titles; queries: {len(queries):,} {dict(Counter(kinds))}")
    print(
        f"TitleResolver: build {t_build:.2f} s, build + resolve {t_total:.2f} s wall, "
        f"{cpu_total:.2f} s CPU (all threads)"
    )
    print(f"  peak RSS growth while resolving: {(rss_after - rss_before) / 1024:.0f} MiB")
    print("  accuracy: " + ", ".join(f"{k} {v:.1%}" for k, v in ours.items()))
    print(
        f"naive extractOne(WRatio, cutoff 90) per query: {t_naive:.1f} s for all queries "
        f"(extrapolated from {len(sample):,})"
    )
    print("  accuracy: " + ", ".join(f"{k} {v:.1%}" for k, v in naive_acc.items()))
    print(f"speed-up: {t_naive / t_total:.1f}x")


if __name__ == "__main__":
    main()
