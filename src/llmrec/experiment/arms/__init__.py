"""Fine-tuning arms: hosted SFT and DPO, local SFT, DPO and GRPO; one interface, one registry.

See :mod:`.base` for the interface and :mod:`.registry` for how a config's arms are found and
how a new arm plugs in.
"""

from llmrec.experiment.arms.base import FineTuningArm
from llmrec.experiment.arms.registry import (
    arm_problems,
    arms_for,
    backend_arm,
    register_arm,
    registered_arms,
    unregister_arm,
)

__all__ = [
    "FineTuningArm",
    "arm_problems",
    "arms_for",
    "backend_arm",
    "register_arm",
    "registered_arms",
    "unregister_arm",
]
