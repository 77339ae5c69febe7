"""Local GRPO: reinforcement learning of a supervised (SFT) model with a ranking-metric reward.

``train_local_grpo(TRAIN_JSONL, SFT, OUT, catalog=..., config=LocalTrainConfig(method="grpo"))``
(or ``llmrec finetune local TRAIN.jsonl --method grpo --model SFT --catalog TITLES --out OUT``)
reads the chat file SFT trained on as it is: each line's prompt (every message but the last) is
what the policy answers, and its assistant turn, parsed and resolved to catalog ids, is the gold
list the answers are scored against; the profile is the movies the user message lists. TRL's
``GRPOTrainer`` (Shao et al. 2024, "DeepSeekMath", section 4.1: Group Relative Policy
Optimization) samples ``num_generations`` answers per prompt at ``temperature``, scores each with
:class:`~llmrec.finetune.local.reward.RankingReward` (the evaluation's own parsing, resolution and
metric), and moves the policy towards the answers that score above their group's mean, with a KL
penalty ``beta`` to the SFT model (0 by default, as in TRL: no reference is loaded).

The starting policy is the SFT model, loaded as DPO loads it (:mod:`.dpo`): a LoRA SFT folder keeps
training its adapter; a full-weights SFT model gets a fresh LoRA adapter, or with
``full_weights=True`` trains every weight. Checkpoints, resume after a kill, the finished run found
again and the refusal of a folder holding another run are those of every local run
(:mod:`._runner`); the manifest also holds the reward curve (``rewards``: mean and standard
deviation of the reward over each step's answers, and the KL to the reference when ``beta`` > 0).

Cost (:func:`plan_local_grpo`): every optimizer step samples ``batch_size x num_generations``
answers; an epoch feeds ``prompts x num_generations x (prompt + max_new_tokens)`` tokens at most;
FLOPs are ``2 x N`` per token to generate, ``6 x N`` to train on it, and ``2 x N`` more for the
reference's forward pass when ``beta`` > 0 (:mod:`.estimate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune.local._data import FileCounts, read_chat_jsonl, require_file_kind
from llmrec.finetune.local._deps import require
from llmrec.finetune.local._model import load_tokenizer, max_positions
from llmrec.finetune.local._runner import train_or_resume
from llmrec.finetune.local._trainer_args import make_trainer, trainer_arguments
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.dpo import SFTModel, _adapter_settings
from llmrec.finetune.local.estimate import DryRun, estimate_file
from llmrec.finetune.local.manifest import LocalTrainManifest
from llmrec.finetune.local.reward import RankingReward

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.prompts import PromptTemplate

__all__ = ["PromptData", "grpo_reward", "plan_local_grpo", "read_prompts", "train_local_grpo"]


@dataclass
class PromptData(FileCounts):
    """The prompts of a chat file kept for GRPO, their gold lists and profiles (catalog ids),
    and their token counts."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    gold_tokens: int = 0
    max_new_tokens: int = 0
    num_generations: int = 1
    longest: int = 0

    @property
    def tokens(self) -> int:
        """Tokens one epoch feeds the policy at most (every answer at its longest)."""
        return self.num_generations * (self.prompt_tokens + self.kept * self.max_new_tokens)

    @property
    def completion_tokens(self) -> int:
        """Tokens one epoch generates and trains on at most."""
        return self.num_generations * self.kept * self.max_new_tokens


def _resolved(reward: RankingReward, text: str) -> list[int]:
    items = reward.template.parse(text).items
    found = reward.resolver.resolve_many(list(items))
    return list(dict.fromkeys(int(r.movie_id) for r in found if r.movie_id is not None))


def _profile(reward: RankingReward, user_text: str) -> list[int]:
    """The movies a user message lists: every line after the first (the profile intro of
    :meth:`~llmrec.prompts.PromptTemplate.user_text`), one ``Title (Year)`` or title a line;
    lines the catalog cannot resolve (a candidate list's intro, say) are not profile movies."""
    from llmrec.prompts import split_label

    lines = [line for line in user_text.splitlines() if line.strip()][1:]
    found = reward.resolver.resolve_many([split_label(line) for line in lines])
    return list(dict.fromkeys(int(r.movie_id) for r in found if r.movie_id is not None))


def read_prompts(
    tokenizer: Any,
    path: str | Path,
    reward: RankingReward,
    *,
    max_seq_len: int,
    max_new_tokens: int,
    num_generations: int,
    overlong: str,
) -> PromptData:
    """The chat file's prompts with their gold lists (the assistant turn) and profiles (the
    movies the user message lists, one a line after its first), resolved to catalog ids by
    ``reward``'s resolver.

    A gold title the catalog cannot resolve is an error naming its line (the catalog is not the
    file's). A prompt is overlong when it plus ``max_new_tokens`` exceeds ``max_seq_len``:
    'error' names the lines, 'drop' drops them; a prompt is never cut ('truncate' is refused).
    """
    if overlong == "truncate":
        raise ConfigError(
            "GRPO does not cut prompts (the profile would lose movies); pass --overlong drop, "
            "or raise --max-seq-len"
        )
    conversations = read_chat_jsonl(path)
    out = PromptData(
        path=str(path),
        n_examples=len(conversations),
        max_new_tokens=max_new_tokens,
        num_generations=num_generations,
    )
    for conv in conversations:
        prompt = conv.prompt
        text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        p = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        gold_items = reward.template.parse(conv.answer).items
        gold = _resolved(reward, conv.answer)
        if not gold_items or len(gold) < len({i.label() for i in gold_items}):
            raise DataFormatError(
                "the assistant turn (the gold list) has titles the catalog does not resolve; "
                "pass the catalog the file was exported with",
                path=path,
                line=conv.line,
            )
        users = [m["content"] for m in prompt if m.get("role") == "user"]
        profile = _profile(reward, users[-1]) if users else []
        if out.fit(conv.line, p, p + max_new_tokens, max_seq_len, overlong) == "drop":
            continue
        out.rows.append({"prompt": prompt, "gold": gold, "profile": profile})
        out.lines.append(conv.line)
        out.prompt_tokens += p
        out.gold_tokens += len(tokenizer(conv.answer, add_special_tokens=False)["input_ids"])
        out.longest = max(out.longest, p + max_new_tokens)
    out.finish(max_seq_len, overlong, "prompt")
    return out


def grpo_reward(
    catalog: Catalog, config: LocalTrainConfig, template: PromptTemplate | None = None
) -> RankingReward:
    """The reward ``config`` asks for (metric, penalties, bonus) on ``catalog``."""
    return RankingReward(
        catalog,
        metric=config.reward,
        template=template,
        hallucination_penalty=config.hallucination_penalty,
        profile_penalty=config.profile_penalty,
        format_bonus=config.format_bonus,
    )


def _grpo_config(config: LocalTrainConfig | None) -> LocalTrainConfig:
    config = config or LocalTrainConfig(method="grpo")
    if config.method != "grpo":
        data = config.model_dump()
        data.update(method="grpo", beta=None)
        config = LocalTrainConfig(**data)
    return config


def _settings(sft: SFTModel, config: LocalTrainConfig) -> LocalTrainConfig:
    """What is trained is what is recorded: a LoRA SFT folder's adapter, every weight of a full
    model with ``full_weights``, or a fresh adapter."""
    if sft.kind == "adapter" and config.full_weights:
        raise ConfigError(
            f"{sft.path} is a LoRA adapter: GRPO keeps training it; full_weights needs a "
            "full-weights SFT model"
        )
    return _adapter_settings(sft, config)


def _prepare(
    train: str | Path,
    sft: SFTModel,
    catalog: Catalog,
    template: PromptTemplate | None,
    config: LocalTrainConfig,
) -> tuple[Any, PromptData, int, RankingReward]:
    tokenizer = load_tokenizer(sft.tokenizer_source(), config)
    max_len = config.max_seq_len or max_positions(sft.base, tokenizer)
    reward = grpo_reward(catalog, config, template)
    data = read_prompts(
        tokenizer,
        train,
        reward,
        max_seq_len=max_len,
        max_new_tokens=config.max_new_tokens,
        num_generations=config.num_generations,
        overlong=config.overlong,
    )
    return tokenizer, data, max_len, reward


def plan_local_grpo(
    train: str | Path,
    model: str,
    *,
    catalog: Catalog,
    template: PromptTemplate | None = None,
    config: LocalTrainConfig | None = None,
) -> DryRun:
    """The dry run of a GRPO run: prompts, answers, tokens, steps, FLOPs; trains nothing."""
    config = _grpo_config(config)
    require_file_kind(train, "grpo")
    sft = SFTModel.of(model)
    config = _settings(sft, config)
    _, data, _, _ = _prepare(train, sft, catalog, template, config)
    return estimate_file(sft.base, config, data, examples=data.kept, longest=data.longest)


def build_grpo_trainer(
    sft: SFTModel,
    tokenizer: Any,
    data: PromptData,
    reward: RankingReward,
    out: Path,
    config: LocalTrainConfig,
    *,
    progress: bool = True,
    callbacks: list[Any] | None = None,
) -> Any:
    """TRL's ``GRPOTrainer`` for the run: ``batch_size`` prompts per optimizer step, each
    answered ``num_generations`` times (TRL counts its per-device batch in answers)."""
    trl = require("trl")
    datasets = require("datasets")
    generations = config.num_generations
    args = trainer_arguments(
        trl.GRPOConfig,
        config,
        out,
        evaluate=False,
        progress=progress,
        per_device_train_batch_size=config.device_batch * generations,
        per_device_eval_batch_size=config.device_batch * generations,
        num_generations=generations,
        temperature=config.temperature,
        max_completion_length=config.max_new_tokens,
        beta=config.beta,
        remove_unused_columns=False,
        log_completions=False,
    )
    return make_trainer(
        trl.GRPOTrainer,
        sft.policy(config, full_weights=config.full_weights),
        args,
        tokenizer,
        (datasets.Dataset.from_list(data.rows), None),
        callbacks=callbacks,
        progress=progress,
        reward_funcs=[reward],
    )


def train_local_grpo(
    train: str | Path,
    model: str,
    out: str | Path,
    *,
    catalog: Catalog,
    template: PromptTemplate | None = None,
    config: LocalTrainConfig | None = None,
    progress: bool = True,
) -> LocalTrainManifest:
    """GRPO-tune the SFT model ``model`` (folder or hub id) on the prompts of the chat file
    ``train``, rewarded by ``config.reward`` against each line's gold list (module docstring).

    ``catalog`` resolves titles (the one the file was exported with); ``template`` parses
    answers (the study's by default). Returns the manifest (also in
    ``out/local-train-manifest.json``); rerunning the same call resumes an interrupted run and
    returns a finished one; a folder holding another run raises ConfigError.
    """
    config = _grpo_config(config)
    require_file_kind(train, "grpo")
    sft = SFTModel.of(model)
    config = _settings(sft, config)
    tokenizer, data, max_len, reward = _prepare(train, sft, catalog, template, config)

    def build(callbacks: list[Any]) -> Any:
        return build_grpo_trainer(
            sft, tokenizer, data, reward, Path(out), config, progress=progress, callbacks=callbacks
        )

    return train_or_resume(
        out,
        build,
        model=sft.path,
        base=sft.base,
        tokenizer=tokenizer,
        config=config,
        max_len=max_len,
        train=train,
        data=data,
        validation=None,
        val=None,
        reference={**sft.record(), "reward": reward.describe()},
    )
