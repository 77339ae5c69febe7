"""The HTTP side of the local server: request parsing, routing and OpenAI-style responses.

Built on ``http.server`` (HTTP/1.1 with keep-alive: every response carries ``Content-Length``),
multipart uploads parsed with ``email.parser.BytesParser``.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from llmrec.testing._server_state import APIError

if TYPE_CHECKING:
    from llmrec.testing.server import LocalOpenAIServer

__all__ = ["Reply", "Server", "parse_multipart"]


@dataclass
class Reply:
    """What a route answers: a status and JSON (a dict) or raw bytes."""

    status: int
    payload: dict[str, Any] | bytes
    headers: dict[str, str] | None = None


@dataclass
class Call:
    """One parsed request as the route functions see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    json: Any


Route = Callable[["LocalOpenAIServer", Call, "re.Match[str]"], Reply]


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``{field name: (file name or None, bytes)}`` from a ``multipart/form-data`` body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise APIError(400, "expected a multipart/form-data body")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        fields[name] = (part.get_filename(), data if isinstance(data, bytes) else b"")
    return fields


class Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its app and can close idle keep-alive connections."""

    daemon_threads = True
    app: LocalOpenAIServer

    def __init__(self, address: tuple[str, int], app: LocalOpenAIServer) -> None:
        self.app = app
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, Handler)

    def close_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that hung up (timeouts, dropped connections) is expected."""


class Handler(BaseHTTPRequestHandler):
    """Parses a request, applies the app's fault plan and auth, and runs its route."""

    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out as two writes: without NODELAY, delayed ACKs add ~40 ms each
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: tests stay quiet and keys never reach a log."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, method: str) -> None:
        app = self.server.app
        parts = urlsplit(self.path)
        raw = self._read_body()
        ctype = self.headers.get("Content-Type", "")
        parsed: Any = None
        if raw and "multipart/" not in ctype:
            try:
                parsed = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                parsed = None
        call = Call(
            method=method,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers=dict(self.headers.items()),
            raw=raw,
            json=parsed,
        )
        seq = app._record(call)
        reply = app._respond(call)
        if reply is None:  # drop: hang up without answering
            self.close_connection = True
            return
        app._set_status(seq, reply.status)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        if isinstance(reply.payload, bytes):
            data, ctype = reply.payload, "application/octet-stream"
        else:
            data, ctype = json.dumps(reply.payload).encode(), "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_{uuid.uuid4().hex}")
            self.send_header("openai-organization", "llmrec-local")
            for key, value in (reply.headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timeout) or hung up
            self.close_connection = True
