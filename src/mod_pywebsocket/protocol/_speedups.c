/*
 * mod_pywebsocket.protocol._speedups: RFC 6455 5.3 masking in C.
 *
 * Optional: setup.py builds it when a compiler is there, and
 * protocol/masking.py falls back to a pure-Python version that gives the
 * same bytes. Eight bytes per step; the GIL is released for large inputs
 * so other connections' threads run meanwhile.
 *
 * Assembler: a large frame's payload unmasked straight into the bytes
 * object that becomes the message, one copy instead of unmasking each chunk
 * and joining the chunks afterwards. The bytes object is not reachable from
 * Python until it is full (result()), so it is never seen while it changes.
 *
 * parse_messages: a run of small whole text and binary messages parsed,
 * unmasked and UTF-8-checked in one call (see its comment).
 *
 * parse_head: a well-formed HTTP request head split into its request line
 * and header fields in one call (see its comment).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define RELEASE_GIL_AT (64 * 1024)

static void mask_into(unsigned char *out, const unsigned char *in, Py_ssize_t n,
                      const unsigned char key[4]) {
    uint64_t key64;
    unsigned char k8[8];
    memcpy(k8, key, 4);
    memcpy(k8 + 4, key, 4);
    memcpy(&key64, k8, 8);
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, in + i, 8);
        v ^= key64;
        memcpy(out + i, &v, 8);
    }
    for (; i < n; i++) out[i] = in[i] ^ key[i & 3];
}

/* mask_into, with the GIL released for large inputs so other threads run meanwhile. */
static void mask_into_unlocked(unsigned char *out, const unsigned char *in, Py_ssize_t n,
                               const unsigned char key[4]) {
    if (n >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        mask_into(out, in, n, key);
        Py_END_ALLOW_THREADS
    } else {
        mask_into(out, in, n, key);
    }
}

/* The 4 bytes of mask_obj, rotated so that key[0] masks a byte at offset phase;
 * -1 with ValueError when the mask is not 4 bytes. */
static int get_key(PyObject *mask_obj, Py_ssize_t phase, unsigned char key[4]) {
    Py_buffer mask;
    if (PyObject_GetBuffer(mask_obj, &mask, PyBUF_SIMPLE) < 0) return -1;
    int ok = mask.len == 4;
    if (ok) {
        const unsigned char *m = mask.buf;
        for (int i = 0; i < 4; i++) key[i] = m[(i + phase) & 3];
    }
    PyBuffer_Release(&mask);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "mask must be 4 bytes");
        return -1;
    }
    return 0;
}

static PyObject *apply_mask(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask(data, mask) takes 2 arguments");
        return NULL;
    }
    Py_buffer data;
    unsigned char key[4];
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    if (get_key(args[1], 0, key) == 0) {
        result = PyBytes_FromStringAndSize(NULL, data.len);
        if (result != NULL)
            mask_into_unlocked((unsigned char *)PyBytes_AS_STRING(result), data.buf, data.len, key);
    }
    PyBuffer_Release(&data);
    return result;
}

typedef struct {
    PyObject_HEAD
    PyObject *data; /* the bytes being filled; NULL once handed out */
    Py_ssize_t size;
    Py_ssize_t filled;
} Assembler;

static int Assembler_init(Assembler *self, PyObject *args, PyObject *kwds) {
    Py_ssize_t size;
    static char *kwlist[] = {"size", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n", kwlist, &size)) return -1;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return -1;
    }
    Py_CLEAR(self->data);
    /* Pages of a large allocation are only resident once written. */
    self->data = PyBytes_FromStringAndSize(NULL, size);
    if (self->data == NULL) return -1;
    self->size = size;
    self->filled = 0;
    return 0;
}

static void Assembler_dealloc(Assembler *self) {
    Py_CLEAR(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* add(chunk, mask, phase): unmask chunk (its first byte at mask offset phase) at the end. */
static PyObject *Assembler_add(Assembler *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "add(chunk, mask, phase) takes 3 arguments");
        return NULL;
    }
    if (self->data == NULL) {
        PyErr_SetString(PyExc_ValueError, "the assembler's result was taken");
        return NULL;
    }
    Py_ssize_t phase = PyLong_AsSsize_t(args[2]);
    if (phase == -1 && PyErr_Occurred()) return NULL;
    Py_buffer chunk;
    unsigned char key[4];
    if (PyObject_GetBuffer(args[0], &chunk, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *result = NULL;
    if (get_key(args[1], phase, key) < 0) goto done;
    if (chunk.len > self->size - self->filled) {
        PyErr_SetString(PyExc_ValueError, "more bytes than the assembler's size");
        goto done;
    }
    /* Held while the GIL is released (a second __init__ meanwhile must not free it),
     * and counted as filled only once written (result() never hands out a partial one). */
    PyObject *target = Py_NewRef(self->data);
    mask_into_unlocked((unsigned char *)PyBytes_AS_STRING(target) + self->filled, chunk.buf,
                       chunk.len, key);
    if (target == self->data) self->filled += chunk.len;
    Py_DECREF(target);
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&chunk);
    return result;
}

/* result(): the bytes, once every byte was added; the assembler is spent. */
static PyObject *Assembler_result(Assembler *self, PyObject *Py_UNUSED(ignored)) {
    if (self->data == NULL) {
        PyErr_SetString(PyExc_ValueError, "the assembler's result was taken");
        return NULL;
    }
    if (self->filled != self->size) {
        PyErr_Format(PyExc_ValueError, "%zd of %zd bytes added", self->filled, self->size);
        return NULL;
    }
    PyObject *data = self->data;
    self->data = NULL;
    return data;
}

static PyMethodDef Assembler_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Assembler_add, METH_FASTCALL,
     "add(chunk, mask, phase): unmask chunk into the message, after what was added."},
    {"result", (PyCFunction)Assembler_result, METH_NOARGS,
     "result() -> bytes: the message, once full."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AssemblerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mod_pywebsocket.protocol._speedups.Assembler",
    .tp_doc = "Assembler(size): a message of size bytes, unmasked into place.",
    .tp_basicsize = sizeof(Assembler),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Assembler_init,
    .tp_dealloc = (destructor)Assembler_dealloc,
    .tp_methods = Assembler_methods,
};

/* parse_messages(data, pos, limit, events) -> int
 *
 * The common run of a client's frames in one pass: from pos, each complete,
 * final, masked text or binary frame with no RSV bit and a payload of at most
 * limit bytes (and under 64 KiB) becomes a message appended to events (str for
 * text, bytes for binary), as protocol/connection.py's parser would make it.
 * Stops at the first frame that is anything else (incomplete, control,
 * fragmented, compressed, unmasked, larger, or text that is not UTF-8) and
 * returns its position: the Python parser takes it from there, with its
 * checks and its errors, so nothing is decided here that it would not decide. */
#define SMALL_TEXT 4096

static PyObject *parse_messages(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "parse_messages(data, pos, limit, events: list)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) return NULL;
    Py_buffer data;
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *p = data.buf;
    Py_ssize_t end = data.len;
    PyObject *events = args[3];
    unsigned char small[SMALL_TEXT];
    int failed = 0;
    if (pos < 0) pos = end;
    while (end - pos >= 6) {
        unsigned char b0 = p[pos], b1 = p[pos + 1];
        int opcode = b0 & 0x0F;
        if ((b0 & 0xF0) != 0x80 || (opcode != 1 && opcode != 2) || !(b1 & 0x80)) break;
        Py_ssize_t length = b1 & 0x7F, header = 2;
        if (length == 127) break; /* 64 KiB and more: the Python parser's (the Assembler's) */
        if (length == 126) {
            if (end - pos < 8) break;
            length = ((Py_ssize_t)p[pos + 2] << 8) | p[pos + 3];
            header = 4;
        }
        if (length > limit || end - pos < header + 4 + length) break;
        const unsigned char *key = p + pos + header;
        const unsigned char *payload = key + 4;
        PyObject *message;
        if (opcode == 2) {
            message = PyBytes_FromStringAndSize(NULL, length);
            if (message == NULL) { failed = 1; break; }
            mask_into((unsigned char *)PyBytes_AS_STRING(message), payload, length, key);
        } else {
            unsigned char *text = length <= SMALL_TEXT ? small : PyMem_Malloc(length);
            if (text == NULL) { PyErr_NoMemory(); failed = 1; break; }
            mask_into(text, payload, length, key);
            message = PyUnicode_DecodeUTF8((const char *)text, length, "strict");
            if (text != small) PyMem_Free(text);
            if (message == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) { failed = 1; break; }
                PyErr_Clear(); /* the Python parser fails the connection with 1007 */
                break;
            }
        }
        int appended = PyList_Append(events, message);
        Py_DECREF(message);
        if (appended < 0) { failed = 1; break; }
        pos += header + 4 + length;
    }
    PyBuffer_Release(&data);
    if (failed) return NULL;
    return PyLong_FromSsize_t(pos);
}

/* parse_head(head) -> (method, target, version, fields) | None
 *
 * The common request head in one pass: head is everything before the blank
 * line. When every line is well-formed (the request line token SP target SP
 * HTTP/d.d, the target printable ASCII with no space; each header line
 * token ":" value, no CR or LF outside a CRLF), the answer is what
 * protocol/handshake.py's parser makes of it: fields is a list of
 * (name, value, folded) with the value stripped of SP and HTAB and decoded
 * as Latin-1; names, folded names and values of up to 32 characters are
 * interned. Anything else gives None, and the Python parser takes the head
 * and answers it with its own error: nothing is refused here. */
static const unsigned char *token_table(void) {
    static unsigned char table[256];
    static int ready = 0;
    if (!ready) {
        const char *chars = "!#$%&'*+-.^_`|~0123456789"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for (const char *c = chars; *c; c++) table[(unsigned char)*c] = 1;
        ready = 1;
    }
    return table;
}

/* An interned str of the n ASCII bytes at s, lower-cased when fold is set. */
static PyObject *interned_ascii(const unsigned char *s, Py_ssize_t n, int fold) {
    PyObject *text = PyUnicode_New(n, 127);
    if (text == NULL) return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char ch = s[i];
        out[i] = (fold && ch >= 'A' && ch <= 'Z') ? (Py_UCS1)(ch + 32) : ch;
    }
    PyUnicode_InternInPlace(&text);
    return text;
}

/* The request line at p[0:n], or 0 when it is not token SP target SP HTTP/d.d. */
static int split_request_line(const unsigned char *p, Py_ssize_t n, Py_ssize_t *method_end,
                              Py_ssize_t *target_end) {
    const unsigned char *token = token_table();
    Py_ssize_t i = 0;
    while (i < n && token[p[i]]) i++;
    if (i == 0 || i >= n || p[i] != ' ') return 0;
    *method_end = i++;
    Py_ssize_t target_start = i;
    while (i < n && p[i] > 0x20 && p[i] < 0x7F) i++;
    if (i == target_start || i >= n || p[i] != ' ') return 0;
    *target_end = i++;
    return n - i == 8 && memcmp(p + i, "HTTP/", 5) == 0 && p[i + 5] >= '0' && p[i + 5] <= '9' &&
           p[i + 6] == '.' && p[i + 7] >= '0' && p[i + 7] <= '9';
}

/* One header line at p[0:n] appended to fields as (name, value, folded):
 * 1 when done, 0 when the line is not token ":" value, -1 on a Python error. */
static int add_field(PyObject *fields, const unsigned char *p, Py_ssize_t n) {
    const unsigned char *token = token_table();
    Py_ssize_t colon = 0;
    while (colon < n && token[p[colon]]) colon++;
    if (colon == 0 || colon >= n || p[colon] != ':') return 0;
    Py_ssize_t start = colon + 1, end = n;
    while (start < end && (p[start] == ' ' || p[start] == '\t')) start++;
    while (end > start && (p[end - 1] == ' ' || p[end - 1] == '\t')) end--;
    PyObject *name = interned_ascii(p, colon, 0);
    PyObject *folded = name == NULL ? NULL : interned_ascii(p, colon, 1);
    PyObject *value = folded == NULL ? NULL
                                     : PyUnicode_DecodeLatin1((const char *)p + start,
                                                              end - start, NULL);
    if (value != NULL && end - start <= 32) PyUnicode_InternInPlace(&value);
    PyObject *field = value == NULL ? NULL : PyTuple_Pack(3, name, value, folded);
    Py_XDECREF(name);
    Py_XDECREF(folded);
    Py_XDECREF(value);
    if (field == NULL) return -1;
    int appended = PyList_Append(fields, field);
    Py_DECREF(field);
    return appended < 0 ? -1 : 1;
}

static PyObject *parse_head(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "parse_head(head: bytes)");
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    /* Every CR must start a CRLF and every LF end one. */
    const unsigned char *line_end = memchr(p, '\r', n);
    Py_ssize_t first = line_end == NULL ? n : line_end - p;
    if (memchr(p, '\n', first) != NULL) Py_RETURN_NONE;
    Py_ssize_t method_end, target_end;
    if (!split_request_line(p, first, &method_end, &target_end)) Py_RETURN_NONE;
    PyObject *fields = PyList_New(0);
    if (fields == NULL) return NULL;
    Py_ssize_t pos = first;
    while (pos < n) {
        if (n - pos < 2 || p[pos] != '\r' || p[pos + 1] != '\n') goto decline;
        pos += 2;
        Py_ssize_t stop = pos;
        while (stop < n && p[stop] != '\r' && p[stop] != '\n') stop++;
        if (stop == pos) continue; /* an empty line: the Python parser skips it too */
        int added = add_field(fields, p + pos, stop - pos);
        if (added < 0) {
            Py_DECREF(fields);
            return NULL;
        }
        if (added == 0) goto decline;
        pos = stop;
    }
    return Py_BuildValue("(s#s#s#N)", (const char *)p, method_end,
                         (const char *)p + method_end + 1, target_end - method_end - 1,
                         (const char *)p + target_end + 1, (Py_ssize_t)8, fields);
decline:
    Py_DECREF(fields);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     "apply_mask(data, mask) -> bytes: XOR data with the repeated 4-byte mask."},
    {"parse_messages", (PyCFunction)(void (*)(void))parse_messages, METH_FASTCALL,
     "parse_messages(data, pos, limit, events) -> int: whole small messages in one pass."},
    {"parse_head", parse_head, METH_O,
     "parse_head(head) -> (method, target, version, fields) or None: a well-formed head."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups", "RFC 6455 masking in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    if (PyType_Ready(&AssemblerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Assembler", (PyObject *)&AssemblerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
