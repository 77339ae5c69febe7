"""The experiment's config: pydantic models only, importable without any stage or arm.

:class:`ExperimentConfig` is one reproduction of the study, loadable from TOML or JSON
(:meth:`ExperimentConfig.from_file`) and saved beside every artifact a run produces. Its parts:

* ``data`` (:mod:`.sources`): synthetic, Netflix, MovieLens, RecBole, Amazon or llmrec ratings;
* ``truth`` (:mod:`.truth`, :mod:`.ranking`): ground truths by name, each with a ``kind`` and an
  evaluation protocol (whole catalogue or candidate sets);
* ``backends``, ``split``, ``template``, metrics, budget and prices (:mod:`.experiment`);
* ``finetune`` (:mod:`.finetune`): the fine-tuning arms (hosted or local SFT, and DPO);
* ``probe`` (:mod:`.probe`): the optional memorisation probe.

The study's defaults are stated once, in :mod:`.defaults`.
"""

from llmrec.experiment.config.defaults import STUDY_METRICS, STUDY_TRUTH
from llmrec.experiment.config.experiment import (
    BackendSpec,
    ExperimentConfig,
    SplitConfig,
    study_backends,
)
from llmrec.experiment.config.finetune import (
    FineTuneStage,
    HostedDPO,
    LocalDPO,
    LocalFineTune,
    LocalGRPO,
)
from llmrec.experiment.config.probe import ProbeStage
from llmrec.experiment.config.sources import (
    AmazonSource,
    DataSource,
    LlmrecSource,
    MovieLensSource,
    NetflixSource,
    RecBoleSource,
    SyntheticSource,
)
from llmrec.experiment.config.truth import (
    LastNTruthSpec,
    NeighbourTruthSpec,
    NextItemTruthSpec,
    ProbeTruthSpec,
    TallRecTruthSpec,
    TimeSplitTruthSpec,
    TruthSpec,
    study_truth,
)

__all__ = [
    "STUDY_METRICS",
    "STUDY_TRUTH",
    "AmazonSource",
    "BackendSpec",
    "DataSource",
    "ExperimentConfig",
    "FineTuneStage",
    "HostedDPO",
    "LastNTruthSpec",
    "LlmrecSource",
    "LocalDPO",
    "LocalFineTune",
    "LocalGRPO",
    "MovieLensSource",
    "NeighbourTruthSpec",
    "NetflixSource",
    "NextItemTruthSpec",
    "ProbeStage",
    "ProbeTruthSpec",
    "RecBoleSource",
    "SplitConfig",
    "SyntheticSource",
    "TallRecTruthSpec",
    "TimeSplitTruthSpec",
    "TruthSpec",
    "study_backends",
    "study_truth",
]
