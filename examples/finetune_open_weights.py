"""Fine-tune an open-weights model on the study's task and evaluate it, on this machine.

Run: python examples/finetune_open_weights.py            (a tiny model on CPU, about a minute)
     python examples/finetune_open_weights.py --model Qwen/Qwen2.5-0.5B-Instruct   (on a GPU)

Synthetic Netflix data -> profileData50 -> chat JSONL -> local fine-tuning (full weights for the
tiny model, LoRA for a real one) -> the `transformers` recommender backend (greedy, batched,
free and catalog-constrained) -> metrics and hallucination rates.
Needs the [train] extra: pip install 'llmrec[train]'. Nothing is downloaded for the tiny model.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from llmrec.data import ensure_synthetic, load_ratings, load_titles
from llmrec.finetune import export_chat_jsonl
from llmrec.finetune.local import LocalTrainConfig, train_local
from llmrec.metrics import evaluate
from llmrec.metrics.beyond import hallucination_rate
from llmrec.prompts import PromptTemplate
from llmrec.recommenders import get_recommender
from llmrec.truth import NeighbourTruth

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default=None, help="hub id or folder (default: a tiny model)")
parser.add_argument("--out", type=Path, default=None, help="output folder (default: temporary)")
args = parser.parse_args()
work = Path(tempfile.mkdtemp(prefix="llmrec-open-weights-"))
out = args.out or work / "run"

# 1. Data and the study's ground truth, split 70/20/10.
folder = ensure_synthetic(n_users=3_000, n_movies=300, n_ratings=120_000, seed=0)
ratings = load_ratings(folder)
catalog = load_titles(folder / "movie_titles.csv")
truth = NeighbourTruth.profile_data_50(n_users=300).build(ratings, progress=False)
train, val, test = truth.split(0.7, 0.2, 0.1, seed=0)
template = PromptTemplate(n_recommendations=5)
train_file = export_chat_jsonl(train, template, catalog, work / "train.jsonl")

# 2. The model: a tiny random Llama built for this catalog, or the one named on the command line.
if args.model is None:
    from llmrec.testing.tiny_model import build_tiny_model

    model = str(build_tiny_model(work / "tiny", catalog, template=template))
    train_users = train[:32]
    train_file = export_chat_jsonl(train_users, template, catalog, work / "train32.jsonl")
    config = LocalTrainConfig(
        method="full", learning_rate=2e-3, lr_scheduler="constant", warmup_ratio=0.0,
        epochs=25, batch_size=8,
    )  # fmt: skip
else:
    model, train_users = args.model, train
    config = LocalTrainConfig(method="lora")  # the study's 2 epochs, batch 32; lr 2e-4
print(f"training {model} ({config.method}) on {len(train_users)} users")
manifest = train_local(train_file, model, out, config=config, progress=False)
print(f"{manifest.status}: {manifest.optimizer_steps} steps, final loss {manifest.final_loss:.3f}")

# 3. Evaluate through the `transformers` backend (the same pipeline as the OpenAI backends:
#    template, response cache, parsing, title resolution, diagnostics), free and constrained,
#    on the training users (memorisation) and the test users.
for name, users in (("training users", train_users), ("test users", test)):
    for mode, constrained in (("free", False), ("constrained", True)):
        rec = get_recommender(
            "transformers", model=str(out), template=template, max_new_tokens=120,
            batch_size=16, constrained=constrained, cache=work / "responses.sqlite",
        ).fit(ratings, catalog)  # fmt: skip
        recs = rec.recommend_many(users.profiles, k=5)
        found = {e.user_id: list(r.movie_ids) for e, r in zip(users, recs, strict=True)}
        report = evaluate(found, {e.user_id: e.gold for e in users}, metrics=["precision@5"])
        written = [r.diagnostics["n_titles"] for r in recs]
        rate = hallucination_rate([r.diagnostics["n_unresolved"] for r in recs], written)
        print(f"{name}, {mode}: precision@5 {report['precision@5']:.3f}, "
              f"hallucinated {rate:.1%} of {sum(written)} titles")  # fmt: skip
