"""Protocol v1 of the recognizer <-> firmware link: frame layout and message payloads.

The normative description is PROTOCOL.md next to this file; this module and
c/edge_ocr_link.c implement it, and vectors.json (generated from here) keeps them equal.

A frame before COBS stuffing is::

    offset 0  u8   version      (PROTOCOL_VERSION)
    offset 1  u8   type         (MessageType)
    offset 2  u16  seq          sender's sequence number, little-endian
    offset 4  u16  length       payload length in bytes, little-endian
    offset 6  ...  payload      `length` bytes, layout depends on type and version
    offset 6+length u16 crc     CRC-16/CCITT-FALSE of bytes [0, 6+length), little-endian

Decoding is strict about structure (lengths, enum ranges) so both ends reject the same
frames, and lenient about extra trailing payload bytes so a later revision can append fields
without breaking an older peer.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from firmware_bridge.cobs import cobs_encode
from firmware_bridge.crc import crc16_ccitt_false

PROTOCOL_VERSION = 1
HEADER_SIZE = 6
CRC_SIZE = 2
MAX_PAYLOAD = 512
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
MAX_TEXT = 255  # READ text and SET_EXPECTED text, bytes of UTF-8
MAX_HELLO_STRING = 64  # each HELLO string, bytes of UTF-8
MAX_LINES = 16  # per-line confidences in one READ
CONFIDENCE_SCALE = 10000  # confidences travel as u16 in units of 1/10000
DELIMITER = b"\x00"

_HEADER = struct.Struct("<BBHH")
_CRC = struct.Struct("<H")


class MessageType(enum.IntEnum):
    """Message type byte of the header."""

    HELLO = 0x01
    READ = 0x02
    HEARTBEAT = 0x03
    SET_EXPECTED = 0x04
    ACK = 0x05
    NACK = 0x06


class Verdict(enum.IntEnum):
    """OCV verdict byte of a READ; NONE means the recognizer had no expected code."""

    NONE = 0
    PASS = 1
    FAIL = 2
    NO_READ = 3


class NackReason(enum.IntEnum):
    """Why a receiver refused a frame whose CRC checked. Retrying the same bytes cannot help."""

    UNSUPPORTED_VERSION = 1
    UNKNOWN_TYPE = 2
    MALFORMED = 3


class ProtocolError(ValueError):
    """A frame or payload violates protocol v1; `kind` names the rule, as in the C code.

    Kinds: "short", "too_long", "length", "crc" (frame level) and "version",
    "unknown_type", "malformed" (message level). The C decoder uses the same names.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True)
class Frame:
    """A frame whose length and CRC checked; the payload is not interpreted yet."""

    version: int
    type: int
    seq: int
    payload: bytes

    def raw(self) -> bytes:
        """The unstuffed frame bytes: header, payload, CRC."""
        return _frame_bytes(self.version, self.type, self.seq, self.payload)


class _Reader:
    """Cursor over a payload; every short read is a "malformed" ProtocolError."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, size: int) -> bytes:
        if self._pos + size > len(self._data):
            raise ProtocolError("malformed", "payload ends inside a field")
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("<H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack("<Q", self.take(8))[0]
        return value

    def string(self, limit: int) -> str:
        size = self.u8()
        if size > limit:
            raise ProtocolError("malformed", f"string of {size} bytes exceeds {limit}")
        # Receivers must not reject invalid UTF-8 (the C side cannot check it cheaply).
        return self.take(size).decode("utf-8", errors="replace")


def _string(value: str, limit: int, name: str) -> bytes:
    data = value.encode("utf-8")
    if len(data) > limit:
        raise ValueError(f"{name} is {len(data)} bytes of UTF-8, the limit is {limit}")
    return bytes([len(data)]) + data


def _check_range(value: int, low: int, high: int, name: str) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name}={value} is outside [{low}, {high}]")


def _check_confidence(value: int, name: str) -> None:
    _check_range(value, 0, CONFIDENCE_SCALE, name)


def _valid_grade(grade: str | None) -> bool:
    return grade is None or (len(grade) == 1 and "A" <= grade <= "F")


@dataclass(frozen=True)
class Hello:
    """Sent by each side on connect: which versions it speaks and who it is."""

    TYPE: ClassVar[MessageType] = MessageType.HELLO
    min_version: int = PROTOCOL_VERSION
    max_version: int = PROTOCOL_VERSION
    software: str = ""
    device_id: str = ""
    model_name: str = ""

    def encode_payload(self) -> bytes:
        _check_range(self.min_version, 1, self.max_version, "min_version")
        _check_range(self.max_version, self.min_version, 255, "max_version")
        return (
            bytes([self.min_version, self.max_version])
            + _string(self.software, MAX_HELLO_STRING, "software")
            + _string(self.device_id, MAX_HELLO_STRING, "device_id")
            + _string(self.model_name, MAX_HELLO_STRING, "model_name")
        )

    @classmethod
    def decode_payload(cls, reader: _Reader) -> Hello:
        min_version, max_version = reader.u8(), reader.u8()
        if not 1 <= min_version <= max_version:
            raise ProtocolError("malformed", "HELLO version range is empty")
        return cls(
            min_version,
            max_version,
            reader.string(MAX_HELLO_STRING),
            reader.string(MAX_HELLO_STRING),
            reader.string(MAX_HELLO_STRING),
        )


@dataclass(frozen=True)
class Read:
    """One item read by the recognizer; `item_id` is what the firmware de-duplicates on."""

    TYPE: ClassVar[MessageType] = MessageType.READ
    item_id: int
    timestamp_ms: int
    text: str
    line_confidences: tuple[int, ...] = ()
    confidence: int = 0
    verdict: Verdict = Verdict.NONE
    grade: str | None = None

    def encode_payload(self) -> bytes:
        _check_range(self.item_id, 0, 0xFFFFFFFF, "item_id")
        _check_range(self.timestamp_ms, 0, 0xFFFFFFFFFFFFFFFF, "timestamp_ms")
        _check_confidence(self.confidence, "confidence")
        if len(self.line_confidences) > MAX_LINES:
            raise ValueError(f"{len(self.line_confidences)} lines, the limit is {MAX_LINES}")
        for value in self.line_confidences:
            _check_confidence(value, "line confidence")
        if not _valid_grade(self.grade):
            raise ValueError(f"grade {self.grade!r} is not one of A..F or None")
        grade_byte = ord(self.grade) if self.grade else 0
        return (
            struct.pack(
                "<IQBBH",
                self.item_id,
                self.timestamp_ms,
                int(Verdict(self.verdict)),
                grade_byte,
                self.confidence,
            )
            + _string(self.text, MAX_TEXT, "text")
            + bytes([len(self.line_confidences)])
            + struct.pack(f"<{len(self.line_confidences)}H", *self.line_confidences)
        )

    @classmethod
    def decode_payload(cls, reader: _Reader) -> Read:
        item_id, timestamp_ms = reader.u32(), reader.u64()
        verdict, grade, confidence = reader.u8(), reader.u8(), reader.u16()
        if verdict > Verdict.NO_READ:
            raise ProtocolError("malformed", f"verdict byte {verdict}")
        if grade != 0 and not ord("A") <= grade <= ord("F"):
            raise ProtocolError("malformed", f"grade byte {grade}")
        if confidence > CONFIDENCE_SCALE:
            raise ProtocolError("malformed", f"confidence {confidence}")
        text = reader.string(MAX_TEXT)
        count = reader.u8()
        if count > MAX_LINES:
            raise ProtocolError("malformed", f"{count} lines exceed {MAX_LINES}")
        lines = tuple(reader.u16() for _ in range(count))
        if any(value > CONFIDENCE_SCALE for value in lines):
            raise ProtocolError("malformed", "line confidence above 10000")
        return cls(
            item_id,
            timestamp_ms,
            text,
            lines,
            confidence,
            Verdict(verdict),
            chr(grade) if grade else None,
        )


@dataclass(frozen=True)
class Heartbeat:
    """Liveness, both directions, never acknowledged; `queued` is the sender's backlog."""

    TYPE: ClassVar[MessageType] = MessageType.HEARTBEAT
    uptime_ms: int = 0
    queued: int = 0

    def encode_payload(self) -> bytes:
        return struct.pack("<IH", self.uptime_ms & 0xFFFFFFFF, min(self.queued, 0xFFFF))

    @classmethod
    def decode_payload(cls, reader: _Reader) -> Heartbeat:
        return cls(reader.u32(), reader.u16())


@dataclass(frozen=True)
class SetExpected:
    """Firmware -> recognizer: the code that should be printed next (for OCV verdicts)."""

    TYPE: ClassVar[MessageType] = MessageType.SET_EXPECTED
    text: str

    def encode_payload(self) -> bytes:
        return _string(self.text, MAX_TEXT, "text")

    @classmethod
    def decode_payload(cls, reader: _Reader) -> SetExpected:
        return cls(reader.string(MAX_TEXT))


@dataclass(frozen=True)
class Ack:
    """The frame with sequence number `seq` arrived intact and was accepted."""

    TYPE: ClassVar[MessageType] = MessageType.ACK
    seq: int

    def encode_payload(self) -> bytes:
        return struct.pack("<H", self.seq)

    @classmethod
    def decode_payload(cls, reader: _Reader) -> Ack:
        return cls(reader.u16())


@dataclass(frozen=True)
class Nack:
    """The frame `seq` arrived intact but is refused for `reason` (any byte is accepted)."""

    TYPE: ClassVar[MessageType] = MessageType.NACK
    seq: int
    reason: int = NackReason.MALFORMED

    def encode_payload(self) -> bytes:
        return struct.pack("<HB", self.seq, self.reason)

    @classmethod
    def decode_payload(cls, reader: _Reader) -> Nack:
        return cls(reader.u16(), reader.u8())


Message: TypeAlias = Hello | Read | Heartbeat | SetExpected | Ack | Nack

_DECODERS: dict[int, type[Message]] = {
    MessageType.HELLO: Hello,
    MessageType.READ: Read,
    MessageType.HEARTBEAT: Heartbeat,
    MessageType.SET_EXPECTED: SetExpected,
    MessageType.ACK: Ack,
    MessageType.NACK: Nack,
}

# Messages the receiver must acknowledge; everything else is fire-and-forget.
ACKNOWLEDGED_TYPES = frozenset({MessageType.HELLO, MessageType.READ, MessageType.SET_EXPECTED})


def _frame_bytes(version: int, msg_type: int, seq: int, payload: bytes) -> bytes:
    body = _HEADER.pack(version, msg_type, seq, len(payload)) + payload
    return body + _CRC.pack(crc16_ccitt_false(body))


def encode_raw_frame(version: int, msg_type: int, seq: int, payload: bytes) -> bytes:
    """Wire bytes (COBS + delimiter) of an arbitrary frame; tests use it for bad frames."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return cobs_encode(_frame_bytes(version, msg_type, seq & 0xFFFF, payload)) + DELIMITER


def encode_message(message: Message, seq: int) -> bytes:
    """Wire bytes of `message` with sequence number `seq`, delimiter included."""
    return encode_raw_frame(PROTOCOL_VERSION, message.TYPE, seq, message.encode_payload())


def parse_frame(raw: bytes) -> Frame:
    """Check an unstuffed frame (header, payload, CRC) and return it; ProtocolError if bad."""
    if len(raw) < HEADER_SIZE + CRC_SIZE:
        raise ProtocolError("short", f"{len(raw)} bytes is shorter than header + CRC")
    if len(raw) > MAX_FRAME:
        raise ProtocolError("too_long", f"{len(raw)} bytes exceeds {MAX_FRAME}")
    version, msg_type, seq, length = _HEADER.unpack_from(raw)
    if length != len(raw) - HEADER_SIZE - CRC_SIZE:
        raise ProtocolError("length", f"header says {length}, frame carries {len(raw) - 8}")
    (crc,) = _CRC.unpack_from(raw, len(raw) - CRC_SIZE)
    if crc != crc16_ccitt_false(raw[:-CRC_SIZE]):
        raise ProtocolError("crc", "CRC mismatch")
    return Frame(version, msg_type, seq, raw[HEADER_SIZE:-CRC_SIZE])


def decode_message(frame: Frame) -> Message:
    """Interpret a checked frame's payload; ProtocolError("version"|"unknown_type"|...)."""
    if frame.version != PROTOCOL_VERSION:
        raise ProtocolError("version", f"protocol version {frame.version} is not supported")
    decoder = _DECODERS.get(frame.type)
    if decoder is None:
        raise ProtocolError("unknown_type", f"message type 0x{frame.type:02x}")
    return decoder.decode_payload(_Reader(frame.payload))
