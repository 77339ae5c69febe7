"""Read a backend's earlier answers back, as the ``model`` and ``hallucinated`` pair sources need.

An experiment run writes one JSON object a line per backend (``recs/<truth>/<backend>.jsonl``):
``{"user_id": ..., "movie_ids": [...], "scores": [...], "raw_text": ..., "diagnostics": {...},
"usage": {...}, "latency_s": ..., "cost_usd": ..., "cached": ...}``, that is ``user_id`` plus
:meth:`llmrec.recommenders.Recommendation.to_dict`. :func:`load_answers` turns such a file into
``{user_id: Recommendation}``; any mapping of user id to raw answer text works as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llmrec.errors import DataFormatError
from llmrec.finetune.formats._jsonl import numbered_lines, parse_object

if TYPE_CHECKING:
    from llmrec.recommenders.base import Recommendation

__all__ = ["load_answers"]


def load_answers(path: str | Path) -> dict[int, Recommendation]:
    """``{user_id: Recommendation}`` from a recommendations JSONL file written by an experiment.

    A line that is not a JSON object with an integer ``user_id`` and ``movie_ids``/``scores``
    lists, or a user listed twice, raises :class:`~llmrec.errors.DataFormatError` naming the
    line. Blank lines are skipped.
    """
    src = Path(path)
    out: dict[int, Recommendation] = {}
    for lineno, line in numbered_lines(src, "recommendations file not found"):
        user_id, rec = _parse(line, src, lineno)
        if user_id in out:
            raise DataFormatError(
                f"user {user_id} appears twice", path=src, line=lineno, text=line[:80]
            )
        out[user_id] = rec
    return out


def _parse(line: str, src: Path, lineno: int) -> tuple[int, Recommendation]:
    from llmrec.recommenders.base import Recommendation  # downstream stage: imported on use

    def bad(message: str) -> DataFormatError:
        return DataFormatError(message, path=src, line=lineno, text=line[:80])

    obj = parse_object(line, src, lineno)
    user_id = obj.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise bad(f"'user_id' must be an integer, got {user_id!r}")
    ids, scores = obj.get("movie_ids"), obj.get("scores")
    if not isinstance(ids, list) or not isinstance(scores, list):
        raise bad("'movie_ids' and 'scores' must be lists")
    raw_text = obj.get("raw_text")
    if raw_text is not None and not isinstance(raw_text, str):
        raise bad(f"'raw_text' must be a string or null, got {type(raw_text).__name__}")
    diagnostics = obj.get("diagnostics") or {}
    if not isinstance(diagnostics, dict):
        raise bad("'diagnostics' must be an object")
    try:
        rec = Recommendation(
            movie_ids=tuple(int(m) for m in ids),
            scores=tuple(float(s) for s in scores),
            raw_text=raw_text,
            diagnostics=diagnostics,
            usage=dict(obj.get("usage") or {}),
            latency_s=obj.get("latency_s"),
            cost_usd=obj.get("cost_usd"),
            cached=bool(obj.get("cached", False)),
        )
    except (TypeError, ValueError) as exc:
        raise bad(str(exc)) from None
    return user_id, rec
