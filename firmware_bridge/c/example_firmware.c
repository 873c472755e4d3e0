/*
 * example_firmware.c - plays the firmware end of the edge-ocr link on a host, over a tty.
 *
 *   example_firmware [--baud N] [--device-id ID] [--set-expected-after N TEXT] DEVICE
 *
 * It opens DEVICE (a USB-serial adapter, or one end of a pseudo-terminal pair) in raw 8N1
 * mode and then behaves like the reference firmware described in ../PROTOCOL.md:
 *   - sends HELLO on start and after each recognizer HELLO (which it ACKs), resending it
 *     every 100 ms until ACKed, at most 50 times;
 *   - ACKs every valid READ (duplicates too), de-duplicates by item id, and prints each new
 *     item on stdout as one line:
 *         READ item=<id> verdict=<none|pass|fail|no-read> grade=<A..F|-> confidence=<0..1>
 *              text=<text>
 *     (one line; text comes last and may contain spaces; control bytes and backslash are
 *     escaped as \xHH);
 *   - sends SET_EXPECTED (retransmitted every 100 ms until ACKed, at most 50 times):
 *       * with the text of each line read from stdin (e.g. `echo LOT0700 | ...`), and
 *       * with TEXT once N new items were received, given --set-expected-after N TEXT;
 *   - NACKs frames it cannot accept, sends a HEARTBEAT every second.
 * Diagnostics go to stderr; on SIGINT/SIGTERM it prints counters to stderr and exits 0.
 * Exit status 2 means bad arguments, 1 a device error.
 *
 * The protocol code is edge_ocr_link.c, unchanged; only the main loop here is POSIX.
 */
#define _POSIX_C_SOURCE 200809L

#include "edge_ocr_link.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define RESEND_MS 100
#define RESEND_TRIES 50
#define HEARTBEAT_MS 1000

/* A frame that must be acknowledged (HELLO, SET_EXPECTED): resent until its ACK comes. */
typedef struct {
    const char *name;
    bool active;
    uint16_t seq;
    uint8_t wire[EOL_TX_BUFFER_SIZE];
    size_t len;
    int tries;
    long long due_ms;
} pending_t;

typedef struct {
    int fd;
    uint16_t seq;
    eol_dedup_t dedup;
    unsigned long received;
    unsigned long duplicates;
    unsigned long set_expected_after;
    const char *set_expected_text;
    pending_t hello;
    pending_t expected;
    char device_id[EOL_MAX_HELLO_STRING + 1u];
} app_t;

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int signum)
{
    (void)signum;
    stop_requested = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000L;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0u) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void send_wire(app_t *app, const uint8_t *wire, size_t len)
{
    if (len == 0u || write_all(app->fd, wire, len) != 0) {
        fprintf(stderr, "example_firmware: write failed: %s\n", strerror(errno));
    }
}

static uint16_t next_seq(app_t *app)
{
    app->seq = (uint16_t)(app->seq + 1u);
    return app->seq;
}

static void send_ack(app_t *app, uint16_t acked_seq)
{
    uint8_t wire[EOL_TX_BUFFER_SIZE];
    send_wire(app, wire, eol_encode_ack(wire, sizeof wire, next_seq(app), acked_seq));
}

static void send_nack(app_t *app, uint16_t nacked_seq, eol_nack_reason_t reason)
{
    uint8_t wire[EOL_TX_BUFFER_SIZE];
    send_wire(app, wire,
              eol_encode_nack(wire, sizeof wire, next_seq(app), nacked_seq, (uint8_t)reason));
}

static void start_pending(pending_t *pending, size_t len)
{
    pending->len = len;
    pending->active = len > 0u;
    pending->tries = 0;
    pending->due_ms = now_ms();
}

static void resend_pending(app_t *app, pending_t *pending, long long now)
{
    if (!pending->active || now < pending->due_ms) {
        return;
    }
    if (pending->tries >= RESEND_TRIES) {
        pending->active = false;
        fprintf(stderr, "example_firmware: %s seq=%u never acknowledged\n", pending->name,
                (unsigned)pending->seq);
        return;
    }
    send_wire(app, pending->wire, pending->len);
    pending->tries++;
    pending->due_ms = now + RESEND_MS;
}

/* An ACK or NACK for seq settles the pending frame with that sequence number, if any. */
static void settle_pending(pending_t *pending, uint16_t seq, const char *outcome)
{
    if (pending->active && pending->seq == seq) {
        pending->active = false;
        fprintf(stderr, "example_firmware: %s seq=%u %s\n", pending->name, (unsigned)seq,
                outcome);
    }
}

static void send_hello(app_t *app)
{
    eol_hello_t hello;
    memset(&hello, 0, sizeof hello);
    hello.min_version = EOL_PROTOCOL_VERSION;
    hello.max_version = EOL_PROTOCOL_VERSION;
    strcpy(hello.software, "example_firmware 1");
    hello.software_len = (uint8_t)strlen(hello.software);
    strcpy(hello.device_id, app->device_id);
    hello.device_id_len = (uint8_t)strlen(hello.device_id);
    app->hello.seq = next_seq(app);
    start_pending(&app->hello,
                  eol_encode_hello(app->hello.wire, sizeof app->hello.wire, app->hello.seq,
                                   &hello));
}

static void queue_set_expected(app_t *app, const char *text, size_t len)
{
    if (len > EOL_MAX_TEXT) {
        len = EOL_MAX_TEXT;
    }
    app->expected.seq = next_seq(app);
    start_pending(&app->expected,
                  eol_encode_set_expected(app->expected.wire, sizeof app->expected.wire,
                                          app->expected.seq, text, len));
    fprintf(stderr, "example_firmware: SET_EXPECTED seq=%u text=%.*s\n",
            (unsigned)app->expected.seq, (int)len, text);
}

static const char *verdict_name(uint8_t verdict)
{
    switch (verdict) {
    case EOL_VERDICT_PASS:
        return "pass";
    case EOL_VERDICT_FAIL:
        return "fail";
    case EOL_VERDICT_NO_READ:
        return "no-read";
    default:
        return "none";
    }
}

static void print_read(const eol_read_t *read)
{
    uint8_t i;
    printf("READ item=%lu verdict=%s grade=%c confidence=%u.%04u text=",
           (unsigned long)read->item_id, verdict_name(read->verdict),
           read->grade != 0u ? (char)read->grade : '-',
           (unsigned)(read->confidence / EOL_CONFIDENCE_SCALE),
           (unsigned)(read->confidence % EOL_CONFIDENCE_SCALE));
    for (i = 0; i < read->text_len; i++) {
        unsigned char c = (unsigned char)read->text[i];
        if (c < 0x20u || c == 0x7Fu || c == '\\') {
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
    }
    putchar('\n');
    fflush(stdout);
}

static void on_frame(const eol_frame_t *frame, void *context)
{
    app_t *app = (app_t *)context;
    eol_status_t status = eol_validate(frame);
    eol_read_t read;
    eol_hello_t hello;
    eol_ack_t ack;
    eol_nack_t nack;

    if (status != EOL_OK) {
        fprintf(stderr, "example_firmware: refusing frame seq=%u type=0x%02x (status %d)\n",
                (unsigned)frame->seq, (unsigned)frame->type, (int)status);
        if (frame->type != EOL_ACK && frame->type != EOL_NACK) {
            send_nack(app, frame->seq, eol_nack_reason_for(status));
        }
        return;
    }
    switch (frame->type) {
    case EOL_READ:
        (void)eol_decode_read(frame, &read);
        send_ack(app, frame->seq);
        if (!eol_dedup_is_new(&app->dedup, read.item_id)) {
            app->duplicates++;
            return;
        }
        app->received++;
        print_read(&read);
        if (app->set_expected_text != NULL && app->received == app->set_expected_after) {
            queue_set_expected(app, app->set_expected_text, strlen(app->set_expected_text));
        }
        break;
    case EOL_HELLO:
        (void)eol_decode_hello(frame, &hello);
        send_ack(app, frame->seq);
        fprintf(stderr, "example_firmware: HELLO v%u-%u software=%s device=%s model=%s\n",
                (unsigned)hello.min_version, (unsigned)hello.max_version, hello.software,
                hello.device_id, hello.model_name);
        /* A recognizer (re)connected: introduce ourselves (it never answers HELLO with
         * HELLO, so this cannot loop). */
        send_hello(app);
        break;
    case EOL_ACK:
        (void)eol_decode_ack(frame, &ack);
        settle_pending(&app->hello, ack.seq, "acknowledged");
        settle_pending(&app->expected, ack.seq, "acknowledged");
        break;
    case EOL_NACK:
        (void)eol_decode_nack(frame, &nack);
        settle_pending(&app->hello, nack.seq, "refused");
        settle_pending(&app->expected, nack.seq, "refused");
        break;
    case EOL_HEARTBEAT:
        break;
    default:
        /* SET_EXPECTED flows firmware -> recognizer only. */
        send_nack(app, frame->seq, EOL_NACK_UNKNOWN_TYPE);
        break;
    }
}

static speed_t baud_constant(long baud)
{
    switch (baud) {
    case 9600:
        return B9600;
    case 19200:
        return B19200;
    case 38400:
        return B38400;
#ifdef B57600
    case 57600:
        return B57600;
#endif
#ifdef B115200
    case 115200:
        return B115200;
#endif
#ifdef B230400
    case 230400:
        return B230400;
#endif
    default:
        return B0;
    }
}

static int open_raw(const char *path, speed_t speed)
{
    struct termios tio;
    int fd = open(path, O_RDWR | O_NOCTTY);
    if (fd < 0) {
        return -1;
    }
    if (tcgetattr(fd, &tio) != 0) {
        close(fd);
        return -1;
    }
    tio.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
                               IXON | IXOFF);
    tio.c_oflag &= ~(tcflag_t)OPOST;
    tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB);
    tio.c_cflag |= (tcflag_t)(CS8 | CREAD | CLOCAL);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, speed) != 0 || cfsetospeed(&tio, speed) != 0 ||
        tcsetattr(fd, TCSANOW, &tio) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: example_firmware [--baud N] [--device-id ID] "
                    "[--set-expected-after N TEXT] DEVICE\n");
}

/* Each complete stdin line becomes a SET_EXPECTED; returns false at end of input. */
static bool read_stdin(app_t *app, char *line, size_t *line_len, size_t cap)
{
    char chunk[256];
    ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
    ssize_t i;
    if (n <= 0) {
        return n < 0 && errno == EINTR;
    }
    for (i = 0; i < n; i++) {
        if (chunk[i] == '\n') {
            if (*line_len > 0u && line[*line_len - 1u] == '\r') {
                (*line_len)--;
            }
            queue_set_expected(app, line, *line_len);
            *line_len = 0;
        } else if (*line_len < cap) {
            line[(*line_len)++] = chunk[i];
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    static app_t app;
    static eol_decoder_t decoder;
    const char *device = NULL;
    long baud = 115200;
    bool stdin_open = true;
    char line[EOL_MAX_TEXT];
    size_t line_len = 0;
    long long next_heartbeat;
    long long started;
    int i;
    struct sigaction action;

    memset(&app, 0, sizeof app);
    app.hello.name = "HELLO";
    app.expected.name = "SET_EXPECTED";
    strcpy(app.device_id, "example");
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--baud") == 0 && i + 1 < argc) {
            baud = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--device-id") == 0 && i + 1 < argc) {
            snprintf(app.device_id, sizeof app.device_id, "%s", argv[++i]);
        } else if (strcmp(argv[i], "--set-expected-after") == 0 && i + 2 < argc) {
            app.set_expected_after = strtoul(argv[++i], NULL, 10);
            app.set_expected_text = argv[++i];
        } else if (argv[i][0] != '-' && device == NULL) {
            device = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (device == NULL || baud_constant(baud) == B0) {
        usage();
        return 2;
    }
    app.fd = open_raw(device, baud_constant(baud));
    if (app.fd < 0) {
        fprintf(stderr, "example_firmware: cannot open %s: %s\n", device, strerror(errno));
        return 1;
    }
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    eol_dedup_init(&app.dedup);
    eol_decoder_init(&decoder, on_frame, &app);

    {
        const uint8_t flush = 0u; /* ends any half frame the recognizer was holding */
        send_wire(&app, &flush, 1u);
    }
    send_hello(&app);
    started = now_ms();
    next_heartbeat = started + HEARTBEAT_MS;

    while (!stop_requested) {
        fd_set readable;
        struct timeval timeout = {0, 20000};
        int max_fd = app.fd;
        long long now;
        int ready;

        FD_ZERO(&readable);
        FD_SET(app.fd, &readable);
        if (stdin_open) {
            FD_SET(STDIN_FILENO, &readable);
            if (STDIN_FILENO > max_fd) {
                max_fd = STDIN_FILENO;
            }
        }
        ready = select(max_fd + 1, &readable, NULL, NULL, &timeout);
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "example_firmware: select failed: %s\n", strerror(errno));
            return 1;
        }
        if (ready > 0 && FD_ISSET(app.fd, &readable)) {
            uint8_t buffer[512];
            ssize_t n = read(app.fd, buffer, sizeof buffer);
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                fprintf(stderr, "example_firmware: %s: %s\n", device, strerror(errno));
                return 1;
            }
            if (n > 0) {
                eol_decoder_feed_buffer(&decoder, buffer, (size_t)n);
            }
        }
        if (ready > 0 && stdin_open && FD_ISSET(STDIN_FILENO, &readable)) {
            stdin_open = read_stdin(&app, line, &line_len, sizeof line);
        }
        now = now_ms();
        resend_pending(&app, &app.hello, now);
        resend_pending(&app, &app.expected, now);
        if (now >= next_heartbeat) {
            uint8_t wire[EOL_TX_BUFFER_SIZE];
            send_wire(&app, wire,
                      eol_encode_heartbeat(wire, sizeof wire, next_seq(&app),
                                           (uint32_t)(now - started),
                                           (uint16_t)(app.hello.active + app.expected.active)));
            next_heartbeat = now + HEARTBEAT_MS;
        }
    }
    fprintf(stderr,
            "example_firmware: received=%lu duplicates=%lu frames=%lu cobs=%lu short=%lu "
            "too_long=%lu length=%lu crc=%lu\n",
            app.received, app.duplicates, (unsigned long)decoder.stats.frames,
            (unsigned long)decoder.stats.cobs, (unsigned long)decoder.stats.short_frame,
            (unsigned long)decoder.stats.too_long, (unsigned long)decoder.stats.length,
            (unsigned long)decoder.stats.crc);
    close(app.fd);
    return 0;
}
