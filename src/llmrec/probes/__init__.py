"""llmrec.probes: does a language model already know the data set?

:class:`MemorisationProbe` asks a language-model backend to recall the data (item-file lines,
title completions, users' rating sequences) and scores the answers exactly;
:class:`MemorisationReport` gives recall by popularity bucket with intervals, beside which a
zero-shot recommendation score can be read. See ``docs/probes.md``.
"""

from __future__ import annotations

from llmrec.probes.buckets import BUCKETS, popularity_buckets
from llmrec.probes.generation import AnswerReader, ProbeAnswer, ProbePlan
from llmrec.probes.interval import Rate, wilson_interval
from llmrec.probes.item_lines import ITEM_FORMATS, ItemLineFormat, detect_item_format
from llmrec.probes.probe import MemorisationProbe, synthetic_catalog
from llmrec.probes.questions import ProbeQuestion
from llmrec.probes.report import TABLE_HEADERS, BucketResult, MemorisationReport, ProbeRow

__all__ = [
    "BUCKETS",
    "ITEM_FORMATS",
    "TABLE_HEADERS",
    "AnswerReader",
    "BucketResult",
    "ItemLineFormat",
    "MemorisationProbe",
    "MemorisationReport",
    "ProbeAnswer",
    "ProbePlan",
    "ProbeQuestion",
    "ProbeRow",
    "Rate",
    "detect_item_format",
    "popularity_buckets",
    "synthetic_catalog",
    "wilson_interval",
]
