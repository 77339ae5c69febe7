"""``llmrec.metrics.table``: the one table renderer every report uses."""

from __future__ import annotations

from llmrec.metrics import _table, table


def test_text_columns_align_and_lines_carry_no_trailing_space() -> None:
    text = table.text_table(["backend", "p@3"], [["popularity", "0.25"], ["ease", "0.125"]])
    assert text.splitlines() == [
        "backend       p@3",
        "----------  -----",
        "popularity   0.25",
        "ease        0.125",
    ]


def test_html_escapes_every_cell_and_the_caption() -> None:
    html = table.html_table(["a<b"], [["<script>"]], caption="x & y")
    assert "<caption>x &amp; y</caption>" in html
    assert "<th>a&lt;b</th>" in html and "<td>&lt;script&gt;</td>" in html
    assert "<script>" not in html


def test_the_private_module_stays_an_alias() -> None:
    assert _table.text_table is table.text_table and _table.html_table is table.html_table
