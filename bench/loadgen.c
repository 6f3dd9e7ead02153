/*
 * loadgen: a WebSocket load generator in C (epoll, no threads), for bench/run.py.
 *
 *   loadgen latency    HOST PORT PATH COUNT SIZE
 *   loadgen throughput HOST PORT PATH CONNS INFLIGHT SIZE SECONDS
 *   loadgen bigecho    HOST PORT PATH SIZE COUNT
 *   loadgen idle       HOST PORT PATH CONNS          (prints OPEN, waits for a stdin line)
 *   loadgen handshakes HOST PORT PATH PARALLEL SECONDS
 *
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

static int tcp_connect(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
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
    for (int i = 0; i < nconn; i++) {
        fds[i] = open_ws(host, port, rbuf, &rlen);
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
    else {
        fprintf(stderr, "bad arguments for %s\n", mode);
        return 2;
    }
    return 0;
}
