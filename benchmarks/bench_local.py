"""Benchmark: local generation and training with the tiny Llama model, on CPU, ratios in one run.

* batched generation (left-padded batches of 16) against one profile at a time, with
  ``LocalModel`` and through the ``transformers`` recommender backend;
* catalog-constrained decoding against unconstrained decoding (same prompts, same batches);
* training throughput (tokens/s, load + tokenize + train + save) of ``train_local`` against a
  plain TRL ``SFTTrainer`` run on the same data (TRL's own prompt-completion tokenization),
  with the same hyperparameters.

Targets: batched >= 5x one at a time; constrained <= 2x unconstrained; training within 10 % of
plain TRL. GPU figures: not measured here (no GPU on the machine this was written on).

    python benchmarks/bench_local.py              # 32 profiles, 200-movie catalog
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from llmrec.data import Ratings
from llmrec.finetune import export_chat_jsonl
from llmrec.finetune.local import LocalTrainConfig, train_local
from llmrec.local_models import LocalModel
from llmrec.prompts import PromptTemplate
from llmrec.recommenders import get_recommender
from llmrec.testing.tiny_model import build_tiny_model, tiny_dataset


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _plain_trl(train_file: Path, model: str, out: Path, config: LocalTrainConfig) -> float:
    """Tokens/s of a plain SFTTrainer run (prompt-completion conversational data)."""
    import datasets
    import transformers
    import trl

    rows = []
    for line in train_file.read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        rows.append({"prompt": messages[:-1], "completion": messages[-1:]})
    start = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    args = trl.SFTConfig(
        output_dir=str(out), num_train_epochs=config.epochs,
        per_device_train_batch_size=config.device_batch,
        gradient_accumulation_steps=config.accumulation, learning_rate=config.lr,
        lr_scheduler_type=config.lr_scheduler, logging_steps=1, save_strategy="no",
        report_to=[], disable_tqdm=True, bf16=False, activation_checkpointing=False,
        gradient_checkpointing=False, dataloader_pin_memory=False, seed=config.seed,
    )  # fmt: skip
    net = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    trainer = trl.SFTTrainer(
        model=net, args=args, train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.remove_callback(transformers.trainer_callback.PrinterCallback)
    trainer.train()
    trainer.save_model(str(out / "final"))
    elapsed = time.perf_counter() - start
    return trainer._total_train_tokens / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=32)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: robust on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    template = PromptTemplate(n_recommendations=5)
    catalog, dataset = tiny_dataset(max(args.profiles, 48), 200)
    work = Path(tempfile.mkdtemp(prefix="llmrec-bench-local-"))
    folder = str(build_tiny_model(work / "tiny", catalog, template=template))
    messages = [template.messages(e.profile, catalog) for e in dataset[: args.profiles]]
    exclude = [e.profile for e in dataset[: args.profiles]]

    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip
    print(f"tiny Llama (2 layers, 128 wide), {len(catalog)} movies, {args.profiles} profiles")
    batched = LocalModel(folder, device="cpu", batch_size=16)
    single = LocalModel(folder, device="cpu", batch_size=1)
    constraint = batched.constraint(catalog, template)
    constraint.rank(1, False)  # build outside the timing, as a backend does once per catalog
    kwargs = {"max_new_tokens": 60}
    single.generate(messages[:2], **kwargs)  # warm-up, outside the timing
    t_single, _ = _timed(lambda: single.generate(messages, **kwargs))
    t_batched, _ = _timed(lambda: batched.generate(messages, **kwargs))
    t_cons, _ = _timed(
        lambda: batched.generate(messages, constrained_to=constraint, exclude=exclude, **kwargs)
    )
    print(f"\ngeneration ({args.profiles} profiles, up to 60 new tokens each)")
    print(f"  one at a time     {t_single:7.2f} s")
    print(f"  batches of 16     {t_batched:7.2f} s   {t_single / t_batched:5.1f}x faster (>= 5x)")
    print(f"  constrained       {t_cons:7.2f} s   {t_cons / t_batched:5.2f}x unconstrained (<= 2x)")

    # The same through the `transformers` recommender backend (pipeline: template, parse,
    # resolve, diagnostics; cache off so every profile is generated).
    profiles = [e.profile for e in dataset[: args.profiles]]
    ratings = Ratings(
        [0] * len(catalog), catalog.movie_ids, [5] * len(catalog),
        np.full(len(catalog), "2005-01-01", "M8[D]"),
    )  # fmt: skip

    def backend(batch_size: int) -> float:
        rec = get_recommender(
            "transformers", model=folder, device="cpu", batch_size=batch_size,
            max_new_tokens=60, template=template, cache_mode="off",
        ).fit(ratings, catalog)  # fmt: skip
        rec.recommend_many(profiles[:2], k=5)  # load and warm up outside the timing
        seconds, _ = _timed(lambda: rec.recommend_many(profiles, k=5))
        return seconds

    b_single, b_batched = backend(1), backend(16)
    print(f"\nthrough the transformers backend ({args.profiles} profiles, k=5)")
    print(f"  one at a time     {b_single:7.2f} s")
    print(f"  batches of 16     {b_batched:7.2f} s   {b_single / b_batched:5.1f}x faster")

    train_file = export_chat_jsonl(dataset[:48], template, catalog, work / "train.jsonl")
    config = LocalTrainConfig(
        method="full", epochs=args.epochs, batch_size=8, learning_rate=2e-3,
        lr_scheduler="constant", warmup_ratio=0.0, save_steps=10_000,
    )  # fmt: skip
    ours_start = time.perf_counter()
    manifest = train_local(train_file, folder, work / "ours", config=config, progress=False)
    ours = manifest.tokens_seen / (time.perf_counter() - ours_start)
    plain = _plain_trl(train_file, folder, work / "plain", config)
    print(f"\ntraining (full, {args.epochs:g} epochs, 48 examples, batch 8)")
    print(f"  train_local       {ours:9.0f} tokens/s")
    print(f"  plain SFTTrainer  {plain:9.0f} tokens/s   ratio {ours / plain:4.2f} (>= 0.90)")
    print(f"\npeak RSS {_peak_mib():.0f} MiB; GPU figures: not measured here")


if __name__ == "__main__":
    main()
