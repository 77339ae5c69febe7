"""Type stub of the co-count kernel built from ``_cocount.c`` (see ``llmrec.truth._batch``)."""

def hits(
    indptr: object,
    indices: object,
    n_movies: int,
    nb: object,
    nb_ptr: object,
    need: object,
    out_row: object,
    out_col: object,
    out_val: object,
    /,
) -> int:
    """Write (row, movie, count) for every count of ``N @ watched`` reaching the row's need;
    return how many were written."""
