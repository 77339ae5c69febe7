"""The language-model pipeline: one instance shared by threads, and the transport contract."""

from __future__ import annotations

import threading
from pathlib import Path

from llmrec.recommenders.capabilities import LanguageModelBackend, RunSettings
from llmrec.recommenders.llm.transports.base import DEFERRED, STRUCTURED_OUTPUT
from llmrec.recommenders.llm.transports.openai_batch import OpenAIBatchTransport
from llmrec.recommenders.llm.transports.openai_chat import OpenAIChatTransport
from llmrec.recommenders.openai import OpenAIRecommender
from llmrec.testing.server import LocalOpenAIServer

from .test_openai import CATALOG, PROFILES, RATINGS, SECRET, fake_model


def test_one_instance_serves_several_threads(tmp_path: Path) -> None:
    with LocalOpenAIServer(chat=fake_model) as srv:
        rec = OpenAIRecommender(
            base_url=srv.base_url, api_key=SECRET, cache_mode="off", max_concurrency=3
        ).fit(RATINGS, CATALOG)
        alone = [list(r.movie_ids) for r in rec.recommend_many(PROFILES, k=4)]
        got: dict[int, list[list[int]]] = {}

        def work(i: int) -> None:
            profiles = PROFILES[i:] + PROFILES[:i]
            recs = rec.recommend_many(profiles, k=4, progress=i % 2 == 0)
            got[i] = [list(r.movie_ids) for r in recs]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, lists in got.items():
            assert lists == alone[i:] + alone[:i]
        assert not hasattr(rec, "_show_progress")
        rec.close()


def test_the_backend_implements_the_protocol_and_picks_its_transport(tmp_path: Path) -> None:
    rec = OpenAIRecommender(model="m-1", cache=tmp_path / "c.sqlite").fit(RATINGS, CATALOG)
    assert isinstance(rec, LanguageModelBackend)
    assert isinstance(rec.transport(), OpenAIChatTransport)
    assert STRUCTURED_OUTPUT in rec.transport().capabilities
    batch = OpenAIRecommender(model="m-1", batch=True).fit(RATINGS, CATALOG)
    assert isinstance(batch.transport(), OpenAIBatchTransport)
    assert DEFERRED in batch.transport().capabilities
    copy = rec.with_model("m-2").with_run_settings(
        RunSettings(base_url="http://127.0.0.1:9/v1", keyless_server=True)
    )
    assert copy.model_id == "m-2" and not copy.is_fitted
    assert copy.config.base_url == "http://127.0.0.1:9/v1" and copy.config.api_key_optional
    assert copy.config.cache == tmp_path / "c.sqlite"  # its own setting wins
    assert copy.credentials().present
    assert not rec.credentials().present and rec.credentials().names == ("OPENAI_API_KEY",)
