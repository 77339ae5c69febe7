"""Compatibility alias: the table renderer is public as :mod:`llmrec.metrics.table`."""

from __future__ import annotations

from llmrec.metrics.table import html_table, text_table

__all__ = ["html_table", "text_table"]
