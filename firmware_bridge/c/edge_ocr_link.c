/*
 * edge_ocr_link.c - firmware side of the edge-ocr link, protocol v1 (see ../PROTOCOL.md).
 *
 * The decoding rules mirror firmware_bridge/parser.py and protocol.py exactly; the shared
 * vectors.json and a differential fuzz test keep them equal.
 */
#include "edge_ocr_link.h"

#include <string.h>

#if EOL_MAX_PAYLOAD > 65527u
#error "EOL_MAX_PAYLOAD must keep EOL_MAX_FRAME within the decoder's u16 length"
#endif
#if EOL_DEDUP_DEPTH < 1u || EOL_DEDUP_DEPTH > 65535u
#error "EOL_DEDUP_DEPTH must be in 1..65535"
#endif

/* ------------------------------------------------------------------ CRC */

uint16_t eol_crc16(const uint8_t *data, size_t len, uint16_t crc)
{
    /* Bitwise on purpose: no 512-byte table in flash, fast enough for any UART rate. */
    size_t i;
    for (i = 0; i < len; i++) {
        int bit;
        crc = (uint16_t)(crc ^ (uint16_t)((uint16_t)data[i] << 8));
        for (bit = 0; bit < 8; bit++) {
            if (crc & 0x8000u) {
                crc = (uint16_t)((uint16_t)(crc << 1) ^ 0x1021u);
            } else {
                crc = (uint16_t)(crc << 1);
            }
        }
    }
    return crc;
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* ------------------------------------------------------------------ decoder */

void eol_decoder_init(eol_decoder_t *decoder, eol_frame_fn on_frame, void *context)
{
    memset(decoder, 0, sizeof(*decoder));
    decoder->on_frame = on_frame;
    decoder->context = context;
}

void eol_decoder_reset(eol_decoder_t *decoder)
{
    decoder->len = 0;
    decoder->code = 0;
    decoder->left = 0;
    decoder->overflow = false;
}

static void decoder_put(eol_decoder_t *decoder, uint8_t byte)
{
    if (decoder->len >= EOL_MAX_FRAME) {
        decoder->overflow = true;
        return;
    }
    decoder->buf[decoder->len++] = byte;
}

static void decoder_finish(eol_decoder_t *decoder)
{
    eol_frame_t frame;
    uint16_t crc;

    if (decoder->overflow) {
        decoder->stats.too_long++;
        return;
    }
    if (decoder->code == 0) {
        return; /* back-to-back delimiters are legal padding */
    }
    if (decoder->left != 0) {
        decoder->stats.cobs++; /* the last code byte promised more data */
        return;
    }
    if (decoder->len < EOL_HEADER_SIZE + EOL_CRC_SIZE) {
        decoder->stats.short_frame++;
        return;
    }
    frame.version = decoder->buf[0];
    frame.type = decoder->buf[1];
    frame.seq = get_u16(&decoder->buf[2]);
    frame.length = get_u16(&decoder->buf[4]);
    if ((size_t)frame.length + EOL_HEADER_SIZE + EOL_CRC_SIZE != decoder->len) {
        decoder->stats.length++;
        return;
    }
    crc = eol_crc16(decoder->buf, (size_t)decoder->len - EOL_CRC_SIZE, EOL_CRC16_INIT);
    if (crc != get_u16(&decoder->buf[decoder->len - EOL_CRC_SIZE])) {
        decoder->stats.crc++;
        return;
    }
    frame.payload = &decoder->buf[EOL_HEADER_SIZE];
    decoder->stats.frames++;
    if (decoder->on_frame != NULL) {
        decoder->on_frame(&frame, decoder->context);
    }
}

void eol_decoder_feed(eol_decoder_t *decoder, uint8_t byte)
{
    if (byte == 0u) {
        decoder_finish(decoder);
        eol_decoder_reset(decoder);
        return;
    }
    if (decoder->overflow) {
        return;
    }
    if (decoder->left == 0u) {
        /* A code byte. The previous block, unless it was a full 254-byte run, ended with
         * a zero that COBS removed: put it back now that we know more data follows. */
        if (decoder->code != 0u && decoder->code != 0xFFu) {
            decoder_put(decoder, 0u);
        }
        decoder->code = byte;
        decoder->left = (uint8_t)(byte - 1u);
    } else {
        decoder_put(decoder, byte);
        decoder->left--;
    }
}

void eol_decoder_feed_buffer(eol_decoder_t *decoder, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        eol_decoder_feed(decoder, data[i]);
    }
}

/* ------------------------------------------------------------------ payload decoding */

typedef struct {
    const uint8_t *data;
    size_t len;
    size_t pos;
    bool ok;
} reader_t;

static const uint8_t *take(reader_t *r, size_t size)
{
    const uint8_t *p;
    if (!r->ok || size > r->len - r->pos) {
        r->ok = false;
        return NULL;
    }
    p = r->data + r->pos;
    r->pos += size;
    return p;
}

static uint8_t read_u8(reader_t *r)
{
    const uint8_t *p = take(r, 1u);
    return p != NULL ? p[0] : 0u;
}

static uint16_t read_u16(reader_t *r)
{
    const uint8_t *p = take(r, 2u);
    return p != NULL ? get_u16(p) : 0u;
}

static uint32_t read_u32(reader_t *r)
{
    const uint8_t *p = take(r, 4u);
    return p != NULL ? get_u32(p) : 0u;
}

static uint64_t read_u64(reader_t *r)
{
    const uint8_t *p = take(r, 8u);
    return p != NULL ? ((uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32)) : 0u;
}

/* Length-prefixed string into out[limit + 1], NUL-terminated. */
static uint8_t read_string(reader_t *r, char *out, size_t limit)
{
    uint8_t size = read_u8(r);
    const uint8_t *p;
    out[0] = '\0';
    if (!r->ok) {
        return 0u;
    }
    if (size > limit) {
        r->ok = false;
        return 0u;
    }
    p = take(r, size);
    if (p == NULL) {
        return 0u;
    }
    memcpy(out, p, size);
    out[size] = '\0';
    return size;
}

static eol_status_t start(const eol_frame_t *frame, uint8_t type, reader_t *r)
{
    if (frame->version != EOL_PROTOCOL_VERSION) {
        return EOL_ERR_VERSION;
    }
    if (frame->type != type) {
        return EOL_ERR_WRONG_TYPE;
    }
    r->data = frame->payload;
    r->len = frame->length;
    r->pos = 0;
    r->ok = true;
    return EOL_OK;
}

static eol_status_t finish(const reader_t *r)
{
    /* Extra trailing bytes are allowed: later revisions append fields. */
    return r->ok ? EOL_OK : EOL_ERR_MALFORMED;
}

eol_status_t eol_decode_hello(const eol_frame_t *frame, eol_hello_t *out)
{
    reader_t r;
    eol_status_t status = start(frame, EOL_HELLO, &r);
    if (status != EOL_OK) {
        return status;
    }
    out->min_version = read_u8(&r);
    out->max_version = read_u8(&r);
    if (r.ok && (out->min_version < 1u || out->min_version > out->max_version)) {
        r.ok = false;
    }
    out->software_len = read_string(&r, out->software, EOL_MAX_HELLO_STRING);
    out->device_id_len = read_string(&r, out->device_id, EOL_MAX_HELLO_STRING);
    out->model_name_len = read_string(&r, out->model_name, EOL_MAX_HELLO_STRING);
    return finish(&r);
}

eol_status_t eol_decode_read(const eol_frame_t *frame, eol_read_t *out)
{
    reader_t r;
    uint8_t i;
    eol_status_t status = start(frame, EOL_READ, &r);
    if (status != EOL_OK) {
        return status;
    }
    out->item_id = read_u32(&r);
    out->timestamp_ms = read_u64(&r);
    out->verdict = read_u8(&r);
    out->grade = read_u8(&r);
    out->confidence = read_u16(&r);
    if (out->verdict > (uint8_t)EOL_VERDICT_NO_READ ||
        (out->grade != 0u && (out->grade < (uint8_t)'A' || out->grade > (uint8_t)'F')) ||
        out->confidence > EOL_CONFIDENCE_SCALE) {
        r.ok = false;
    }
    out->text_len = read_string(&r, out->text, EOL_MAX_TEXT);
    out->line_count = read_u8(&r);
    if (out->line_count > EOL_MAX_LINES) {
        r.ok = false;
        out->line_count = 0;
    }
    for (i = 0; i < out->line_count; i++) {
        out->line_confidence[i] = read_u16(&r);
        if (out->line_confidence[i] > EOL_CONFIDENCE_SCALE) {
            r.ok = false;
        }
    }
    return finish(&r);
}

eol_status_t eol_decode_heartbeat(const eol_frame_t *frame, eol_heartbeat_t *out)
{
    reader_t r;
    eol_status_t status = start(frame, EOL_HEARTBEAT, &r);
    if (status != EOL_OK) {
        return status;
    }
    out->uptime_ms = read_u32(&r);
    out->queued = read_u16(&r);
    return finish(&r);
}

eol_status_t eol_decode_set_expected(const eol_frame_t *frame, eol_set_expected_t *out)
{
    reader_t r;
    eol_status_t status = start(frame, EOL_SET_EXPECTED, &r);
    if (status != EOL_OK) {
        return status;
    }
    out->text_len = read_string(&r, out->text, EOL_MAX_TEXT);
    return finish(&r);
}

eol_status_t eol_decode_ack(const eol_frame_t *frame, eol_ack_t *out)
{
    reader_t r;
    eol_status_t status = start(frame, EOL_ACK, &r);
    if (status != EOL_OK) {
        return status;
    }
    out->seq = read_u16(&r);
    return finish(&r);
}

eol_status_t eol_decode_nack(const eol_frame_t *frame, eol_nack_t *out)
{
    reader_t r;
    eol_status_t status = start(frame, EOL_NACK, &r);
    if (status != EOL_OK) {
        return status;
    }
    out->seq = read_u16(&r);
    out->reason = read_u8(&r);
    return finish(&r);
}

eol_status_t eol_validate(const eol_frame_t *frame)
{
    /* One message at a time on the stack (the READ, ~300 bytes, is the largest). */
    union {
        eol_hello_t hello;
        eol_read_t read;
        eol_heartbeat_t heartbeat;
        eol_set_expected_t set_expected;
        eol_ack_t ack;
        eol_nack_t nack;
    } message;

    if (frame->version != EOL_PROTOCOL_VERSION) {
        return EOL_ERR_VERSION;
    }
    switch (frame->type) {
    case EOL_HELLO:
        return eol_decode_hello(frame, &message.hello);
    case EOL_READ:
        return eol_decode_read(frame, &message.read);
    case EOL_HEARTBEAT:
        return eol_decode_heartbeat(frame, &message.heartbeat);
    case EOL_SET_EXPECTED:
        return eol_decode_set_expected(frame, &message.set_expected);
    case EOL_ACK:
        return eol_decode_ack(frame, &message.ack);
    case EOL_NACK:
        return eol_decode_nack(frame, &message.nack);
    default:
        return EOL_ERR_UNKNOWN_TYPE;
    }
}

eol_nack_reason_t eol_nack_reason_for(eol_status_t status)
{
    switch (status) {
    case EOL_ERR_VERSION:
        return EOL_NACK_UNSUPPORTED_VERSION;
    case EOL_ERR_UNKNOWN_TYPE:
        return EOL_NACK_UNKNOWN_TYPE;
    default:
        return EOL_NACK_MALFORMED;
    }
}

/* ------------------------------------------------------------------ encoding */

/* Streams COBS into the caller's buffer while computing the CRC: no frame-sized scratch. */
typedef struct {
    uint8_t *out;
    size_t cap;
    size_t pos;      /* next free byte */
    size_t code_pos; /* where the current block's code byte goes */
    uint8_t code;    /* 1 + data bytes in the current block */
    uint16_t crc;
    bool ok;
} cobs_writer_t;

static void writer_init(cobs_writer_t *w, uint8_t *out, size_t cap)
{
    w->out = out;
    w->cap = cap;
    w->pos = 1;
    w->code_pos = 0;
    w->code = 1;
    w->crc = EOL_CRC16_INIT;
    w->ok = cap >= 2u;
}

static void writer_close_block(cobs_writer_t *w)
{
    w->out[w->code_pos] = w->code;
    w->code_pos = w->pos;
    w->code = 1;
    if (w->pos >= w->cap) {
        w->ok = false;
        return;
    }
    w->pos++;
}

static void writer_raw(cobs_writer_t *w, uint8_t byte)
{
    if (!w->ok) {
        return;
    }
    if (byte == 0u) {
        writer_close_block(w);
        return;
    }
    if (w->pos >= w->cap) {
        w->ok = false;
        return;
    }
    w->out[w->pos++] = byte;
    w->code++;
    if (w->code == 0xFFu) {
        writer_close_block(w);
    }
}

static void writer_byte(cobs_writer_t *w, uint8_t byte)
{
    w->crc = eol_crc16(&byte, 1u, w->crc);
    writer_raw(w, byte);
}

static void writer_u16(cobs_writer_t *w, uint16_t value)
{
    writer_byte(w, (uint8_t)(value & 0xFFu));
    writer_byte(w, (uint8_t)(value >> 8));
}

static void writer_u32(cobs_writer_t *w, uint32_t value)
{
    writer_u16(w, (uint16_t)(value & 0xFFFFu));
    writer_u16(w, (uint16_t)(value >> 16));
}

static void writer_bytes(cobs_writer_t *w, const uint8_t *data, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        writer_byte(w, data[i]);
    }
}

static void writer_header(cobs_writer_t *w, uint8_t type, uint16_t seq, size_t payload_len)
{
    writer_byte(w, (uint8_t)EOL_PROTOCOL_VERSION);
    writer_byte(w, type);
    writer_u16(w, seq);
    writer_u16(w, (uint16_t)payload_len);
}

static size_t writer_finish(cobs_writer_t *w)
{
    uint16_t crc = w->crc;
    writer_raw(w, (uint8_t)(crc & 0xFFu));
    writer_raw(w, (uint8_t)(crc >> 8));
    if (!w->ok || w->pos >= w->cap) {
        return 0u;
    }
    w->out[w->code_pos] = w->code;
    w->out[w->pos++] = 0u; /* delimiter */
    return w->pos;
}

size_t eol_encode_frame(uint8_t *out, size_t cap, uint8_t type, uint16_t seq,
                        const uint8_t *payload, size_t payload_len)
{
    cobs_writer_t w;
    if (payload_len > EOL_MAX_PAYLOAD || (payload == NULL && payload_len != 0u)) {
        return 0u;
    }
    writer_init(&w, out, cap);
    writer_header(&w, type, seq, payload_len);
    writer_bytes(&w, payload, payload_len);
    return writer_finish(&w);
}

size_t eol_encode_ack(uint8_t *out, size_t cap, uint16_t seq, uint16_t acked_seq)
{
    cobs_writer_t w;
    writer_init(&w, out, cap);
    writer_header(&w, EOL_ACK, seq, 2u);
    writer_u16(&w, acked_seq);
    return writer_finish(&w);
}

size_t eol_encode_nack(uint8_t *out, size_t cap, uint16_t seq, uint16_t nacked_seq,
                       uint8_t reason)
{
    cobs_writer_t w;
    writer_init(&w, out, cap);
    writer_header(&w, EOL_NACK, seq, 3u);
    writer_u16(&w, nacked_seq);
    writer_byte(&w, reason);
    return writer_finish(&w);
}

size_t eol_encode_heartbeat(uint8_t *out, size_t cap, uint16_t seq, uint32_t uptime_ms,
                            uint16_t queued)
{
    cobs_writer_t w;
    writer_init(&w, out, cap);
    writer_header(&w, EOL_HEARTBEAT, seq, 6u);
    writer_u32(&w, uptime_ms);
    writer_u16(&w, queued);
    return writer_finish(&w);
}

size_t eol_encode_set_expected(uint8_t *out, size_t cap, uint16_t seq, const char *text,
                               size_t text_len)
{
    cobs_writer_t w;
    if (text_len > EOL_MAX_TEXT || (text == NULL && text_len != 0u)) {
        return 0u;
    }
    writer_init(&w, out, cap);
    writer_header(&w, EOL_SET_EXPECTED, seq, 1u + text_len);
    writer_byte(&w, (uint8_t)text_len);
    writer_bytes(&w, (const uint8_t *)text, text_len);
    return writer_finish(&w);
}

size_t eol_encode_hello(uint8_t *out, size_t cap, uint16_t seq, const eol_hello_t *hello)
{
    cobs_writer_t w;
    size_t payload_len;
    if (hello->software_len > EOL_MAX_HELLO_STRING ||
        hello->device_id_len > EOL_MAX_HELLO_STRING ||
        hello->model_name_len > EOL_MAX_HELLO_STRING || hello->min_version < 1u ||
        hello->min_version > hello->max_version) {
        return 0u;
    }
    payload_len = 5u + (size_t)hello->software_len + hello->device_id_len +
                  hello->model_name_len;
    writer_init(&w, out, cap);
    writer_header(&w, EOL_HELLO, seq, payload_len);
    writer_byte(&w, hello->min_version);
    writer_byte(&w, hello->max_version);
    writer_byte(&w, hello->software_len);
    writer_bytes(&w, (const uint8_t *)hello->software, hello->software_len);
    writer_byte(&w, hello->device_id_len);
    writer_bytes(&w, (const uint8_t *)hello->device_id, hello->device_id_len);
    writer_byte(&w, hello->model_name_len);
    writer_bytes(&w, (const uint8_t *)hello->model_name, hello->model_name_len);
    return writer_finish(&w);
}

/* ------------------------------------------------------------------ de-duplication */

void eol_dedup_init(eol_dedup_t *dedup)
{
    memset(dedup, 0, sizeof(*dedup));
}

bool eol_dedup_is_new(eol_dedup_t *dedup, uint32_t item_id)
{
    uint16_t i;
    for (i = 0; i < dedup->count; i++) {
        if (dedup->ids[i] == item_id) {
            return false;
        }
    }
    dedup->ids[dedup->next] = item_id;
    dedup->next = (uint16_t)((dedup->next + 1u) % EOL_DEDUP_DEPTH);
    if (dedup->count < EOL_DEDUP_DEPTH) {
        dedup->count++;
    }
    return true;
}
