"""vLLM's ``prompt_logprobs`` as its OpenAI-compatible server answers them, served by the local
server and read by the transport: the shape of ``ChatCompletionResponse.prompt_logprobs``
(``list[dict[int, Logprob] | None]``, each position built as vLLM's ``_make_logprob_dict``:
the prompt token first with its vocabulary rank, then the top ``k`` with ranks 1..k), and the
``decoded_token`` spellings vLLM releases differ on (raw vocabulary pieces, split bytes)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmrec.errors import BackendError
from llmrec.recommenders.llm.transports.base import ScoreTask
from llmrec.recommenders.llm.transports.logprobs import read_scores
from llmrec.testing import LocalOpenAIServer
from llmrec.testing.openai_server import hashed_logprob, prompt_tokens


@pytest.mark.parametrize("k", [0, 1, 3])
def test_the_local_server_answers_prompt_logprobs_as_vllm(k: int) -> None:
    from openai import OpenAI

    messages = [
        {"role": "user", "content": "Rank these movies."},
        {"role": "assistant", "content": "1. Heat (1995)"},
    ]
    extra = {"prompt_logprobs": k, "continue_final_message": True, "add_generation_prompt": False}
    with LocalOpenAIServer(lambda body: "", prompt_logprob=hashed_logprob) as srv:
        client = OpenAI(base_url=srv.base_url, api_key="test")
        response = client.chat.completions.create(
            model="m", messages=messages, max_tokens=1, extra_body=extra
        )
    positions = (response.model_extra or {})["prompt_logprobs"]
    tokens = prompt_tokens({"messages": messages, "continue_final_message": True})
    assert len(positions) == len(tokens) and positions[0] is None
    for i, entry in enumerate(positions[1:], 1):
        assert all(key.isdigit() for key in entry)  # dict[int, Logprob] as JSON writes it
        values = list(entry.values())
        own = values[0]  # the prompt's own token comes first
        assert own["decoded_token"] == tokens[i]
        assert own["logprob"] == hashed_logprob(tokens[i], i)
        assert set(own) == {"logprob", "rank", "decoded_token"}
        listed = sorted(values, key=lambda v: v["rank"])
        if own["rank"] <= k:  # among the top k: listed once
            assert len(values) == k
        else:
            assert len(values) == k + 1
        assert [v["rank"] for v in listed if v is not own or own["rank"] <= k][:k] == list(
            range(1, k + 1)
        )
        ranked = [v["logprob"] for v in listed]
        assert ranked == sorted(ranked, reverse=True)
        assert sum(math.exp(v["logprob"]) for v in values) <= 1 + 1e-9


def _response(pieces: list[tuple[str, float]]) -> dict[str, object]:
    """Positions as vLLM writes them with ``prompt_logprobs: 1``, keys sorted (as a cache that
    writes sorted JSON leaves them): a token above -0.2 is the most likely one (alone), any
    other comes with the rank-1 token ``" the"``."""
    positions: list[object] = [None]
    for i, (piece, logprob) in enumerate(pieces, 1):
        if logprob > -0.2:
            entry = {str(1000 + i): {"logprob": logprob, "rank": 1, "decoded_token": piece}}
        else:
            entry = {
                str(1000 + i): {"logprob": logprob, "rank": 7, "decoded_token": piece},
                "5": {"logprob": -0.1, "rank": 1, "decoded_token": " the"},
            }
        positions.append(dict(sorted(entry.items())))
    return {"prompt_logprobs": positions}


HEADER = [("<|user|>", -1.0), ("\n", -0.1), ("Rank", -2.0), ("<|assistant|>", -0.3), ("\n", -0.2)]


@pytest.mark.parametrize(
    "pieces",
    [
        [("1", -0.5), (".", -0.25), (" Am", -0.125), ("élie", -0.75)],  # decode([id]) spelling
        [("1", -0.5), (".", -0.25), ("ĠAm", -0.125), ("Ã©lie", -0.75)],  # raw BPE pieces
        [("1", -0.5), (".", -0.25), ("▁Am", -0.125), ("\ufffd", -0.5), ("\ufffdlie", -0.25)],
    ],
)
def test_the_answer_is_found_however_its_tokens_are_spelled(
    pieces: list[tuple[str, float]],
) -> None:
    got = read_scores(ScoreTask("continuation", ("1. Amélie",)), _response(HEADER + pieces), "s")
    assert got == [(sum(lp for _, lp in pieces), len(pieces))]


def test_a_position_with_two_rank_1_tokens_is_an_error() -> None:
    two = {"1": {"logprob": -0.1, "rank": 1, "decoded_token": "1"}}
    two["2"] = {"logprob": -0.2, "rank": 1, "decoded_token": "2"}
    with pytest.raises(BackendError, match=r"ranks \[1, 1\]"):
        read_scores(ScoreTask("continuation", ("1",)), {"prompt_logprobs": [None, two]}, "s")


def test_a_prompt_that_does_not_end_with_the_answer_is_an_error() -> None:
    pieces = [("1", -0.5), (".", -0.25), (" Heat", -0.125)]
    with pytest.raises(BackendError, match=r"not the answer '1\. Amélie'"):
        read_scores(ScoreTask("continuation", ("1. Amélie",)), _response(HEADER + pieces), "s")


@given(st.lists(st.sampled_from(["1", ".", " Heat", " (", "19", "95", ")", "é"]), min_size=1))
def test_any_split_of_the_answer_is_read_whole(split: list[str]) -> None:
    answer = "".join(split)
    if not answer[0].isascii() or not answer.strip() or not answer[0].strip():
        return
    pieces = [(p, -0.5 * (i + 1)) for i, p in enumerate(split)]
    got = read_scores(ScoreTask("continuation", (answer,)), _response(HEADER + pieces), "s")
    assert got[0][1] == len(pieces)
    assert got[0][0] == pytest.approx(sum(lp for _, lp in pieces))
