#!/usr/bin/python3
"""A real WebSocket peer for the interop tests: Python `websockets`, Debian's python3-websockets 10.4.

Owns the Python side of the test harness (see README.md beside this file). Run it with /usr/bin/python3
(Debian's interpreter, which has python3-websockets; a python3 elsewhere on PATH may not). It uses the
legacy asyncio API of websockets 10.4, which assembles every received message in memory (so an upload of
N bytes costs this process about 2 * N bytes of RAM), and sends a fragmented message from an async
iterable, with the socket's backpressure (a `drain` per frame).

    python_peer.py server [--protocols a,b] [--deflate] [--ping SECONDS]
        Listens on 127.0.0.1, an ephemeral port; prints `PORT <n>` once listening. Until SIGTERM/SIGINT:
        /echo                   echoes every message back with the same type
        /download/<N>/<seed>    sends ONE binary message of the N-byte pattern in fragments of random sizes,
                                prints `SHA256 <hex>` once sent, waits for the close, prints `CLOSE ...`
                                (only `CLOSE ...` if the connection closed before the message was sent)
        /upload                 hashes the payload of every complete message (text as UTF-8) until the close, then prints
                                `UPLOAD <bytes> <hex>` and `CLOSE <code> <reason>`
        /close/<code>           closes at once with <code> and reason "bye", then prints `CLOSE ...`
        /protocol               sends the negotiated subprotocol (or "none") as a text message, waits
        /split-text[/<R>/<S>[/<MS>]]  sends ONE text message, split_text(R) (default R = 50), in frames of
                                S bytes (default 3) that cut through multi-byte characters, pausing MS
                                milliseconds after each frame but the last (default 0), then waits
        anything else           HTTP 404 on the upgrade request
    python_peer.py client <url> upload <N> <seed>   one binary message in random fragments; prints
                                                     `SHA256 <hex>`, closes with 1000, prints `CLOSE ...`
    python_peer.py client <url> download            receives one message; prints `DOWNLOAD <bytes> <hex>`,
                                                     closes with 1000, prints `CLOSE ...`
    python_peer.py client <url> echo <text>         sends <text>; prints `ECHO <received>`, closes, `CLOSE ...`
    python_peer.py client <url> protocol            prints `PROTOCOL <negotiated or none>`, closes, `CLOSE ...`
    python_peer.py client <url> split-text [<R> <S> [<MS>]]  sends split_text(R) as ONE text message in
                                                     frames of S bytes, MS ms apart (defaults 50, 3, 0); prints
                                                     `ECHO <received>`, closes, `CLOSE ...`
        Client options: --protocols a,b  --deflate.  Exit code 0 on success. On failure: a message on
        stderr, `STATUS <http status>` on stdout if the upgrade was refused, `CLOSE <code> <reason>` on
        stdout if the connection had opened, and exit code 1.

`CLOSE <code> <reason>` is the close code and reason this peer RECEIVED (1006 and an empty reason when the
connection was lost without a close frame); an empty reason leaves a trailing space after the code.
permessage-deflate is off unless --deflate is given; keep-alive pings are off unless --ping is given.

The pattern (the same bytes as pattern.ts; see README.md): with BLOCK = 1 MiB, base = the first BLOCK
bytes of SHAKE256(b"stream-websocket pattern v1 seed=" + UTF-8(seed)); block k is base with its first 8
bytes XOR'ed with k as an unsigned 64-bit little-endian integer; pattern(N, seed) is the first N bytes of
block 0 || block 1 || block 2 || ... Fragment sizes are log-uniform between 1 byte and 1 MiB, drawn from
random.Random("fragments:" + seed) (they need not match the Node peer's: only the bytes are checked).

split_text(R) is "aé€😀z" repeated R times: 11 UTF-8 bytes per repeat (1 + 2 + 3 + 4 + 1), so frames of 3
bytes (or any size prime to 11) cut every multi-byte character at every possible place. Its frames are
written one by one with the protocol's frame writer (a str given to send() is encoded fragment by
fragment, which could never split a code point).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http
import logging
import random
import signal
import sys
from typing import AsyncIterator, Iterator, Optional, Sequence

import websockets
from websockets.exceptions import ConnectionClosed, InvalidState, InvalidStatusCode
from websockets.frames import OP_CONT, OP_TEXT
from websockets.legacy.protocol import WebSocketCommonProtocol
from websockets.legacy.server import WebSocketServerProtocol

BLOCK = 1 << 20
PATTERN_PREFIX = b"stream-websocket pattern v1 seed="
HIGH_WATER = 1 << 20  # write buffer high-water mark for both sides (the library's default is 64 KiB)


def out(line: str) -> None:
    print(line, flush=True)


class PatternStream:
    """Reads the pattern of N bytes for a seed, front to back, in pieces of any size."""

    def __init__(self, size: int, seed: str) -> None:
        self.remaining = size
        self.base = hashlib.shake_256(PATTERN_PREFIX + seed.encode("utf-8")).digest(BLOCK)
        self.head = int.from_bytes(self.base[:8], "little")
        self.index = 0
        self.block = b""
        self.offset = 0

    def _next_block(self) -> None:
        block = bytearray(self.base)
        block[:8] = ((self.head ^ self.index) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
        self.block = bytes(block)
        self.index += 1
        self.offset = 0

    def read(self, size: int) -> bytes:
        size = min(size, self.remaining)
        pieces = []
        wanted = size
        while wanted > 0:
            if self.offset == len(self.block):
                self._next_block()
            take = min(wanted, len(self.block) - self.offset)
            pieces.append(self.block[self.offset : self.offset + take])
            self.offset += take
            wanted -= take
        self.remaining -= size
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def fragment_sizes(seed: str) -> Iterator[int]:
    rng = random.Random("fragments:" + seed)
    while True:
        yield max(1, min(BLOCK, int(2 ** (rng.random() * 20))))


async def pattern_fragments(size: int, seed: str, digest: "hashlib._Hash") -> AsyncIterator[bytes]:
    stream = PatternStream(size, seed)
    for fragment_size in fragment_sizes(seed):
        if stream.remaining == 0:
            return
        chunk = stream.read(fragment_size)
        digest.update(chunk)
        yield chunk


async def send_pattern(ws: WebSocketCommonProtocol, size: int, seed: str) -> str:
    """Sends ONE binary message of the pattern, in fragments; returns the sha256 of what was sent."""
    digest = hashlib.sha256()
    if size == 0:
        # An empty async iterable sends nothing at all in websockets 10.4: send one empty message.
        await ws.send(b"")
    else:
        await ws.send(pattern_fragments(size, seed, digest))
    return digest.hexdigest()


SPLIT_UNIT = "aé€😀z"
SPLIT_REPEAT = 50
SPLIT_STEP = 3


def split_text(repeat: int) -> str:
    return SPLIT_UNIT * repeat


async def send_split_text(ws: WebSocketCommonProtocol, repeat: int, step: int, pause_ms: int = 0) -> None:
    """Sends split_text(repeat) as ONE text message whose frames carry `step` bytes each (the last fewer),
    `pause_ms` apart (a pause puts each frame in a TCP segment of its own: the socket has TCP_NODELAY)."""
    if step < 1:
        raise ValueError("the frame size must be at least 1 byte")
    data = split_text(repeat).encode("utf-8")
    offsets = list(range(0, len(data), step)) or [0]
    for i, offset in enumerate(offsets):
        fin = i == len(offsets) - 1
        await ws.write_frame(fin, OP_TEXT if i == 0 else OP_CONT, data[offset : offset + step])
        if pause_ms > 0 and not fin:
            await asyncio.sleep(pause_ms / 1000)


def split_args(values: Sequence[str]) -> tuple:
    """<R> <S> [<MS>] (path segments or command line), or the defaults without them."""
    if len(values) == 0:
        return SPLIT_REPEAT, SPLIT_STEP, 0
    if len(values) in (2, 3) and all(v.isdigit() for v in values):
        return int(values[0]), int(values[1]), int(values[2]) if len(values) == 3 else 0
    raise ValueError(f"split-text takes <repeat> <step> [<pause ms>] or nothing, not {list(values)!r}")


def close_line(ws: WebSocketCommonProtocol) -> str:
    code = ws.close_code if ws.close_code is not None else 1006
    return f"CLOSE {code} {ws.close_reason or ''}"


# ---------------------------------------------------------------------------------------------- server


async def handle(ws: WebSocketServerProtocol) -> None:
    parts = ws.path.split("?", 1)[0].strip("/").split("/")
    try:
        if parts == ["echo"]:
            async for message in ws:
                await ws.send(message)
        elif parts[0] == "download" and len(parts) == 3:
            try:
                out(f"SHA256 {await send_pattern(ws, int(parts[1]), parts[2])}")
            except (ConnectionClosed, InvalidState):
                pass  # closed by the client before the end: still report how
            await ws.wait_closed()
            out(close_line(ws))
        elif parts == ["upload"]:
            digest = hashlib.sha256()
            count = 0
            try:
                async for message in ws:
                    data = message.encode("utf-8") if isinstance(message, str) else message
                    digest.update(data)
                    count += len(data)
            except ConnectionClosed:
                pass  # an abnormal close: still report what came and how it ended
            await ws.wait_closed()
            out(f"UPLOAD {count} {digest.hexdigest()}")
            out(close_line(ws))
        elif parts[0] == "close" and len(parts) == 2:
            await ws.close(int(parts[1]), "bye")
            out(close_line(ws))
        elif parts == ["protocol"]:
            await ws.send(ws.subprotocol or "none")
            await ws.wait_closed()
        elif parts[0] == "split-text":
            await send_split_text(ws, *split_args(parts[1:]))
            await ws.wait_closed()
    except ConnectionClosed:
        pass
    except Exception as error:  # a peer must report, never die silently
        print(f"ERROR {ws.path}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        ws.fail_connection(1011)


def known_path(path: str) -> bool:
    parts = path.split("?", 1)[0].strip("/").split("/")
    if parts in (["echo"], ["upload"], ["protocol"]):
        return True
    if parts[0] == "download" and len(parts) == 3:
        return parts[1].isdigit()
    if parts[0] == "split-text" and len(parts) in (1, 3, 4):
        return all(p.isdigit() for p in parts[1:])
    return parts[0] == "close" and len(parts) == 2 and parts[1].isdigit()


async def process_request(path: str, _headers: object) -> Optional[tuple]:
    if known_path(path):
        return None
    return (http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"no such path\n")


async def run_server(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    async with websockets.serve(
        handle,
        "127.0.0.1",
        0,
        max_size=None,
        max_queue=4,
        write_limit=HIGH_WATER,
        read_limit=HIGH_WATER,
        subprotocols=args.protocols,
        compression="deflate" if args.deflate else None,
        ping_interval=args.ping,
        close_timeout=2,
        process_request=process_request,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        out(f"PORT {port}")
        await stop
    return 0


# ---------------------------------------------------------------------------------------------- client


async def run_client(args: argparse.Namespace) -> int:
    ws: Optional[WebSocketCommonProtocol] = None
    try:
        ws = await websockets.connect(
            args.url,
            max_size=None,
            max_queue=4,
            write_limit=HIGH_WATER,
            read_limit=HIGH_WATER,
            subprotocols=args.protocols,
            compression="deflate" if args.deflate else None,
            ping_interval=None,
            open_timeout=10,
            close_timeout=5,
        )
        if args.command == "upload":
            if len(args.args) != 2:
                raise SystemExit("usage: client <url> upload <N> <seed>")
            out(f"SHA256 {await send_pattern(ws, int(args.args[0]), args.args[1])}")
        elif args.command == "download":
            message = await ws.recv()
            data = message.encode("utf-8") if isinstance(message, str) else message
            out(f"DOWNLOAD {len(data)} {hashlib.sha256(data).hexdigest()}")
        elif args.command == "echo":
            if len(args.args) != 1:
                raise SystemExit("usage: client <url> echo <text>")
            await ws.send(args.args[0])
            reply = await ws.recv()
            if not isinstance(reply, str):
                raise RuntimeError(f"expected a text message, got {len(reply)} bytes of binary")
            out(f"ECHO {reply}")
        elif args.command == "protocol":
            out(f"PROTOCOL {ws.subprotocol or 'none'}")
        elif args.command == "split-text":
            await send_split_text(ws, *split_args(args.args))
            reply = await ws.recv()
            if not isinstance(reply, str):
                raise RuntimeError(f"expected a text message, got {len(reply)} bytes of binary")
            out(f"ECHO {reply}")
        else:
            raise SystemExit(f"unknown client command {args.command!r}")
        await ws.close(1000)
        out(close_line(ws))
        return 0
    except InvalidStatusCode as error:
        out(f"STATUS {error.status_code}")
        print(f"ERROR {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1
    except Exception as error:
        print(f"ERROR {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        if ws is not None:
            await ws.close(1011)
            out(close_line(ws))
        return 1


def parse(argv: Sequence[str]) -> argparse.Namespace:
    def protocol_list(text: str) -> list:
        return [p for p in text.split(",") if p]

    parser = argparse.ArgumentParser(prog="python_peer.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server")
    client = sub.add_parser("client")
    for p in (server, client):
        p.add_argument("--protocols", type=protocol_list, default=None)
        p.add_argument("--deflate", action="store_true")
    server.add_argument("--ping", type=float, default=None, help="keep-alive ping interval in seconds")
    client.add_argument("url")
    client.add_argument("command", choices=["upload", "download", "echo", "protocol", "split-text"])
    client.add_argument("args", nargs="*")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run_server(args) if args.role == "server" else run_client(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
