"""How a truth is evaluated: the whole catalogue (the study) or a candidate set per user.

Every ``[truth.NAME]`` table, whatever its ``kind``, takes these fields beside its own:

* ``ranking = "full"`` (default): backends recommend from the whole catalogue, as the study;
* ``ranking = "candidates"``: every test user gets a fixed candidate set (the user's positives
  plus sampled negatives, :class:`~llmrec.truth.CandidateSampler`) and every backend ranks it
  (:meth:`~llmrec.recommenders.Recommender.rank_many`), the protocol of LLMRank, LLaRA and
  RecLM-eval. ``n_candidates``, ``negatives``, ``max_positives`` and ``candidate_seed`` are the
  sampler's fields; ``repeats`` shows each set in that many seeded orders (position-bias
  control). ``too_few_negatives`` says what happens to a test user who rated almost the whole
  catalogue, leaving fewer unrated movies than the negatives needed: ``"skip"`` (default) leaves
  the user out, counted in the results (``skipped_users``); ``"fail"`` stops the run.

With ``ranking = "full"``, ``exclude_history = true`` leaves every movie of the test user's
history out of the ranking (the RecBole and LensKit convention; ``recommend_many(exclude=...)``).

The candidate fields mean nothing to a ``"full"`` truth, so setting one there is an error (it
would otherwise be silently ignored). A ``"full"`` truth serialises without any of these fields,
so its config, stage keys and results are byte for byte those of runs made before the switch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

__all__ = ["RANKING_FIELDS", "RankingFields"]

#: Names of the fields below; they are not part of the truth's own config.
RANKING_FIELDS = frozenset(
    {
        "ranking",
        "n_candidates",
        "negatives",
        "max_positives",
        "repeats",
        "candidate_seed",
        "too_few_negatives",
        "exclude_history",
    }
)
#: The fields that only mean something with ``ranking = "candidates"``.
CANDIDATE_FIELDS = RANKING_FIELDS - {"ranking", "exclude_history"}


class RankingFields(BaseModel):
    """The evaluation protocol of one truth (a mixin of every truth spec)."""

    model_config = ConfigDict(extra="forbid")

    ranking: Literal["full", "candidates"] = Field(
        "full",
        description="'full': recommend from the whole catalogue (the study); 'candidates': rank "
        "a fixed candidate set per test user (positives plus sampled negatives).",
    )
    n_candidates: int = Field(
        20, ge=2, le=1000, description="ranking 'candidates': movies per candidate set."
    )
    negatives: Literal["uniform", "popularity"] = Field(
        "uniform",
        description="ranking 'candidates': negatives drawn uniformly over the rated movies, or "
        "in proportion to their number of ratings.",
    )
    max_positives: int | None = Field(
        None,
        ge=1,
        description="ranking 'candidates': keep only the first this many gold movies as "
        "positives (None: all; a user with more than n_candidates is an error).",
    )
    repeats: int = Field(
        1,
        ge=1,
        le=100,
        description="ranking 'candidates': presentation orders per candidate set (position-bias "
        "control; repeat 0 is the sampled order).",
    )
    candidate_seed: int = Field(
        0, ge=0, description="ranking 'candidates': seed of the negatives and of the orders."
    )
    too_few_negatives: Literal["skip", "fail"] = Field(
        "skip",
        description="ranking 'candidates': a test user with fewer unrated movies than the "
        "negatives needed is left out and counted ('skip') or stops the run ('fail').",
    )

    exclude_history: bool = Field(
        False,
        description="ranking 'full': leave every movie of the test user's history (the profile "
        "and the user's fitting ratings) out of the ranking, the RecBole and LensKit "
        "convention (Recommender.recommend_many(exclude=...)).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Any:
        if self.ranking == "candidates" and self.exclude_history:
            raise ValueError(
                "exclude_history is for ranking = 'full'; a candidate set never holds a movie "
                "of the user's history"
            )
        if self.ranking == "full":
            given = sorted(CANDIDATE_FIELDS & self.model_fields_set)
            if given:
                raise ValueError(
                    f"{given[0]} is set but ranking = 'full' (the default) ignores it; set "
                    "ranking = 'candidates' to rank candidate sets, or remove "
                    f"{', '.join(given)}"
                )
        elif self.max_positives is not None and self.max_positives >= self.n_candidates:
            raise ValueError(
                f"max_positives ({self.max_positives}) must be below n_candidates "
                f"({self.n_candidates}), leaving room for at least one negative"
            )
        return self

    @model_serializer(mode="wrap")
    def _full_leaves_no_trace(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            if self.ranking == "full" and self.ranking_default_full():
                for name in RANKING_FIELDS - {"exclude_history"}:
                    data.pop(name, None)
            if not self.exclude_history:
                data.pop("exclude_history", None)
        return data

    @classmethod
    def ranking_default_full(cls) -> bool:
        """Whether ``ranking`` defaults to ``"full"`` (it does except for next-item truths)."""
        return bool(cls.model_fields["ranking"].default == "full")
