"""What every experiment config model shares: unknown fields are errors; ``~`` in paths expands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from llmrec._paths import expand_path

__all__ = ["ConfigModel", "UserPath"]


class ConfigModel(BaseModel):
    """A config table: an unknown key is an error, never ignored."""

    model_config = ConfigDict(extra="forbid")


#: A path given by the user: a leading ``~`` is expanded.
UserPath = Annotated[Path, AfterValidator(expand_path)]
