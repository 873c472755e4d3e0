"""CRC-16/CCITT-FALSE, the frame trailer of protocol v1.

Chosen because every microcontroller vendor ships it (often in hardware: STM32 CRC unit,
Nordic, TI), it needs a 512-byte table or none at all, and its catalogue entry removes all
ambiguity: poly 0x1021, init 0xFFFF, no reflection, xorout 0x0000, check("123456789") = 0x29B1.
"""

from __future__ import annotations

CRC16_INIT = 0xFFFF
CRC16_POLY = 0x1021
CRC16_CHECK = 0x29B1  # CRC of b"123456789", the catalogue check value


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC16_POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc16_ccitt_false(data: bytes, crc: int = CRC16_INIT) -> int:
    """Return the CRC-16/CCITT-FALSE of `data`; pass `crc` to continue a running CRC."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc
