"""The training loop both local methods share: resume from the last complete checkpoint, keep
the manifest current, turn out-of-memory into advice, save the outputs and finish the manifest.

SFT (:mod:`.train`) and DPO (:mod:`.dpo`) differ only in the TRL trainer they build.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llmrec.errors import ConfigError, LLMRecError
from llmrec.finetune.local._deps import quiet_peft, require
from llmrec.finetune.local.config import LocalTrainConfig
from llmrec.finetune.local.manifest import (
    MANIFEST_NAME,
    OUTPUT_PLACES,
    LocalTrainManifest,
    Status,
)
from llmrec.finetune.manifest import utc_now

__all__ = [
    "OOM_HELP",
    "CheckpointSaveError",
    "OutOfMemoryError",
    "check_outputs",
    "file_record",
    "last_complete_checkpoint",
    "remove_checkpoints",
    "remove_stale_temps",
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


class CheckpointSaveError(LLMRecError):
    """A checkpoint or the trained model could not be written (a full disk, most often); the
    message names the folder and the checkpoint the same call resumes from."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM during training, raised where the run stands so that it is recorded as
    interrupted (as Ctrl-C is) instead of the process vanishing mid-step."""


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

    A finished run of the same settings in the folder is returned as it is (``True``; any
    checkpoint left by a cleanup that was cut short is removed); an interrupted one is resumed
    under its own manifest; a folder holding another run raises
    :class:`~llmrec.errors.ConfigError` (:func:`same_run`). Temporary files left by a killed
    atomic write are removed first. The manifest is saved before training.
    """
    remove_stale_temps(manifest_path.parent)
    if manifest_path.exists():
        previous = LocalTrainManifest.load(manifest_path)
        if same_run(previous, manifest, manifest_path):
            if previous.status == "succeeded":
                finished = check_outputs(previous, manifest_path.parent)
                remove_checkpoints(manifest_path.parent / "checkpoints")  # a cut-short cleanup
                return finished, True
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


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """The ``checkpoint-N`` folders under ``folder`` with their step N, newest first."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = re.fullmatch(r"checkpoint-(\d+)", path.name)
        if match and path.is_dir():
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def _complete(path: Path) -> bool:
    """Whether a checkpoint holds what a resume loads: the trainer state (written last) read
    back whole, model weights, and the optimizer and scheduler states."""
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    weights = any(p.suffix in (".safetensors", ".bin") for p in path.iterdir() if p.is_file())
    return weights and all((path / name).is_file() for name in ("optimizer.pt", "scheduler.pt"))


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest complete checkpoint (:func:`_complete`) under ``folder``.

    A kill during a save, a full disk or a removal cut short leaves a partial ``checkpoint-N``;
    it is removed and the previous complete checkpoint is used (or none: the run starts over).
    """
    for _, path in _checkpoints(folder):
        if _complete(path):
            return str(path)
        shutil.rmtree(path, ignore_errors=True)
    return None


def remove_checkpoints(folder: Path) -> None:
    """Remove the trainer's folder ``folder`` (checkpoints, model card) but for tensorboard's
    logs (``runs``), which stay when ``report_to`` wrote them."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name == "runs":
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


def remove_stale_temps(folder: Path) -> None:
    """Remove the temporary files a killed atomic write left in ``folder`` (hidden
    ``.NAME.<12 hex>.tmp`` files, the names :func:`llmrec._io.atomic_open` gives them)."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if _TEMP.fullmatch(path.name) and path.is_file():
            path.unlink(missing_ok=True)


_TEMP = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


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
    _guard_checkpoint_saves(trainer)

    def stop(status: Status, error: str | None) -> None:
        manifest.status, manifest.error = status, error
        manifest.wall_seconds = callback.wall_seconds()
        manifest.save(manifest_path)

    try:
        with quiet_peft(), _sigterm_interrupts():  # TRL's DPO reads the deprecated property
            trainer.train(resume_from_checkpoint=last)
        callback.sync(trainer.state)
        try:
            _save_outputs(trainer, tokenizer, model, folder, config, manifest)
        except Exception as exc:
            raise _save_failed(exc, "the trained model", folder, checkpoints) from exc
    except torch.OutOfMemoryError:
        stop("failed", "out of memory")
        raise OutOfMemoryError(f"training {model!r} {OOM_HELP}") from None
    except KeyboardInterrupt:
        stop("interrupted", None)
        raise
    except CheckpointSaveError as exc:
        last_complete_checkpoint(checkpoints)  # removes the partial checkpoint
        stop("failed", str(exc))
        raise
    except BaseException as exc:
        if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
            stop("failed", "out of memory")
            raise OutOfMemoryError(f"training {model!r} {OOM_HELP}") from None
        raise
    # The manifest says "succeeded" (with the outputs and their hashes) before the checkpoints
    # go: a kill during their removal leaves a finished run whose leftovers the next call clears.
    manifest.last_checkpoint = None
    manifest.finished_at = utc_now()
    stop("succeeded", None)
    remove_checkpoints(checkpoints)
    return manifest


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is how a write to a full disk (or past a size or quota limit) fails:
    an ``OSError`` with that errno, safetensors' ``SafetensorError`` or torch's
    ``inline_container.cc`` error, whose messages carry the system's words."""
    import errno

    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    text = str(exc).lower()
    words = ("no space left", "storagefull", "file too large", "filetoolarge", "quota")
    return any(w in text for w in words) or "inline_container" in text


def _save_failed(exc: BaseException, what: str, folder: Path, checkpoints: Path) -> Exception:
    """The :class:`CheckpointSaveError` for ``exc`` raised while writing ``what``."""
    last = last_complete_checkpoint(checkpoints)
    resume = (
        f"the same command resumes from {Path(last).name}"
        if last is not None
        else "the same command starts the run again (no complete checkpoint yet)"
    )
    cause = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    hint = "the disk is full; free some space" if _disk_full(exc) else "fix the cause"
    return CheckpointSaveError(
        f"could not write {what} under {folder} ({cause}); {hint} and rerun: {resume}, "
        "nothing saved before is lost"
    )


def _guard_checkpoint_saves(trainer: Any) -> None:
    """Make a failure while the trainer writes a checkpoint a :class:`CheckpointSaveError`
    naming it (transformers raises whatever the writer raised: ``SafetensorError``, torch's
    ``RuntimeError``, ``OSError``)."""
    save = getattr(trainer, "_save_checkpoint", None)
    if save is None:  # pragma: no cover - another transformers layout: errors pass unchanged
        return
    folder = Path(trainer.args.output_dir)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return save(*args, **kwargs)
        except Exception as exc:
            step = f"checkpoint-{trainer.state.global_step}"
            raise _save_failed(exc, step, folder.parent, folder) from exc

    trainer._save_checkpoint = guarded


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """While training, SIGTERM raises :class:`_Terminated` (a ``KeyboardInterrupt``) so that the
    manifest records the run as interrupted; the previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise _Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
