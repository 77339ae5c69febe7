/*
 * The neighbour truth's two counting kernels (the llmrec.truth._cocount module).
 *
 *   hits(indptr, indices, n_cols, nb, nb_ptr, need, out_row, out_col, out_val) -> n_hits
 *
 * For each target, how many of its neighbours watched each movie, keeping the movies that reach
 * the target's need. indptr (int32, n_users + 1) and indices (uint16 or int32) are a CSR
 * users x columns indicator (watched, or watched_hot with its columns renumbered densely);
 * nb (int32) lists the neighbours of row r in nb[nb_ptr[r] .. nb_ptr[r + 1]) (nb_ptr int64);
 * need (int64, one per row) is the count a column must reach. For every row and every column
 * with count >= need, one (row, column, count) triple is written to out_row, out_col, out_val
 * (int32, caller-allocated with room for n_rows * n_cols); the number written is returned.
 *
 * It is the sparse product N @ watched of llmrec.truth._batch with its threshold, written for
 * this shape: the counts of one row live in a dense array of n_cols (uint16 when no row has more
 * than 65,535 neighbours, so a few thousand columns stay in the L1 cache), a column is recorded
 * the moment its count reaches the need (counts only grow, so exactly once), and no output list
 * is built for the columns that never do. The rows of the neighbours a few steps ahead are
 * prefetched: each neighbour's row starts at a random place of a large array, and waiting for
 * it was most of the time. Integer counts: the triples are exactly those of the scipy product,
 * in another order (the caller sorts them).
 *
 *   candidates(indptr, indices, n_users, rows, rows_ptr, need, exclude, out, out_ptr) -> total
 *
 * The neighbour candidates of each target: the users found in at least need[t] of the CSR rows
 * rows[rows_ptr[t] .. rows_ptr[t + 1]) (fans: movies x users, int32; the target's profile
 * movies), without the user exclude[t] (the target; -1 for none), in ascending order, written
 * to out[out_ptr[t] .. out_ptr[t + 1]) (out int32 with room for every entry of those rows,
 * out_ptr int64 of n_targets + 1, filled here). It is the overlap product P @ fans with its
 * threshold: a bitmap of n_users bits (60 KB for Netflix) marks the users, and a scan of its
 * words lists them in order; counts are kept only when need > 1.
 *
 * Only the CPython C API is used (buffers from numpy through the buffer protocol, no numpy
 * headers). The GIL is released while counting.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AHEAD 4 /* neighbours whose rows are prefetched ahead of the one being counted */

static int get(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    int ok = itemsize > 0 ? view->itemsize == itemsize : (view->itemsize == 2 || view->itemsize == 4);
    if (!ok || view->len % view->itemsize != 0) {
        if (itemsize > 0) {
            PyErr_Format(PyExc_TypeError, "%s must hold %zd-byte integers", name, itemsize);
        } else {
            PyErr_Format(PyExc_TypeError, "%s must hold 2-byte or 4-byte integers", name);
        }
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int get_all(PyObject **objs, Py_buffer *v, int n, const Py_ssize_t *sizes,
                   const char *const *names, int first_out, int *got)
{
    for (*got = 0; *got < n; (*got)++) {
        if (get(objs[*got], &v[*got], sizes[*got], *got >= first_out, names[*got]) < 0) {
            return -1;
        }
    }
    return 0;
}

static void release_all(Py_buffer *v, int got)
{
    for (int i = 0; i < got; i++) {
        PyBuffer_Release(&v[i]);
    }
}

/* Checks shared by both kernels: a CSR matrix and row lists into it. */
static int check_csr(const int32_t *indptr, Py_ssize_t n_rows, Py_ssize_t nnz)
{
    if (n_rows >= 0 && (indptr[0] != 0 || indptr[n_rows] > nnz)) {
        PyErr_SetString(PyExc_ValueError, "indptr does not fit indices");
        return -1;
    }
    return 0;
}

static int check_lists(const int32_t *ids, Py_ssize_t n_ids, const int64_t *ptr, Py_ssize_t n,
                       Py_ssize_t n_rows, const char *what)
{
    if (n > 0 && (ptr[0] != 0 || ptr[n] != n_ids)) {
        PyErr_Format(PyExc_ValueError, "%s_ptr does not span %s", what, what);
        return -1;
    }
    for (Py_ssize_t r = 0; r < n; r++) {
        if (ptr[r + 1] < ptr[r]) {
            PyErr_Format(PyExc_ValueError, "%s_ptr decreases", what);
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n_ids; i++) { /* bounds, so the loops below cannot go astray */
        if (ids[i] < 0 || ids[i] >= n_rows) {
            PyErr_Format(PyExc_ValueError, "%s %d is not a row of the matrix",
                         what[0] == 'n' ? "neighbour" : "row", ids[i]);
            return -1;
        }
    }
    return 0;
}

/* One row's counts for the given index (IT) and count (CT) types; returns columns found, or -1
 * when an index is outside the columns. */
#define COUNT_ROW(NAME, IT, CT)                                                                   \
    static Py_ssize_t NAME(const int32_t *indptr, const void *indices_, Py_ssize_t n_cols,       \
                           const int32_t *nb, int64_t lo, int64_t hi, int64_t want, void *counts_, \
                           int32_t *found, int32_t *values)                                       \
    {                                                                                             \
        const IT *indices = indices_;                                                             \
        CT *counts = counts_;                                                                     \
        CT target = (CT)want;                                                                     \
        Py_ssize_t n_found = 0;                                                                   \
        int bad = 0;                                                                              \
        for (int64_t a = lo; a < hi; a++) {                                                       \
            if (a + 2 * AHEAD < hi) {                                                             \
                __builtin_prefetch(&indptr[nb[a + 2 * AHEAD]]);                                   \
            }                                                                                     \
            if (a + AHEAD < hi) {                                                                 \
                const int32_t v = nb[a + AHEAD];                                                  \
                const char *p = (const char *)(indices + indptr[v]);                              \
                const char *e = (const char *)(indices + indptr[v + 1]);                          \
                __builtin_prefetch(p);                                                            \
                if (p + 64 < e) {                                                                 \
                    __builtin_prefetch(p + 64);                                                   \
                }                                                                                 \
            }                                                                                     \
            const IT *j = indices + indptr[nb[a]], *end = indices + indptr[nb[a] + 1];            \
            for (; j < end; j++) {                                                                \
                const IT k = *j;                                                                  \
                if ((uint32_t)k >= (uint32_t)n_cols) {                                            \
                    bad = 1;                                                                      \
                    break;                                                                        \
                }                                                                                 \
                if (++counts[k] == target) {                                                      \
                    found[n_found++] = (int32_t)k;                                                \
                }                                                                                 \
            }                                                                                     \
            if (bad) {                                                                            \
                break;                                                                            \
            }                                                                                     \
        }                                                                                         \
        for (Py_ssize_t i = 0; i < n_found; i++) {                                                \
            values[i] = (int32_t)counts[found[i]];                                                \
        }                                                                                         \
        memset(counts, 0, (size_t)n_cols * sizeof(CT));                                           \
        return bad ? -1 : n_found;                                                                \
    }

COUNT_ROW(row_u16_u16, uint16_t, uint16_t)
COUNT_ROW(row_u16_u32, uint16_t, uint32_t)
COUNT_ROW(row_i32_u16, int32_t, uint16_t)
COUNT_ROW(row_i32_u32, int32_t, uint32_t)

typedef Py_ssize_t (*row_fn)(const int32_t *, const void *, Py_ssize_t, const int32_t *, int64_t,
                             int64_t, int64_t, void *, int32_t *, int32_t *);

static PyObject *hits(PyObject *self, PyObject *args)
{
    PyObject *objs[8];
    Py_ssize_t n_cols;
    if (!PyArg_ParseTuple(args, "OOnOOOOOO:hits", &objs[0], &objs[1], &n_cols, &objs[2],
                          &objs[3], &objs[4], &objs[5], &objs[6], &objs[7])) {
        return NULL;
    }
    static const char *const names[8] = {"indptr", "indices", "nb", "nb_ptr", "need",
                                         "out_row", "out_col", "out_val"};
    static const Py_ssize_t sizes[8] = {4, 0, 4, 8, 8, 4, 4, 4};
    Py_buffer v[8];
    int got = 0;
    PyObject *result = NULL;
    if (get_all(objs, v, 8, sizes, names, 5, &got) < 0) {
        goto done;
    }
    const int32_t *indptr = v[0].buf, *nb = v[2].buf;
    const int64_t *nb_ptr = v[3].buf, *need = v[4].buf;
    int32_t *out_row = v[5].buf, *out_col = v[6].buf, *out_val = v[7].buf;
    Py_ssize_t wide = v[1].itemsize;
    Py_ssize_t n_users = v[0].len / 4 - 1, nnz = v[1].len / wide, n_nb = v[2].len / 4;
    Py_ssize_t n_rows = v[4].len / 8, cap = v[5].len / 4;
    if (n_cols < 0 || n_users < 0 || v[3].len / 8 != n_rows + 1 || v[6].len / 4 != cap ||
        v[7].len / 4 != cap) {
        PyErr_SetString(PyExc_ValueError, "inconsistent array lengths");
        goto done;
    }
    if (check_lists(nb, n_nb, nb_ptr, n_rows, n_users, "nb") < 0 ||
        check_csr(indptr, n_users, nnz) < 0) {
        goto done;
    }
    int64_t most = 0; /* the most neighbours of a row: the largest count there can be */
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        most = nb_ptr[r + 1] - nb_ptr[r] > most ? nb_ptr[r + 1] - nb_ptr[r] : most;
    }
    int narrow = most <= UINT16_MAX;
    row_fn count_row = wide == 2 ? (narrow ? row_u16_u16 : row_u16_u32)
                                 : (narrow ? row_i32_u16 : row_i32_u32);
    size_t slots = (size_t)(n_cols > 0 ? n_cols : 1);
    void *counts = calloc(slots, narrow ? 2 : 4);
    int32_t *found = malloc(slots * sizeof(int32_t));
    int32_t *values = malloc(slots * sizeof(int32_t));
    if (counts == NULL || found == NULL || values == NULL) {
        free(counts);
        free(found);
        free(values);
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t written = 0;
    int status = 0; /* 1: an index out of range, 2: output full */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n_rows && status == 0; r++) {
        int64_t want = need[r];
        if (nb_ptr[r + 1] == nb_ptr[r] || want > most) {
            continue; /* no count can reach the need */
        }
        want = want < 1 ? 1 : want;
        Py_ssize_t n_found = count_row(indptr, v[1].buf, n_cols, nb, nb_ptr[r], nb_ptr[r + 1],
                                       want, counts, found, values);
        if (n_found < 0) {
            status = 1;
        } else if (written + n_found > cap) {
            status = 2;
        }
        for (Py_ssize_t i = 0; i < n_found && status == 0; i++, written++) {
            out_row[written] = (int32_t)r;
            out_col[written] = found[i];
            out_val[written] = values[i];
        }
    }
    Py_END_ALLOW_THREADS
    free(counts);
    free(found);
    free(values);
    if (status == 1) {
        PyErr_SetString(PyExc_ValueError, "a column index is outside the matrix");
    } else if (status == 2) {
        PyErr_SetString(PyExc_ValueError, "the output arrays are too small");
    } else {
        result = PyLong_FromSsize_t(written);
    }
done:
    release_all(v, got);
    return result;
}

static PyObject *candidates(PyObject *self, PyObject *args)
{
    PyObject *objs[8];
    Py_ssize_t n_users;
    if (!PyArg_ParseTuple(args, "OOnOOOOOO:candidates", &objs[0], &objs[1], &n_users, &objs[2],
                          &objs[3], &objs[4], &objs[5], &objs[6], &objs[7])) {
        return NULL;
    }
    static const char *const names[8] = {"indptr", "indices", "rows", "rows_ptr",
                                         "need",   "exclude", "out",  "out_ptr"};
    static const Py_ssize_t sizes[8] = {4, 4, 4, 8, 8, 8, 4, 8};
    Py_buffer v[8];
    int got = 0;
    PyObject *result = NULL;
    if (get_all(objs, v, 8, sizes, names, 6, &got) < 0) {
        goto done;
    }
    const int32_t *indptr = v[0].buf, *indices = v[1].buf, *rows = v[2].buf;
    const int64_t *rows_ptr = v[3].buf, *need = v[4].buf, *exclude = v[5].buf;
    int32_t *out = v[6].buf;
    int64_t *out_ptr = v[7].buf;
    Py_ssize_t n_movies = v[0].len / 4 - 1, nnz = v[1].len / 4, n_ids = v[2].len / 4;
    Py_ssize_t n = v[4].len / 8, cap = v[6].len / 4;
    if (n_users < 0 || n_movies < 0 || v[3].len / 8 != n + 1 || v[5].len / 8 != n ||
        v[7].len / 8 != n + 1) {
        PyErr_SetString(PyExc_ValueError, "inconsistent array lengths");
        goto done;
    }
    if (check_lists(rows, n_ids, rows_ptr, n, n_movies, "rows") < 0 ||
        check_csr(indptr, n_movies, nnz) < 0) {
        goto done;
    }
    int counted = 0;
    for (Py_ssize_t t = 0; t < n; t++) {
        counted |= need[t] > 1;
    }
    size_t words = (size_t)(n_users + 63) / 64;
    uint64_t *bits = calloc(words ? words : 1, sizeof(uint64_t));
    uint32_t *counts = counted ? calloc((size_t)(n_users ? n_users : 1), sizeof(uint32_t)) : NULL;
    if (bits == NULL || (counted && counts == NULL)) {
        free(bits);
        free(counts);
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t written = 0;
    int status = 0; /* 1: an index out of range, 2: output full */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t t = 0; t < n && status == 0; t++) {
        out_ptr[t] = written;
        uint32_t want = need[t] < 1 ? 1 : (need[t] > UINT32_MAX ? UINT32_MAX : (uint32_t)need[t]);
        for (int64_t a = rows_ptr[t]; a < rows_ptr[t + 1] && status == 0; a++) {
            for (int32_t j = indptr[rows[a]]; j < indptr[rows[a] + 1]; j++) {
                int32_t u = indices[j];
                if ((uint32_t)u >= (uint32_t)n_users) {
                    status = 1;
                    break;
                }
                if (want == 1 || ++counts[u] == want) {
                    bits[u >> 6] |= (uint64_t)1 << (u & 63);
                }
            }
        }
        if (want > 1) { /* the counts back to zero, row by row as they were raised */
            for (int64_t a = rows_ptr[t]; a < rows_ptr[t + 1]; a++) {
                for (int32_t j = indptr[rows[a]]; j < indptr[rows[a] + 1]; j++) {
                    if ((uint32_t)indices[j] < (uint32_t)n_users) {
                        counts[indices[j]] = 0;
                    }
                }
            }
        }
        int64_t skip = exclude[t];
        if (skip >= 0 && skip < n_users) {
            bits[skip >> 6] &= ~((uint64_t)1 << (skip & 63));
        }
        for (size_t w = 0; w < words; w++) {
            uint64_t word = bits[w];
            if (word == 0) {
                continue;
            }
            bits[w] = 0;
            if (status == 0 && written + __builtin_popcountll(word) > cap) {
                status = 2;
            }
            for (; word && status == 0; word &= word - 1) {
                out[written++] = (int32_t)(w * 64 + (size_t)__builtin_ctzll(word));
            }
        }
    }
    if (status == 0) {
        out_ptr[n] = written;
    }
    Py_END_ALLOW_THREADS
    free(bits);
    free(counts);
    if (status == 1) {
        PyErr_SetString(PyExc_ValueError, "a user index is outside the matrix");
    } else if (status == 2) {
        PyErr_SetString(PyExc_ValueError, "the output array is too small");
    } else {
        result = PyLong_FromSsize_t(written);
    }
done:
    release_all(v, got);
    return result;
}

static PyMethodDef methods[] = {
    {"hits", hits, METH_VARARGS, "Counts of N @ watched reaching each row's need (see module)."},
    {"candidates", candidates, METH_VARARGS,
     "Users in at least need[t] of each target's fans rows, ascending (see module)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cocount", "The neighbour truth's counting kernels.", -1, methods,
};

PyMODINIT_FUNC PyInit__cocount(void)
{
    PyObject *m = PyModule_Create(&module);
    /* 2: 2-byte column indices in hits, and candidates; llmrec.truth._batch checks it, so a
     * module left over from an older build is not called with arrays it cannot read */
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", 2) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
