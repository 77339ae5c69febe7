"""The study's stages, one module each; every stage is a function of the run context.

=========================  ==============================================================
module                     stage (what it receives → what it returns)
=========================  ==============================================================
:mod:`.data`               the config's source → ratings, catalogue and their key
:mod:`.truth`              the ratings → one truth built and split (:class:`PreparedTruth`)
:mod:`.candidates`         a truth's test split → its candidate sets (``ranking = "candidates"``)
:mod:`.finetune`           a truth's split → fine-tuning files, then every arm planned and trained
:mod:`.backends`           a truth and the arms' models → every backend planned, then run
:mod:`.evaluation`         the backends' recommendations → metrics, tests and diagnostics
=========================  ==============================================================

:func:`llmrec.experiment.run` calls them in the study's order. Each stage records its
artifacts in ``stages.json`` (:class:`~llmrec.experiment.store.StageStore`) under a key derived
from its inputs, so a rerun reuses what has not changed. A new stage is a new module here: a
function of the context and of what it needs, returning what it made, called from ``run.py``.

``StageStore`` and ``stage_key`` are importable from here, where they used to live.
"""

from llmrec.experiment.store import StageStore, stage_key

__all__ = ["StageStore", "stage_key"]
