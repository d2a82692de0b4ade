"""The browser's way in: the page's static files over HTTP and a WebSocket bridged to the session's hub.

Each binary WebSocket frame is one OSC packet, byte for byte what a UDP datagram would carry, so the
page speaks the protocol of docs/protocol.md and the server side adds no protocol logic: frames are
parsed by `jaxaccomp.protocol.parse` and handed to the same `Hub` (and so the same `Session`,
batching, timeline and compiled engine) as the UDP server's datagrams; replies come back as frames.

Security, as for the UDP server:
  - it listens where serve.py is told (127.0.0.1 unless `--host` says otherwise);
  - a request whose Host is not this server's name is refused (no DNS rebinding), and the WebSocket
    only opens to a page of the same origin (the `Origin` header must be this server's);
  - only the files of the page, read from the package when the server starts, are served, by exact
    name: nothing a request says becomes a path;
  - a frame over the largest UDP datagram, a text frame or a malformed packet is one log line and
    dropped; a frame over MAX_FRAME closes that connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from importlib import resources

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from jaxaccomp.protocol import MAX_DATAGRAM, Ready, WireError, parse
from jaxaccomp.server.hub import Hub
from jaxaccomp.server.udp import bind

SOCKET_PATH = "/ws"
MAX_FRAME = 1 << 20  # bytes: beyond this websockets closes the connection (1009) instead of reading it
BACKLOG = 16
TRY_AGAIN_LATER = 1013  # WebSocket close code: the server is busy with another client
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
# The page loads only its own files and talks only to its own server.
POLICY = ("default-src 'self'; connect-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; "
          "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def page_files() -> dict[str, tuple[bytes, str]]:
    """The page's files by URL path ("/" is index.html): every file of `jaxaccomp/web` with a known type."""
    files: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("jaxaccomp").joinpath("web").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in CONTENT_TYPES:
            files["/" + entry.name] = (entry.read_bytes(), CONTENT_TYPES[suffix])
    files["/"] = files["/index.html"]
    return files


def listen_tcp(host: str, port: int) -> socket.socket:
    """The page's listening socket on (host, port); a one-line ValueError if it cannot be bound.

    serve.py binds it before loading the model, as it does the UDP port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    bind(sock, host, port, "cannot serve the web page on").listen(BACKLOG)
    return sock


def allowed_host(value: str | None, bound: str, port: int) -> bool:
    """Whether a request's Host header names this server: 127.0.0.1 or localhost, the address it is
    bound to, or, when bound to every interface, any IP address; always with its port."""
    if value is None or not value.endswith(f":{port}"):
        return False
    name = value[: -len(f":{port}")]
    if name in ("127.0.0.1", "localhost", bound):
        return True
    if bound == "0.0.0.0":
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return False
        return True
    return False


class WebPeer:
    """A browser tab: datagrams from any thread are queued on the event loop and sent in order as frames."""

    def __init__(self, connection: ServerConnection, loop: asyncio.AbstractEventLoop):
        host, port = connection.remote_address[:2]
        self.name = f"a browser tab at {host}:{port}"
        self._connection, self._loop = connection, loop
        self._queue: asyncio.Queue[list[bytes]] = asyncio.Queue()

    def send(self, datagrams: list[bytes]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, datagrams)
        except RuntimeError:  # the loop has closed: the server is stopping
            pass

    async def run(self) -> None:
        """Send what is queued until the connection closes."""
        try:
            while True:
                for data in await self._queue.get():
                    await self._connection.send(data)
        except ConnectionClosed:
            pass


class WebBridge:
    """Serve the page and its WebSocket on `sock` (from `listen_tcp`) in a thread; `start`, then `stop`."""

    def __init__(self, hub: Hub, sock: socket.socket, log: Callable[[str], None] = print):
        self._hub, self._sock, self._log = hub, sock, log
        self._files = page_files()
        self.host, self.port = sock.getsockname()[:2]
        self.malformed = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="web", daemon=True)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        self._thread.start()
        self._started.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    async def _main(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        async with serve(self._connected, sock=self._sock, process_request=self._request, max_size=MAX_FRAME,
                         compression=None, server_header=None):
            self._started.set()
            await self._stopping.wait()

    def _request(self, connection: ServerConnection, request: Request) -> Response | None:
        """The page's files, or None to open the WebSocket; refusals as plain text."""
        host = request.headers.get("Host")
        if not allowed_host(host, self.host, self.port):
            return connection.respond(HTTPStatus.FORBIDDEN, "this server does not answer to that Host\n")
        path = request.path.split("?", 1)[0]
        if path == SOCKET_PATH:
            if request.headers.get("Origin") != f"http://{host}":
                self._log(f"refused a WebSocket from origin {request.headers.get('Origin')!r}: not this server's page")
                return connection.respond(HTTPStatus.FORBIDDEN, "only this server's own page may connect\n")
            return None
        if path not in self._files:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        body, content_type = self._files[path]
        headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                           ("Content-Security-Policy", POLICY), ("Connection", "close")])
        return Response(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, body)

    async def _connected(self, connection: ServerConnection) -> None:
        peer = WebPeer(connection, asyncio.get_running_loop())
        reason = self._hub.connect(peer, time.monotonic())
        if reason is not None:
            self._log(f"turned away {peer.name}: {reason}")
            await connection.close(TRY_AGAIN_LATER, reason[:120])  # a close reason holds 123 bytes
            return
        self._log(f"{peer.name} connected")
        sender = asyncio.create_task(peer.run())
        peer.send([Ready().encode()])
        try:
            async for frame in connection:
                self._frame(peer, frame)
        except ConnectionClosed:
            pass
        finally:
            self._hub.disconnect(peer)
            sender.cancel()
            self._log(f"{peer.name} left")

    def _frame(self, peer: WebPeer, frame: str | bytes) -> None:
        if isinstance(frame, str):
            self.malformed += 1
            self._log(f"dropped a text frame from {peer.name}: the page sends OSC packets as binary frames")
            return
        if len(frame) > MAX_DATAGRAM:
            self.malformed += 1
            self._log(f"dropped a frame of {len(frame)} bytes from {peer.name}: at most {MAX_DATAGRAM}")
            return
        try:
            message = parse(frame)
        except WireError as exc:
            self.malformed += 1
            self._log(f"dropped a malformed frame from {peer.name}: {exc}")
            return
        self._hub.deliver(peer, message, time.monotonic())
