"""Type stub of the counting kernels built from ``_cocount.c`` (see ``llmrec.truth._batch``)."""

VERSION: int

def hits(
    indptr: object,
    indices: object,
    n_cols: int,
    nb: object,
    nb_ptr: object,
    need: object,
    out_row: object,
    out_col: object,
    out_val: object,
    /,
) -> int:
    """Write (row, column, count) for every count of ``N @ watched`` reaching the row's need;
    return how many were written. ``indices`` holds uint16 or int32 column indices."""

def candidates(
    indptr: object,
    indices: object,
    n_users: int,
    rows: object,
    rows_ptr: object,
    need: object,
    exclude: object,
    out: object,
    out_ptr: object,
    /,
) -> int:
    """Write, per target, the users found in at least ``need`` of its rows of ``fans`` (its
    profile movies), ascending and without ``exclude``; return how many were written."""
