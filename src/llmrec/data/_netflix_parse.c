/*
 * Fast parser for the Netflix Prize text formats (the llmrec.data._netflix_parse module).
 *
 * The files are blocks of lines: a header "N:" opens movie N, and each following line is one
 * record of the movie. Three record kinds share that layout:
 *
 *   kind 0, ratings     CustomerID,Rating,YYYY-MM-DD     (combined_data_*.txt, mv_*.txt)
 *   kind 1, probe       CustomerID                       (probe.txt)
 *   kind 2, qualifying  CustomerID,YYYY-MM-DD            (qualifying.txt)
 *
 * Grammar (identical to the numpy implementation in _parse_numpy.py, which tests compare against):
 * lines end in "\n"; one "\r" right before the line end is dropped; the last line may lack its
 * "\n"; a blank line is an error; ids are 1-10 ASCII digits with value 1..2147483647; a rating
 * is one digit 1..5; a date is exactly YYYY-MM-DD, year 1..9999, a real proleptic-Gregorian
 * day. Dates are stored as days since 1970-01-01 (numpy datetime64[D]).
 *
 * Only the CPython C API is used: the caller allocates the output arrays (numpy) and passes
 * them through the buffer protocol, so this module needs no numpy headers. The GIL is released
 * while scanning, so several chunks parse in parallel from a thread pool.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define KIND_RATINGS 0
#define KIND_PROBE 1
#define KIND_QUALIFYING 2

#define ERR_OK 0
#define ERR_MALFORMED 1      /* the line breaks the grammar */
#define ERR_NO_HEADER 2      /* a well-formed record before any "N:" header */
#define ERR_CAPACITY 3       /* more records than the output arrays hold (caller bug) */

/* Parse 1-10 digits at p (stopping before end); returns the number of digits, 0 on failure. */
static inline Py_ssize_t parse_id(const unsigned char *p, const unsigned char *end, int64_t *out)
{
    int64_t v = 0;
    Py_ssize_t n = 0;
    while (p + n < end && p[n] >= '0' && p[n] <= '9') {
        if (n == 10) {
            return 0;
        }
        v = v * 10 + (p[n] - '0');
        n++;
    }
    if (n == 0 || v < 1 || v > 2147483647) {
        return 0;
    }
    *out = v;
    return n;
}

static inline int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), after H. Hinnant's days_from_civil. */
static inline int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define DIGIT(c) ((unsigned)((c) - '0') < 10u)

/* Parse exactly "YYYY-MM-DD" (10 bytes at p); returns 1 and the day number, or 0. */
static inline int parse_date(const unsigned char *p, int64_t *out)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!(DIGIT(p[0]) && DIGIT(p[1]) && DIGIT(p[2]) && DIGIT(p[3]) && p[4] == '-' &&
          DIGIT(p[5]) && DIGIT(p[6]) && p[7] == '-' && DIGIT(p[8]) && DIGIT(p[9]))) {
        return 0;
    }
    const int64_t y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    const int64_t m = (p[5] - '0') * 10 + (p[6] - '0');
    const int64_t d = (p[8] - '0') * 10 + (p[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1) {
        return 0;
    }
    const int64_t dim = mdays[m - 1] + (m == 2 && is_leap(y));
    if (d > dim) {
        return 0;
    }
    *out = days_from_civil(y, m, d);
    return 1;
}

/* End of the line starting at p: the position of its "\n" or of the buffer end. */
static inline const unsigned char *line_end(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

static inline int kept(const unsigned char *keep, Py_ssize_t nkeep, int64_t movie)
{
    return keep == NULL || (movie < nkeep && keep[movie]);
}

typedef struct {
    const unsigned char *data;
    Py_ssize_t size;
    int kind;
    const unsigned char *keep; /* NULL keeps every movie */
    Py_ssize_t nkeep;
} Source;

/* Count an upper bound on the records parse() will write, and the "\n" count.
 *
 * A line whose leading digits are followed by ':' is a header; every other line counts as a
 * record of the current movie when that movie is kept. Up to the first malformed line this is
 * exactly what parse() does, and parse() stops there, so the bound always holds and is exact
 * for well-formed input. */
static void count_exact(const Source *s, Py_ssize_t *records, Py_ssize_t *newlines)
{
    const unsigned char *p = s->data, *end = s->data + s->size;
    Py_ssize_t n = 0, lines = 0;
    int keeping = 0;
    while (p < end) {
        const unsigned char *eol = line_end(p, end);
        const unsigned char *q = p;
        int64_t movie = 0;
        while (q < eol && DIGIT(*q)) {
            if (movie < 10000000000LL) {
                movie = movie * 10 + (*q - '0');
            }
            q++;
        }
        if (q < eol && *q == ':') {
            keeping = kept(s->keep, s->nkeep, movie);
        } else if (keeping) {
            n++;
        }
        if (eol < end) {
            lines++;
        }
        p = eol + 1;
    }
    *records = n;
    *newlines = lines;
}

/* Lines minus ':' bytes: every header holds one ':' and a record none, so for well-formed
 * input this is the number of records (keeping every movie). Malformed input can push it
 * below what parse() writes before it meets the bad line; parse() then reports
 * ERR_CAPACITY and the caller recounts with count_exact(). Counting two byte values in blocks
 * of 255 with 8-bit counters lets the compiler vectorise the loop (memory speed). */
static void count_fast(const Source *s, Py_ssize_t *records, Py_ssize_t *newlines)
{
    const unsigned char *p = s->data, *end = s->data + s->size;
    Py_ssize_t nl = 0, colons = 0;
    while (p < end) {
        const size_t len = (size_t)(end - p) > 255 ? 255 : (size_t)(end - p);
        uint8_t a = 0, b = 0;
        for (size_t i = 0; i < len; i++) {
            a += p[i] == '\n';
            b += p[i] == ':';
        }
        nl += a;
        colons += b;
        p += len;
    }
    const Py_ssize_t lines = nl + (s->size > 0 && s->data[s->size - 1] != '\n');
    *records = lines > colons ? lines - colons : 0;
    *newlines = nl;
}

typedef struct {
    int32_t *user;
    int32_t *movie;
    int8_t *rating;  /* kind 0 only */
    int64_t *date;   /* kinds 0 and 2 */
    Py_ssize_t capacity;
} Out;

typedef struct {
    Py_ssize_t written;
    int code;
    Py_ssize_t line;   /* 1-based, within this buffer */
    Py_ssize_t offset; /* byte offset of the line start, within this buffer */
} Result;

/* After a field ends at q: the start of the next line if q ends the line ("\n", "\r\n", a
 * final "\r" or the end of the buffer), else NULL. */
static inline const unsigned char *next_line(const unsigned char *q, const unsigned char *end)
{
    if (q == end) {
        return end;
    }
    if (*q == '\n') {
        return q + 1;
    }
    if (*q == '\r') {
        if (q + 1 == end) {
            return end;
        }
        if (q[1] == '\n') {
            return q + 2;
        }
    }
    return NULL;
}

/* One pass, no separate search for line ends: each line is read field by field and must end
 * exactly where its last field does. */
static void parse(const Source *s, const Out *o, Result *r)
{
    const unsigned char *p = s->data, *end = s->data + s->size;
    Py_ssize_t w = 0, line = 0;
    int64_t movie = 0;
    int have_movie = 0, keeping = 0;
    r->code = ERR_OK;
    while (p < end) {
        const unsigned char *q, *next;
        int64_t id, day = 0;
        int rating = 0;
        line++;
        const Py_ssize_t nd = parse_id(p, end, &id);
        if (nd == 0) {
            goto malformed;
        }
        q = p + nd;
        if (q < end && *q == ':') {
            next = next_line(q + 1, end);
            if (next == NULL) {
                goto malformed;
            }
            movie = id;
            have_movie = 1;
            keeping = kept(s->keep, s->nkeep, movie);
            p = next;
            continue;
        }
        switch (s->kind) {
        case KIND_RATINGS:
            if (end - q < 13 || q[0] != ',' || q[2] != ',' || q[1] < '1' || q[1] > '5' ||
                !parse_date(q + 3, &day)) {
                goto malformed;
            }
            rating = q[1] - '0';
            q += 13;
            break;
        case KIND_PROBE:
            break;
        default: /* KIND_QUALIFYING */
            if (end - q < 11 || q[0] != ',' || !parse_date(q + 1, &day)) {
                goto malformed;
            }
            q += 11;
            break;
        }
        next = next_line(q, end);
        if (next == NULL) {
            goto malformed;
        }
        if (!have_movie) {
            r->code = ERR_NO_HEADER;
            goto stop;
        }
        if (keeping) {
            if (w >= o->capacity) {
                r->code = ERR_CAPACITY;
                goto stop;
            }
            o->user[w] = (int32_t)id;
            o->movie[w] = (int32_t)movie;
            if (o->rating) {
                o->rating[w] = (int8_t)rating;
            }
            if (o->date) {
                o->date[w] = day;
            }
            w++;
        }
        p = next;
        continue;
    malformed:
        r->code = ERR_MALFORMED;
    stop:
        r->line = line;
        r->offset = p - s->data;
        break;
    }
    r->written = w;
}

/* -- Python glue ---------------------------------------------------------------------------- */

static int get_keep(PyObject *obj, Py_buffer *view, Source *s)
{
    if (obj == Py_None) {
        s->keep = NULL;
        s->nkeep = 0;
        view->obj = NULL;
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    s->keep = (const unsigned char *)view->buf;
    s->nkeep = view->len;
    return 0;
}

static int get_kind(int kind)
{
    if (kind < KIND_RATINGS || kind > KIND_QUALIFYING) {
        PyErr_Format(PyExc_ValueError, "kind must be 0, 1 or 2, got %d", kind);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(count_doc,
             "count(data, kind, keep, exact) -> (records, newlines)\n\n"
             "The number of records parse() writes for well-formed input, and the number of\n"
             "newline bytes. keep is None or a uint8 buffer indexed by movie id (non-zero keeps\n"
             "the movie). With exact true, or a keep buffer, records is an upper bound for any\n"
             "input; otherwise it is computed at memory speed and may fall short on malformed\n"
             "input (parse() then stops with code 3).");

static PyObject *py_count(PyObject *self, PyObject *args)
{
    Py_buffer data, keepview;
    PyObject *keep;
    int kind, exact;
    Source s;
    Py_ssize_t records = 0, newlines = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iOp:count", &data, &kind, &keep, &exact)) {
        return NULL;
    }
    if (get_kind(kind) < 0 || get_keep(keep, &keepview, &s) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    s.data = (const unsigned char *)data.buf;
    s.size = data.len;
    s.kind = kind;
    Py_BEGIN_ALLOW_THREADS
    if (exact || s.keep != NULL) {
        count_exact(&s, &records, &newlines);
    }
    else {
        count_fast(&s, &records, &newlines);
    }
    Py_END_ALLOW_THREADS
    if (keepview.obj) {
        PyBuffer_Release(&keepview);
    }
    PyBuffer_Release(&data);
    return Py_BuildValue("nn", records, newlines);
}

static int get_out(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, const char *name,
                   Py_ssize_t *n, void **buf)
{
    if (obj == Py_None) {
        view->obj = NULL;
        *buf = NULL;
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    if (view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s must have %zd-byte items, got %zd", name, itemsize,
                     view->itemsize);
        PyBuffer_Release(view);
        view->obj = NULL;
        return -1;
    }
    *n = view->len / itemsize;
    *buf = view->buf;
    return 0;
}

PyDoc_STRVAR(parse_doc,
             "parse(data, kind, keep, user, movie, rating, date) -> (written, code, line, offset)\n\n"
             "Parse the lines of data into the writable buffers user and movie (int32), rating\n"
             "(int8, kind 0, else None) and date (int64 days since 1970-01-01, kinds 0 and 2,\n"
             "else None). code is 0 on success; otherwise 1 (malformed line), 2 (record before\n"
             "any header) or 3 (outputs too small) with the 1-based line and the byte offset of\n"
             "its start.");

static PyObject *py_parse(PyObject *self, PyObject *args)
{
    Py_buffer data, keepview, views[4];
    PyObject *keep, *objs[4];
    int kind;
    Source s;
    Out o;
    Result r = {0, 0, 0, 0};
    Py_ssize_t n[4] = {0, 0, 0, 0};
    void *bufs[4] = {NULL, NULL, NULL, NULL};
    static const Py_ssize_t sizes[4] = {4, 4, 1, 8};
    static const char *names[4] = {"user", "movie", "rating", "date"};
    int ok = 1, i;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iOOOOO:parse", &data, &kind, &keep, &objs[0], &objs[1],
                          &objs[2], &objs[3])) {
        return NULL;
    }
    for (i = 0; i < 4; i++) {
        views[i].obj = NULL;
    }
    keepview.obj = NULL;
    if (get_kind(kind) < 0 || get_keep(keep, &keepview, &s) < 0) {
        ok = 0;
    }
    for (i = 0; ok && i < 4; i++) {
        if (get_out(objs[i], &views[i], sizes[i], names[i], &n[i], &bufs[i]) < 0) {
            ok = 0;
        }
    }
    if (ok) {
        const int need_rating = kind == KIND_RATINGS, need_date = kind != KIND_PROBE;
        if (!bufs[0] || !bufs[1] || (need_rating && !bufs[2]) || (need_date && !bufs[3])) {
            PyErr_SetString(PyExc_TypeError, "an output buffer this kind needs is None");
            ok = 0;
        }
        else {
            o.capacity = n[0];
            for (i = 1; i < 4; i++) {
                if (bufs[i] && n[i] < o.capacity) {
                    o.capacity = n[i];
                }
            }
            o.user = (int32_t *)bufs[0];
            o.movie = (int32_t *)bufs[1];
            o.rating = need_rating ? (int8_t *)bufs[2] : NULL;
            o.date = need_date ? (int64_t *)bufs[3] : NULL;
            s.data = (const unsigned char *)data.buf;
            s.size = data.len;
            s.kind = kind;
            Py_BEGIN_ALLOW_THREADS parse(&s, &o, &r);
            Py_END_ALLOW_THREADS
        }
    }
    for (i = 0; i < 4; i++) {
        if (views[i].obj) {
            PyBuffer_Release(&views[i]);
        }
    }
    if (keepview.obj) {
        PyBuffer_Release(&keepview);
    }
    PyBuffer_Release(&data);
    if (!ok) {
        return NULL;
    }
    return Py_BuildValue("ninn", r.written, r.code, r.line, r.offset);
}

/* The column checksum of the binary rating cache (same function as numpy_checksum in
 * _parse_numpy.py): the bytes as little-endian 64-bit words w_1..w_m (the last one zero-padded),
 * h = sum over i of mix(w_i + i * K) modulo 2^64, then h xor the byte length. mix is a bijective
 * 64-bit finaliser, so a change in one word always changes the sum, and the position term makes
 * moved words count; mix(x) = (x xor x >> 29) * M, both steps invertible. Not cryptographic: it catches damage, not tampering. */
#define CK_STEP 0x9E3779B97F4A7C15ULL
#define CK_MUL 0xD6E8FEB86659FD93ULL

static inline uint64_t ck_mix(uint64_t x) { return (x ^ (x >> 29)) * CK_MUL; }

static inline uint64_t ck_load(const unsigned char *p, Py_ssize_t n)
{
    uint64_t w = 0;
    Py_ssize_t j;
    for (j = 0; j < n; j++) {
        w |= (uint64_t)p[j] << (8 * j);
    }
    return w;
}

static uint64_t checksum(const unsigned char *p, Py_ssize_t n)
{
    const Py_ssize_t words = n / 8;
    uint64_t h = 0, pos = 0, w;
    Py_ssize_t i;
    for (i = 0; i < words; i++) {
        pos += CK_STEP;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(&w, p + 8 * i, 8);
#else
        w = ck_load(p + 8 * i, 8);
#endif
        h += ck_mix(w + pos);
    }
    if (n % 8) {
        pos += CK_STEP;
        h += ck_mix(ck_load(p + 8 * words, n % 8) + pos);
    }
    return h ^ (uint64_t)n;
}

PyDoc_STRVAR(checksum_doc, "checksum(data) -> int\n\n"
                           "64-bit checksum of the bytes of data (see _parse_numpy.numpy_checksum).");

static PyObject *py_checksum(PyObject *self, PyObject *args)
{
    Py_buffer data;
    uint64_t h;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:checksum", &data)) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS h = checksum((const unsigned char *)data.buf, data.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLongLong((unsigned long long)h);
}

static PyMethodDef methods[] = {
    {"count", py_count, METH_VARARGS, count_doc},
    {"parse", py_parse, METH_VARARGS, parse_doc},
    {"checksum", py_checksum, METH_VARARGS, checksum_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "llmrec.data._netflix_parse",
    "C parser for the Netflix Prize text formats (see llmrec.data.netflix).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__netflix_parse(void) { return PyModule_Create(&module); }
