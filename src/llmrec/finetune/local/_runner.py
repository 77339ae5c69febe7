"""The training loop both local methods share: resume from the last complete checkpoint, keep
the manifest current, turn out-of-memory into advice, save the outputs and finish the manifest.

SFT (:mod:`.train`) and DPO (:mod:`.dpo`) differ only in the TRL trainer they build.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError
from llmrec.finetune.local._deps import quiet_peft, require
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.manifest import LocalTrainManifest
from llmrec.finetune.manifest import utc_now

__all__ = [
    "OOM_HELP",
    "OutOfMemoryError",
    "checkpointing_args",
    "file_record",
    "last_complete_checkpoint",
    "quiet_trainer",
    "run_training",
    "same_run",
    "start_or_resume",
]


OOM_HELP = (
    "ran out of memory; lower the per-device batch (LocalTrainConfig(per_device_batch_size=...), "
    "the effective batch stays the same through more gradient accumulation steps), shorten "
    "--max-seq-len, turn on gradient checkpointing (gradient_checkpointing=True / "
    "--gradient-checkpointing), or train a 4-bit base with --method qlora; "
    "the run resumes from its last checkpoint when called again"
)


class OutOfMemoryError(ConfigError, MemoryError):
    """Training did not fit in the device's memory; the message says what to change."""


def checkpointing_args(trl: Any, enabled: bool) -> dict[str, bool]:
    """transformers 5 renamed ``gradient_checkpointing`` to ``activation_checkpointing``."""
    names = {f.name for f in dataclasses.fields(trl.SFTConfig)}
    if "activation_checkpointing" in names:
        return {"activation_checkpointing": enabled, "gradient_checkpointing": enabled}
    return {"gradient_checkpointing": enabled}


def same_run(previous: LocalTrainManifest, new: LocalTrainManifest, path: Path) -> bool:
    old_id, new_id = previous.identity(), new.identity()
    if old_id == new_id:
        return True
    changed = sorted(k for k in new_id if old_id.get(k) != new_id.get(k))
    what = ", ".join(changed)
    if "base_model" in changed or "base_sha256" in changed or "base_revision" in changed:
        what += f" (the folder was trained from {previous.base_model!r}, not {new.base_model!r})"
    raise ConfigError(
        f"{path.parent} holds another run ({what} differ); pass another --out folder, or delete "
        f"{path.parent} to start over"
    )


def start_or_resume(
    manifest: LocalTrainManifest, manifest_path: Path
) -> tuple[LocalTrainManifest, bool]:
    """The manifest to train under, and whether the run already finished.

    A finished run of the same settings in the folder is returned as it is (``True``); an
    interrupted one is resumed under its own manifest; a folder holding another run raises
    :class:`~llmrec.errors.ConfigError` (:func:`same_run`). The manifest is saved before training.
    """
    if manifest_path.exists():
        previous = LocalTrainManifest.load(manifest_path)
        if same_run(previous, manifest, manifest_path):
            if previous.status == "succeeded":
                return previous, True
            manifest = previous.model_copy(update={"status": "running", "error": None})
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest.save(manifest_path)
    return manifest, False


def file_record(path: str | Path, data: Any) -> dict[str, Any]:
    """A training file in the manifest: its hash, what was read from it (``data.summary()``),
    and its absolute path."""
    from llmrec.finetune.manifest import file_sha256

    return {"sha256": file_sha256(path), **data.summary(), "path": str(Path(path).resolve())}


def quiet_trainer(trainer: Any, progress: bool) -> Any:
    """``trainer`` without transformers' log printer when ``progress`` is off."""
    if not progress:
        transformers = require("transformers")
        trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    return trainer


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest checkpoint whose ``trainer_state.json`` (written last) reads back whole.

    A kill during a save leaves a partial ``checkpoint-N``; it is removed and the previous
    complete checkpoint is used (or none: the run starts over).
    """
    if not folder.is_dir():
        return None
    found = []
    for path in folder.iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            shutil.rmtree(path, ignore_errors=True)
            continue
        return str(path)
    return None


def run_training(
    model: str,
    tokenizer: Any,
    build: Callable[[list[Any]], Any],
    folder: Path,
    config: LocalTrainConfig,
    manifest: LocalTrainManifest,
    manifest_path: Path,
) -> LocalTrainManifest:
    """Train with the trainer ``build(callbacks)`` makes, resuming from the last checkpoint;
    save the outputs and finish the manifest (shared by SFT and DPO)."""
    from llmrec.finetune.local._callback import ManifestCallback

    torch = require("torch")
    started = time.monotonic()
    callback = ManifestCallback(manifest, manifest_path, started)
    trainer = build([callback])
    checkpoints = folder / "checkpoints"
    last = last_complete_checkpoint(checkpoints)
    if last is not None:
        manifest.resumed_from.append(Path(last).name)
    manifest.device = str(trainer.args.device)
    try:
        with quiet_peft():  # TRL's DPO reads the same deprecated property
            trainer.train(resume_from_checkpoint=last)
    except torch.OutOfMemoryError:
        manifest.status, manifest.error = "failed", "out of memory"
        manifest.save(manifest_path)
        raise OutOfMemoryError(f"training {model!r} {OOM_HELP}") from None
    except BaseException as exc:
        if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
            manifest.status, manifest.error = "failed", "out of memory"
            manifest.save(manifest_path)
            raise OutOfMemoryError(f"training {model!r} {OOM_HELP}") from None
        raise
    callback.sync(trainer.state)
    _save_outputs(trainer, tokenizer, model, folder, config, manifest)
    shutil.rmtree(checkpoints, ignore_errors=True)
    manifest.last_checkpoint = None
    manifest.status = "succeeded"
    manifest.finished_at = utc_now()
    manifest.wall_seconds = callback.wall_seconds()
    manifest.save(manifest_path)
    return manifest


def _save_outputs(
    trainer: Any,
    tokenizer: Any,
    model: str,
    folder: Path,
    config: LocalTrainConfig,
    manifest: LocalTrainManifest,
) -> None:
    net = trainer.model
    tokenizer.save_pretrained(folder)
    if config.method == "full":
        net.save_pretrained(folder, safe_serialization=True)
        manifest.outputs["model"] = str(folder)
        return
    for adapter in net.peft_config.values():
        adapter.base_model_name_or_path = manifest.base_model
        adapter.revision = manifest.base_revision
    # DPO keeps a frozen copy of the start adapter as its reference ("ref"); only the trained
    # adapter ("default") is the output.
    net.save_pretrained(folder, safe_serialization=True, selected_adapters=["default"])
    manifest.outputs["adapter"] = str(folder)
    if config.merged:
        from llmrec.local_models.load import merge_adapter

        manifest.outputs["merged"] = str(merge_adapter(folder, folder / "merged"))
