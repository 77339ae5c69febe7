"""``RankingReward``: the reward a recommender is trained for, computed as evaluation computes it.

An answer's reward is built from llmrec's own parts, the ones an evaluation runs:

1. the answer text is turned into a :class:`~llmrec.recommenders.base.Recommendation` by
   :func:`~llmrec.recommenders.llm.answers.recommendation_from_answer` (the template's parser,
   title resolution through a :class:`~llmrec.data.resolver.TitleResolver`, profile movies and
   repeats removed, at most ``k`` kept), exactly as a language-model backend does;
2. its movie ids are scored against the user's gold list by
   :func:`~llmrec.metrics.evaluate` with the reward's metric (``ndcg@10`` by default; any
   registered name: ``recall@10``, ``hit@5``, ``mrr``, ...);
3. then, with ``valid`` the parser found at least one title::

       reward = 0                                                    if not valid
       reward = metric - hallucination_penalty x unresolved titles
                       - profile_penalty x profile movies repeated
                       + format_bonus                                otherwise

With every penalty and the bonus at 0 (the default) the reward of an answer is its evaluation
score, which the tests pin on random answers. An unparseable answer gets 0 whatever the
penalties (it has no titles to penalise); a hallucinated title (one the catalog cannot resolve)
earns nothing and, with a penalty, costs; repeating a movie of the user's profile likewise.

GRPO (Shao et al. 2024, "DeepSeekMath", section 4.1) normalises the rewards of the answers to one
prompt by their mean and standard deviation, so only their differences within a group matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError
from llmrec.metrics import evaluate
from llmrec.metrics.registry import resolve_metric

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.data.resolver import TitleResolver
    from llmrec.prompts import PromptTemplate
    from llmrec.recommenders.base import Recommendation

__all__ = ["DEFAULT_REWARD", "RankingReward", "RewardParts"]

DEFAULT_REWARD = "ndcg@10"
"""The metric a reward uses when none is named."""


@dataclass(frozen=True)
class RewardParts:
    """One answer's reward and what it is made of (see the module docstring)."""

    reward: float
    metric: float
    valid: bool
    unresolved: int
    profile_movies: int


class RankingReward:
    """The reward of answers to recommendation prompts (module docstring).

    ``catalog`` resolves titles (or pass a ``resolver`` built as the evaluation builds it);
    ``template`` parses answers (the study's by default); ``k`` is how many resolved movies of an
    answer count, as a backend's ``k`` (default: the template's ``n_recommendations``, the number
    the prompt asks for). Called as a TRL reward function (``reward(prompts=..., completions=...,
    gold=..., profile=...)``) it returns one float per completion.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        metric: str = DEFAULT_REWARD,
        template: PromptTemplate | None = None,
        k: int | None = None,
        hallucination_penalty: float = 0.0,
        profile_penalty: float = 0.0,
        format_bonus: float = 0.0,
        resolver: TitleResolver | None = None,
    ) -> None:
        from llmrec.data.resolver import TitleResolver
        from llmrec.prompts import PromptTemplate

        spec = resolve_metric(metric)
        if spec.tail:
            raise ConfigError(
                f"reward metric {metric!r}: tail metrics need a head; use {spec.family}"
            )
        for name, value in (
            ("hallucination_penalty", hallucination_penalty),
            ("profile_penalty", profile_penalty),
            ("format_bonus", format_bonus),
        ):
            if not value >= 0:
                raise ConfigError(f"reward {name} must be >= 0, got {value!r}")
        self.metric = spec.name
        self.template = template or PromptTemplate()
        self.k = int(k or self.template.n_recommendations)
        self.hallucination_penalty = float(hallucination_penalty)
        self.profile_penalty = float(profile_penalty)
        self.format_bonus = float(format_bonus)
        self.resolver = resolver or TitleResolver(catalog)
        self.__name__ = f"reward_{spec.name.replace('@', '_at_')}"  # TRL logs rewards by name

    def recommendation(self, text: str, profile: Sequence[int]) -> Recommendation:
        """The answer as the evaluation reads it (a backend's recommendation of it)."""
        from llmrec.recommenders.llm.answers import recommendation_from_answer
        from llmrec.recommenders.llm.transports.base import ChatAnswer

        response = {"choices": [{"message": {"content": text}, "finish_reason": "stop"}]}
        answer = ChatAnswer(response, 0, 0, None, None, 1)
        return recommendation_from_answer(
            [int(m) for m in profile],
            self.k,
            "reward",
            answer,
            template=self.template,
            resolver=self.resolver,
        )

    def parts(
        self,
        answers: Sequence[str],
        golds: Sequence[Sequence[int]],
        profiles: Sequence[Sequence[int]],
    ) -> list[RewardParts]:
        """Each answer's reward and its parts, ``answers[i]`` for the user with gold list
        ``golds[i]`` and profile ``profiles[i]``."""
        if not len(answers) == len(golds) == len(profiles):
            raise ConfigError(
                f"reward: {len(answers)} answers, {len(golds)} gold lists and "
                f"{len(profiles)} profiles; give one of each per answer"
            )
        recs = [self.recommendation(text, p) for text, p in zip(answers, profiles, strict=True)]
        if not recs:
            return []
        report = evaluate(
            [list(r.movie_ids) for r in recs],
            [[int(g) for g in gold] for gold in golds],
            [self.metric],
            empty_truth="zero",
            n_bootstrap=0,
        )
        values = report.values[self.metric]
        out = []
        for rec, value in zip(recs, values.tolist(), strict=True):
            diag = rec.diagnostics
            valid = bool(diag["valid"])
            unresolved, in_profile = int(diag["n_unresolved"]), int(diag["n_profile_movies"])
            reward = 0.0
            if valid:
                reward = (
                    float(value)
                    - self.hallucination_penalty * unresolved
                    - self.profile_penalty * in_profile
                    + self.format_bonus
                )
            out.append(RewardParts(reward, float(value), valid, unresolved, in_profile))
        return out

    def score(
        self,
        answers: Sequence[str],
        golds: Sequence[Sequence[int]],
        profiles: Sequence[Sequence[int]],
    ) -> list[float]:
        """Each answer's reward (see :meth:`parts`)."""
        return [p.reward for p in self.parts(answers, golds, profiles)]

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        *,
        gold: Sequence[Sequence[int]],
        profile: Sequence[Sequence[int]],
        **_: Any,
    ) -> list[float]:
        """TRL's reward-function call: ``completions`` are texts or chat turns
        (``[{"role": "assistant", "content": ...}]``); ``gold`` and ``profile`` are the dataset's
        columns of those names."""
        texts = [completion_text(c) for c in completions or []]
        return self.score(texts, gold, profile)

    def describe(self) -> dict[str, Any]:
        """The reward's settings, for a run's manifest."""
        return {
            "metric": self.metric,
            "k": self.k,
            "hallucination_penalty": self.hallucination_penalty,
            "profile_penalty": self.profile_penalty,
            "format_bonus": self.format_bonus,
        }


def completion_text(completion: Any) -> str:
    """A completion's text: a string as it is, a chat turn list's last message's content."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content") or "")
    raise ConfigError(f"a completion is neither text nor chat messages: {completion!r:.80}")
