"""The item files of the data sets, line by line: what an item-line probe shows and expects.

Each data set ships its titles in a file of its own shape, and that shape, id first, is what a
model that read the file could complete (Di Palma et al., SIGIR 2025, prompt with the id and
score the title the model writes):

=============  ==============================  ==================  ===========================
format         file                            prompt (the prefix)  expected completion
=============  ==============================  ==================  ===========================
``netflix``    ``movie_titles.csv``            ``17,2005,``         ``7 Seconds``
``ml-100k``    ``u.item``                      ``1|``               ``Toy Story (1995)``
``ml-1m``      ``movies.dat``                  ``1::``              ``Toy Story (1995)``
``ml-latest``  ``movies.csv``                  ``1,``               ``Toy Story (1995)``
=============  ==============================  ==================  ===========================

Only the title field is scored: the catalog keeps no genres or release dates, and the title is
what a recommender needs to have memorised. A model's answer is cut at the format's next field
separator (``|``, ``::``; a CSV field for ``ml-latest``) and at the end of its first line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from llmrec.data.catalog import Movie
from llmrec.errors import ConfigError

__all__ = ["ITEM_FORMATS", "ItemFormat", "ItemLineFormat", "detect_item_format", "first_line"]

ItemFormat = Literal["netflix", "ml-100k", "ml-1m", "ml-latest"]


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


@dataclass(frozen=True)
class ItemLineFormat:
    """One item file's line shape: how a line starts and where its title field ends."""

    name: ItemFormat
    file: str
    """The file the lines come from (named in the prompt)."""
    data_set: str
    """The data set's name (named in the prompt)."""
    separator: str
    """Between the fields of a line."""
    year_field: bool
    """The year is a field of its own before the title (Netflix), not inside the title."""
    csv_quoted: bool
    """The title is a CSV field (quoted when it holds a comma or a quote)."""

    def prefix(self, movie: Movie) -> str:
        """The start of ``movie``'s line, up to where its title begins."""
        if self.year_field:
            year = "NULL" if movie.year is None else str(movie.year)
            return f"{movie.movie_id}{self.separator}{year}{self.separator}"
        return f"{movie.movie_id}{self.separator}"

    def title_field(self, movie: Movie) -> str:
        """The title field of ``movie``'s line, unquoted (the expected answer)."""
        return movie.title if self.year_field else movie.label()

    def line(self, movie: Movie) -> str:
        """``movie``'s line up to and including its title field, as the file writes it."""
        field = self.title_field(movie)
        if self.csv_quoted and any(c in field for c in ',"'):
            field = '"' + field.replace('"', '""') + '"'
        return self.prefix(movie) + field

    def answer_title(self, answer: str, movie: Movie) -> str:
        """The title field of a model's completion of ``movie``'s line.

        A model may repeat the prefix; it is taken off. The rest is cut at the next separator
        (for CSV, read as a CSV field, so a quoted title keeps its commas).
        """
        text = first_line(answer)
        prefix = self.prefix(movie)
        if text.startswith(prefix):
            text = text[len(prefix) :]
        if self.csv_quoted:
            try:
                row = next(csv.reader(io.StringIO(text)), [])
            except csv.Error:
                row = [text]
            return row[0].strip() if row else ""
        if not self.year_field:  # the Netflix title is the rest of the line, commas and all
            text = text.split(self.separator, 1)[0]
        return text.strip()


ITEM_FORMATS: dict[str, ItemLineFormat] = {
    "netflix": ItemLineFormat("netflix", "movie_titles.csv", "Netflix Prize", ",", True, False),
    "ml-100k": ItemLineFormat("ml-100k", "u.item", "MovieLens 100K", "|", False, False),
    "ml-1m": ItemLineFormat("ml-1m", "movies.dat", "MovieLens 1M", "::", False, False),
    "ml-latest": ItemLineFormat("ml-latest", "movies.csv", "MovieLens", ",", False, True),
}
"""Every item-line format by name."""

# The file that tells each format apart, in the order they are looked for.
_MARKERS: tuple[tuple[str, ItemFormat], ...] = (
    ("movie_titles.csv", "netflix"),
    ("movie_titles.txt", "netflix"),
    ("u.item", "ml-100k"),
    ("movies.dat", "ml-1m"),
    ("movies.csv", "ml-latest"),
)


def detect_item_format(folder: str | Path) -> ItemFormat:
    """The item-line format of a data folder, from the item file it holds.

    A folder holding exactly one MovieLens folder (the unpacked zip's parent) works too.
    """
    root = Path(folder)
    places = [root] if root.is_dir() else [root.parent]
    if root.is_dir():
        places += sorted(p for p in root.iterdir() if p.is_dir())
    for place in places:
        for name, kind in _MARKERS:
            if (place / name).is_file():
                return kind
    raise ConfigError(
        f"no item file in {root}: expected movie_titles.csv (Netflix Prize), u.item "
        "(MovieLens 100K), movies.dat (MovieLens 1M) or movies.csv (MovieLens latest); give "
        "item_format=... to say which format to probe"
    )
