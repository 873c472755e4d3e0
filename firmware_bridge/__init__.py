"""Framed, checked, acknowledged link from the recognizer to microcontroller/PLC firmware.

Protocol v1 is specified in PROTOCOL.md. `protocol` and `parser` are the pure codec,
`link` the byte transports, `sink` the `serial` sink the runtime uses, and `c/` the C99
counterpart that firmware compiles. `vectors.json` holds frames both sides are tested on.
"""

from firmware_bridge.link import LinkError, SerialLink, SerialSpec, TcpLink, TcpSpec
from firmware_bridge.parser import FrameParser
from firmware_bridge.protocol import (
    PROTOCOL_VERSION,
    Ack,
    Frame,
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
    parse_frame,
)
from firmware_bridge.sink import SerialSink, SinkOptions, SinkStats, parse_sink_url

__all__ = [
    "PROTOCOL_VERSION",
    "Ack",
    "Frame",
    "FrameParser",
    "Heartbeat",
    "Hello",
    "LinkError",
    "Message",
    "MessageType",
    "Nack",
    "NackReason",
    "ProtocolError",
    "Read",
    "SerialLink",
    "SerialSink",
    "SerialSpec",
    "SetExpected",
    "SinkOptions",
    "SinkStats",
    "TcpLink",
    "TcpSpec",
    "Verdict",
    "decode_message",
    "encode_message",
    "parse_frame",
    "parse_sink_url",
]
