"""A tiny Llama-architecture chat model built offline, for tests, examples and benchmarks.

:func:`build_tiny_model` trains a byte-level BPE tokenizer with ``tokenizers`` on a catalog's
labels and the prompt template's fixed text, gives it a ChatML chat template, builds a
``LlamaForCausalLM`` from a config with seeded random weights, and saves both as a model folder
that ``transformers``, :func:`llmrec.finetune.local.train_local` and
:class:`llmrec.local_models.LocalModel` load like any hub model. Nothing is downloaded.

Needs the ``[train]`` extra; importing ``llmrec.testing`` does not import this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llmrec._extras import require
from llmrec.data.catalog import Catalog
from llmrec.prompts.template import PromptTemplate
from llmrec.truth.dataset import Example, ProfileDataset

__all__ = ["CHATML_TEMPLATE", "build_tiny_model", "tiny_dataset", "tiny_model_texts"]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""ChatML, as Qwen's instruct models write it (without their default system message)."""

_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_model_texts(catalog: Catalog, template: PromptTemplate | None = None) -> list[str]:
    """What the tokenizer is trained on: the template's fixed text and every catalog label."""
    template = template or PromptTemplate()
    k = template.n_recommendations
    texts = [template.system_text(), template.profile_intro.format(n=10), "system user assistant"]
    texts.extend(f"{rank}. " for rank in range(1, k + 1))
    for movie in catalog:
        texts.append(movie.label())
        texts.append(f"1. {movie.label()}\n")
    return texts


def build_tiny_model(
    folder: str | Path,
    catalog: Catalog,
    *,
    template: PromptTemplate | None = None,
    hidden_size: int = 128,
    n_layers: int = 2,
    n_heads: int = 4,
    vocab_size: int = 2000,
    max_positions: int = 1024,
    initializer_range: float = 0.02,
    seed: int = 0,
    extra_texts: Iterable[str] = (),
    chat_template: str | None = CHATML_TEMPLATE,
) -> Path:
    """Write a tiny random-weights Llama chat model for ``catalog`` to ``folder``; return it.

    ``chat_template=None`` leaves the tokenizer without one (to test that error path). The same
    arguments give the same files (weights from ``torch.manual_seed(seed)``).
    """
    torch = require("torch")
    transformers = require("transformers")
    tokenizers = require("tokenizers")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)

    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = [*tiny_model_texts(catalog, template), *extra_texts]
    tok.train_from_iterator(texts, trainer=trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=max_positions,
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    fast.save_pretrained(out)

    config = transformers.LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        num_key_value_heads=n_heads,
        max_position_embeddings=max_positions,
        initializer_range=initializer_range,
        tie_word_embeddings=True,
        pad_token_id=tok.token_to_id("<|endoftext|>"),
        eos_token_id=tok.token_to_id("<|im_end|>"),
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(config)
    model.generation_config = transformers.GenerationConfig(
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id, do_sample=False
    )
    model.save_pretrained(out)
    return out


def tiny_dataset(
    n_users: int = 48,
    n_movies: int = 200,
    *,
    profile_len: int = 10,
    gold_len: int = 5,
    seed: int = 0,
) -> tuple[Catalog, ProfileDataset]:
    """A film-like catalog and users with random profiles and gold lists (for memorisation).

    Profiles and gold lists are disjoint per user; the same arguments give the same data.
    """
    import numpy as np

    from llmrec.data._titles import film_titles

    rng = np.random.default_rng(seed)
    titles = film_titles(n_movies, rng)
    catalog = Catalog.from_mapping({i + 1: pair for i, pair in enumerate(titles)})
    examples = []
    for user in range(n_users):
        picks = rng.choice(n_movies, size=profile_len + gold_len, replace=False) + 1
        examples.append(
            Example(
                user_id=1000 + user,
                profile=tuple(int(m) for m in picks[:profile_len]),
                gold=tuple(int(m) for m in picks[profile_len:]),
            )
        )
    return catalog, ProfileDataset(examples, {"source": "llmrec.testing.tiny_model"})
