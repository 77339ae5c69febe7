"""The one error tree of llmrec.

Every error a user can hit derives from :class:`LLMRecError`, so ``except LLMRecError`` catches
them all, and each message names what was wrong (file, line, field, value) and what to do::

    LLMRecError
    ├── DataFormatError        a data file is malformed (names the file, line and text)
    ├── DataNotFoundError      a data file or folder does not exist (also a FileNotFoundError)
    ├── ConfigError            a configuration value or combination is invalid
    ├── LeakageError           a held-out rating reached a profile, a history or a fitting set
    ├── NotFittedError         a model was used before ``fit``
    ├── ValidationError        a fine-tuning file fails OpenAI's checks
    ├── BudgetExceededError    a paid step would cost more than the budget allows
    └── BackendError           a recommender backend or remote API failed
        ├── APIKeyMissingError     no API key was given or found in the environment
        ├── CacheMissError         replay-only mode met a request that is not cached
        └── UnknownBackendError    no recommender is registered under that name
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "APIKeyMissingError",
    "BackendError",
    "BudgetExceededError",
    "CacheMissError",
    "CapabilityError",
    "ConfigError",
    "DataFormatError",
    "DataNotFoundError",
    "LLMRecError",
    "LeakageError",
    "NotFittedError",
    "UnknownBackendError",
    "ValidationError",
]


class LLMRecError(Exception):
    """Base class of every error raised by llmrec."""


class DataFormatError(LLMRecError):
    """A data file does not follow its documented format.

    ``path``, ``line`` (1-based) and ``text`` (the offending text) are kept as attributes so
    callers can report or fix the input programmatically.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        text: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.text = text
        where = ""
        if self.path is not None:
            where = self.path
            if line is not None:
                where += f", line {line}"
            where += ": "
        shown = f" (got {text!r})" if text is not None else ""
        super().__init__(f"{where}{message}{shown}")


class DataNotFoundError(LLMRecError, FileNotFoundError):
    """A data file or folder named by the user does not exist.

    Also a :class:`FileNotFoundError`, so code written against the built-in error keeps working.
    """


class ConfigError(LLMRecError):
    """A configuration value, or a combination of values, is invalid."""

    @classmethod
    def from_validation(
        cls, what: str, exc: Any, names: Mapping[str, str] | None = None
    ) -> ConfigError:
        """One line for a pydantic ``ValidationError`` ``exc``: each field, what it should be
        and the value given, e.g. ``invalid LastNTruth configuration: n: should be greater than
        or equal to 1, got 0`` (instead of pydantic's multi-line dump with a URL).

        ``names`` renames fields as the user knows them (a command's ``--batch-size`` for
        ``batch_size``). A problem of the whole model (a check across fields) shows no value.
        """
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err.get("loc", ()))
            field = ".".join(str(p) for p in loc) or "(config)"
            if names is not None and loc:
                field = names.get(str(loc[0]), str(loc[0])) + "".join(f".{p}" for p in loc[1:])
            msg = str(err.get("msg", "is invalid"))
            msg = msg.removeprefix("Value error, ")
            text = f"{field}: {msg.removeprefix('Input ')}"
            if loc and "input" in err and err.get("type") != "missing":
                text += f", got {err['input']!r}"
            problems.append(text)
        return cls(f"invalid {what}: " + "; ".join(problems))


class LeakageError(LLMRecError):
    """A held-out rating was found where the model can see it (profile, history, fitting set)."""


class NotFittedError(LLMRecError):
    """A model was asked to predict before ``fit`` was called."""


class ValidationError(LLMRecError):
    """A fine-tuning file fails validation; ``findings`` lists each problem with its line."""

    def __init__(self, message: str, findings: list[object] | None = None) -> None:
        self.findings = list(findings or [])
        super().__init__(message)


class BudgetExceededError(LLMRecError):
    """A paid step's estimated cost exceeds the configured budget."""


class BackendError(LLMRecError):
    """A recommender backend, or the remote API behind it, failed."""


class APIKeyMissingError(BackendError):
    """No API key was passed and none is set in the environment."""


class CacheMissError(BackendError):
    """Replay-only mode met a request whose answer is not in the cache."""


class CapabilityError(BackendError):
    """A backend or server cannot do what was asked (e.g. return log-probabilities)."""


class UnknownBackendError(BackendError):
    """No recommender is registered under the requested name."""
