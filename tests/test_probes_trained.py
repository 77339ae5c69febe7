"""A tiny random-weight model trained on a catalog's item lines (the probe's own chat file)
recalls them through the ``transformers`` backend; the untrained model does not; and the
trained model recalls nothing of the synthetic catalog (the probe's floor)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="local models need the [train] extra")
pytest.importorskip("trl", reason="local models need the [train] extra")

from llmrec.data.ratings import Ratings
from llmrec.probes import MemorisationProbe
from llmrec.recommenders import get_recommender
from llmrec.testing.tiny_model import build_tiny_model, tiny_dataset

pytestmark = pytest.mark.slow

N_MOVIES = 60
# Full fine-tuning at a constant rate; memorising 60 arbitrary id -> title pairs takes about
# 300 optimizer steps of 8 short examples (the tiny model then writes 58 of the 60 titles).
TRAIN = {
    "method": "full",
    "learning_rate": 2e-3,
    "lr_scheduler": "constant",
    "warmup_ratio": 0.0,
    "batch_size": 8,
    "per_device_batch_size": 8,
    "epochs": 40,
    "save_steps": 10_000,
}


@pytest.fixture(scope="module")
def private_dir() -> Iterator[Path]:
    """A folder of our own (pytest's shared basetemp may be pruned by other processes)."""
    folder = Path(tempfile.mkdtemp(prefix="llmrec-probe-tests-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _ratings(n_movies: int) -> Ratings:
    """Movie m rated by 120 // m users: a long tail over the catalog."""
    movies = np.repeat(
        np.arange(1, n_movies + 1), [max(1, 120 // m) for m in range(1, n_movies + 1)]
    )
    users = np.arange(movies.size)
    return Ratings(users, movies, np.full(movies.size, 4), np.zeros(movies.size, "M8[D]"))


def _backend(model: Path, cache: Path):
    return get_recommender(
        "transformers",
        model=str(model),
        device="cpu",
        batch_size=32,
        max_new_tokens=24,
        cache=cache,
    )


def test_a_model_trained_on_the_item_lines_recalls_them(private_dir: Path) -> None:
    from llmrec.finetune.local import LocalTrainConfig, train_local

    catalog, _ = tiny_dataset(4, N_MOVIES, seed=1)
    probe = MemorisationProbe(kind="item_lines")
    chat = probe.write_chat(catalog, private_dir / "item-lines.jsonl")
    examples = [json.loads(line)["messages"] for line in chat.read_text("utf-8").splitlines()]
    # the tokenizer learns the item lines (the system message once)
    texts = [m[1]["content"] + m[2]["content"] for m in examples] + [examples[0][0]["content"]]
    base = build_tiny_model(private_dir / "tiny", catalog, extra_texts=texts)
    trained = private_dir / "trained"
    train_local(chat, str(base), trained, config=LocalTrainConfig(**TRAIN), progress=False)

    ratings = _ratings(N_MOVIES)
    cache = private_dir / "responses.sqlite"
    knows = probe.run(_backend(trained, cache), catalog, ratings)
    blank = probe.run(_backend(base, cache), catalog, ratings)

    assert knows.total.n == blank.total.n == N_MOVIES
    assert knows.recall >= 0.9 and knows.resolved_recall >= knows.recall
    assert blank.recall <= 0.02 and blank.resolved_recall <= 0.02
    for report in (knows, blank):
        buckets = report.by_bucket.values()
        assert [b.name for b in buckets] == ["head", "torso", "tail"]
        assert sum(b.n for b in buckets) == report.total.n
        assert sum(b.exact for b in buckets) == report.total.exact
        assert sum(b.resolved for b in buckets) == report.total.resolved
        assert all(r.cost_usd == 0.0 for r in report.rows)

    # The same weights on invented titles: nothing to recall, whatever the model knows.
    floor = probe.calibrate(_backend(trained, cache), n_movies=N_MOVIES)
    assert floor.recall <= 0.1
    # A rerun is served from the response cache.
    again = probe.run(_backend(trained, cache), catalog, ratings)
    assert all(r.cached for r in again.rows) and again.recall == knows.recall
