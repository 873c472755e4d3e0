/*
 * edge_ocr_link.h - firmware side of the edge-ocr link, protocol v1 (see ../PROTOCOL.md).
 *
 * Drop edge_ocr_link.h and edge_ocr_link.c into a firmware project. C99, no malloc, no
 * stdio, fixed buffers sized by the macros below (override them with -D before including).
 *
 * Receiving: feed every byte from the UART (interrupt handler or poll loop) to
 * eol_decoder_feed(); it calls your callback once per frame whose COBS framing, length and
 * CRC-16/CCITT-FALSE all check. Decode its payload with eol_decode_read() and friends.
 * Sending: the eol_encode_*() functions write a complete wire frame (COBS + 0x00
 * delimiter) into a caller buffer and return its length, or 0 if the buffer is too small.
 *
 * Obligations of the firmware (PROTOCOL.md, "Delivery"): ACK every valid READ, HELLO and
 * SET_EXPECTED by its sequence number, even a duplicate; de-duplicate READs by item id
 * (eol_dedup_t); NACK frames it cannot accept; never answer an ACK or NACK.
 */
#ifndef EDGE_OCR_LINK_H
#define EDGE_OCR_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EOL_PROTOCOL_VERSION 1u

/* Largest payload the decoder accepts. The protocol allows 512; the largest v1 message is
 * a READ of 4+8+1+1+2+1+255+1+2*16 = 305 bytes, so 305 is safe if RAM is tight. */
#ifndef EOL_MAX_PAYLOAD
#define EOL_MAX_PAYLOAD 512u
#endif

/* How many recent item ids eol_dedup_t remembers. */
#ifndef EOL_DEDUP_DEPTH
#define EOL_DEDUP_DEPTH 64u
#endif

#define EOL_HEADER_SIZE 6u
#define EOL_CRC_SIZE 2u
#define EOL_MAX_FRAME (EOL_HEADER_SIZE + EOL_MAX_PAYLOAD + EOL_CRC_SIZE)
#define EOL_MAX_TEXT 255u
#define EOL_MAX_HELLO_STRING 64u
#define EOL_MAX_LINES 16u
#define EOL_CONFIDENCE_SCALE 10000u

/* Wire size (COBS overhead + delimiter) of an unstuffed frame of `raw` bytes. */
#define EOL_WIRE_SIZE(raw) ((raw) + (raw) / 254u + 2u)
/* A transmit buffer of this size fits every frame the eol_encode_*() functions produce
 * (the largest is SET_EXPECTED with 255 bytes of text). */
#define EOL_TX_BUFFER_SIZE EOL_WIRE_SIZE(EOL_HEADER_SIZE + 1u + EOL_MAX_TEXT + EOL_CRC_SIZE)

typedef enum {
    EOL_HELLO = 0x01,
    EOL_READ = 0x02,
    EOL_HEARTBEAT = 0x03,
    EOL_SET_EXPECTED = 0x04,
    EOL_ACK = 0x05,
    EOL_NACK = 0x06
} eol_type_t;

typedef enum {
    EOL_VERDICT_NONE = 0,
    EOL_VERDICT_PASS = 1,
    EOL_VERDICT_FAIL = 2,
    EOL_VERDICT_NO_READ = 3
} eol_verdict_t;

typedef enum {
    EOL_NACK_UNSUPPORTED_VERSION = 1,
    EOL_NACK_UNKNOWN_TYPE = 2,
    EOL_NACK_MALFORMED = 3
} eol_nack_reason_t;

/* Result of decoding a payload; the names match the Python ProtocolError kinds. */
typedef enum {
    EOL_OK = 0,
    EOL_ERR_VERSION,      /* "version": frame version is not 1 */
    EOL_ERR_UNKNOWN_TYPE, /* "unknown_type" */
    EOL_ERR_MALFORMED,    /* "malformed": payload too short or a value out of range */
    EOL_ERR_WRONG_TYPE    /* API misuse: e.g. eol_decode_read() on an ACK frame */
} eol_status_t;

/* A frame whose framing, length and CRC checked. `payload` points into the decoder's
 * buffer and is valid only during the callback. */
typedef struct {
    uint8_t version;
    uint8_t type;
    uint16_t seq;
    uint16_t length;
    const uint8_t *payload;
} eol_frame_t;

typedef void (*eol_frame_fn)(const eol_frame_t *frame, void *context);

/* Rejected chunks by reason; the names match the Python FrameParser error kinds. */
typedef struct {
    uint32_t frames;
    uint32_t cobs;
    uint32_t short_frame;
    uint32_t too_long;
    uint32_t length;
    uint32_t crc;
} eol_decoder_stats_t;

typedef struct {
    uint8_t buf[EOL_MAX_FRAME];
    uint16_t len;
    uint8_t code;  /* current COBS code byte, 0 before the first one of a frame */
    uint8_t left;  /* data bytes still expected in the current COBS block */
    bool overflow; /* frame exceeded EOL_MAX_FRAME: discard until the next delimiter */
    eol_frame_fn on_frame;
    void *context;
    eol_decoder_stats_t stats;
} eol_decoder_t;

typedef struct {
    uint8_t min_version;
    uint8_t max_version;
    uint8_t software_len;
    uint8_t device_id_len;
    uint8_t model_name_len;
    char software[EOL_MAX_HELLO_STRING + 1u]; /* UTF-8, NUL-terminated */
    char device_id[EOL_MAX_HELLO_STRING + 1u];
    char model_name[EOL_MAX_HELLO_STRING + 1u];
} eol_hello_t;

typedef struct {
    uint32_t item_id;
    uint64_t timestamp_ms;  /* unix time in milliseconds */
    uint8_t verdict;        /* eol_verdict_t */
    uint8_t grade;          /* 'A'..'F', or 0 for none */
    uint16_t confidence;    /* 0..10000 = 0.0..1.0 */
    uint8_t text_len;
    char text[EOL_MAX_TEXT + 1u]; /* UTF-8, lines joined with " | ", NUL-terminated */
    uint8_t line_count;
    uint16_t line_confidence[EOL_MAX_LINES];
} eol_read_t;

typedef struct {
    uint32_t uptime_ms;
    uint16_t queued;
} eol_heartbeat_t;

typedef struct {
    uint8_t text_len;
    char text[EOL_MAX_TEXT + 1u];
} eol_set_expected_t;

typedef struct {
    uint16_t seq;
} eol_ack_t;

typedef struct {
    uint16_t seq;
    uint8_t reason;
} eol_nack_t;

/* Remembers the last EOL_DEDUP_DEPTH item ids, so a retransmitted READ is seen once. */
typedef struct {
    uint32_t ids[EOL_DEDUP_DEPTH];
    uint16_t count;
    uint16_t next;
} eol_dedup_t;

/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0. */
uint16_t eol_crc16(const uint8_t *data, size_t len, uint16_t crc);
#define EOL_CRC16_INIT 0xFFFFu

void eol_decoder_init(eol_decoder_t *decoder, eol_frame_fn on_frame, void *context);
/* Feed one received byte; may call on_frame. Safe to call from an interrupt handler if
 * the callback is. The callback must not feed the same decoder. */
void eol_decoder_feed(eol_decoder_t *decoder, uint8_t byte);
void eol_decoder_feed_buffer(eol_decoder_t *decoder, const uint8_t *data, size_t len);
/* Forget a partial frame, e.g. after the UART reported a framing error. */
void eol_decoder_reset(eol_decoder_t *decoder);

/* Check that a frame's payload decodes for its type: tells the firmware whether to NACK
 * and with which reason (see eol_nack_reason_for). */
eol_status_t eol_validate(const eol_frame_t *frame);
eol_nack_reason_t eol_nack_reason_for(eol_status_t status);

eol_status_t eol_decode_hello(const eol_frame_t *frame, eol_hello_t *out);
eol_status_t eol_decode_read(const eol_frame_t *frame, eol_read_t *out);
eol_status_t eol_decode_heartbeat(const eol_frame_t *frame, eol_heartbeat_t *out);
eol_status_t eol_decode_set_expected(const eol_frame_t *frame, eol_set_expected_t *out);
eol_status_t eol_decode_ack(const eol_frame_t *frame, eol_ack_t *out);
eol_status_t eol_decode_nack(const eol_frame_t *frame, eol_nack_t *out);

/* Encoders: write one wire frame (COBS + delimiter) to out[0..cap); return its length, or
 * 0 if cap is too small or an argument is out of range. `seq` is the sender's own
 * sequence number (increment per new frame, reuse for a retransmission). */
size_t eol_encode_frame(uint8_t *out, size_t cap, uint8_t type, uint16_t seq,
                        const uint8_t *payload, size_t payload_len);
size_t eol_encode_ack(uint8_t *out, size_t cap, uint16_t seq, uint16_t acked_seq);
size_t eol_encode_nack(uint8_t *out, size_t cap, uint16_t seq, uint16_t nacked_seq,
                       uint8_t reason);
size_t eol_encode_heartbeat(uint8_t *out, size_t cap, uint16_t seq, uint32_t uptime_ms,
                            uint16_t queued);
size_t eol_encode_set_expected(uint8_t *out, size_t cap, uint16_t seq, const char *text,
                               size_t text_len);
size_t eol_encode_hello(uint8_t *out, size_t cap, uint16_t seq, const eol_hello_t *hello);

void eol_dedup_init(eol_dedup_t *dedup);
/* True if item_id was not among the last EOL_DEDUP_DEPTH ids seen; records it. */
bool eol_dedup_is_new(eol_dedup_t *dedup, uint32_t item_id);

#ifdef __cplusplus
}
#endif

#endif /* EDGE_OCR_LINK_H */
