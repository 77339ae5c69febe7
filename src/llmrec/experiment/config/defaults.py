"""The study's defaults, stated once, and those a config fills in before validation.

The study: profileData50 (neighbours who 5-starred the user's top movies,
gold = movies watched by at least 50 % of them) and profileData60 (neighbours who rated them 4+,
60 %); P/R/F1 at 3 and 5, MRR and MAP; popularity, item-kNN and EASE beside the zero-shot and
fine-tuned GPT-4o-mini. The config's defaults are built from :data:`STUDY_TRUTH`,
:data:`STUDY_METRICS` and :data:`STUDY_BACKENDS`; nothing else writes these parameters.

Filled in before validation, so none of them surprises a user:

* A ``[data]`` table without ``kind`` is synthetic data, as the docs say (pydantic's tagged union
  would otherwise ask for the tag).
* A ``truth`` table entry named like one of the study's data sets (``profileData50``,
  ``profileData60``) starts from that data set's parameters: ``[truth.profileData60]`` with only
  ``n_users`` is still profileData60 (neighbours rated 4+, 60 % watched), not profileData50's
  parameters under profileData60's name.
* A ``truth`` table that leaves out one of the study's data sets is an error unless
  ``truth_replace = true`` says that only the listed data sets are wanted. Merging the defaults
  in would instead build a full-size data set the user did not ask for; dropping them silently
  was issue 11's defect.
"""

from __future__ import annotations

from typing import Any

from llmrec.errors import ConfigError

__all__ = ["STUDY_BACKENDS", "STUDY_METRICS", "STUDY_TRUTH", "fill_defaults"]

#: The study's metrics, then the two the library adds by default.
STUDY_METRICS = (
    "precision@3",
    "recall@3",
    "f1@3",
    "precision@5",
    "recall@5",
    "f1@5",
    "mrr",
    "map@5",
    "ndcg@10",
    "hit@5",
)

#: The study's recommenders: the classic baselines, then the two GPT-4o-mini arms
#: (registry name, report label).
STUDY_BACKENDS: tuple[tuple[str, str | None], ...] = (
    ("popularity", None),
    ("itemknn", None),
    ("ease", None),
    ("openai-zero-shot", "zero-shot"),
    ("openai-fine-tuned", "fine-tuned"),
)

#: The study's two ground-truth data sets and the parameters that define them.
STUDY_TRUTH: dict[str, dict[str, Any]] = {
    "profileData50": {"neighbour_min_rating": 5, "watch_factor": 0.5},
    "profileData60": {"neighbour_min_rating": 4, "watch_factor": 0.6},
}


def fill_defaults(data: Any) -> Any:
    """``data`` (a raw config mapping) with the defaults above filled in; other input as is."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    source = out.get("data")
    if isinstance(source, dict) and "kind" not in source:
        out["data"] = {"kind": "synthetic", **source}
    truth = out.get("truth")
    if isinstance(truth, dict):
        filled: dict[str, Any] = {}
        for name, table in truth.items():
            study = STUDY_TRUTH.get(name)
            neighbour = isinstance(table, dict) and table.get("kind", "neighbour") == "neighbour"
            filled[name] = {**study, **table} if study and neighbour else table
        out["truth"] = filled
        missing = [name for name in STUDY_TRUTH if name not in truth]
        if missing and not out.get("truth_replace", False):
            given = ", ".join(map(repr, truth)) or "none"
            raise ConfigError(
                f"the truth table lists {given} but not {', '.join(missing)}, which the study "
                f"also builds; add [truth.{missing[0]}] to build it, or set truth_replace = true "
                "(a top-level key) to build only the data sets listed"
            )
    return out
