"""``MemorisationProbe``: does a language model already know the data set?

Netflix Prize and MovieLens are in the pretraining data of large models (Di Palma et al.,
"Do LLMs Memorize Recommendation Datasets?", SIGIR 2025, report GPT-4o completing most of
MovieLens-1M's item lines). A zero-shot recommendation score on such a data set may be recall
of the data rather than recommendation; the probe measures how much of the data a backend
recalls, so the zero-shot vs fine-tuned gap can be read with that figure beside it.

>>> probe = MemorisationProbe(kind="item_lines", item_format="netflix", max_items=500)
>>> report = probe.run(get_recommender("openai"), catalog, ratings)  # doctest: +SKIP
>>> report.recall, report.by_bucket["head"].recall                   # doctest: +SKIP

The probe only asks and scores; the backend's pipeline does the rest (response cache, cost
estimate and budget, retries). Run it on llmrec's synthetic catalog (:meth:`calibrate`), whose
invented titles no model has seen, for the probe's false-positive floor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llmrec.probes.item_lines import ItemFormat
from llmrec.probes.questions import BUILDERS, ProbeKind, ProbeQuestion, Questions
from llmrec.probes.report import MemorisationReport, ProbeRow

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.ratings import Ratings
    from llmrec.data.resolver import TitleResolver
    from llmrec.probes.generation import ProbeAnswer, ProbePlan

__all__ = ["MemorisationProbe", "synthetic_catalog"]


class MemorisationProbe(BaseModel):
    """A family of recall prompts with exact scoring (see the module docstring).

    Constructing one only stores its settings; :meth:`run` asks the backend.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ProbeKind = Field(
        "item_lines",
        description="item_lines: complete an item-file line from its id; title_completion: "
        "the first words of a title -> the rest; user_lines: a user's first rated films -> "
        "the next one (needs ratings).",
    )
    item_format: ItemFormat = Field(
        "netflix",
        description="Item file whose lines are probed (item_lines): netflix "
        "(movie_titles.csv), ml-100k (u.item), ml-1m (movies.dat), ml-latest (movies.csv).",
    )
    method: Literal["generation"] = Field(
        "generation", description="How the model is read: generation (the answer's text)."
    )
    max_items: int | None = Field(
        None,
        ge=1,
        description="Probe a seeded sample of this many items (users for user_lines); None: all.",
    )
    seed: int = Field(0, ge=0, description="Seed of the sample.")
    shots: int = Field(
        0,
        ge=0,
        le=50,
        description="item_lines: the file's first lines shown before the probed one (those "
        "items are not probed).",
    )
    prefix_share: float = Field(
        0.5, gt=0.0, lt=1.0, description="title_completion: share of a title's words shown."
    )
    n_shown: int = Field(5, ge=1, le=100, description="user_lines: rated films shown.")
    bucket_edges: tuple[float, float] = Field(
        (1 / 3, 2 / 3),
        description="Cumulative shares of all ratings where head ends and tail begins.",
    )
    resolver_threshold: float | None = Field(
        None, ge=0.0, le=100.0, description="Fuzzy cut-off of the resolver; None: the backend's."
    )

    @model_validator(mode="after")
    def _edges(self) -> MemorisationProbe:
        low, high = self.bucket_edges
        if not 0.0 < low < high < 1.0:
            raise ValueError(f"bucket_edges must satisfy 0 < low < high < 1, got {low}, {high}")
        return self

    # -- questions --------------------------------------------------------------------------
    def questions(self, catalog: Catalog, ratings: Ratings | None = None) -> Questions:
        """The prompts this probe asks about ``catalog``, with their correct answers."""
        return BUILDERS[self.kind](catalog, ratings, self)

    def write_chat(
        self, catalog: Catalog, path: str | Path, ratings: Ratings | None = None
    ) -> Path:
        """Write the probe's prompts with their correct answers as chat JSON Lines
        (``{"messages": [system, user, assistant]}``, the format of ``llmrec finetune``), for
        calibration runs and for training a model that knows the data; atomically."""
        from llmrec._io import atomic_open

        out = Path(path)
        with atomic_open(out, "w") as handle:
            for q in self.questions(catalog, ratings).items:
                messages = [*q.messages, {"role": "assistant", "content": q.expected}]
                record = {"messages": messages}
                handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        return out

    # -- running ----------------------------------------------------------------------------
    def plan(self, backend: Any, catalog: Catalog, ratings: Ratings | None = None) -> ProbePlan:
        """What :meth:`run` would send and cost (cached answers cost nothing); sends nothing."""
        from llmrec.probes.generation import READERS

        return READERS[self.method].plan(backend, self.questions(catalog, ratings).items)

    def run(
        self,
        backend: Any,
        catalog: Catalog,
        ratings: Ratings | None = None,
        *,
        budget_usd: float | None = None,
        allow_unknown_cost: bool = False,
        progress: bool = False,
        catalog_name: str = "",
    ) -> MemorisationReport:
        """Ask ``backend`` every question and score the answers.

        ``backend`` is a language-model backend as ``get_recommender`` returns it, fitted or
        not. ``ratings`` give the popularity buckets (and the users of ``user_lines``); without
        them ``by_bucket`` is empty. The uncached requests are priced first and, with
        ``budget_usd``, checked against it (:class:`~llmrec.errors.BudgetExceededError`,
        nothing sent).
        """
        from llmrec.probes.generation import READERS

        asked = self.questions(catalog, ratings)
        answers = READERS[self.method].answers(
            backend,
            asked.items,
            budget_usd=budget_usd,
            allow_unknown_cost=allow_unknown_cost,
            progress=progress,
        )
        rows = self.score(asked.items, answers, catalog, ratings, backend=backend)
        costs = [a.cost_usd for a in answers]
        return MemorisationReport(
            probe=self.model_dump(mode="json"),
            model=str(getattr(backend, "model_id", getattr(backend, "name", ""))),
            n_catalog=len(catalog),
            rows=rows,
            skipped=asked.skipped,
            cost_usd=None if any(c is None for c in costs) else float(sum(c or 0.0 for c in costs)),
            catalog_name=catalog_name,
        )

    def calibrate(
        self,
        backend: Any,
        *,
        n_movies: int = 2_000,
        budget_usd: float | None = None,
        allow_unknown_cost: bool = False,
        progress: bool = False,
    ) -> MemorisationReport:
        """The same probe on llmrec's synthetic catalog (:func:`synthetic_catalog`): its
        titles are invented, so every hit is a false positive and the recall is the probe's
        floor for this backend. ``item_lines`` is asked in the Netflix format (the synthetic
        data's own); ``user_lines`` has no synthetic users here and is refused."""
        return self._floor_probe().run(
            backend,
            synthetic_catalog(n_movies),
            budget_usd=budget_usd,
            allow_unknown_cost=allow_unknown_cost,
            progress=progress,
            catalog_name="synthetic (false-positive floor)",
        )

    def plan_calibration(self, backend: Any, *, n_movies: int = 2_000) -> ProbePlan:
        """What :meth:`calibrate` would send and cost; sends nothing."""
        return self._floor_probe().plan(backend, synthetic_catalog(n_movies))

    def _floor_probe(self) -> MemorisationProbe:
        from llmrec.errors import ConfigError

        if self.kind == "user_lines":
            raise ConfigError(
                "calibrate the user_lines probe by running it on the synthetic data set's "
                "ratings (llmrec.data.ensure_synthetic) with run(backend, catalog, ratings)"
            )
        return self.model_copy(update={"item_format": "netflix"})

    # -- scoring ----------------------------------------------------------------------------
    def resolver(
        self, catalog: Catalog, ratings: Ratings | None = None, backend: Any = None
    ) -> TitleResolver:
        """The resolver answers are scored with: this probe's cut-off, else the backend's,
        else the default; ties between ids sharing a title go to the more rated one."""
        import numpy as np

        from llmrec.data.resolver import DEFAULT_THRESHOLD, TitleResolver

        threshold = self.resolver_threshold
        if threshold is None:
            config = getattr(backend, "config", None)
            threshold = getattr(config, "resolver_threshold", DEFAULT_THRESHOLD)
        popularity = None
        if ratings is not None:
            ids, counts = np.unique(ratings.movie_id, return_counts=True)
            popularity = dict(zip(ids.tolist(), counts.tolist(), strict=True))
        return TitleResolver(catalog, threshold=float(threshold), popularity=popularity)

    def score(
        self,
        questions: list[ProbeQuestion],
        answers: list[ProbeAnswer],
        catalog: Catalog,
        ratings: Ratings | None = None,
        *,
        backend: Any = None,
    ) -> list[ProbeRow]:
        """One row per question (see :mod:`llmrec.probes.report` for the rules)."""
        from llmrec.data.resolver import normalize_title
        from llmrec.probes.buckets import popularity_buckets

        buckets = popularity_buckets(catalog, ratings, self.bucket_edges) if ratings else {}
        resolver = self.resolver(catalog, ratings, backend)

        def identity(movie_id: int) -> tuple[str, int | None]:
            movie = catalog.movie(movie_id)
            return normalize_title(movie.title)[0], movie.year

        rows = []
        for q, a in zip(questions, answers, strict=True):
            named = q.read(a.text) if a.error is None else ""
            key, year = normalize_title(named)
            want_key, want_year = normalize_title(q.target)
            exact = bool(key) and key == want_key and (want_year is None or year == want_year)
            found = resolver.resolve(named, None if year is not None else q.year_hint).movie_id
            resolved = found is not None and (
                found == q.movie_id or identity(found) == identity(q.movie_id)
            )
            bucket, n = buckets.get(q.movie_id, (None, None))
            rows.append(
                ProbeRow(
                    movie_id=q.movie_id,
                    bucket=bucket,
                    n_ratings=n,
                    prompt=q.prompt,
                    expected=q.expected,
                    answer=a.text,
                    named=named,
                    exact=exact,
                    resolved=exact or resolved,
                    resolved_id=found,
                    other_item=found is not None and not (exact or resolved),
                    failed=a.error is not None,
                    cached=a.cached,
                    cost_usd=a.cost_usd,
                )
            )
        return rows


def synthetic_catalog(n_movies: int = 2_000, seed: int = 0) -> Catalog:
    """The titles of llmrec's synthetic data set (``movie_titles.csv`` of
    :func:`llmrec.data.ensure_synthetic` with these ``n_movies`` and ``seed``), without
    generating its ratings: invented titles no model can have read."""
    from llmrec.data.catalog import Catalog, Movie
    from llmrec.data.synthetic import SyntheticConfig, _titles_bytes

    config = SyntheticConfig(n_movies=n_movies, n_ratings=max(n_movies, 20_000), seed=seed)
    movies = []
    for line in _titles_bytes(config).decode("iso-8859-1").splitlines():
        ident, year, title = line.split(",", 2)
        movies.append(Movie(int(ident), title, None if year == "NULL" else int(year)))
    return Catalog(movies)
