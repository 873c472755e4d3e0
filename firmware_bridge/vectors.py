"""Shared test vectors: `python -m firmware_bridge.vectors` regenerates vectors.json.

Both the Python tests and the C test program (c/test_link.c) decode every vector and compare
with the meaning recorded here, and re-encode what each side can encode, so the two
implementations cannot drift apart. The file is generated from the Python encoder; a test
fails if the committed file differs from what this module produces.
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path
from typing import Any

from firmware_bridge.cobs import CobsError, cobs_decode, cobs_encode
from firmware_bridge.crc import CRC16_CHECK, crc16_ccitt_false
from firmware_bridge.protocol import (
    DELIMITER,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    Ack,
    Heartbeat,
    Hello,
    Message,
    MessageType,
    Nack,
    NackReason,
    ProtocolError,
    Read,
    SetExpected,
    Verdict,
    decode_message,
    encode_message,
    encode_raw_frame,
    parse_frame,
)

VECTORS_PATH = Path(__file__).with_name("vectors.json")


def message_to_json(message: Message) -> dict[str, Any]:
    """The decoded meaning of a message as recorded in vectors.json.

    Strings appear twice: readable, and as `*_hex` UTF-8 bytes for the C test.
    """

    def text(name: str, value: str) -> dict[str, str]:
        return {name: value, f"{name}_hex": value.encode("utf-8").hex()}

    kind = MessageType(message.TYPE).name
    if isinstance(message, Hello):
        return {
            "type": kind,
            "min_version": message.min_version,
            "max_version": message.max_version,
            **text("software", message.software),
            **text("device_id", message.device_id),
            **text("model_name", message.model_name),
        }
    if isinstance(message, Read):
        return {
            "type": kind,
            "item_id": message.item_id,
            "timestamp_ms": message.timestamp_ms,
            "verdict": int(message.verdict),
            "grade": ord(message.grade) if message.grade else 0,
            "confidence": message.confidence,
            **text("text", message.text),
            "line_confidences": list(message.line_confidences),
        }
    if isinstance(message, Heartbeat):
        return {"type": kind, "uptime_ms": message.uptime_ms, "queued": message.queued}
    if isinstance(message, SetExpected):
        return {"type": kind, **text("text", message.text)}
    if isinstance(message, Ack):
        return {"type": kind, "seq": message.seq}
    return {"type": kind, "seq": message.seq, "reason": message.reason}


def describe_wire(wire: bytes) -> dict[str, Any]:
    """What a receiver makes of `wire` (exactly one delimiter-terminated chunk)."""
    entry: dict[str, Any] = {"wire": wire.hex(), "frame": None, "error": None, "message": None}
    try:
        frame = parse_frame(cobs_decode(wire[:-1]))
    except CobsError:
        entry["error"] = "cobs"
        return entry
    except ProtocolError as error:
        entry["error"] = error.kind
        return entry
    entry["frame"] = {
        "version": frame.version,
        "type": frame.type,
        "seq": frame.seq,
        "payload": frame.payload.hex(),
    }
    try:
        entry["message"] = message_to_json(decode_message(frame))
    except ProtocolError as error:
        entry["error"] = error.kind
    return entry


def _valid_messages() -> list[tuple[str, Message, int]]:
    return [
        ("hello_recognizer", Hello(1, 1, "edge-ocr 0.1.0", "cam-01", "line-ctc-v1"), 1),
        ("hello_firmware", Hello(1, 1, "eol-fw 1.0", "plc-7", ""), 0),
        (
            "read_pass",
            Read(
                42,
                1_700_000_000_123,
                "LOT 2024-07 | EXP 12/26",
                (9876, 9501),
                9501,
                Verdict.PASS,
                "A",
            ),
            7,
        ),
        ("read_no_read", Read(0, 0, "", (), 0, Verdict.NO_READ, None), 0xFFFF),
        (
            "read_utf8_fail",
            Read(
                1000,
                1_717_171_717_000,
                "\u00d8 5 mm \u2013 caf\u00e9",
                (10000,),
                10000,
                Verdict.FAIL,
                "F",
            ),
            256,
        ),
        (
            "read_limits",
            Read(
                0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF, "A" * 255, (10000,) * 16, 10000, Verdict.NONE, "C"
            ),
            0x1234,
        ),
        ("heartbeat", Heartbeat(123_456, 3), 2),
        ("set_expected", SetExpected("LOT0700"), 5),
        ("set_expected_empty", SetExpected(""), 6),
        ("ack", Ack(7), 3),
        ("nack", Nack(9, NackReason.MALFORMED), 4),
    ]


def _read_payload(**changes: int) -> bytes:
    """A READ payload with header fields overridden, to build malformed-but-checked frames."""
    fields = {"item_id": 5, "timestamp_ms": 1, "verdict": 1, "grade": 0x41, "confidence": 9000}
    fields.update(changes)
    return (
        struct.pack(
            "<IQBBH",
            fields["item_id"],
            fields["timestamp_ms"],
            fields["verdict"],
            fields["grade"],
            fields["confidence"],
        )
        + b"\x02OK\x01\x10\x27"
    )


def _raw(payload: bytes, msg_type: int = MessageType.READ, version: int = 1) -> bytes:
    return encode_raw_frame(version, msg_type, 11, payload)


def _stuffed(raw_frame: bytes) -> bytes:
    return cobs_encode(raw_frame) + DELIMITER


def _special_wires() -> list[tuple[str, bytes]]:
    good = encode_message(Read(77, 5, "ABC", (5000,), 5000), 9)
    raw = cobs_decode(good[:-1])
    flipped = bytearray(raw)
    flipped[10] ^= 0x04
    bad_length = bytearray(raw)
    bad_length[4] += 1
    too_long = struct.pack("<BBHH", 1, MessageType.READ, 1, MAX_PAYLOAD + 1)
    too_long += b"\x55" * (MAX_PAYLOAD + 1)
    too_long += struct.pack("<H", crc16_ccitt_false(too_long))
    return [
        ("read_extra_trailing_bytes", _raw(Read(8, 9, "X").encode_payload() + b"\x01\x02")),
        ("future_version", _raw(b"\x00\x01", MessageType.ACK, version=2)),
        ("bad_crc", _stuffed(bytes(flipped))),
        ("length_mismatch", _stuffed(bytes(bad_length))),
        ("short_frame", _stuffed(raw[:5])),
        ("truncated_cobs", good[:-4] + DELIMITER),
        ("cobs_code_past_end", bytes.fromhex("0501020300")),
        ("too_long", _stuffed(too_long)),
        ("crc_missing", _stuffed(raw[:-2])),
        ("unknown_type", _raw(b"", 0x7F)),
        ("read_bad_verdict", _raw(_read_payload(verdict=4))),
        ("read_bad_grade", _raw(_read_payload(grade=ord("G")))),
        ("read_bad_confidence", _raw(_read_payload(confidence=10001))),
        ("read_too_many_lines", _raw(_read_payload()[:-3] + b"\x11" + b"\x10\x27" * 17)),
        ("read_truncated_payload", _raw(_read_payload()[:-1])),
        ("read_bad_line_confidence", _raw(_read_payload()[:-2] + b"\x11\x27")),
        ("hello_empty_version_range", _raw(b"\x02\x01\x00\x00\x00", MessageType.HELLO)),
        (
            "hello_string_too_long",
            _raw(b"\x01\x01\x41" + b"a" * 65 + b"\x00\x00", MessageType.HELLO),
        ),
        ("ack_short", _raw(b"\x07", MessageType.ACK)),
        ("heartbeat_short", _raw(b"\x01\x02\x03\x04\x05", MessageType.HEARTBEAT)),
        ("set_expected_overrun", _raw(b"\x05abc", MessageType.SET_EXPECTED)),
    ]


def build_vectors() -> dict[str, Any]:
    """Every vector with its decoded meaning; `reencode` marks canonical encodings."""
    vectors = []
    for name, message, seq in _valid_messages():
        entry = describe_wire(encode_message(message, seq))
        vectors.append({"name": name, "reencode": True, **entry})
    for name, wire in _special_wires():
        vectors.append({"name": name, "reencode": False, **describe_wire(wire)})
    return {
        "protocol_version": PROTOCOL_VERSION,
        "crc_check": {"ascii": "123456789", "crc": CRC16_CHECK},
        "vectors": vectors,
    }


def render() -> str:
    """vectors.json content: one vector per line keeps diffs and the C parser simple."""
    data = build_vectors()
    lines = ["{", f'"protocol_version": {data["protocol_version"]},']
    lines.append(f'"crc_check": {json.dumps(data["crc_check"])},')
    lines.append('"vectors": [')
    rows = [json.dumps(vector) for vector in data["vectors"]]
    lines.append(",\n".join(rows))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write vectors.json (or check that it is current with --check)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=VECTORS_PATH)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    content = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != content:
            print(f"{args.output} is stale: run python -m firmware_bridge.vectors")
            return 1
        return 0
    args.output.write_text(content, encoding="utf-8")
    print(f"wrote {len(build_vectors()['vectors'])} vectors to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
