/*
 * test_link.c - tests of edge_ocr_link.c, run by `make test` under ASan and UBSan.
 *
 *   test_link VECTORS_JSON   unit tests, and every vector in ../vectors.json (the file the
 *                            Python side generates and is tested against)
 *   test_link --fuzz         differential harness for the Python tests: each stdin line is a
 *                            hex string fed to a fresh decoder; for each frame it prints
 *                            "F <unstuffed frame hex> <ok|version|unknown_type|malformed>",
 *                            then "E" after the line's bytes.
 *
 * The JSON reader below only handles what vectors.json contains (objects, arrays, strings
 * without needing unescaping, integers, true/false/null) and needs no malloc.
 */
#include "edge_ocr_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        checks++;                                                                          \
        if (!(cond)) {                                                                     \
            failures++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------------ tiny JSON reader */

enum { J_NULL, J_TRUE, J_FALSE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

typedef struct {
    int type;
    const char *start; /* strings: after the opening quote; numbers: first digit */
    size_t len;
    int key;   /* object members: index of the key string node, else -1 */
    int child; /* first child of an array or object, -1 if none */
    int next;  /* next sibling, -1 if none */
} jnode_t;

#define MAX_NODES 16384
static jnode_t nodes[MAX_NODES];
static int node_count = 0;
static const char *json_pos;
static const char *json_error = NULL;

static void skip_space(void)
{
    while (*json_pos == ' ' || *json_pos == '\n' || *json_pos == '\r' || *json_pos == '\t') {
        json_pos++;
    }
}

static int new_node(int type)
{
    if (node_count >= MAX_NODES) {
        json_error = "too many JSON nodes";
        return -1;
    }
    nodes[node_count].type = type;
    nodes[node_count].start = json_pos;
    nodes[node_count].len = 0;
    nodes[node_count].key = -1;
    nodes[node_count].child = -1;
    nodes[node_count].next = -1;
    return node_count++;
}

static int parse_value(void);

static int parse_string(void)
{
    int node;
    json_pos++; /* opening quote */
    node = new_node(J_STRING);
    if (node < 0) {
        return -1;
    }
    while (*json_pos != '"') {
        if (*json_pos == '\0') {
            json_error = "unterminated string";
            return -1;
        }
        if (*json_pos == '\\' && json_pos[1] != '\0') {
            json_pos++; /* escapes are skipped, never interpreted (hex fields have none) */
        }
        json_pos++;
    }
    nodes[node].len = (size_t)(json_pos - nodes[node].start);
    json_pos++;
    return node;
}

static int parse_container(int type, char close)
{
    int node = new_node(type);
    int last = -1;
    if (node < 0) {
        return -1;
    }
    json_pos++;
    skip_space();
    if (*json_pos == close) {
        json_pos++;
        return node;
    }
    for (;;) {
        int key = -1;
        int value;
        skip_space();
        if (type == J_OBJECT) {
            if (*json_pos != '"') {
                json_error = "expected a key";
                return -1;
            }
            key = parse_string();
            skip_space();
            if (key < 0 || *json_pos != ':') {
                json_error = "expected ':'";
                return -1;
            }
            json_pos++;
        }
        value = parse_value();
        if (value < 0) {
            return -1;
        }
        nodes[value].key = key;
        if (last < 0) {
            nodes[node].child = value;
        } else {
            nodes[last].next = value;
        }
        last = value;
        skip_space();
        if (*json_pos == ',') {
            json_pos++;
        } else if (*json_pos == close) {
            json_pos++;
            return node;
        } else {
            json_error = "expected ',' or a closing bracket";
            return -1;
        }
    }
}

static int parse_literal(const char *word, int type)
{
    size_t len = strlen(word);
    int node;
    if (strncmp(json_pos, word, len) != 0) {
        json_error = "unexpected character";
        return -1;
    }
    node = new_node(type);
    json_pos += len;
    return node;
}

static int parse_value(void)
{
    skip_space();
    switch (*json_pos) {
    case '"':
        return parse_string();
    case '[':
        return parse_container(J_ARRAY, ']');
    case '{':
        return parse_container(J_OBJECT, '}');
    case 't':
        return parse_literal("true", J_TRUE);
    case 'f':
        return parse_literal("false", J_FALSE);
    case 'n':
        return parse_literal("null", J_NULL);
    default:
        if (*json_pos == '-' || (*json_pos >= '0' && *json_pos <= '9')) {
            int node = new_node(J_NUMBER);
            if (node < 0) {
                return -1;
            }
            while (*json_pos == '-' || (*json_pos >= '0' && *json_pos <= '9')) {
                json_pos++;
            }
            nodes[node].len = (size_t)(json_pos - nodes[node].start);
            return node;
        }
        json_error = "unexpected character";
        return -1;
    }
}

static int jget(int object, const char *key)
{
    int child;
    size_t len = strlen(key);
    if (object < 0 || nodes[object].type != J_OBJECT) {
        return -1;
    }
    for (child = nodes[object].child; child >= 0; child = nodes[child].next) {
        const jnode_t *k = &nodes[nodes[child].key];
        if (k->len == len && memcmp(k->start, key, len) == 0) {
            return child;
        }
    }
    return -1;
}

/* Type of a node, or -1 for a missing one (so a malformed file fails checks, not memory). */
static int jtype(int node)
{
    return node >= 0 ? nodes[node].type : -1;
}

static int jchild(int node)
{
    return node >= 0 ? nodes[node].child : -1;
}

static unsigned long long jnum(int node)
{
    if (node < 0 || nodes[node].type != J_NUMBER) {
        return 0xDEADBEEFull;
    }
    return strtoull(nodes[node].start, NULL, 10);
}

static bool jstr_eq(int node, const char *text)
{
    return node >= 0 && nodes[node].type == J_STRING && nodes[node].len == strlen(text) &&
           memcmp(nodes[node].start, text, nodes[node].len) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode hex text into out[cap]; returns the byte count, or -1 if invalid or too long. */
static long hex_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    size_t i;
    if (len % 2u != 0u || len / 2u > cap) {
        return -1;
    }
    for (i = 0; i < len; i += 2u) {
        int hi = hex_value(text[i]);
        int lo = hex_value(text[i + 1u]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        out[i / 2u] = (uint8_t)(hi * 16 + lo);
    }
    return (long)(len / 2u);
}

static long jhex(int node, uint8_t *out, size_t cap)
{
    if (node < 0 || nodes[node].type != J_STRING) {
        return -1;
    }
    return hex_decode(nodes[node].start, nodes[node].len, out, cap);
}

/* ------------------------------------------------------------------ frame capture */

#define MAX_CAPTURED 64

typedef struct {
    uint8_t version;
    uint8_t type;
    uint16_t seq;
    uint16_t length;
    uint8_t payload[EOL_MAX_PAYLOAD];
    uint8_t raw[EOL_MAX_FRAME];
    size_t raw_len;
} captured_t;

static captured_t captured[MAX_CAPTURED];
static int captured_count = 0;

static void capture(const eol_frame_t *frame, void *context)
{
    captured_t *c;
    const eol_decoder_t *decoder = (const eol_decoder_t *)context;
    if (captured_count >= MAX_CAPTURED) {
        return;
    }
    c = &captured[captured_count++];
    c->version = frame->version;
    c->type = frame->type;
    c->seq = frame->seq;
    c->length = frame->length;
    memcpy(c->payload, frame->payload, frame->length);
    /* The whole unstuffed frame, so the fuzz harness can let Python re-check the CRC. */
    c->raw_len = (size_t)frame->length + EOL_HEADER_SIZE + EOL_CRC_SIZE;
    memcpy(c->raw, decoder->buf, c->raw_len);
}

static eol_decoder_t decoder;

static void reset_capture(void)
{
    captured_count = 0;
    eol_decoder_init(&decoder, capture, &decoder);
}

static eol_frame_t frame_of(const captured_t *c)
{
    eol_frame_t frame;
    frame.version = c->version;
    frame.type = c->type;
    frame.seq = c->seq;
    frame.length = c->length;
    frame.payload = c->payload;
    return frame;
}

static const char *status_name(eol_status_t status)
{
    switch (status) {
    case EOL_OK:
        return "ok";
    case EOL_ERR_VERSION:
        return "version";
    case EOL_ERR_UNKNOWN_TYPE:
        return "unknown_type";
    case EOL_ERR_MALFORMED:
        return "malformed";
    default:
        return "wrong_type";
    }
}

/* ------------------------------------------------------------------ vector checks */

static bool bytes_equal_hex(const char *name, const char *field, int node, const void *data,
                            size_t len)
{
    uint8_t expected[1024];
    long n = jhex(node, expected, sizeof expected);
    bool ok = n >= 0 && (size_t)n == len && memcmp(expected, data, len) == 0;
    CHECK(ok, "%s: %s differs", name, field);
    return ok;
}

#define CHECK_FIELD(name, message, key, actual)                                            \
    CHECK(jnum(jget(message, key)) == (unsigned long long)(actual), "%s: %s=%llu, want %llu", \
          name, key, (unsigned long long)(actual), jnum(jget(message, key)))

static void check_message(const char *name, int message, const eol_frame_t *frame,
                          const uint8_t *wire, size_t wire_len, bool reencode)
{
    uint8_t out[EOL_WIRE_SIZE(EOL_MAX_FRAME)];
    size_t out_len = 0;
    bool encodable = true;

    if (jstr_eq(jget(message, "type"), "HELLO")) {
        eol_hello_t hello;
        CHECK(eol_decode_hello(frame, &hello) == EOL_OK, "%s: decode", name);
        CHECK_FIELD(name, message, "min_version", hello.min_version);
        CHECK_FIELD(name, message, "max_version", hello.max_version);
        bytes_equal_hex(name, "software", jget(message, "software_hex"), hello.software,
                        hello.software_len);
        bytes_equal_hex(name, "device_id", jget(message, "device_id_hex"), hello.device_id,
                        hello.device_id_len);
        bytes_equal_hex(name, "model_name", jget(message, "model_name_hex"),
                        hello.model_name, hello.model_name_len);
        out_len = eol_encode_hello(out, sizeof out, frame->seq, &hello);
    } else if (jstr_eq(jget(message, "type"), "READ")) {
        eol_read_t read;
        int line;
        uint8_t i = 0;
        CHECK(eol_decode_read(frame, &read) == EOL_OK, "%s: decode", name);
        CHECK_FIELD(name, message, "item_id", read.item_id);
        CHECK_FIELD(name, message, "timestamp_ms", read.timestamp_ms);
        CHECK_FIELD(name, message, "verdict", read.verdict);
        CHECK_FIELD(name, message, "grade", read.grade);
        CHECK_FIELD(name, message, "confidence", read.confidence);
        bytes_equal_hex(name, "text", jget(message, "text_hex"), read.text, read.text_len);
        CHECK(strlen(read.text) == read.text_len, "%s: text is not NUL-terminated", name);
        line = jchild(jget(message, "line_confidences"));
        for (; line >= 0; line = nodes[line].next, i++) {
            CHECK(i < read.line_count && read.line_confidence[i] == jnum(line),
                  "%s: line confidence %u", name, (unsigned)i);
        }
        CHECK(i == read.line_count, "%s: %u lines, want %u", name, (unsigned)read.line_count,
              (unsigned)i);
        encodable = false; /* READs flow recognizer -> firmware; firmware never encodes one */
    } else if (jstr_eq(jget(message, "type"), "HEARTBEAT")) {
        eol_heartbeat_t heartbeat;
        CHECK(eol_decode_heartbeat(frame, &heartbeat) == EOL_OK, "%s: decode", name);
        CHECK_FIELD(name, message, "uptime_ms", heartbeat.uptime_ms);
        CHECK_FIELD(name, message, "queued", heartbeat.queued);
        out_len = eol_encode_heartbeat(out, sizeof out, frame->seq, heartbeat.uptime_ms,
                                       heartbeat.queued);
    } else if (jstr_eq(jget(message, "type"), "SET_EXPECTED")) {
        eol_set_expected_t expected;
        CHECK(eol_decode_set_expected(frame, &expected) == EOL_OK, "%s: decode", name);
        bytes_equal_hex(name, "text", jget(message, "text_hex"), expected.text,
                        expected.text_len);
        out_len = eol_encode_set_expected(out, sizeof out, frame->seq, expected.text,
                                          expected.text_len);
    } else if (jstr_eq(jget(message, "type"), "ACK")) {
        eol_ack_t ack;
        CHECK(eol_decode_ack(frame, &ack) == EOL_OK, "%s: decode", name);
        CHECK_FIELD(name, message, "seq", ack.seq);
        out_len = eol_encode_ack(out, sizeof out, frame->seq, ack.seq);
    } else if (jstr_eq(jget(message, "type"), "NACK")) {
        eol_nack_t nack;
        CHECK(eol_decode_nack(frame, &nack) == EOL_OK, "%s: decode", name);
        CHECK_FIELD(name, message, "seq", nack.seq);
        CHECK_FIELD(name, message, "reason", nack.reason);
        out_len = eol_encode_nack(out, sizeof out, frame->seq, nack.seq, nack.reason);
    } else {
        CHECK(false, "%s: unknown message type in vectors.json", name);
        return;
    }
    if (reencode && encodable) {
        CHECK(out_len == wire_len && memcmp(out, wire, wire_len) == 0,
              "%s: C encoding differs from the vector's wire bytes", name);
    }
}

static uint32_t error_count(const char *kind)
{
    const eol_decoder_stats_t *s = &decoder.stats;
    if (strcmp(kind, "cobs") == 0) {
        return s->cobs;
    }
    if (strcmp(kind, "short") == 0) {
        return s->short_frame;
    }
    if (strcmp(kind, "too_long") == 0) {
        return s->too_long;
    }
    if (strcmp(kind, "length") == 0) {
        return s->length;
    }
    if (strcmp(kind, "crc") == 0) {
        return s->crc;
    }
    return 0xFFFFFFFFu;
}

static uint8_t stream[65536];
static size_t stream_len = 0;
static int stream_frames = 0;

static void check_vector(int vector)
{
    static uint8_t wire[4096];
    char name[64];
    int name_node = jget(vector, "name");
    int frame_node = jget(vector, "frame");
    int error_node = jget(vector, "error");
    int message_node = jget(vector, "message");
    long wire_len = jhex(jget(vector, "wire"), wire, sizeof wire);

    snprintf(name, sizeof name, "%.*s", name_node >= 0 ? (int)nodes[name_node].len : 1,
             name_node >= 0 ? nodes[name_node].start : "?");
    CHECK(wire_len > 0, "%s: bad wire hex", name);
    if (wire_len <= 0) {
        return;
    }
    if ((size_t)wire_len <= sizeof stream - stream_len) {
        memcpy(stream + stream_len, wire, (size_t)wire_len);
        stream_len += (size_t)wire_len;
    }
    reset_capture();
    eol_decoder_feed_buffer(&decoder, wire, (size_t)wire_len);

    CHECK(jtype(frame_node) == J_NULL || jtype(frame_node) == J_OBJECT, "%s: frame", name);
    CHECK(jtype(error_node) == J_NULL || jtype(error_node) == J_STRING, "%s: error", name);
    if (jtype(frame_node) != J_OBJECT) {
        char kind[32];
        bool has_kind = jtype(error_node) == J_STRING;
        snprintf(kind, sizeof kind, "%.*s", has_kind ? (int)nodes[error_node].len : 0,
                 has_kind ? nodes[error_node].start : "");
        CHECK(captured_count == 0, "%s: decoded a frame from a bad chunk", name);
        CHECK(error_count(kind) == 1u, "%s: expected one '%s' error", name, kind);
        CHECK(decoder.stats.cobs + decoder.stats.short_frame + decoder.stats.too_long +
                      decoder.stats.length + decoder.stats.crc ==
                  1u,
              "%s: more than one error counted", name);
        return;
    }
    stream_frames++;
    CHECK(captured_count == 1, "%s: %d frames decoded, want 1", name, captured_count);
    if (captured_count != 1) {
        return;
    }
    {
        const captured_t *c = &captured[0];
        eol_frame_t frame = frame_of(c);
        eol_status_t status = eol_validate(&frame);
        CHECK(c->version == jnum(jget(frame_node, "version")), "%s: version", name);
        CHECK(c->type == jnum(jget(frame_node, "type")), "%s: type", name);
        CHECK(c->seq == jnum(jget(frame_node, "seq")), "%s: seq", name);
        bytes_equal_hex(name, "payload", jget(frame_node, "payload"), c->payload, c->length);
        if (jtype(error_node) != J_STRING) {
            CHECK(status == EOL_OK, "%s: status %s, want ok", name, status_name(status));
            check_message(name, message_node, &frame, wire, (size_t)wire_len,
                          jtype(jget(vector, "reencode")) == J_TRUE);
        } else {
            CHECK(strlen(status_name(status)) == nodes[error_node].len &&
                      memcmp(status_name(status), nodes[error_node].start,
                             nodes[error_node].len) == 0,
                  "%s: status %s differs from the vector's error", name, status_name(status));
        }
    }
}

static void test_vectors(const char *path)
{
    static char text[1 << 18];
    FILE *file = fopen(path, "rb");
    size_t len;
    int root;
    int vector;
    int count = 0;
    uint8_t check_input[64];
    long check_len;

    CHECK(file != NULL, "cannot open %s", path);
    if (file == NULL) {
        return;
    }
    len = fread(text, 1, sizeof text - 1u, file);
    fclose(file);
    CHECK(len < sizeof text - 1u, "%s is larger than the test's buffer", path);
    text[len] = '\0';
    json_pos = text;
    root = parse_value();
    CHECK(root >= 0 && json_error == NULL, "%s: JSON error: %s", path,
          json_error ? json_error : "?");
    if (root < 0) {
        return;
    }
    CHECK(jnum(jget(root, "protocol_version")) == EOL_PROTOCOL_VERSION, "protocol version");
    {
        int ascii = jget(jget(root, "crc_check"), "ascii");
        CHECK(jtype(ascii) == J_STRING && nodes[ascii].len <= sizeof check_input,
              "crc_check.ascii");
        if (jtype(ascii) != J_STRING || nodes[ascii].len > sizeof check_input) {
            return;
        }
        memcpy(check_input, nodes[ascii].start, nodes[ascii].len);
        check_len = (long)nodes[ascii].len;
        CHECK(eol_crc16(check_input, (size_t)check_len, EOL_CRC16_INIT) ==
                  jnum(jget(jget(root, "crc_check"), "crc")),
              "CRC check value from vectors.json");
    }
    for (vector = jchild(jget(root, "vectors")); vector >= 0;
         vector = nodes[vector].next) {
        check_vector(vector);
        count++;
    }
    CHECK(count >= 20, "only %d vectors", count);

    /* All vectors back to back, after garbage: the same frames come out, in order. */
    {
        static const uint8_t garbage[] = {0x13, 0x37, 0xFF, 0x02, 0x41, 0x00};
        reset_capture();
        eol_decoder_feed_buffer(&decoder, garbage, sizeof garbage);
        eol_decoder_feed_buffer(&decoder, stream, stream_len);
        CHECK(captured_count == stream_frames, "stream: %d frames, want %d", captured_count,
              stream_frames);
    }
    printf("vectors: %d checked\n", count);
}

/* ------------------------------------------------------------------ unit tests */

static void test_crc(void)
{
    const uint8_t check[] = "123456789";
    CHECK(eol_crc16(check, 9u, EOL_CRC16_INIT) == 0x29B1u, "CRC-16/CCITT-FALSE check value");
    CHECK(eol_crc16(check + 4, 5u, eol_crc16(check, 4u, EOL_CRC16_INIT)) == 0x29B1u,
          "running CRC");
}

static void test_round_trip_long_text(void)
{
    /* 255 non-zero bytes cross the 254-byte COBS block limit. */
    char text[EOL_MAX_TEXT];
    uint8_t wire[EOL_TX_BUFFER_SIZE];
    size_t len;
    eol_set_expected_t expected;
    eol_frame_t frame;
    size_t i;
    for (i = 0; i < sizeof text; i++) {
        text[i] = (char)('A' + (char)(i % 26u));
    }
    len = eol_encode_set_expected(wire, sizeof wire, 0xBEEFu, text, sizeof text);
    CHECK(len > 0u && len <= sizeof wire, "encode 255-byte SET_EXPECTED");
    CHECK(eol_encode_set_expected(wire, sizeof wire, 1u, text, sizeof text + 1u) == 0u,
          "text over 255 bytes is refused");
    reset_capture();
    eol_decoder_feed_buffer(&decoder, wire, len);
    CHECK(captured_count == 1, "decode 255-byte SET_EXPECTED");
    if (captured_count == 1) {
        frame = frame_of(&captured[0]);
        CHECK(frame.seq == 0xBEEFu, "seq");
        CHECK(eol_decode_set_expected(&frame, &expected) == EOL_OK, "payload");
        CHECK(expected.text_len == sizeof text && memcmp(expected.text, text, sizeof text) == 0,
              "text");
        CHECK(eol_decode_read(&frame, (eol_read_t *)&captured[1]) == EOL_ERR_WRONG_TYPE,
              "wrong decoder is refused");
    }
}

static void test_small_buffers(void)
{
    /* Every encoder must fail cleanly, never write past `cap` (ASan watches). */
    size_t cap;
    for (cap = 0; cap < 16u; cap++) {
        uint8_t *out = (uint8_t *)malloc(cap == 0u ? 1u : cap); /* exact-size heap block */
        size_t need_ack = 0;
        size_t len;
        CHECK(out != NULL, "malloc");
        if (out == NULL) {
            return;
        }
        len = eol_encode_ack(out, cap, 1u, 2u);
        if (len != 0u) {
            need_ack = len;
            CHECK(len <= cap, "ack length within cap");
        }
        CHECK(eol_encode_nack(out, cap, 1u, 2u, 3u) <= cap, "nack within cap");
        CHECK(eol_encode_heartbeat(out, cap, 1u, 2u, 3u) <= cap, "heartbeat within cap");
        CHECK(eol_encode_set_expected(out, cap, 1u, "ABC", 3u) <= cap, "set_expected in cap");
        /* An ACK is 10 bytes unstuffed, 12 on the wire: it must fit exactly at cap 12. */
        CHECK((cap < 12u) == (need_ack == 0u) && (need_ack == 0u || need_ack == 12u),
              "ACK of %u bytes at cap %u", (unsigned)need_ack, (unsigned)cap);
        free(out);
    }
}

static void test_resync_and_overflow(void)
{
    uint8_t wire[EOL_TX_BUFFER_SIZE];
    size_t len = eol_encode_ack(wire, sizeof wire, 7u, 9u);
    size_t i;

    /* Garbage glued to the front of a frame corrupts only that frame... */
    reset_capture();
    eol_decoder_feed(&decoder, 0x42u);
    eol_decoder_feed_buffer(&decoder, wire, len);
    CHECK(captured_count == 0, "frame with glued garbage is dropped");
    /* ...and the next frame is received intact. */
    eol_decoder_feed_buffer(&decoder, wire, len);
    CHECK(captured_count == 1 && captured[0].seq == 7u, "resynchronised on the next frame");

    /* A long run without a delimiter is discarded without overrunning the buffer. */
    reset_capture();
    for (i = 0; i < 5000u; i++) {
        eol_decoder_feed(&decoder, (uint8_t)(1u + i % 200u));
    }
    eol_decoder_feed(&decoder, 0u);
    CHECK(decoder.stats.too_long == 1u, "overflow counted");
    eol_decoder_feed_buffer(&decoder, wire, len);
    CHECK(captured_count == 1, "frame after an overflow");

    /* Empty chunks (back-to-back delimiters) are padding, not errors. */
    reset_capture();
    eol_decoder_feed(&decoder, 0u);
    eol_decoder_feed(&decoder, 0u);
    CHECK(decoder.stats.cobs + decoder.stats.short_frame == 0u, "padding is not an error");
}

static void test_dedup(void)
{
    eol_dedup_t dedup;
    uint32_t id;
    eol_dedup_init(&dedup);
    CHECK(eol_dedup_is_new(&dedup, 5u), "first time");
    CHECK(!eol_dedup_is_new(&dedup, 5u), "repeat");
    for (id = 100u; id < 100u + EOL_DEDUP_DEPTH; id++) {
        CHECK(eol_dedup_is_new(&dedup, id), "fill %lu", (unsigned long)id);
    }
    CHECK(eol_dedup_is_new(&dedup, 5u), "forgotten after EOL_DEDUP_DEPTH newer ids");
    CHECK(!eol_dedup_is_new(&dedup, 100u + EOL_DEDUP_DEPTH - 1u), "recent id remembered");
}

/* ------------------------------------------------------------------ fuzz harness */

static int fuzz(void)
{
    static char line[1 << 16];
    static uint8_t bytes[1 << 15];
    while (fgets(line, sizeof line, stdin) != NULL) {
        size_t len = strcspn(line, "\r\n");
        long n = hex_decode(line, len, bytes, sizeof bytes);
        int i;
        if (n < 0) {
            printf("X bad input line\n");
            fflush(stdout);
            continue;
        }
        reset_capture();
        eol_decoder_feed_buffer(&decoder, bytes, (size_t)n);
        for (i = 0; i < captured_count; i++) {
            eol_frame_t frame = frame_of(&captured[i]);
            size_t k;
            printf("F ");
            for (k = 0; k < captured[i].raw_len; k++) {
                printf("%02x", captured[i].raw[k]);
            }
            printf(" %s\n", status_name(eol_validate(&frame)));
        }
        printf("E\n");
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--fuzz") == 0) {
        return fuzz();
    }
    if (argc != 2) {
        fprintf(stderr, "usage: test_link VECTORS_JSON | test_link --fuzz\n");
        return 2;
    }
    test_crc();
    test_round_trip_long_text();
    test_small_buffers();
    test_resync_and_overflow();
    test_dedup();
    test_vectors(argv[1]);
    if (failures != 0) {
        fprintf(stderr, "%d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("all %d checks passed\n", checks);
    return 0;
}
