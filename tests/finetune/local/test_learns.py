"""The loop learns: a tiny model memorises 48 users' gold lists; the untrained one does not."""

from __future__ import annotations

from pathlib import Path

from llmrec.data.resolver import TitleResolver
from llmrec.prompts import parse_response

from .conftest import TEMPLATE


def _precision_at_5(folder: Path, catalog, dataset) -> float:
    from llmrec.local_models import LocalModel

    model = LocalModel(folder, device="cpu", batch_size=16)
    answers = model.generate(
        [TEMPLATE.messages(e.profile, catalog) for e in dataset], max_new_tokens=80
    )
    resolver = TitleResolver(catalog)
    hits = 0
    for example, answer in zip(dataset, answers, strict=True):
        items = parse_response(answer.text).items
        found = resolver.resolve_many([(i.title, i.year) for i in items])
        ids = [r.movie_id for r in found if r.movie_id is not None][:5]
        hits += len(set(ids) & set(example.gold))
    return hits / (5 * len(dataset))


def test_trained_model_reproduces_gold_lists_untrained_does_not(
    trained_full, tiny_folder, tiny_data
) -> None:
    catalog, dataset = tiny_data
    out, manifest = trained_full
    assert manifest.status == "succeeded"
    assert manifest.losses[-1].loss < manifest.losses[0].loss / 5
    assert _precision_at_5(out, catalog, dataset) >= 0.9
    assert _precision_at_5(tiny_folder, catalog, dataset) <= 0.1


def test_manifest_records_the_run(trained_full, train_file, tiny_folder) -> None:
    from llmrec.finetune.local import LocalTrainManifest
    from llmrec.finetune.manifest import file_sha256
    from llmrec.local_models import folder_sha256

    out, manifest = trained_full
    saved = LocalTrainManifest.load(out / "local-train-manifest.json")
    assert saved == manifest
    assert saved.train_file["sha256"] == file_sha256(train_file)
    assert saved.base_sha256 == folder_sha256(tiny_folder)
    assert saved.hyperparameters["learning_rate"] == 2e-3
    assert saved.hyperparameters["gradient_accumulation_steps"] == 1
    assert {"torch", "transformers", "trl", "peft"} <= set(saved.libraries)
    assert saved.optimizer_steps == 6 * 30  # 48 examples / batch 8 x 30 epochs
    assert len(saved.losses) == saved.optimizer_steps
    # every epoch feeds every token once
    assert saved.tokens_seen == saved.train_file["tokens"] * 30
    assert saved.wall_seconds > 0
    assert not (out / "checkpoints").exists()


def test_finished_run_is_not_repeated(trained_full, train_file, tiny_folder) -> None:
    from llmrec.finetune.local import LocalTrainConfig, train_local

    from .conftest import FAST

    out, manifest = trained_full
    before = (out / "model.safetensors").stat().st_mtime_ns
    again = train_local(
        train_file, str(tiny_folder), out, config=LocalTrainConfig(**FAST), progress=False
    )
    assert again == manifest
    assert (out / "model.safetensors").stat().st_mtime_ns == before
