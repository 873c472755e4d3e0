"""A Python stand-in for the firmware end of a ``tcp:`` link, for tests of code that talks to
firmware: the recognizer's serial sink, the camera service, or your own integration.

It speaks only through the public codec (``encode_message``, ``FrameParser``), as a
microcontroller would, so a test against it exercises the wire format too::

    firmware = FakeFirmware()
    sink = SerialSink(f"tcp:127.0.0.1:{firmware.port}")
    ...
    assert firmware.received.count() == 3
    firmware.stop()
"""

from __future__ import annotations

import socket
import threading

from firmware_bridge.parser import FrameParser
from firmware_bridge.protocol import (
    Ack,
    Hello,
    Nack,
    NackReason,
    Read,
    SetExpected,
    decode_message,
    encode_message,
)


class Received:
    """What a firmware received, de-duplicated by item id (shared across restarts)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[int] = []
        self.reads: dict[int, Read] = {}
        self.duplicates = 0
        self.hellos = 0

    def add(self, read: Read) -> None:
        with self.lock:
            if read.item_id in self.reads:
                self.duplicates += 1
                return
            self.reads[read.item_id] = read
            self.items.append(read.item_id)

    def count(self) -> int:
        with self.lock:
            return len(self.items)


class FakeFirmware:
    """A TCP server that behaves like firmware: ACKs READs (unless told not to), de-dups."""

    def __init__(
        self,
        received: Received | None = None,
        port: int = 0,
        ack: bool = True,
        nack_items: frozenset[int] = frozenset(),
    ) -> None:
        self.received = received or Received()
        self.ack = ack
        self.nack_items = nack_items
        self.acked_expected: list[int] = []
        self._server = socket.create_server(("127.0.0.1", port))
        self._server.settimeout(0.02)
        self.port: int = self._server.getsockname()[1]
        self._conn: socket.socket | None = None
        self._seq = 0
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.02)
            self._conn = conn
            parser = FrameParser()
            while not self._stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                for frame in parser.feed(data):
                    self._handle(conn, frame.seq, decode_message(frame))
            conn.close()
            self._conn = None

    def _send(self, conn: socket.socket, message: Ack | Nack | SetExpected) -> int:
        with self._send_lock:
            self._seq = (self._seq + 1) & 0xFFFF
            conn.sendall(encode_message(message, self._seq))
            return self._seq

    def _handle(self, conn: socket.socket, seq: int, message: object) -> None:
        if isinstance(message, Read):
            if message.item_id in self.nack_items:
                self._send(conn, Nack(seq, NackReason.MALFORMED))
            elif self.ack:
                self.received.add(message)
                self._send(conn, Ack(seq))
        elif isinstance(message, Hello):
            with self.received.lock:
                self.received.hellos += 1
            self._send(conn, Ack(seq))
        elif isinstance(message, Ack):
            self.acked_expected.append(message.seq)

    def send_set_expected(self, text: str, copies: int = 1) -> int:
        """Send SET_EXPECTED `copies` times with one sequence number (a retransmission)."""
        conn = self._conn
        assert conn is not None, "no recognizer connected"
        with self._send_lock:
            self._seq = (self._seq + 1) & 0xFFFF
            wire = encode_message(SetExpected(text), self._seq)
            for _ in range(copies):
                conn.sendall(wire)
            return self._seq

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def stop(self) -> None:
        """Close the listening socket and the connection, as if the device went away."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._server.close()
