"""One config base for language-model backends, and one way to say which fine-tuned arm a
backend runs."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError

from llmrec.prompts import PromptTemplate
from llmrec.recommenders.capabilities import fine_tuned_arm, uses_dpo_model, uses_fine_tuned_model
from llmrec.recommenders.llm.config import LanguageModelConfig, default_cache_path
from llmrec.recommenders.openai import OpenAIFineTunedRecommender, OpenAIRecommender
from llmrec.recommenders.openai_config import OpenAIConfig
from llmrec.recommenders.transformers_backend import TransformersConfig, TransformersRecommender

SHARED = {"cache", "cache_mode", "template", "resolver_threshold"}


@pytest.mark.parametrize("config", [OpenAIConfig, TransformersConfig])
def test_both_backends_share_the_base_fields(config: type[LanguageModelConfig]) -> None:
    assert issubclass(config, LanguageModelConfig)
    assert set(config.model_fields) >= SHARED
    for name in SHARED:
        assert repr(config.model_fields[name]) == repr(LanguageModelConfig.model_fields[name])


@pytest.mark.parametrize(
    ("config", "required"),
    [(OpenAIConfig, {}), (TransformersConfig, {"model": "some/model"})],
)
def test_the_shared_fields_validate_as_before(
    config: type[LanguageModelConfig], required: dict[str, str], tmp_path: Path
) -> None:
    default = config(**required)
    assert default.resolved_cache_path() == default_cache_path()
    assert default.cache_mode == "read_write" and default.resolver_threshold == 90.0
    assert default.template == PromptTemplate()
    chosen = config(**required, cache=str(tmp_path / "c.sqlite"), cache_mode="replay_only")
    assert chosen.resolved_cache_path() == tmp_path / "c.sqlite"
    with pytest.raises(ValidationError, match="resolver_threshold"):
        config(**required, resolver_threshold=101)
    with pytest.raises(ValidationError, match="cache_mode"):
        config(**required, cache_mode="sometimes")
    with pytest.raises(ValidationError, match="extra"):
        config(**required, cache_file="typo.sqlite")


def test_each_backend_states_its_fine_tuned_arm_the_same_way() -> None:
    assert fine_tuned_arm(OpenAIRecommender) is None
    assert fine_tuned_arm(OpenAIFineTunedRecommender) == "sft"  # every instance: on the class
    assert fine_tuned_arm(OpenAIFineTunedRecommender(model="ft:gpt-4o-mini:o::x")) == "sft"
    assert fine_tuned_arm(TransformersRecommender) is None  # the config chooses
    arms = [
        fine_tuned_arm(TransformersRecommender(model="m", fine_tuned=chosen))
        for chosen in (False, True, "dpo")
    ]
    assert arms == [None, "sft", "dpo"]


def test_the_older_spellings_still_answer() -> None:
    dpo = TransformersRecommender(fine_tuned="dpo")
    sft = TransformersRecommender(fine_tuned=True)
    assert (dpo.uses_fine_tuned_model, dpo.uses_dpo_model) == (True, True)
    assert (sft.uses_fine_tuned_model, sft.uses_dpo_model) == (True, False)
    assert uses_fine_tuned_model(OpenAIFineTunedRecommender) and not uses_dpo_model(sft)

    class Plugin:  # a third-party backend written against the two booleans
        uses_fine_tuned_model: ClassVar[bool] = True
        uses_dpo_model: ClassVar[bool] = True

    assert fine_tuned_arm(Plugin) == "dpo"
    assert fine_tuned_arm(object()) is None
