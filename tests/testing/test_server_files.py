"""Files: multipart upload, download, listing with pagination, deletion."""

from __future__ import annotations

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmrec.testing import LocalOpenAIServer


def test_upload_then_download_gives_the_same_bytes(
    server: LocalOpenAIServer, client: openai.OpenAI
) -> None:
    content = b'{"a": 1}\r\n{"b": "\xc3\xa9t\xc3\xa9"}\n\n--boundary-like--\n'
    uploaded = client.files.create(file=("train.jsonl", content), purpose="fine-tune")
    assert uploaded.object == "file" and uploaded.id.startswith("file-")
    assert (uploaded.filename, uploaded.purpose, uploaded.bytes) == (
        "train.jsonl",
        "fine-tune",
        len(content),
    )
    assert client.files.retrieve(uploaded.id).bytes == len(content)
    assert client.files.content(uploaded.id).read() == content
    assert server.file_content(uploaded.id) == content
    assert server.files[uploaded.id]["filename"] == "train.jsonl"
    upload_request = server.requests[0]
    assert upload_request.path == "/v1/files" and isinstance(upload_request.body, bytes)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=3000))
def test_any_bytes_survive_the_multipart_round_trip(client: openai.OpenAI, content: bytes) -> None:
    uploaded = client.files.create(file=("x.jsonl", content), purpose="batch")
    assert client.files.content(uploaded.id).read() == content


def test_unknown_purpose_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.files.create(file=("x.txt", b"x"), purpose="assistants")


def test_listing_filters_by_purpose_and_pages_newest_first(client: openai.OpenAI) -> None:
    ids = [
        client.files.create(
            file=(f"f{i}.jsonl", b"x"), purpose="batch" if i % 2 else "fine-tune"
        ).id
        for i in range(5)
    ]
    first = client.files.list(limit=2)
    assert [f.id for f in first.data] == [ids[4], ids[3]]
    assert first.has_more
    everything = [f.id for f in client.files.list(limit=2)]  # the SDK follows the cursor
    assert everything == ids[::-1]
    assert [f.id for f in client.files.list(purpose="batch")] == [ids[3], ids[1]]
    ascending = client.files.list(order="asc")
    assert [f.id for f in ascending.data] == ids


def test_delete_removes_the_file(client: openai.OpenAI) -> None:
    uploaded = client.files.create(file=("x.jsonl", b"x"), purpose="batch")
    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted and deleted.id == uploaded.id
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(uploaded.id)
