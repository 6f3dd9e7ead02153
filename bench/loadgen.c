/*
 * loadgen: a WebSocket load generator in C (epoll, no threads), for bench/run.py.
 *
 *   loadgen latency    HOST PORT PATH COUNT SIZE
 *   loadgen throughput HOST PORT PATH CONNS INFLIGHT SIZE SECONDS
 *   loadgen bigecho    HOST PORT PATH SIZE COUNT
 *   loadgen idle       HOST PORT PATH CONNS          (prints OPEN, waits for a stdin line)
 *   loadgen handshakes HOST PORT PATH PARALLEL SECONDS
 *   loadgen h2         HOST PORT PATH STREAMS INFLIGHT SIZE SECONDS
 *
 * h2 is throughput over ONE TCP connection speaking cleartext HTTP/2 with prior
 * knowledge: STREAMS WebSockets bootstrapped by extended CONNECT (RFC 8441), each
 * with INFLIGHT messages in flight, one DATA frame per message (see h2_pump).
 * Add --raw as the first argument to talk to a plain TCP echo server: no
 * handshake, and the echoed (masked) frames are parsed as they come back.
 * Every scenario prints one "RESULT key=value ..." line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int raw_mode = 0;
static const unsigned char MASK[4] = {0x12, 0x34, 0x56, 0x78};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

/* A masked client frame (text when opcode 1, binary when 2) of SIZE bytes. */
static size_t build_frame(unsigned char *out, int opcode, size_t size) {
    size_t n = 0;
    out[n++] = 0x80 | opcode;
    if (size < 126) {
        out[n++] = 0x80 | (unsigned char)size;
    } else if (size < 65536) {
        out[n++] = 0x80 | 126;
        out[n++] = size >> 8;
        out[n++] = size & 0xff;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[n++] = (size >> (8 * i)) & 0xff;
    }
    memcpy(out + n, MASK, 4);
    n += 4;
    for (size_t i = 0; i < size; i++) out[n + i] = ('a' + i % 26) ^ MASK[i % 4];
    return n + size;
}

/* Length of the first complete frame in BUF, 0 if incomplete. Sets *opcode. */
static size_t frame_length(const unsigned char *buf, size_t len, int *opcode) {
    if (len < 2) return 0;
    size_t header = 2;
    uint64_t size = buf[1] & 0x7f;
    if (size == 126) {
        if (len < 4) return 0;
        size = ((uint64_t)buf[2] << 8) | buf[3];
        header = 4;
    } else if (size == 127) {
        if (len < 10) return 0;
        size = 0;
        for (int i = 0; i < 8; i++) size = (size << 8) | buf[2 + i];
        header = 10;
    }
    if (buf[1] & 0x80) header += 4;
    if (len < header + size) return 0;
    *opcode = buf[0] & 0x0f;
    return header + size;
}

/* The idle scenario's source address: one loopback port range holds about
 * 28,000 connections to one server port, so 100,000 need several addresses
 * (127.0.0.0/8 is all loopback). 0 means the kernel's choice. */
static int source_index = 0;
#define CONNS_PER_SOURCE 20000

static int tcp_connect(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (source_index) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000000u + (uint32_t)source_index);
#ifdef IP_BIND_ADDRESS_NO_PORT
        int on = 1; /* the port is chosen at connect, per destination */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
#endif
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind source address");
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            die("write");
        }
        p += w;
        n -= w;
    }
}

static char request[1024];

static void build_request(const char *host, int port, const char *path) {
    snprintf(request, sizeof request,
             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Origin: http://%s:%d\r\n\r\n",
             path, host, port, host, port);
}

/* Blocking connect + handshake. Bytes read past the response stay in *extra. */
static int open_ws(const char *host, int port, unsigned char *extra, size_t *extra_len) {
    int fd = tcp_connect(host, port);
    *extra_len = 0;
    if (raw_mode) return fd;
    write_all(fd, (const unsigned char *)request, strlen(request));
    char buf[4096];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof buf - len - 1);
        if (r <= 0) die("handshake read");
        len += r;
        buf[len] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            if (strncmp(buf, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "handshake refused: %.40s\n", buf);
                exit(2);
            }
            size_t head = end + 4 - buf;
            *extra_len = len - head;
            memcpy(extra, buf + head, *extra_len);
            return fd;
        }
        if (len >= sizeof buf - 1) {
            fprintf(stderr, "handshake response too long\n");
            exit(2);
        }
    }
}

/* Read until one whole frame is buffered; returns its length and shifts it out. */
static unsigned char *rbuf;
static size_t rcap, rlen;

static void read_frame(int fd) {
    int opcode;
    for (;;) {
        size_t n = frame_length(rbuf, rlen, &opcode);
        if (n) {
            memmove(rbuf, rbuf + n, rlen - n);
            rlen -= n;
            return;
        }
        if (rlen == rcap) {
            rcap *= 2;
            rbuf = realloc(rbuf, rcap);
        }
        ssize_t r = read(fd, rbuf + rlen, rcap - rlen);
        if (r <= 0) die("read");
        rlen += r;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency(const char *host, int port, int count, size_t size) {
    unsigned char *frame = malloc(size + 14);
    size_t flen = build_frame(frame, 1, size);
    rcap = 1 << 16;
    rbuf = malloc(rcap);
    int fd = open_ws(host, port, rbuf, &rlen);
    double *samples = malloc(sizeof(double) * count);
    for (int i = 0; i < count + 100; i++) {
        double t = now();
        write_all(fd, frame, flen);
        read_frame(fd);
        if (i >= 100) samples[i - 100] = (now() - t) * 1e6;  /* after a warm-up */
    }
    qsort(samples, count, sizeof(double), cmp_double);
    printf("RESULT median_us=%.2f p99_us=%.2f n=%d\n", samples[count / 2],
           samples[(int)(count * 0.99)], count);
}

static void bigecho(const char *host, int port, size_t size, int count) {
    unsigned char *frame = malloc(size + 14);
    size_t flen = build_frame(frame, 2, size);
    rcap = size + 64;
    rbuf = malloc(rcap);
    int fd = open_ws(host, port, rbuf, &rlen);
    write_all(fd, frame, flen);  /* warm-up */
    read_frame(fd);
    double t = now();
    for (int i = 0; i < count; i++) {
        write_all(fd, frame, flen);
        read_frame(fd);
    }
    double dt = now() - t;
    printf("RESULT mb_per_s=%.1f messages=%d seconds=%.3f\n", size * (double)count / dt / 1e6,
           count, dt);
}

struct conn {
    int fd;
    unsigned char *in;
    size_t in_len, in_cap;
    unsigned char *out;
    size_t out_len, out_cap;
    int state;  /* handshakes: 0 connecting, 1 awaiting 101, 2 awaiting close */
};

static void queue_out(struct conn *c, const unsigned char *p, size_t n) {
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = realloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static int flush_out(struct conn *c) {
    while (c->out_len) {
        ssize_t w = write(c->fd, c->out, c->out_len);
        if (w < 0) {
            if (errno == EAGAIN) return 0;
            if (errno == EINTR) continue;
            return -1;
        }
        memmove(c->out, c->out + w, c->out_len - w);
        c->out_len -= w;
    }
    return 1;
}

static void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void throughput(const char *host, int port, int nconn, int inflight, size_t size,
                       double seconds) {
    unsigned char frame[256];
    size_t flen = build_frame(frame, 1, size);
    int ep = epoll_create1(0);
    struct conn *conns = calloc(nconn, sizeof *conns);
    for (int i = 0; i < nconn; i++) {
        struct conn *c = &conns[i];
        c->in_cap = 1 << 16;
        c->in = malloc(c->in_cap);
        c->fd = open_ws(host, port, c->in, &c->in_len);
        set_nonblocking(c->fd);
        for (int k = 0; k < inflight; k++) queue_out(c, frame, flen);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
    struct epoll_event events[256];
    double start = now(), measure_from = start + 0.5, end = measure_from + seconds;
    long counted = 0;
    for (;;) {
        double t = now();
        if (t >= end) break;
        int n = epoll_wait(ep, events, 256, 100);
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            if (events[e].events & EPOLLIN) {
                for (;;) {
                    if (c->in_len == c->in_cap) {
                        c->in_cap *= 2;
                        c->in = realloc(c->in, c->in_cap);
                    }
                    ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                    if (r < 0 && errno == EAGAIN) break;
                    if (r <= 0) die("throughput read");
                    c->in_len += r;
                }
                size_t off = 0, fl;
                int opcode, got = 0;
                while ((fl = frame_length(c->in + off, c->in_len - off, &opcode))) {
                    off += fl;
                    got++;
                }
                memmove(c->in, c->in + off, c->in_len - off);
                c->in_len -= off;
                if (t >= measure_from) counted += got;
                for (int k = 0; k < got; k++) queue_out(c, frame, flen);
            }
            if (flush_out(c) < 0) die("throughput write");
        }
    }
    printf("RESULT msgs_per_s=%.0f conns=%d inflight=%d\n", counted / seconds, nconn, inflight);
}

static void idle(const char *host, int port, int nconn) {
    unsigned char frame[64];
    size_t flen = build_frame(frame, 1, 32);
    int *fds = malloc(sizeof(int) * nconn);
    rcap = 1 << 12;
    rbuf = malloc(rcap);
    double opening = now();
    for (int i = 0; i < nconn; i++) {
        /* Past the first address's share, spread over 127.0.0.2, .3, ... */
        if (nconn > CONNS_PER_SOURCE) source_index = 1 + i / CONNS_PER_SOURCE;
        fds[i] = open_ws(host, port, rbuf, &rlen);
        if ((i + 1) % 10000 == 0)
            fprintf(stderr, "loadgen idle: %d of %d open (%.0f s)\n", i + 1, nconn, now() - opening);
        if (rlen) {
            fprintf(stderr, "unexpected data after the handshake\n");
            exit(2);
        }
    }
    printf("OPEN %d\n", nconn);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return;
    int ok = 0;
    double t = now();
    for (int i = 0; i < nconn; i++) {
        write_all(fds[i], frame, flen);
        rlen = 0;
        read_frame(fds[i]);
        ok++;
    }
    double dt = now() - t;
    for (int i = 0; i < nconn; i++) close(fds[i]);
    printf("RESULT echoed=%d conns=%d seconds=%.3f\n", ok, nconn, dt);
}

static void handshakes(const char *host, int port, int parallel, double seconds) {
    static const unsigned char close_frame[] = {0x88, 0x82, 0x12, 0x34, 0x56, 0x78,
                                                0x03 ^ 0x12, 0xe8 ^ 0x34};
    int ep = epoll_create1(0);
    struct conn *conns = calloc(parallel, sizeof *conns);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    long done = 0;
    double start = now(), end = start + seconds;
    for (int i = 0; i < parallel; i++) {
        conns[i].in_cap = 4096;
        conns[i].in = malloc(4096);
        conns[i].fd = -1;
    }
    struct epoll_event events[256];
    for (;;) {
        for (int i = 0; i < parallel; i++) {
            struct conn *c = &conns[i];
            if (c->fd >= 0) continue;
            if (now() >= end) continue;
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            connect(c->fd, (struct sockaddr *)&addr, sizeof addr);
            c->state = 0;
            c->in_len = 0;
            c->out_len = 0;
            queue_out(c, (const unsigned char *)request, strlen(request));
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        }
        int active = 0;
        for (int i = 0; i < parallel; i++) active += conns[i].fd >= 0;
        if (!active) break;
        int n = epoll_wait(ep, events, 256, 100);
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            if (events[e].events & EPOLLOUT) {
                if (flush_out(c) < 0) die("handshake write");
                if (!c->out_len) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len - 1);
            if (r < 0 && errno == EAGAIN) continue;
            if (r > 0) c->in_len += r;
            if (c->state == 0 && c->in_len) {
                c->in[c->in_len] = 0;
                char *endh = strstr((char *)c->in, "\r\n\r\n");
                if (!endh && r > 0) continue;
                if (!endh || strncmp((char *)c->in, "HTTP/1.1 101", 12) != 0) die("handshake");
                size_t head = endh + 4 - (char *)c->in;
                memmove(c->in, c->in + head, c->in_len - head);
                c->in_len -= head;
                c->state = 1;
                write_all(c->fd, close_frame, sizeof close_frame);
            }
            int opcode;
            if (r == 0 || (c->state == 1 && frame_length(c->in, c->in_len, &opcode))) {
                if (c->state == 1) done++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
            }
        }
    }
    printf("RESULT handshakes_per_s=%.0f parallel=%d\n", done / (now() - start), parallel);
}

/* ---------------------------------------------------------------------------------
 * h2: WebSockets over one cleartext HTTP/2 connection (RFC 8441, RFC 9113, RFC 7541).
 * Just enough HTTP/2 for a WebSocket client: our HEADERS are HPACK literals without
 * indexing and without Huffman; the response's :status is decoded with the static
 * table only (we set SETTINGS_HEADER_TABLE_SIZE 0, so the server's encoder may not
 * use a dynamic table). Flow control both ways: we send within the server's
 * connection and stream windows and its SETTINGS_MAX_FRAME_SIZE, and give back the
 * DATA we receive with WINDOW_UPDATEs.
 * --------------------------------------------------------------------------------- */

enum { H2_DATA, H2_HEADERS, H2_PRIORITY, H2_RST_STREAM, H2_SETTINGS, H2_PUSH_PROMISE,
       H2_PING, H2_GOAWAY, H2_WINDOW_UPDATE, H2_CONTINUATION };
#define H2_END_STREAM 0x1 /* DATA, HEADERS */
#define H2_ACK 0x1        /* SETTINGS, PING */
#define H2_END_HEADERS 0x4
#define H2_PADDED 0x8
#define H2_PRIORITY_FLAG 0x20
#define H2_OUR_WINDOW (16 << 20)  /* what we let the server send, per stream and overall */
#define H2_UPDATE_AT (64 << 10)   /* give received DATA back once this much piled up */
#define H2_OUR_MAX_FRAME 16384    /* we keep the default SETTINGS_MAX_FRAME_SIZE */
#define H2_MAX_WINDOW 0x7fffffffLL

static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) die("realloc");
    }
}

static void buf_put(struct buf *b, const void *data, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_drop(struct buf *b, size_t n) {
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void h2_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen h2: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static const char *h2_error_name(uint32_t code) {
    static const char *names[] = {"NO_ERROR",       "PROTOCOL_ERROR",      "INTERNAL_ERROR",
                                  "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
                                  "FRAME_SIZE_ERROR", "REFUSED_STREAM",    "CANCEL",
                                  "COMPRESSION_ERROR", "CONNECT_ERROR",    "ENHANCE_YOUR_CALM",
                                  "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
    return code < sizeof names / sizeof names[0] ? names[code] : "unknown error code";
}

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void h2_frame(struct buf *b, size_t len, int type, int flags, uint32_t stream) {
    unsigned char h[9] = {len >> 16, len >> 8, len, type, flags, (stream >> 24) & 0x7f,
                          stream >> 16, stream >> 8, stream};
    buf_put(b, h, 9);
}

static void h2_setting(struct buf *b, int id, uint32_t value) {
    unsigned char s[6] = {id >> 8, id, value >> 24, value >> 16, value >> 8, value};
    buf_put(b, s, 6);
}

static void h2_window_update(struct buf *b, uint32_t stream, uint32_t increment) {
    unsigned char p[4] = {(increment >> 24) & 0x7f, increment >> 16, increment >> 8, increment};
    h2_frame(b, 4, H2_WINDOW_UPDATE, 0, stream);
    buf_put(b, p, 4);
}

/* An HPACK integer (RFC 7541 5.1): FIRST holds the bits above the PREFIX-bit prefix. */
static void hpack_int(struct buf *b, unsigned char first, int prefix, size_t v) {
    size_t max = ((size_t)1 << prefix) - 1;
    unsigned char c;
    if (v < max) {
        c = first | v;
        buf_put(b, &c, 1);
        return;
    }
    c = first | max;
    buf_put(b, &c, 1);
    for (v -= max; v >= 128; v >>= 7) {
        c = (v & 0x7f) | 0x80;
        buf_put(b, &c, 1);
    }
    c = v;
    buf_put(b, &c, 1);
}

/* A literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2). */
static void hpack_literal(struct buf *b, const char *name, const char *value) {
    size_t n = strlen(name), v = strlen(value);
    hpack_int(b, 0x00, 4, 0);
    hpack_int(b, 0x00, 7, n);
    buf_put(b, name, n);
    hpack_int(b, 0x00, 7, v);
    buf_put(b, value, v);
}

static int hpack_get_int(const unsigned char *p, size_t len, size_t *pos, int prefix,
                         uint64_t *out) {
    if (*pos >= len) return -1;
    uint64_t max = ((uint64_t)1 << prefix) - 1, v = p[(*pos)++] & max;
    if (v < max) {
        *out = v;
        return 0;
    }
    for (int shift = 0; shift < 56; shift += 7) {
        if (*pos >= len) return -1;
        unsigned char c = p[(*pos)++];
        v += (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* The :status of a response header block; it must be the first field (RFC 9113
 * 8.3). Static table only (see above). Returns it, or -1 with WHY said. */
static int response_status(const unsigned char *p, size_t len, char *why, size_t whylen) {
    static const int statuses[] = {200, 204, 206, 304, 400, 404, 500}; /* static 8-14 */
    size_t pos = 0;
    uint64_t v;
    while (pos < len && (p[pos] & 0xe0) == 0x20) /* dynamic table size updates */
        if (hpack_get_int(p, len, &pos, 5, &v) < 0) goto truncated;
    if (pos >= len) {
        snprintf(why, whylen, "an empty header block");
        return -1;
    }
    unsigned char first = p[pos];
    if (first & 0x80) { /* an indexed field */
        if (hpack_get_int(p, len, &pos, 7, &v) < 0) goto truncated;
        if (v >= 8 && v <= 14) return statuses[v - 8];
        snprintf(why, whylen, "the first header field is table entry %llu, not a :status",
                 (unsigned long long)v);
        return -1;
    }
    if (hpack_get_int(p, len, &pos, (first & 0x40) ? 6 : 4, &v) < 0) goto truncated;
    uint64_t n;
    if (v == 0) { /* a literal name */
        if (pos >= len) goto truncated;
        int huffman = p[pos] & 0x80;
        if (hpack_get_int(p, len, &pos, 7, &n) < 0 || pos + n > len) goto truncated;
        if (huffman || n != 7 || memcmp(p + pos, ":status", 7) != 0) {
            snprintf(why, whylen, "the first header field is not :status");
            return -1;
        }
        pos += n;
    } else if (v < 8 || v > 14) {
        snprintf(why, whylen, "the first header field (name entry %llu) is not :status",
                 (unsigned long long)v);
        return -1;
    }
    if (pos >= len) goto truncated;
    int huffman = p[pos] & 0x80;
    if (hpack_get_int(p, len, &pos, 7, &n) < 0 || pos + n > len) goto truncated;
    if (huffman) { /* 200 is always the indexed entry 8 (0x88): a full static match */
        snprintf(why, whylen, "a Huffman-coded literal :status, so not 200");
        return -1;
    }
    if (n != 3 || p[pos] < '1' || p[pos] > '5') {
        snprintf(why, whylen, "a malformed :status literal");
        return -1;
    }
    return (p[pos] - '0') * 100 + (p[pos + 1] - '0') * 10 + (p[pos + 2] - '0');
truncated:
    snprintf(why, whylen, "a truncated header block");
    return -1;
}

struct h2stream {
    uint32_t id;
    int state;           /* 0 awaiting the response, 1 open, 2 our Close queued, 3 done */
    int64_t send_window; /* the server's window for this stream */
    struct buf in;       /* WebSocket bytes received, not yet a whole frame */
    struct buf out;      /* WebSocket frames to send as DATA */
    size_t msg_left;     /* bytes of the frame at out's head still to send, 0: all */
    int end_with_out;    /* END_STREAM on the DATA carrying the last byte of out */
    uint32_t unacked;    /* DATA received, not yet given back */
    int got_close, remote_ended;
};

struct h2conn {
    int fd;
    struct buf in, out;
    int phase; /* 0 awaiting SETTINGS, 1 awaiting responses, 2 running, 3 closing */
    int64_t send_window;
    uint32_t peer_initial_window, peer_max_frame, peer_max_streams;
    int connect_protocol;
    uint32_t unacked;
    struct h2stream *streams;
    int nstreams, opened, done;
    struct buf headers;      /* a header block being gathered (HEADERS + CONTINUATION) */
    uint32_t headers_stream; /* its stream, 0 if none */
    int headers_end_stream;
};

static struct h2stream *h2_stream(struct h2conn *h, uint32_t id, const char *frame) {
    if (id % 2 == 1 && (id - 1) / 2 < (uint32_t)h->nstreams) return &h->streams[(id - 1) / 2];
    h2_fail("%s frame on stream %u, which we never opened", frame, id);
    return NULL;
}

static void h2_open_streams(struct h2conn *h, const char *host, int port, const char *path) {
    char authority[300];
    snprintf(authority, sizeof authority, "%s:%d", host, port);
    struct buf block = {0};
    for (int i = 0; i < h->nstreams; i++) {
        struct h2stream *s = &h->streams[i];
        block.len = 0;
        hpack_literal(&block, ":method", "CONNECT");
        hpack_literal(&block, ":protocol", "websocket");
        hpack_literal(&block, ":scheme", "http");
        hpack_literal(&block, ":path", path);
        hpack_literal(&block, ":authority", authority);
        hpack_literal(&block, "sec-websocket-version", "13");
        if (block.len > h->peer_max_frame) h2_fail("the request's header block is too long");
        h2_frame(&h->out, block.len, H2_HEADERS, H2_END_HEADERS, s->id);
        buf_put(&h->out, block.p, block.len);
    }
    free(block.p);
}

static void h2_response(struct h2conn *h, struct h2stream *s) {
    if (s->state != 0) h2_fail("unexpected HEADERS (trailers?) on stream %u", s->id);
    char why[128];
    int status = response_status(h->headers.p, h->headers.len, why, sizeof why);
    if (status < 0) h2_fail("stream %u: the response is not a 200: %s", s->id, why);
    if (status != 200)
        h2_fail("stream %u: the server answered the extended CONNECT with %d", s->id, status);
    if (h->headers_end_stream) h2_fail("stream %u: a 200 that ended the stream", s->id);
    s->state = 1;
    h->opened++;
}

static void h2_stream_done(struct h2conn *h, struct h2stream *s) {
    if (s->state != 3) {
        s->state = 3;
        h->done++;
    }
}

/* WebSocket frames from the server in S's DATA; returns the echoes seen. */
static int h2_ws_frames(struct h2stream *s, const unsigned char *frame, size_t flen) {
    size_t off = 0, fl;
    int opcode, got = 0;
    while ((fl = frame_length(s->in.p + off, s->in.len - off, &opcode))) {
        const unsigned char *f = s->in.p + off;
        if (f[1] & 0x80) h2_fail("stream %u: a masked frame from the server", s->id);
        if (opcode == 1 || opcode == 2) {
            got++;
            if (s->state == 1) buf_put(&s->out, frame, flen);
        } else if (opcode == 8) {
            if (s->state != 2) h2_fail("stream %u: the server closed the WebSocket", s->id);
            s->got_close = 1;
        } else if (opcode == 9 && s->state == 1) { /* a Ping: Pong with its payload */
            size_t n = f[1] & 0x7f, header = fl - n;
            unsigned char pong[2 + 4 + 125];
            if (n > 125) h2_fail("stream %u: a Ping of more than 125 bytes", s->id);
            pong[0] = 0x8a;
            pong[1] = 0x80 | n;
            memcpy(pong + 2, MASK, 4);
            for (size_t i = 0; i < n; i++) pong[6 + i] = f[header + i] ^ MASK[i % 4];
            buf_put(&s->out, pong, 6 + n);
        }
        off += fl;
    }
    buf_drop(&s->in, off);
    return got;
}

/* Every whole frame in h->in; returns the echoed messages seen. */
static int h2_frames(struct h2conn *h, const unsigned char *frame, size_t flen) {
    size_t off = 0;
    int echoed = 0;
    if (h->phase == 0 && h->in.len >= 5 && memcmp(h->in.p, "HTTP/", 5) == 0)
        h2_fail("the server answered in HTTP/1.1 (%.12s...): it does not speak HTTP/2 "
                "with prior knowledge (ours needs --http2)", h->in.p);
    while (h->in.len - off >= 9) {
        const unsigned char *f = h->in.p + off;
        size_t len = (size_t)f[0] << 16 | f[1] << 8 | f[2];
        int type = f[3], flags = f[4];
        uint32_t id = get32(f + 5) & 0x7fffffff;
        if (h->phase == 0 && (type != H2_SETTINGS || flags & H2_ACK))
            h2_fail("the server's first bytes are not its SETTINGS frame (%02x %02x %02x %02x "
                    "%02x...): not an HTTP/2 server?", f[0], f[1], f[2], f[3], f[4]);
        if (len > H2_OUR_MAX_FRAME) h2_fail("a frame of %zu bytes (FRAME_SIZE_ERROR)", len);
        if (h->in.len - off < 9 + len) break;
        const unsigned char *p = f + 9;
        off += 9 + len;
        if (h->headers_stream && (type != H2_CONTINUATION || id != h->headers_stream))
            h2_fail("frame type %d in the middle of a header block", type);
        switch (type) {
        case H2_DATA: {
            struct h2stream *s = h2_stream(h, id, "DATA");
            size_t pad = 0, start = 0;
            if (flags & H2_PADDED) {
                if (len < 1 || (pad = p[0]) >= len) h2_fail("bad padding on stream %u", id);
                start = 1;
            }
            h->unacked += len;
            s->unacked += len;
            if (s->state == 0) h2_fail("DATA before the response on stream %u", id);
            buf_put(&s->in, p + start, len - start - pad);
            echoed += h2_ws_frames(s, frame, flen);
            if (flags & H2_END_STREAM) {
                s->remote_ended = 1;
                if (s->state != 2) h2_fail("the server ended stream %u during the run", id);
                if (s->got_close) h2_stream_done(h, s);
            }
            break;
        }
        case H2_HEADERS:
        case H2_CONTINUATION: {
            struct h2stream *s = h2_stream(h, id, type == H2_HEADERS ? "HEADERS" : "CONTINUATION");
            size_t start = 0, end = len;
            if (type == H2_HEADERS) {
                if (flags & H2_PADDED) {
                    if (len < 1 || p[0] >= len) h2_fail("bad padding on stream %u", id);
                    start = 1;
                    end = len - p[0];
                }
                if (flags & H2_PRIORITY_FLAG) start += 5;
                if (start > end) h2_fail("a malformed HEADERS frame on stream %u", id);
                h->headers.len = 0;
                h->headers_end_stream = flags & H2_END_STREAM;
            } else if (!h->headers_stream) {
                h2_fail("CONTINUATION without HEADERS on stream %u", id);
            }
            buf_put(&h->headers, p + start, end - start);
            h->headers_stream = id;
            if (flags & H2_END_HEADERS) {
                h->headers_stream = 0;
                h2_response(h, s);
            }
            break;
        }
        case H2_RST_STREAM: {
            struct h2stream *s = h2_stream(h, id, "RST_STREAM");
            uint32_t code = len >= 4 ? get32(p) : 1;
            if (s->state == 2 && (code == 0 || s->got_close)) { /* after the Close: fine */
                h2_stream_done(h, s);
                break;
            }
            if (s->state == 3) break;
            h2_fail("the server reset stream %u: %s (%u)", id, h2_error_name(code), code);
            break;
        }
        case H2_SETTINGS:
            if (id) h2_fail("SETTINGS on stream %u", id);
            if (flags & H2_ACK) break;
            if (len % 6) h2_fail("a SETTINGS frame of %zu bytes", len);
            for (size_t i = 0; i < len; i += 6) {
                int key = p[i] << 8 | p[i + 1];
                uint32_t value = get32(p + i + 2);
                if (key == 0x3) {
                    h->peer_max_streams = value;
                } else if (key == 0x4) { /* INITIAL_WINDOW_SIZE: applies to open streams */
                    if (value > H2_MAX_WINDOW) h2_fail("SETTINGS_INITIAL_WINDOW_SIZE %u", value);
                    for (int k = 0; k < h->nstreams; k++)
                        h->streams[k].send_window += (int64_t)value - h->peer_initial_window;
                    h->peer_initial_window = value;
                } else if (key == 0x5) {
                    if (value < 16384 || value > 16777215)
                        h2_fail("SETTINGS_MAX_FRAME_SIZE %u", value);
                    h->peer_max_frame = value;
                } else if (key == 0x8) {
                    h->connect_protocol = value;
                }
            }
            h2_frame(&h->out, 0, H2_SETTINGS, H2_ACK, 0);
            if (h->phase == 0) {
                if (h->connect_protocol != 1)
                    h2_fail("the server's SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL=1: it "
                            "does not accept WebSockets over HTTP/2 (RFC 8441)");
                if ((uint32_t)h->nstreams > h->peer_max_streams)
                    h2_fail("%d streams asked, the server allows %u at a time", h->nstreams,
                            h->peer_max_streams);
                h->phase = 1;
            }
            break;
        case H2_PING:
            if (len != 8 || id) h2_fail("a malformed PING");
            if (!(flags & H2_ACK)) {
                h2_frame(&h->out, 8, H2_PING, H2_ACK, 0);
                buf_put(&h->out, p, 8);
            }
            break;
        case H2_GOAWAY: {
            uint32_t code = len >= 8 ? get32(p + 4) : 1;
            if (h->phase == 3 && code == 0) { /* shutting down after our Closes: fine */
                for (int k = 0; k < h->nstreams; k++)
                    if (h->streams[k].got_close) h2_stream_done(h, &h->streams[k]);
                break;
            }
            h2_fail("GOAWAY from the server: %s (%u), last stream %u%s%.*s", h2_error_name(code),
                    code, len >= 4 ? get32(p) & 0x7fffffff : 0, len > 8 ? ": " : "",
                    len > 8 ? (int)(len - 8) : 0, p + 8);
            break;
        }
        case H2_WINDOW_UPDATE: {
            if (len != 4) h2_fail("a malformed WINDOW_UPDATE");
            uint32_t increment = get32(p) & 0x7fffffff;
            if (!increment) h2_fail("a WINDOW_UPDATE of 0 on stream %u", id);
            int64_t *window = id ? &h2_stream(h, id, "WINDOW_UPDATE")->send_window
                                 : &h->send_window;
            *window += increment;
            if (*window > H2_MAX_WINDOW) h2_fail("the window of stream %u overflowed", id);
            break;
        }
        case H2_PUSH_PROMISE:
            h2_fail("PUSH_PROMISE, though we sent SETTINGS_ENABLE_PUSH 0");
            break;
        default: /* PRIORITY and unknown types are ignored (RFC 9113 4.1, 5.5) */
            break;
        }
    }
    buf_drop(&h->in, off);
    return echoed;
}

/* Queue DATA from every stream's out within the server's windows and frame size:
 * one DATA frame per WebSocket frame, as a browser sends them, split only when a
 * window or SETTINGS_MAX_FRAME_SIZE requires. */
static void h2_pump(struct h2conn *h) {
    for (int i = 0; i < h->nstreams; i++) {
        struct h2stream *s = &h->streams[i];
        while (s->out.len) {
            int opcode;
            size_t left = s->msg_left ? s->msg_left : frame_length(s->out.p, s->out.len, &opcode);
            if (!left) h2_fail("an incomplete frame queued on stream %u", s->id);
            int64_t n = left;
            if (n > s->send_window) n = s->send_window;
            if (n > h->send_window) n = h->send_window;
            if (n > h->peer_max_frame) n = h->peer_max_frame;
            if (n <= 0) break;
            int end = s->end_with_out && (size_t)n == s->out.len;
            h2_frame(&h->out, n, H2_DATA, end ? H2_END_STREAM : 0, s->id);
            buf_put(&h->out, s->out.p, n);
            buf_drop(&s->out, n);
            s->msg_left = left - n;
            s->send_window -= n;
            h->send_window -= n;
            if (end) s->end_with_out = 0;
        }
    }
}

/* Give back what was received, once enough of it piled up. */
static void h2_give_back(struct h2conn *h) {
    for (int i = 0; i < h->nstreams; i++) {
        struct h2stream *s = &h->streams[i];
        if (s->unacked >= H2_UPDATE_AT && s->state < 3 && !s->remote_ended) {
            h2_window_update(&h->out, s->id, s->unacked);
            s->unacked = 0;
        }
    }
    if (h->unacked >= H2_UPDATE_AT) {
        h2_window_update(&h->out, 0, h->unacked);
        h->unacked = 0;
    }
}

static void h2_flush(struct h2conn *h) {
    size_t sent = 0;
    while (sent < h->out.len) {
        ssize_t w = write(h->fd, h->out.p + sent, h->out.len - sent);
        if (w < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            die("h2 write");
        }
        sent += w;
    }
    buf_drop(&h->out, sent);
}

static void h2(const char *host, int port, const char *path, int nstreams, int inflight,
               size_t size, double seconds) {
    static const unsigned char close_frame[] = {0x88, 0x82, 0x12, 0x34, 0x56, 0x78,
                                                0x03 ^ 0x12, 0xe8 ^ 0x34};
    if (nstreams < 1 || inflight < 1 || size > 65535) h2_fail("bad arguments");
    unsigned char *frame = malloc(size + 14);
    size_t flen = build_frame(frame, 1, size);
    struct h2conn conn = {.send_window = 65535, .peer_initial_window = 65535,
                          .peer_max_frame = 16384, .peer_max_streams = 0xffffffff,
                          .nstreams = nstreams};
    struct h2conn *h = &conn;
    h->streams = calloc(nstreams, sizeof *h->streams);
    for (int i = 0; i < nstreams; i++) {
        h->streams[i].id = 2 * i + 1;
        h->streams[i].send_window = 65535;
    }
    h->fd = tcp_connect(host, port);
    set_nonblocking(h->fd);
    /* The preface, our SETTINGS (no push, no dynamic table for the server's encoder,
     * big stream windows) and a connection window as big. */
    buf_put(&h->out, H2_PREFACE, sizeof H2_PREFACE - 1);
    h2_frame(&h->out, 18, H2_SETTINGS, 0, 0);
    h2_setting(&h->out, 0x1, 0);             /* HEADER_TABLE_SIZE */
    h2_setting(&h->out, 0x2, 0);             /* ENABLE_PUSH */
    h2_setting(&h->out, 0x4, H2_OUR_WINDOW); /* INITIAL_WINDOW_SIZE */
    h2_window_update(&h->out, 0, H2_OUR_WINDOW - 65535);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h}, events[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, h->fd, &ev);
    int want_out = 0;
    double start = now(), deadline = start + 10, measure_from = 0, end = 0;
    long counted = 0, echoed_total = 0;
    for (;;) {
        h2_flush(h);
        if (want_out != (h->out.len > 0)) {
            want_out = h->out.len > 0;
            ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
            epoll_ctl(ep, EPOLL_CTL_MOD, h->fd, &ev);
        }
        double t = now();
        if (h->phase == 2 && t >= end) { /* the run is over: a Close on every stream */
            h->phase = 3;
            deadline = t + 3;
            for (int i = 0; i < nstreams; i++) {
                struct h2stream *s = &h->streams[i];
                s->state = 2;
                buf_put(&s->out, close_frame, sizeof close_frame);
                s->end_with_out = 1;
            }
        } else if (h->phase < 2 && t >= deadline) {
            if (h->phase == 0) h2_fail("no SETTINGS from the server within 10 s");
            h2_fail("only %d of %d streams answered within 10 s", h->opened, nstreams);
        }
        if (h->phase == 3 && (h->done == nstreams || t >= deadline)) break;
        int n = epoll_wait(ep, events, 4, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        if (n <= 0 || !(events[0].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
        int eof = 0;
        for (;;) {
            buf_reserve(&h->in, 1 << 16);
            ssize_t r = read(h->fd, h->in.p + h->in.len, h->in.cap - h->in.len);
            if (r < 0 && errno == EAGAIN) break;
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) die("h2 read");
            if (r == 0) {
                eof = 1;
                break;
            }
            h->in.len += r;
        }
        int phase = h->phase;
        int echoed = h2_frames(h, frame, flen);
        echoed_total += echoed;
        if (h->phase == 2 && t >= measure_from) counted += echoed;
        if (eof) {
            if (h->phase == 3) break;
            if (phase == 0)
                h2_fail("the server closed the connection before its SETTINGS (does it speak "
                        "HTTP/2 with prior knowledge?)");
            h2_fail("the server closed the connection (%d of %d streams open)", h->opened,
                    nstreams);
        }
        if (phase == 0 && h->phase == 1) h2_open_streams(h, host, port, path);
        if (h->phase == 1 && h->opened == nstreams) { /* all open: start the run */
            h->phase = 2;
            for (int i = 0; i < nstreams; i++)
                for (int k = 0; k < inflight; k++) buf_put(&h->streams[i].out, frame, flen);
            measure_from = now() + 0.5;
            end = measure_from + seconds;
        }
        h2_pump(h);
        h2_give_back(h);
    }
    if (h->done < nstreams)
        fprintf(stderr, "loadgen h2: %d of %d streams closed politely within 3 s\n", h->done,
                nstreams);
    /* GOAWAY(NO_ERROR), then the socket. */
    unsigned char goaway[8] = {0};
    h2_frame(&h->out, 8, H2_GOAWAY, 0, 0);
    buf_put(&h->out, goaway, 8);
    h2_flush(h);
    close(h->fd);
    printf("RESULT msgs_per_s=%.0f streams=%d inflight=%d closed=%d echoed=%ld\n",
           counted / seconds, nstreams, inflight, h->done, echoed_total);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--raw") == 0) {
        raw_mode = 1;
        argv++;
        argc--;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    const char *mode = argv[1], *host = argv[2], *path = argv[4];
    int port = atoi(argv[3]);
    build_request(host, port, path);
    if (!strcmp(mode, "latency") && argc == 7) latency(host, port, atoi(argv[5]), atol(argv[6]));
    else if (!strcmp(mode, "throughput") && argc == 9)
        throughput(host, port, atoi(argv[5]), atoi(argv[6]), atol(argv[7]), atof(argv[8]));
    else if (!strcmp(mode, "bigecho") && argc == 7) bigecho(host, port, atol(argv[5]), atoi(argv[6]));
    else if (!strcmp(mode, "idle") && argc == 6) idle(host, port, atoi(argv[5]));
    else if (!strcmp(mode, "handshakes") && argc == 7)
        handshakes(host, port, atoi(argv[5]), atof(argv[6]));
    else if (!strcmp(mode, "h2") && argc == 9 && !raw_mode)
        h2(host, port, path, atoi(argv[5]), atoi(argv[6]), atol(argv[7]), atof(argv[8]));
    else {
        fprintf(stderr, "bad arguments for %s\n", mode);
        return 2;
    }
    return 0;
}
