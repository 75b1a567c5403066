"""Local receivers for the alert channels: an HTTP server and an SMTP server, on free ports."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class WebhookReceiver:
    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A stdlib HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/alerts", bodies=received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class SmtpReceiver:
    url: str
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """aiosmtpd's real SMTP server on 127.0.0.1, keeping every message it is sent."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    receiver = SmtpReceiver(url=f"smtp://127.0.0.1:{port}")

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            receiver.messages.append(message_from_bytes(envelope.content))
            receiver.recipients.append(list(envelope.rcpt_tos))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
