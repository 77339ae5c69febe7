"""Training-step cost of llmrec's SASRec / GRU4Rec against RecBole 1.2.1's, on one machine.

A whole-epoch comparison (``bench_sequential.py ml100k``) needs minutes of CPU per epoch; this
one times single Adam steps of the two networks on the same batches of ml-100k's shape (1,682
items, ``--batch-size`` sequences of up to 50 items, cross-entropy over all items), so it fits
on a loaded machine: CPU seconds per step (``time.process_time``, which the machine's load
does not inflate as it does wall time) and the process's peak resident memory. Run it with the
Python that has RecBole (its NumPy 2 shims are set below), once per side::

    /path/to/recbole-venv/bin/python benchmarks/bench_sequential_steps.py sasrec llmrec
    /path/to/recbole-venv/bin/python benchmarks/bench_sequential_steps.py sasrec recbole

llmrec's network modules import only torch, so they are loaded from ``src/`` by path.
Per epoch on ml-100k (98,083 training examples at batch 2048) is 48 steps.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

SRC = Path(__file__).resolve().parent.parent / "src" / "llmrec" / "recommenders" / "sequential"


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, SRC / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _recbole(model: str, n_items: int, max_length: int) -> Any:
    for name, value in {
        "float": float,
        "int": int,
        "long": np.int64,
        "bool": bool,
        "object": object,
        "str": str,
        "complex": complex,
        "unicode": str,
        "float_": np.float64,
        "complex_": np.complex128,
        "unicode_": np.str_,
    }.items():
        if name not in np.__dict__:
            setattr(np, name, value)
    import torch
    from recbole.model.sequential_recommender import GRU4Rec, SASRec

    class Dataset:  # what SequentialRecommender.__init__ reads
        def num(self, field: str) -> int:
            return n_items + 1

    config = {
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "LIST_SUFFIX": "_list",
        "ITEM_LIST_LENGTH_FIELD": "item_length",
        "NEG_PREFIX": "neg_",
        "MAX_ITEM_LIST_LENGTH": max_length,
        "device": torch.device("cpu"),
        "loss_type": "CE",
        "n_layers": 2,
        "n_heads": 2,
        "hidden_size": 64,
        "inner_size": 256,
        "hidden_dropout_prob": 0.5,
        "attn_dropout_prob": 0.5,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-12,
        "initializer_range": 0.02,
        "embedding_size": 64,
        "num_layers": 1,
        "dropout_prob": 0.3,
    }
    if model == "gru4rec":
        config["hidden_size"] = 128
    return (SASRec if model == "sasrec" else GRU4Rec)(config, Dataset())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["sasrec", "gru4rec"])
    parser.add_argument("side", choices=["llmrec", "recbole"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args()
    import torch

    torch.set_num_threads(opts.threads)
    torch.manual_seed(0)
    n_items, max_length = 1682, 50
    if opts.side == "recbole":
        net = _recbole(opts.model, n_items, max_length)
        from recbole.data.interaction import Interaction
    elif opts.model == "sasrec":
        net = _load("_sasrec").SASRec(n_items, max_length, 64, 2, 2, 256, 0.5)
    else:
        net = _load("_gru4rec").GRU4Rec(n_items, 64, 128, 1, 0.3)
    net.train()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    # ml-100k's training prefixes: most are full (users have 20-737 ratings), some shorter
    cpu, wall = [], []
    for _ in range(opts.steps):
        lengths = np.minimum(rng.integers(1, 120, opts.batch_size), max_length)
        seqs = rng.integers(1, n_items + 1, (opts.batch_size, max_length))
        seqs[np.arange(max_length)[None, :] >= lengths[:, None]] = 0
        targets = rng.integers(1, n_items + 1, opts.batch_size)
        s, n, t = (torch.from_numpy(a.astype(np.int64)) for a in (seqs, lengths, targets))
        c0, w0 = time.process_time(), time.perf_counter()
        if opts.side == "recbole":
            loss = net.calculate_loss(
                Interaction({"item_id_list": s, "item_length": n, "item_id": t})
            )
        else:
            loss = torch.nn.functional.cross_entropy(net.logits(net(s, n)), t - 1)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    print(
        json.dumps(
            {
                "model": opts.model,
                "side": opts.side,
                "steps": opts.steps,
                "batch_size": opts.batch_size,
                "threads": opts.threads,
                "cpu_s_per_step": statistics.median(cpu[1:]),
                "wall_s_per_step": statistics.median(wall[1:]),
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "torch": torch.__version__,
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
