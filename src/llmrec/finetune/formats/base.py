"""``FileFormat``: one kind of fine-tuning file, from writing it to pricing a run on it.

A format says what its lines look like (:meth:`~FileFormat.recognizes`,
:meth:`~FileFormat.check`, :meth:`~FileFormat.well_formed`), which conversations a line trains
on (:meth:`~FileFormat.sequences`), and how to write and read it (:attr:`~FileFormat.writer`,
:attr:`~FileFormat.reader`). Everything else is written once here, for every format: the line
checks OpenAI runs before it accepts a file (:meth:`~FileFormat.validate`), exact token counts
(:meth:`~FileFormat.count_tokens`: ``o200k_base`` plus the chat overhead of
:func:`llmrec.openai_api.tokens.count_chat_tokens`, summed over the line's conversations) and
the training price (:meth:`~FileFormat.estimate_cost`)::

    usd = sum of the file's tokens x n_epochs x training price per 1M tokens / 1e6

The built-in formats are ``chat`` (:mod:`.chat`) and ``preference`` (:mod:`.preference`); a
new one subclasses :class:`FileFormat` and is added with
:func:`~llmrec.finetune.formats.register_format` (docs/architecture.md, "a new file format").
TRL recognises its dataset formats from their keys the same way (``trl/data_utils.py``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from llmrec.errors import ConfigError, DataFormatError
from llmrec.finetune.formats._jsonl import decode_line
from llmrec.finetune.formats.results import (
    MIN_EXAMPLES,
    Finding,
    TrainingCostEstimate,
    ValidationReport,
)
from llmrec.openai_api.prices import PRICES, PriceTable, training_price
from llmrec.openai_api.tokens import count_chat_tokens, get_encoding

if TYPE_CHECKING:
    from llmrec.data.catalog import Catalog
    from llmrec.prompts.template import PromptTemplate
    from llmrec.truth.dataset import ProfileDataset

__all__ = ["AddFinding", "FileFormat", "Messages", "base_model"]

Messages = list[Mapping[str, Any]]
AddFinding = Callable[[str, str], None]
"""``add(code, message)``: record a finding on the line being checked."""


def base_model(model: str) -> str:
    """The base of a fine-tuned id (``ft:BASE:org::id``), else ``model`` itself."""
    return model.split(":")[1] if model.startswith("ft:") else model


class FileFormat(ABC):
    """One fine-tuning file format (one JSON object a line); see the module docstring."""

    name: ClassVar[str]
    """Short name (``"chat"``), the key of the format registry."""
    noun: ClassVar[str]
    """How errors name a file of this format (``"fine-tuning file"``)."""
    label: ClassVar[str] = ""
    """What the command line prints before a report on such a file."""
    default_model: ClassVar[str]
    """The model files are checked and priced for when none is named."""
    token_limits: ClassVar[Mapping[str, int]]
    """Maximum tokens per training conversation, by base model."""
    unlisted_model_limit: ClassVar[int | None] = None
    """The limit a hosted job checks a model outside :attr:`token_limits` against (``None``:
    such a model is refused before anything is sent)."""
    shape: ClassVar[str]
    """What a line must be for its tokens to be counted, e.g. "an object with a 'messages'
    list"."""
    validator: ClassVar[str]
    """The public function that checks this format, named in errors."""
    writer: ClassVar[Callable[..., Any]]
    """``writer(dataset, template, catalog, path, **options)`` writes a dataset as such a file."""
    reader: ClassVar[Callable[[str | Path], Sequence[Any]]]
    """``reader(path)`` reads such a file back as typed rows."""
    wrong_file_hints: ClassVar[Mapping[str, str]] = {}
    """By the name of the format found instead, what to tell a method that needs this format
    (``{path}`` and ``{method}`` are filled in); :meth:`wrong_file_help` has a general text."""

    # -- what a format defines --------------------------------------------------------------
    @abstractmethod
    def recognizes(self, first: Mapping[str, Any]) -> bool:
        """Whether a file whose first line is the object ``first`` is of this format."""

    @abstractmethod
    def check(self, example: dict[str, Any], add: AddFinding) -> bool:
        """Record a finding for every problem of one line's object; return whether its
        tokens can be counted."""

    @abstractmethod
    def sequences(self, example: Mapping[str, Any]) -> list[tuple[str, Messages]]:
        """The conversations one line trains on, each with the words a finding names it by.

        Only object messages are kept; a missing or malformed part counts as empty.
        """

    @abstractmethod
    def well_formed(self, example: Mapping[str, Any]) -> bool:
        """Whether a line's object has :attr:`shape` (the price needs no more)."""

    # -- what every format shares -----------------------------------------------------------
    def export(
        self,
        dataset: ProfileDataset,
        template: PromptTemplate,
        catalog: Catalog,
        path: str | Path,
        **options: Any,
    ) -> Any:
        """Write ``dataset`` as a file of this format (atomically; same inputs, same bytes)."""
        return type(self).writer(dataset, template, catalog, path, **options)

    def read(self, path: str | Path) -> Sequence[Any]:
        """The file's examples as typed rows, in file order; bad lines raise
        :class:`~llmrec.errors.DataFormatError` naming the line."""
        return type(self).reader(path)

    def count_tokens(self, example: Mapping[str, Any], *, encoding: Any = None) -> int:
        """Exact tokens of one line: the sum over its :meth:`sequences`."""
        enc = get_encoding() if encoding is None else encoding
        return sum(count_chat_tokens(seq, encoding=enc) for _, seq in self.sequences(example))

    def knows(self, model: str) -> bool:
        """Whether :attr:`token_limits` has ``model`` (a fine-tuned id by its base)."""
        return base_model(model) in self.token_limits

    def limit_for(self, model: str) -> int:
        """The per-conversation token limit of ``model``; ``ConfigError`` for an unknown one."""
        limit = self.token_limits.get(base_model(model))
        if limit is None:
            raise ConfigError(
                f"no per-example token limit known for {model!r} (known: "
                f"{sorted(self.token_limits)}); pass max_example_tokens=..."
            )
        return limit

    def hosted_limit(self, model: str) -> int | None:
        """The limit a hosted job checks ``model`` against: ``None`` (its own, or a refusal) for
        a model in :attr:`token_limits`, else :attr:`unlisted_model_limit`."""
        return None if self.knows(model) else self.unlisted_model_limit

    def validate(
        self,
        path: str | Path,
        *,
        model: str | None = None,
        min_examples: int = MIN_EXAMPLES,
        max_example_tokens: int | None = None,
    ) -> ValidationReport:
        """Run OpenAI's documented checks on every line; report every finding.

        ``max_example_tokens`` overrides the limit of ``model`` (required for a model missing
        from :attr:`token_limits`). A missing file raises ``DataFormatError``.
        """
        model = self.default_model if model is None else model
        src = Path(path)
        limit = max_example_tokens if max_example_tokens is not None else self.limit_for(model)
        if limit < 1:
            raise ConfigError(f"max_example_tokens must be positive, got {limit}")
        if not src.is_file():
            raise DataFormatError(f"{self.noun} not found", path=src)
        encoding = get_encoding()
        report = ValidationReport(path=src, model=model, n_examples=0)
        raw_lines = src.read_bytes().splitlines()
        while raw_lines and not raw_lines[-1].strip():
            raw_lines.pop()  # trailing blank lines (a final newline) are harmless
        for lineno, raw in enumerate(raw_lines, 1):
            report.n_examples += 1
            example = self._checked(raw, lineno, report.findings)
            if example is None:
                continue
            named = [
                (what, count_chat_tokens(seq, encoding=encoding))
                for what, seq in self.sequences(example)
            ]
            report.example_tokens.append(sum(tokens for _, tokens in named))
            for what, tokens in named:
                if tokens > limit:
                    report.findings.append(
                        Finding(
                            lineno,
                            "too_many_tokens",
                            f"{what} has {tokens:,} tokens; {model} allows {limit:,} per example",
                        )
                    )
        if report.n_examples < min_examples:
            report.findings.insert(
                0,
                Finding(
                    0,
                    "too_few_examples",
                    f"{report.n_examples} examples; OpenAI requires at least {min_examples}",
                ),
            )
        return report

    def estimate_cost(
        self,
        path: str | Path,
        *,
        model: str | None = None,
        n_epochs: int = 2,
        prices: PriceTable | None = None,
    ) -> TrainingCostEstimate:
        """Count the tokens of the file and price ``n_epochs`` of training on it.

        The file should pass :meth:`validate`; a line that is not a JSON object of
        :attr:`shape` raises :class:`~llmrec.errors.DataFormatError` naming it.
        """
        model = self.default_model if model is None else model
        if not 1 <= n_epochs <= 50:
            raise ConfigError(f"n_epochs must be within [1, 50] (OpenAI's range), got {n_epochs}")
        table = PRICES if prices is None else prices
        per_million = training_price(model, table)
        src = Path(path)
        if not src.is_file():
            raise DataFormatError(f"{self.noun} not found", path=src)
        encoding = get_encoding()
        counts: list[int] = []
        with open(src, "rb") as handle:
            for lineno, raw in enumerate(handle, 1):
                line = decode_line(raw, src, lineno)
                if line.strip():
                    example = self._priceable(line, src, lineno)
                    counts.append(self.count_tokens(example, encoding=encoding))
        if not counts:
            raise DataFormatError(f"{self.noun} holds no examples", path=src)
        return TrainingCostEstimate(
            path=src,
            model=model,
            n_epochs=n_epochs,
            n_examples=len(counts),
            total_tokens=sum(counts),
            min_tokens=min(counts),
            mean_tokens=sum(counts) / len(counts),
            max_tokens=max(counts),
            price_per_million=per_million,
            prices_as_of=table.as_of,
        )

    def wrong_file_help(self, path: str | Path, method: str, found: FileFormat) -> str:
        """Why ``method``, which trains on this format, refuses ``path`` (a ``found`` file)."""
        hint = self.wrong_file_hints.get(found.name)
        if hint is not None:
            return hint.format(path=path, method=method)
        return (
            f"{path} is a {found.name} file, and method {method!r} trains on a {self.name} "
            f"file; check it with {self.validator}"
        )

    # -- helpers ------------------------------------------------------------------------------
    def _checked(self, raw: bytes, lineno: int, findings: list[Finding]) -> dict[str, Any] | None:
        """Check one raw line; return its object when its tokens can be counted."""

        def add(code: str, message: str) -> None:
            findings.append(Finding(lineno, code, message))

        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            add("invalid_json", f"not UTF-8 (byte {exc.start + 1}): {raw[:60]!r}")
            return None
        if not line.strip():
            add("invalid_json", "blank line; every line must hold one example")
            return None
        try:
            example = json.loads(line)
        except json.JSONDecodeError as exc:
            shown = line.strip()[:60]
            add("invalid_json", f"not valid JSON ({exc.msg} at column {exc.colno}): {shown!r}")
            return None
        if not isinstance(example, dict):
            add("not_object", f"expected a JSON object, got {type(example).__name__}")
            return None
        return example if self.check(example, add) else None

    def _priceable(self, line: str, src: Path, lineno: int) -> dict[str, Any]:
        try:
            example = json.loads(line)
        except json.JSONDecodeError:
            raise DataFormatError("not valid JSON", path=src, line=lineno, text=line[:80]) from None
        if not isinstance(example, dict) or not self.well_formed(example):
            raise DataFormatError(
                f"expected {self.shape}; run {self.validator} first",
                path=src,
                line=lineno,
                text=line[:80],
            )
        return example
