"""``--quiet`` for the libraries under local training: no progress bars and no info messages
from transformers (loading weights), datasets (its ``map`` passes, which TRL runs to tokenize)
and huggingface_hub (downloads), each through its own switch, restored afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from llmrec.finetune.local._deps import require

__all__ = ["quiet_libraries"]


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Within the block the training libraries show no bars and log only errors."""
    logging = require("transformers").utils.logging
    datasets = require("datasets")
    hub = require("huggingface_hub").utils
    bars, level = logging.is_progress_bar_enabled(), logging.get_verbosity()
    dataset_bars, hub_bars = (
        datasets.is_progress_bar_enabled(),
        not hub.are_progress_bars_disabled(),
    )
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    datasets.disable_progress_bars()
    hub.disable_progress_bars()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()
        if dataset_bars:
            datasets.enable_progress_bars()
        if hub_bars:
            hub.enable_progress_bars()
