"""Benchmark the sequential backends (SASRec, GRU4Rec): accuracy and training speed against
RecBole on MovieLens-100k, and speed and memory on a synthetic set of 1M interactions.

``ml100k`` mode: RecBole's atomic ml-100k (``--data``, or ``LLMREC_RECBOLE_ML100K``), leave-one-
out by time (RecBole's ``LS: valid_and_test``, ``order: TO``): each user's last item is the test
target, the one before it the validation item, everything before that the training part
(:func:`llmrec.protocols.next_item.build` with ``history=50``). Every model is fitted on the
training part, reads the last 50 items before the target (the validation item included) and
ranks the full catalogue without the user's history; HR@10 and NDCG@10 are reported with
95 % bootstrap intervals over users. ``--all-backends`` adds popularity, item-kNN and EASE.

The RecBole side runs only when a Python with RecBole 1.2.1 is given (``--recbole-python`` or
``LLMREC_RECBOLE_PYTHON``): the same split, ``MAX_ITEM_LIST_LENGTH: 50``, ``loss_type: CE``, the
same hyperparameters, epochs and batch size, full ranking. Without ``--patience``: ``eval_step:
0`` (no validation, so the model tested is the last epoch's, as llmrec's without ``patience``;
no checkpoint is written). With ``--patience P`` both sides validate after every epoch on the
validation item, stop after ``P`` epochs without a better NDCG@10 and test the best epoch:
RecBole with ``eval_step: 1``, ``stopping_step: P - 1`` and its best checkpoint (loaded with
``weights_only=False``, which torch 2.6 and later no longer default to), llmrec with
``patience=P`` fitted on the training part plus the validation item, so its own hold-out is
that item (:func:`with_validation`). RecBole
1.2.1 masks nothing in a sequential model's full ranking, so both sides are also scored with the
history left in (``*_unmasked``), and RecBole's test scores are ranked again without the items
each sequence reads (llmrec's protocol). RecBole 1.2.1 still
uses aliases NumPy 2 removed (``np.float``, ``np.long``, ..., and in its ``Config``
``np.float_``, ``np.complex_``, ``np.unicode_``); the driver below restores them before
importing it. It is a check, not a dependency.

``synthetic`` mode: ``--interactions`` (1,000,000 by default) over Zipf-popular items with
lognormal user activity, timestamps to the second; one fit of each backend.

Every fit runs in its own process (``--threads`` torch threads) that reports its training
seconds, epochs per second and peak resident memory (``ru_maxrss``, which counts torch's
buffers). Run: ``python benchmarks/bench_sequential.py ml100k --epochs 10 --seeds 0 1 2``;
``--sides llmrec`` or ``--sides recbole`` runs one side (to spread the sides over cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench_backends import machine

SASREC = {"hidden_size": 64, "blocks": 2, "heads": 2, "inner_size": 256, "dropout": 0.5}
GRU4REC = {"embedding_size": 64, "hidden_size": 128, "layers": 1, "dropout": 0.3}

_LLMREC_CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
from llmrec.recommenders import get_recommender
from bench_sequential import load_data, score, score_unmasked, with_validation
t0 = time.perf_counter()
split, ratings = load_data(args)
prep = time.perf_counter() - t0
model = get_recommender(args["backend"], **args["options"])
if split is None:
    fitting = ratings
elif args["options"].get("patience") is None:
    fitting = split.fitting
else:
    # early stopping holds out each user's last fitting item: fit on the training part plus
    # the validation item, so the held-out item is RecBole's validation item
    fitting = with_validation(split, ratings)
cpu0 = time.process_time()
model.fit(fitting)
out = {"prep_s": prep, "train_s": model.log_.train_seconds,
       "train_cpu_s": time.process_time() - cpu0, "epochs": len(model.log_.losses),
       "params": model.n_parameters_, "best_epoch": model.log_.best_epoch,
       "valid_ndcg": model.log_.valid_ndcg, "losses": model.log_.losses}
if split is not None:
    t1 = time.perf_counter()
    recs = model.recommend_many(split.dataset.profiles, 10, exclude=split.exclusions())
    out["eval_s"] = time.perf_counter() - t1
    out.update(score(split, recs))
    out.update(score_unmasked(model, split))
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""

_RECBOLE_CHILD = r"""
import json, resource, sys, time
import numpy as np
# RecBole 1.2.1 uses aliases NumPy 2 removed; restore them before importing it.
# (its Config also assigns np.float = np.float_ etc., so the underscore names are needed too)
for name, value in {"float": float, "int": int, "long": np.int64, "bool": bool,
                    "object": object, "str": str, "complex": complex, "unicode": str,
                    "float_": np.float64, "complex_": np.complex128,
                    "unicode_": np.str_}.items():
    if name not in np.__dict__:
        setattr(np, name, value)
import torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
# RecBole 1.2.1's checkpoints hold its Config; torch >= 2.6 loads with weights_only=True by
# default and refuses them. The checkpoint is the one this process just wrote.
_torch_load = torch.load
torch.load = lambda *a, **k: _torch_load(*a, **{**k, "weights_only": False})
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import get_model, get_trainer, init_seed
folder = args["data"].rstrip("/")
model_name = {"sasrec": "SASRec", "gru4rec": "GRU4Rec"}[args["backend"]]
o = args["options"]
if model_name == "SASRec":
    params = {"hidden_size": o["hidden_size"], "n_layers": o["blocks"], "n_heads": o["heads"],
              "inner_size": o["inner_size"], "hidden_dropout_prob": o["dropout"],
              "attn_dropout_prob": o["dropout"]}
else:
    params = {"embedding_size": o["embedding_size"], "hidden_size": o["hidden_size"],
              "num_layers": o["layers"], "dropout_prob": o["dropout"]}
config = Config(model=model_name, dataset=folder.rsplit("/", 1)[1], config_dict={
    "data_path": folder.rsplit("/", 1)[0],
    "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
    "MAX_ITEM_LIST_LENGTH": o["max_length"], "loss_type": "CE", "train_neg_sample_args": None,
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full",
                  "group_by": "user"},
    "metrics": ["Hit", "NDCG"], "topk": [10], "valid_metric": "NDCG@10",
    "epochs": o["epochs"], "train_batch_size": o["batch_size"],
    # without patience: no validation, the last epoch is tested (as llmrec without patience);
    # with it: validate every epoch, stop after `patience` epochs without a better score
    # (RecBole stops when cur_step > stopping_step), test the best epoch
    "eval_step": 0 if o.get("patience") is None else 1,
    "stopping_step": max((o.get("patience") or 1) - 1, 0),
    "learning_rate": o["learning_rate"], "seed": o["seed"], "reproducibility": True,
    "use_gpu": False, "show_progress": False, "checkpoint_dir": args["scratch"],
    "log_wandb": False, "state": "WARNING", **params})
init_seed(config["seed"], config["reproducibility"])
t0 = time.perf_counter()
dataset = create_dataset(config)
train, valid, test = data_preparation(config, dataset)
prep = time.perf_counter() - t0
init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
model = get_model(config["model"])(config, train.dataset).to(config["device"])
trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
t1, cpu1 = time.perf_counter(), time.process_time()
curve = []
best_model = o.get("patience") is not None
if args.get("reuse_checkpoint"):
    # evaluate the best checkpoint an earlier run of this seed left in the scratch folder
    from pathlib import Path
    model_file = str(max(Path(args["scratch"]).glob("*.pth"), key=lambda f: f.stat().st_mtime))
    result = trainer.evaluate(test, model_file=model_file, show_progress=False)
    train_s = train_cpu_s = float("nan")
    epochs_run = 0
else:
    # without validation the model in memory is the last epoch's: no checkpoint needed
    trainer.fit(train, valid, saved=best_model, show_progress=False,
                callback_fn=lambda epoch, valid_score: curve.append(float(valid_score)))
    train_s, train_cpu_s = time.perf_counter() - t1, time.process_time() - cpu1
    epochs_run = len(trainer.train_loss_dict)
    result = trainer.evaluate(test, load_best_model=best_model, show_progress=False)
# RecBole 1.2.1 masks nothing in a sequential model's full ranking (its history index is None);
# rank the test targets again without every item the user rated before the target (not only
# the 50 the sequence reads), llmrec's protocol. With one rating per user and item, that is
# every item of the user's but the target, whose score is read before the mask.
inter = dataset.inter_feat
history = torch.zeros(dataset.user_num, dataset.item_num, dtype=torch.bool)
history[inter[dataset.uid_field], inter[dataset.iid_field]] = True
history[:, 0] = True  # the padding item
hits, gains, n = 0.0, 0.0, 0
model.eval()
with torch.no_grad():
    for interaction, _, _, positive in test:
        interaction = interaction.to(config["device"])
        scores = model.full_sort_predict(interaction).view(positive.numel(), -1)
        target = scores.gather(1, positive[:, None])
        scores.masked_fill_(history[interaction[dataset.uid_field]], -float("inf"))
        rank = (scores > target).sum(1)
        hits += float((rank < 10).sum())
        gains += float(torch.where(rank < 10, 1.0 / torch.log2(rank + 2.0), 0.0).sum())
        n += positive.numel()
print("RESULT " + json.dumps({"prep_s": prep, "train_s": train_s, "train_cpu_s": train_cpu_s,
    "epochs": epochs_run,
    # RecBole keeps the later of tied epochs (>=); its validation leaves the history in
    "best_epoch": (len(curve) - curve[::-1].index(max(curve))) if curve else epochs_run,
    "valid_ndcg_unmasked": curve,
    "losses": [float(trainer.train_loss_dict[e]) for e in sorted(trainer.train_loss_dict)],
    "params": sum(p.numel() for p in model.parameters()),
    "hit@10": hits / n, "ndcg@10": gains / n,
    "hit@10_unmasked": float(result["hit@10"]), "ndcg@10_unmasked": float(result["ndcg@10"]),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load_data(args: dict[str, Any]) -> tuple[Any, Any]:
    """``(next-item split, ratings)`` for ml-100k, ``(None, ratings)`` for the synthetic set."""
    if args["mode"] == "ml100k":
        from llmrec.data.recbole import load_atomic
        from llmrec.protocols import next_item

        ratings, _ = load_atomic(args["data"])
        return next_item.build(ratings, history=50, n_candidates=2), ratings
    return None, synthetic(args["interactions"])


def with_validation(split: Any, ratings: Any) -> Any:
    """Every rating except each user's test target: RecBole's training part plus its
    validation item (ml-100k holds one rating per user and movie)."""
    target = {u: ex.gold[0] for u, ex in zip(split.dataset.user_ids, split.dataset, strict=True)}
    pairs = zip(ratings.user_id.tolist(), ratings.movie_id.tolist(), strict=True)
    keep = np.fromiter((target.get(u) != m for u, m in pairs), dtype=bool, count=len(ratings))
    return ratings.take(np.flatnonzero(keep))


def synthetic(n: int, seed: int = 0) -> Any:
    """Exactly ``n`` interactions: Zipf item popularity, lognormal user activity, one per
    user and item (repeated draws are dropped and more are drawn until there are ``n``)."""
    from llmrec.data import Ratings

    rng = np.random.default_rng(seed)
    n_users, n_items = max(100, n // 50), max(1000, n // 200)
    activity = rng.lognormal(0.0, 1.0, n_users)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.9
    pairs = np.empty(0, dtype=np.int64)
    while True:
        user = rng.choice(n_users, size=n, p=activity / activity.sum()) + 1
        item = rng.choice(n_items, size=n, p=pop / pop.sum()) + 1
        pairs = np.concatenate([pairs, user * (n_items + 1) + item])
        _, first = np.unique(pairs, return_index=True)
        if first.size >= n:
            break
    keep = np.sort(first)[:n]  # the first n distinct pairs in draw order
    user, item = pairs[keep] // (n_items + 1), pairs[keep] % (n_items + 1)
    stamp = 1_500_000_000 + rng.integers(0, 365 * 86_400, size=keep.size)
    return Ratings(user, item, np.full(keep.size, 4), stamp.astype("datetime64[s]"), time=stamp)


def score(split: Any, recs: Any, n_bootstrap: int = 1000) -> dict[str, Any]:
    """HR@10 and NDCG@10 of full-ranking next-item lists, with bootstrap intervals."""
    from llmrec.metrics import evaluate

    users = split.dataset.user_ids
    report = evaluate(
        {u: r.movie_ids for u, r in zip(users, recs, strict=True)},
        {u: set(ex.gold) for u, ex in zip(users, split.dataset, strict=True)},
        ["hit@10", "ndcg@10"],
        n_bootstrap=n_bootstrap,
    )
    return {
        "hit@10": report.means["hit@10"],
        "ndcg@10": report.means["ndcg@10"],
        "ci": {k: list(v) for k, v in report.ci.items()},
    }


def score_unmasked(model: Any, split: Any) -> dict[str, float]:
    """HR@10 and NDCG@10 of a sequential model's full ranking that leaves the history in, the
    way RecBole 1.2.1 evaluates sequential models (a target the model never saw is a miss)."""
    profiles = split.dataset.profiles
    scores = model._scores(profiles)
    gold = np.array([ex.gold[0] for ex in split.dataset], dtype=np.int64)
    cols = model.index_.columns(gold)
    rows = np.arange(len(profiles))
    known = cols >= 0
    target = np.where(known, scores[rows, np.maximum(cols, 0)], np.inf)
    rank = np.where(known, (scores > target[:, None]).sum(1), 10**9)
    gain = np.where(rank < 10, 1.0 / np.log2(np.minimum(rank, 10) + 2.0), 0.0)
    return {"hit@10_unmasked": float((rank < 10).mean()), "ndcg@10_unmasked": float(gain.mean())}


def run_child(python: str, code: str, args: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    # RecBole writes log_tensorboard/ into the working directory: keep it in the scratch folder
    scratch = Path(args["scratch"])
    scratch.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [python, "-c", code, json.dumps(args)], capture_output=True, text=True, env=env, cwd=scratch
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    raise RuntimeError(f"{python} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def classic_table(data: str) -> None:
    from llmrec.recommenders import get_recommender

    split, _ = load_data({"mode": "ml100k", "data": data})
    for name, options in [("popularity", {}), ("itemknn", {}), ("ease", {})]:
        model = get_recommender(name, **options).fit(split.fitting)
        recs = model.recommend_many(split.dataset.profiles, 10, exclude=split.exclusions())
        print(json.dumps({"backend": name, **score(split, recs)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["ml100k", "synthetic"])
    parser.add_argument("--data", default=os.environ.get("LLMREC_RECBOLE_ML100K"))
    parser.add_argument("--recbole-python", default=os.environ.get("LLMREC_RECBOLE_PYTHON"))
    parser.add_argument("--backends", nargs="+", default=["sasrec", "gru4rec"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="validate every epoch on the validation item, stop after this many epochs without "
        "a better NDCG@10 and test the best epoch (both sides); default: no validation",
    )
    parser.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam learning rate (both sides)"
    )
    parser.add_argument("--sides", nargs="+", choices=["llmrec", "recbole"], default=None)
    parser.add_argument(
        "--reuse-checkpoint",
        action="store_true",
        help="RecBole side: evaluate the newest checkpoint in --scratch (left by an earlier run "
        "with --patience) instead of training",
    )
    parser.add_argument("--all-backends", action="store_true")
    parser.add_argument("--scratch", default="/tmp/llmrec-bench-sequential")
    opts = parser.parse_args()
    if opts.mode == "ml100k" and not opts.data:
        parser.error("ml100k needs --data or LLMREC_RECBOLE_ML100K (RecBole's ml-100k folder)")
    print(machine())
    if opts.all_backends and opts.mode == "ml100k":
        classic_table(opts.data)
    sides = [("llmrec", sys.executable, _LLMREC_CHILD)]
    if opts.recbole_python and opts.mode == "ml100k":
        sides.append(("recbole", opts.recbole_python, _RECBOLE_CHILD))
    if opts.sides is not None:
        sides = [side for side in sides if side[0] in opts.sides]
    for backend in opts.backends:
        for seed in opts.seeds:
            options = {
                **(SASREC if backend == "sasrec" else GRU4REC),
                "max_length": 50,
                "epochs": opts.epochs,
                "batch_size": opts.batch_size,
                "learning_rate": opts.learning_rate,
                "patience": opts.patience,
                "seed": seed,
                "device": "cpu",
            }
            args = {
                "mode": opts.mode,
                "data": opts.data,
                "interactions": opts.interactions,
                "backend": backend,
                "options": options,
                "threads": opts.threads,
                "scratch": opts.scratch,
                "reuse_checkpoint": opts.reuse_checkpoint,
            }
            for side, python, code in sides:
                result = run_child(python, code, args)
                result["epochs_per_s"] = result["epochs"] / result["train_s"]
                print(json.dumps({"side": side, "backend": backend, "seed": seed, **result}))


if __name__ == "__main__":
    main()
