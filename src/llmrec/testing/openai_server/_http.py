"""The HTTP side of the local server: request parsing and the bytes of each response.

Built on ``http.server`` (HTTP/1.1 with keep-alive: every response carries ``Content-Length``),
multipart uploads parsed with ``email.parser.BytesParser``.

The server must add no delay of its own beyond the configured latency, or a client's measured
throughput would mix the two: a route answers at once with a :class:`Reply` whose ``not_before``
says when it may leave (arrival + latency), the handler encodes it meanwhile, and the status
line, headers and body go out in one write (one TCP segment, so the client reads it whole).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from llmrec.testing.openai_server._interface import Call, Exchange, Reply

__all__ = ["Server"]


class Server(ThreadingHTTPServer):
    """A threading HTTP server that hands each request to ``app`` and can close idle keep-alive
    connections."""

    daemon_threads = True
    app: Exchange

    def __init__(self, address: tuple[str, int], app: Exchange) -> None:
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
    """Parses a request, hands it to the app (which applies faults and auth and runs the route)
    and writes the reply."""

    protocol_version = "HTTP/1.1"
    server: Server
    arrived: float = 0.0  # time.monotonic() when the current request line was read

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

    def parse_request(self) -> bool:
        """Note the arrival time (the request line has just been read) before the headers are
        parsed, so header parsing counts inside the simulated latency, not on top of it."""
        self.arrived = time.monotonic()
        return super().parse_request()

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
        received = self.arrived
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
            received=received,
        )
        seq = app.record(call)
        reply = app.respond(call)
        if reply is None:  # drop: hang up without answering
            self.close_connection = True
            return
        packet = self._encode(reply)
        if reply.not_before is not None:
            pause = reply.not_before - time.monotonic()
            if pause > 0:
                app.pause(pause)
        app.set_status(seq, reply.status)
        try:
            self.wfile.write(packet)
        except OSError:  # the client gave up (timeout) or hung up
            self.close_connection = True

    def _encode(self, reply: Reply) -> bytes:
        """Status line, headers and body of ``reply`` as the bytes of one write."""
        if isinstance(reply.payload, bytes):
            data, ctype = reply.payload, "application/octet-stream"
        else:
            data, ctype = json.dumps(reply.payload).encode(), "application/json"
        phrase = self.responses.get(reply.status, ("",))[0]
        lines = [
            f"{self.protocol_version} {reply.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {ctype}",
            f"Content-Length: {len(data)}",
            f"x-request-id: req_{uuid.uuid4().hex}",
            "openai-organization: llmrec-local",
            *(f"{key}: {value}" for key, value in (reply.headers or {}).items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict") + data
