"""Fine-tuning files, their validation and cost, and a hosted job followed to the end.

The job runs against llmrec's local OpenAI-compatible server so the example is free and offline;
against OpenAI, build the client with `openai.OpenAI()` (it reads OPENAI_API_KEY) and keep
`max_cost_usd` as a guard: a job whose estimate exceeds it is refused before any upload.

Run: python examples/finetune_local.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import openai

from llmrec.data import ensure_synthetic, load_ratings, load_titles
from llmrec.finetune import (
    FineTuner,
    estimate_training_cost,
    export_chat_jsonl,
    validate_chat_jsonl,
)
from llmrec.prompts import PromptTemplate
from llmrec.testing import LocalOpenAIServer
from llmrec.truth import NeighbourTruth

folder = ensure_synthetic(n_users=3_000, n_movies=400, n_ratings=150_000, seed=0)
ratings = load_ratings(folder)
catalog = load_titles(folder / "movie_titles.csv")
train, val, _ = NeighbourTruth.profile_data_60(n_users=500).build(ratings, progress=False).split()

work = Path(tempfile.mkdtemp())
template = PromptTemplate()  # the study's: task + output format, top-10 profile, gold list
export_chat_jsonl(train, template, catalog, work / "train.jsonl")
export_chat_jsonl(val, template, catalog, work / "val.jsonl")
print(template.training_example(train[0].profile, train[0].gold, catalog)["messages"][1]["content"])
print()

report = validate_chat_jsonl(work / "train.jsonl")
print(f"validation: {report.n_examples} examples, ok={report.ok}")
print(estimate_training_cost(work / "train.jsonl", n_epochs=2), end="\n\n")

with LocalOpenAIServer(fine_tune_step_seconds=0.05) as server:
    client = openai.OpenAI(base_url=server.base_url, api_key="local")
    tuner = FineTuner(client, manifest=work / "manifest.json", progress=False, poll_interval=0.05)
    tuner.start(
        work / "train.jsonl",
        validation_file=work / "val.jsonl",
        n_epochs=2,
        batch_size=32,
        learning_rate_multiplier=1.0,  # the study's hyperparameters
        suffix="llmrec",
        max_cost_usd=5.0,
    )
    final = tuner.wait()
print(final)
print("manifest:", work / "manifest.json")
