"""Compatibility re-export: optional-dependency handling lives in :mod:`llmrec._extras`."""

from __future__ import annotations

from llmrec._extras import TRAIN_PACKAGES, MissingExtraError, library_versions, quiet_peft, require

__all__ = ["TRAIN_PACKAGES", "MissingExtraError", "library_versions", "quiet_peft", "require"]
