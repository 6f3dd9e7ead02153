/*
 * native_ws: a minimal WebSocket echo server in C (epoll, one thread), the
 * floor of this machine for the scenarios that need the protocol: the
 * handshakes and the round trip, driven by the same load generator as every
 * Python server. It answers an upgrade with a real Sec-WebSocket-Accept (the
 * SHA-1 and base64 below), echoes text and binary frames unmasked, answers a
 * Ping with a Pong and a Close with a Close of the same code, then closes the
 * socket. It checks nothing it does not need: a reference, not a server.
 *
 *   native_ws PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSIZE (64 * 1024)
#define MAXFD 65536

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

/* SHA-1 (FIPS 180-4) of a short message, one 64-byte block at a time. */
static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t blocks = (len + 9 + 63) / 64, end = blocks * 64;
    uint64_t bits = (uint64_t)len * 8;
    for (size_t b = 0; b < blocks; b++) {
        uint32_t w[80];
        for (int i = 0; i < 64; i++) {
            size_t at = b * 64 + i;
            unsigned char byte = at < len     ? msg[at]
                                 : at == len  ? 0x80
                                 : at >= end - 8 ? (unsigned char)(bits >> (8 * (end - 1 - at)))
                                                 : 0;
            if (i % 4 == 0) w[i / 4] = 0;
            w[i / 4] |= (uint32_t)byte << (24 - 8 * (i % 4));
        }
        for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) f = (bb & c) | (~bb & d), k = 0x5A827999;
            else if (i < 40) f = bb ^ c ^ d, k = 0x6ED9EBA1;
            else if (i < 60) f = (bb & c) | (bb & d) | (c & d), k = 0x8F1BBCDC;
            else f = bb ^ c ^ d, k = 0xCA62C1D6;
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d, d = c, c = rol(bb, 30), bb = a, a = t;
        }
        h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e;
    }
    for (int i = 0; i < 20; i++) out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* Sec-WebSocket-Accept for a key of klen bytes: 28 characters and a NUL into out. */
static void accept_value(const char *key, size_t klen, char out[29]) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char joined[128], digest[21] = {0};
    if (klen > sizeof joined - sizeof GUID) klen = sizeof joined - sizeof GUID;
    memcpy(joined, key, klen);
    memcpy(joined + klen, GUID, sizeof GUID - 1);
    sha1(joined, klen + sizeof GUID - 1, digest);
    for (int i = 0, o = 0; i < 21; i += 3, o += 4) {
        uint32_t v = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8 | digest[i + 2];
        out[o] = alphabet[v >> 18];
        out[o + 1] = alphabet[(v >> 12) & 63];
        out[o + 2] = alphabet[(v >> 6) & 63];
        out[o + 3] = i + 2 < 20 ? alphabet[v & 63] : '=';
    }
    out[28] = 0;
}

struct conn {
    int upgraded;
    size_t len;
    unsigned char in[BUFSIZE];
};

static struct conn *conns[MAXFD];
static unsigned char out[2 * BUFSIZE];

static void write_all(int fd, const unsigned char *data, size_t len) {
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno != EAGAIN) return;
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 1000);
            continue;
        }
        data += w, len -= w;
    }
}

static void drop(int fd) {
    free(conns[fd]);
    conns[fd] = NULL;
    close(fd);
}

/* The request head, if it is all there: answers it and returns the bytes it took. */
static size_t handshake(int fd, struct conn *c) {
    c->in[c->len] = 0;
    char *head = (char *)c->in, *end = strstr(head, "\r\n\r\n");
    if (!end) return 0;
    char *key = strcasestr(head, "\r\nSec-WebSocket-Key:");
    if (!key || key > end) return (size_t)-1;
    key += 20;
    while (*key == ' ' || *key == '\t') key++;
    size_t klen = strcspn(key, " \t\r");
    char value[29];
    accept_value(key, klen, value);
    int n = snprintf((char *)out, sizeof out,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     value);
    write_all(fd, out, (size_t)n);
    c->upgraded = 1;
    return (size_t)(end + 4 - head);
}

/* Answers every whole frame in c->in with one write; 1 if the connection is done. */
static int frames(int fd, struct conn *c, size_t *used) {
    size_t at = 0, o = 0;
    int done = 0;
    while (!done && c->len - at >= 2) {
        unsigned char *f = c->in + at;
        int opcode = f[0] & 0x0f, masked = f[1] & 0x80;
        uint64_t plen = f[1] & 0x7f;
        size_t hdr = 2;
        if (plen == 126) {
            if (c->len - at < 4) break;
            plen = (uint64_t)f[2] << 8 | f[3], hdr = 4;
        } else if (plen == 127) {
            if (c->len - at < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = plen << 8 | f[2 + i];
            hdr = 10;
        }
        if (plen > BUFSIZE / 2) return 1; /* larger than this reference handles */
        size_t mask_at = hdr;
        hdr += masked ? 4 : 0;
        if (c->len - at < hdr + plen) break;
        unsigned char *payload = f + hdr;
        at += hdr + plen;
        if (masked)
            for (size_t i = 0; i < plen; i++) payload[i] ^= f[mask_at + i % 4];
        if (opcode == 8) {
            plen = plen >= 2 ? 2 : 0, done = 1;
        } else if (opcode == 9) {
            opcode = 10;
        } else if (opcode != 1 && opcode != 2) {
            continue;
        }
        out[o++] = 0x80 | opcode;
        if (plen < 126) {
            out[o++] = (unsigned char)plen;
        } else {
            out[o++] = 126, out[o++] = (unsigned char)(plen >> 8), out[o++] = (unsigned char)plen;
        }
        memcpy(out + o, payload, plen);
        o += plen;
        if (o > sizeof out - BUFSIZE / 2 - 16) write_all(fd, out, o), o = 0;
    }
    if (o) write_all(fd, out, o);
    *used = at;
    return done;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char check[29];
    accept_value("dGhlIHNhbXBsZSBub25jZQ==", 24, check); /* RFC 6455, section 1.3 */
    if (strcmp(check, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0) {
        fprintf(stderr, "native_ws: SHA-1 self-check failed (%s)\n", check);
        return 1;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 1024)) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, events[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int s;
                while ((s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (s >= MAXFD || !(conns[s] = calloc(1, sizeof(struct conn)))) {
                        close(s);
                        continue;
                    }
                    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = s};
                    epoll_ctl(ep, EPOLL_CTL_ADD, s, &cev);
                }
                continue;
            }
            struct conn *c = conns[fd];
            ssize_t r = read(fd, c->in + c->len, BUFSIZE - 1 - c->len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                drop(fd);
                continue;
            }
            c->len += (size_t)r;
            size_t used = 0;
            if (!c->upgraded) {
                used = handshake(fd, c);
                if (used == (size_t)-1 || (!used && c->len >= BUFSIZE - 1)) {
                    drop(fd);
                    continue;
                }
                memmove(c->in, c->in + used, c->len - used);
                c->len -= used;
                if (!c->upgraded) continue;
            }
            if (frames(fd, c, &used)) {
                drop(fd);
                continue;
            }
            memmove(c->in, c->in + used, c->len - used);
            c->len -= used;
            if (c->len >= BUFSIZE - 1) drop(fd);
        }
    }
}
