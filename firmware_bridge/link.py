"""Byte transports for the firmware link: a serial port (pyserial) or a TCP socket.

A link only moves bytes; framing, acknowledgement and reconnection live in sink.py. Every
transport failure surfaces as LinkError with a one-line message that names the port, so the
sink can reconnect and the CLI can print it without a traceback.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import serial


class LinkError(Exception):
    """The port cannot be opened, or it broke while in use (unplugged, peer gone)."""


class Link(Protocol):
    """What the sink needs from a transport."""

    description: str

    def write(self, data: bytes) -> None:
        """Send all of `data`; raise LinkError if the link is broken."""
        ...

    def read(self) -> bytes:
        """Return available bytes, waiting at most the link's poll time; b"" if none."""
        ...

    def close(self) -> None:
        """Release the port; never raises."""
        ...


class SerialLink:
    """A serial port in raw 8N1 mode, e.g. /dev/ttyUSB0 or a pseudo-terminal."""

    def __init__(
        self, path: str, baud: int = 115200, poll_s: float = 0.01, write_timeout_s: float = 1.0
    ) -> None:
        self.description = f"serial port {path} at {baud} baud"
        try:
            self._port = serial.Serial(path, baud, timeout=poll_s, write_timeout=write_timeout_s)
        except (serial.SerialException, OSError, ValueError) as error:
            raise LinkError(f"cannot open {self.description}: {_reason(error)}") from error

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as error:
            raise LinkError(f"{self.description} failed: {_reason(error)}") from error

    def read(self) -> bytes:
        try:
            # read(1) waits up to the poll time for the first byte; then take what is there.
            data: bytes = self._port.read(1)
            waiting: int = self._port.in_waiting
            if data and waiting:
                data += self._port.read(waiting)
        except (serial.SerialException, OSError) as error:
            raise LinkError(f"{self.description} failed: {_reason(error)}") from error
        return data

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()


class TcpLink:
    """A TCP connection, e.g. to a PLC gateway or a serial-to-Ethernet converter."""

    def __init__(
        self, host: str, port: int, poll_s: float = 0.01, connect_timeout_s: float = 2.0
    ) -> None:
        self.description = f"tcp link {host}:{port}"
        self._poll_s = poll_s
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        except OSError as error:
            raise LinkError(f"cannot open {self.description}: {_reason(error)}") from error
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write(self, data: bytes) -> None:
        try:
            self._sock.settimeout(1.0)
            self._sock.sendall(data)
        except OSError as error:
            raise LinkError(f"{self.description} failed: {_reason(error)}") from error

    def read(self) -> bytes:
        try:
            self._sock.settimeout(self._poll_s)
            data = self._sock.recv(4096)
        except TimeoutError:
            return b""
        except OSError as error:
            raise LinkError(f"{self.description} failed: {_reason(error)}") from error
        if not data:
            raise LinkError(f"{self.description} failed: closed by the peer")
        return data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()


class LinkOpener(Protocol):
    """Something that can (re)open a link: SerialSpec, TcpSpec, or a custom transport."""

    def open(self, poll_s: float) -> Link:
        """Open a fresh link; raise LinkError with a one-line message if it cannot."""
        ...


@dataclass(frozen=True)
class SerialSpec:
    """Where to find a serial port; `open` may be called again to reconnect."""

    path: str
    baud: int = 115200

    def open(self, poll_s: float) -> Link:
        return SerialLink(self.path, self.baud, poll_s=poll_s)

    def __str__(self) -> str:
        return f"serial:{self.path}?baud={self.baud}"


@dataclass(frozen=True)
class TcpSpec:
    """Where to find a TCP peer; `open` may be called again to reconnect."""

    host: str
    port: int

    def open(self, poll_s: float) -> Link:
        return TcpLink(self.host, self.port, poll_s=poll_s)

    def __str__(self) -> str:
        return f"tcp:{self.host}:{self.port}"


LinkSpec: TypeAlias = SerialSpec | TcpSpec


def _reason(error: BaseException) -> str:
    """The useful part of an OS or pyserial error, on one line."""
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    text = str(error).strip().splitlines()
    return text[-1] if text else type(error).__name__
