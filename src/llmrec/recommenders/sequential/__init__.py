"""Sequential next-item backends, ``sasrec`` and ``gru4rec`` (the ``[train]`` extra).

They read a profile as a time-ordered sequence, oldest first (see
:mod:`llmrec.recommenders.sequential.backend`). Importing this package does not import torch;
fitting a model does.
"""

from llmrec.recommenders.sequential.backend import (
    GRU4RecConfig,
    GRU4RecRecommender,
    SASRecConfig,
    SASRecRecommender,
)

__all__ = ["GRU4RecConfig", "GRU4RecRecommender", "SASRecConfig", "SASRecRecommender"]
