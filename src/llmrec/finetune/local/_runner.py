"""The training loop both local methods share: resume from the last complete checkpoint, keep
the manifest current, turn out-of-memory into advice, save the outputs and finish the manifest.

SFT (:mod:`.train`) and DPO (:mod:`.dpo`) differ only in the TRL trainer they build.
"""

from __future__ import annotations

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
from llmrec.finetune.local.manifest import MANIFEST_NAME, OUTPUT_PLACES, LocalTrainManifest
from llmrec.finetune.manifest import utc_now

__all__ = [
    "OOM_HELP",
    "OutOfMemoryError",
    "check_outputs",
    "file_record",
    "last_complete_checkpoint",
    "run_training",
    "same_run",
    "start_or_resume",
    "train_or_resume",
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


def same_run(previous: LocalTrainManifest, new: LocalTrainManifest, path: Path) -> bool:
    """``True`` when ``new`` is the run ``previous`` records; else a ``ConfigError`` naming each
    setting that differs with both values."""
    old_id, new_id = previous.identity(), new.identity()
    if old_id == new_id:
        return True
    old_id.update(old_id.pop("hyperparameters"))
    new_id.update(new_id.pop("hyperparameters"))
    changed = sorted(k for k in old_id.keys() | new_id.keys() if old_id.get(k) != new_id.get(k))
    what = "; ".join(f"{k}: {old_id.get(k)!r} then, {new_id.get(k)!r} now" for k in changed)
    if "base_model" in changed or "base_sha256" in changed or "base_revision" in changed:
        what += f" (the folder was trained from {previous.base_model!r}, not {new.base_model!r})"
    raise ConfigError(
        f"{path.parent} holds another run, whose settings differ ({what}); pass another --out "
        f"folder, or delete {path.parent} to start over"
    )


def check_outputs(manifest: LocalTrainManifest, folder: Path) -> LocalTrainManifest:
    """A finished run's manifest with its outputs where they are now, after checking that each
    output listed is under ``folder`` with the content hash recorded when it was saved."""
    from llmrec.local_models.fingerprint import folder_sha256

    outputs: dict[str, str] = {}
    for name in manifest.outputs:
        place = (folder / OUTPUT_PLACES.get(name, name)).resolve()
        recorded = manifest.output_sha256.get(name)
        weights = place.is_dir() and any(
            p.suffix in (".safetensors", ".bin") for p in place.iterdir() if p.is_file()
        )
        problem = None
        if not weights:
            problem = f"has no model weights at {place}"
        elif recorded is not None and folder_sha256(place) != recorded:
            problem = f"at {place} is not the one the run saved (its content hash differs)"
        if problem is not None:
            raise ConfigError(
                f"{folder / MANIFEST_NAME} records a finished run, but its {name} output "
                f"{problem}; pass the run's own folder, or delete {folder} to train again"
            )
        outputs[name] = str(place)
    return manifest.model_copy(update={"outputs": outputs})


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
                return check_outputs(previous, manifest_path.parent), True
            # resumed with the new execution settings (per-device batch, checkpointing)
            update = {"status": "running", "error": None}
            manifest = previous.model_copy(
                update={**update, "hyperparameters": manifest.hyperparameters}
            )
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest.save(manifest_path)
    return manifest, False


def train_or_resume(
    out: str | Path,
    build: Callable[[list[Any]], Any],
    *,
    model: str,
    base: str,
    tokenizer: Any,
    config: LocalTrainConfig,
    max_len: int,
    train: str | Path,
    data: Any,
    validation: str | Path | None,
    val: Any | None,
    reference: dict[str, Any] | None = None,
) -> LocalTrainManifest:
    """Record the run in ``out``'s manifest and train it with the trainer ``build(callbacks)``
    makes, or resume it, or return it finished (shared by every objective).

    ``model`` is what training loads (the base, or for DPO the SFT model), ``base`` the base
    model the output sits on, ``data``/``val`` what was read from ``train``/``validation``
    (their ``summary()`` goes into the manifest) and ``reference`` DPO's reference model.
    """
    from llmrec.finetune.local._data import template_sha256
    from llmrec.finetune.local._deps import library_versions
    from llmrec.finetune.local._model import base_identity

    folder = Path(out)
    manifest_path = folder / MANIFEST_NAME
    base_name, revision, base_hash = base_identity(base)
    manifest = LocalTrainManifest(
        method=config.method,
        base_model=base_name,
        base_revision=revision,
        base_sha256=base_hash,
        reference=reference,
        train_file=file_record(train, data),
        validation_file=None if val is None or validation is None else file_record(validation, val),
        template_sha256=template_sha256(tokenizer),
        hyperparameters={**config.hyperparameters(), "max_seq_len": max_len},
        libraries=library_versions(),
        started_at=utc_now(),
    )
    manifest, finished = start_or_resume(manifest, manifest_path)
    if finished:
        return manifest
    return run_training(model, tokenizer, build, folder, config, manifest, manifest_path)


def file_record(path: str | Path, data: Any) -> dict[str, Any]:
    """A training file in the manifest: its hash, what was read from it (``data.summary()``),
    and its absolute path."""
    from llmrec.finetune.manifest import file_sha256

    return {"sha256": file_sha256(path), **data.summary(), "path": str(Path(path).resolve())}


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
    if config.method == "full" or not hasattr(net, "peft_config"):  # GRPO may train every weight
        net.save_pretrained(folder, safe_serialization=True)
        _record_output(manifest, "model", folder)
        return
    for adapter in net.peft_config.values():
        adapter.base_model_name_or_path = manifest.base_model
        adapter.revision = manifest.base_revision
    # DPO keeps a frozen copy of the start adapter as its reference ("ref"); only the trained
    # adapter ("default") is the output.
    net.save_pretrained(folder, safe_serialization=True, selected_adapters=["default"])
    _record_output(manifest, "adapter", folder)
    if config.merged:
        from llmrec.local_models.load import merge_adapter

        _record_output(manifest, "merged", Path(merge_adapter(folder, folder / "merged")))


def _record_output(manifest: LocalTrainManifest, name: str, place: Path) -> None:
    """An output's path and the content hash a later call checks it against."""
    from llmrec.local_models.fingerprint import folder_sha256

    manifest.outputs[name] = str(place.resolve())
    manifest.output_sha256[name] = folder_sha256(place)
