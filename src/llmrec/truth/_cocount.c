/*
 * The neighbour truth's co-count (the llmrec.truth._cocount module): for each target, how many
 * of its neighbours watched each movie, keeping the movies that reach the target's need.
 *
 *   hits(indptr, indices, n_movies, nb, nb_ptr, need, out_row, out_col, out_val) -> n_hits
 *
 * indptr (int32, n_users + 1) and indices (int32) are a CSR users x movies indicator (watched);
 * nb (int32) lists the neighbours of row r in nb[nb_ptr[r] .. nb_ptr[r + 1]) (nb_ptr int64);
 * need (int64, one per row) is the count a movie must reach. For every row and every movie
 * with count >= need, one (row, movie, count) triple is written to out_row, out_col, out_val
 * (int32, caller-allocated with room for n_rows * n_movies); the number written is returned.
 *
 * It is the sparse product N @ watched of llmrec.truth._batch with its threshold, written for
 * this shape: the counts of one row live in a dense int32 array of n_movies (in cache), a movie
 * is recorded the moment its count reaches the need (counts only grow, so exactly once), and
 * no output list is built for the movies that never do. Integer counts: the triples are exactly
 * those of the scipy product, in another order (the caller sorts them).
 *
 * Only the CPython C API is used (buffers from numpy through the buffer protocol, no numpy
 * headers). The GIL is released while counting.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int get(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    if (view->itemsize != itemsize || view->len % itemsize != 0) {
        PyErr_Format(PyExc_TypeError, "%s must hold %zd-byte integers", name, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *hits(PyObject *self, PyObject *args)
{
    PyObject *objs[8];
    Py_ssize_t n_movies;
    if (!PyArg_ParseTuple(args, "OOnOOOOOO:hits", &objs[0], &objs[1], &n_movies, &objs[2],
                          &objs[3], &objs[4], &objs[5], &objs[6], &objs[7])) {
        return NULL;
    }
    static const char *names[8] = {"indptr", "indices", "nb", "nb_ptr", "need",
                                   "out_row", "out_col", "out_val"};
    static const Py_ssize_t sizes[8] = {4, 4, 4, 8, 8, 4, 4, 4};
    Py_buffer v[8];
    int got = 0;
    PyObject *result = NULL;
    for (; got < 8; got++) {
        if (get(objs[got], &v[got], sizes[got], got >= 5, names[got]) < 0) {
            goto done;
        }
    }
    const int32_t *indptr = v[0].buf, *indices = v[1].buf, *nb = v[2].buf;
    const int64_t *nb_ptr = v[3].buf, *need = v[4].buf;
    int32_t *out_row = v[5].buf, *out_col = v[6].buf, *out_val = v[7].buf;
    Py_ssize_t n_users = v[0].len / 4 - 1, nnz = v[1].len / 4, n_nb = v[2].len / 4;
    Py_ssize_t n_rows = v[4].len / 8, cap = v[5].len / 4;
    if (n_movies < 0 || n_users < 0 || v[3].len / 8 != n_rows + 1 || v[6].len / 4 != cap ||
        v[7].len / 4 != cap) {
        PyErr_SetString(PyExc_ValueError, "inconsistent array lengths");
        goto done;
    }
    if (n_rows > 0 && (nb_ptr[0] != 0 || nb_ptr[n_rows] != n_nb)) {
        PyErr_SetString(PyExc_ValueError, "nb_ptr does not span nb");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_nb; i++) { /* bounds, so the loop below cannot go astray */
        if (nb[i] < 0 || nb[i] >= n_users) {
            PyErr_Format(PyExc_ValueError, "neighbour %d is not a row of the matrix", nb[i]);
            goto done;
        }
    }
    for (Py_ssize_t r = 0; r < n_rows; r++) {
        if (nb_ptr[r + 1] < nb_ptr[r]) {
            PyErr_SetString(PyExc_ValueError, "nb_ptr decreases");
            goto done;
        }
    }
    if (n_users >= 0 && (indptr[0] != 0 || indptr[n_users] > nnz)) {
        PyErr_SetString(PyExc_ValueError, "indptr does not fit indices");
        goto done;
    }
    int32_t *counts = calloc((size_t)(n_movies > 0 ? n_movies : 1), sizeof(int32_t));
    int32_t *found = malloc((size_t)(n_movies > 0 ? n_movies : 1) * sizeof(int32_t));
    if (counts == NULL || found == NULL) {
        free(counts);
        free(found);
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t written = 0;
    int status = 0; /* 1: an index out of range, 2: output full */
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t r = 0; r < n_rows && status == 0; r++) {
        int64_t want = need[r];
        if (nb_ptr[r + 1] == nb_ptr[r] || want > INT32_MAX) {
            continue;
        }
        int32_t target = want < 1 ? 1 : (int32_t)want;
        Py_ssize_t n_found = 0;
        for (int64_t a = nb_ptr[r]; a < nb_ptr[r + 1]; a++) {
            int32_t u = nb[a];
            for (int32_t j = indptr[u]; j < indptr[u + 1]; j++) {
                int32_t k = indices[j];
                if ((uint32_t)k >= (uint32_t)n_movies) {
                    status = 1;
                    break;
                }
                if (++counts[k] == target) {
                    found[n_found++] = k;
                }
            }
            if (status) {
                break;
            }
        }
        if (written + n_found > cap) {
            status = 2;
        }
        for (Py_ssize_t i = 0; i < n_found && status == 0; i++, written++) {
            out_row[written] = (int32_t)r;
            out_col[written] = found[i];
            out_val[written] = counts[found[i]];
        }
        memset(counts, 0, (size_t)n_movies * sizeof(int32_t));
    }
    Py_END_ALLOW_THREADS
    free(counts);
    free(found);
    if (status == 1) {
        PyErr_SetString(PyExc_ValueError, "a column index is outside the matrix");
    } else if (status == 2) {
        PyErr_SetString(PyExc_ValueError, "the output arrays are too small");
    } else {
        result = PyLong_FromSsize_t(written);
    }
done:
    for (int i = 0; i < got; i++) {
        PyBuffer_Release(&v[i]);
    }
    return result;
}

static PyMethodDef methods[] = {
    {"hits", hits, METH_VARARGS, "Counts of N @ watched reaching each row's need (see module)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cocount", "The neighbour truth's co-count kernel.", -1, methods,
};

PyMODINIT_FUNC PyInit__cocount(void) { return PyModule_Create(&module); }
