"""Parse and resolve a corpus of realistic model outputs, end to end.

Each case is what a chat model might answer to the study's prompt; ``expect`` lists the
(title, year) pairs the parser must read and ``ids`` the catalog ids they must resolve to
(``None`` = an invented title that must stay unresolved).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from llmrec.data import Catalog
from llmrec.data.resolver import TitleResolver
from llmrec.prompts import parse_response

CATALOG = Catalog.from_mapping(
    {
        1: ("Twister", 1996),
        2: ("Twister", 1989),
        3: ("The Patriot", 2000),
        4: ("The Patriot", 1998),
        5: ("Amélie", 2001),
        6: ("Café Society", 2016),
        7: ("Pride & Prejudice", 2005),
        8: ("Crouching Tiger, Hidden Dragon", 2000),
        9: ("Heat", 1995),
        10: ("Alien", 1979),
        11: ("Ronin", 1998),
        12: ("Lost in Translation", 2003),
        13: ("Spirited Away", 2001),
        14: ("Fargo", 1996),
        15: ("The Matrix", 1999),
        16: ("Lord of the Rings: The Fellowship of the Ring", 2001),
        17: ("Star Wars: Episode V: The Empire Strikes Back", 1980),
        18: ("Ferris Bueller's Day Off", 1986),
        19: ("Harry Potter and the Sorcerer's Stone", 2001),
        20: ("2001: A Space Odyssey", 1968),
        21: ("Good Will Hunting", 1997),
        22: ("Shrek", 2001),
        23: ("Finding Nemo", 2003),
        24: ("Forrest Gump", 1994),
        25: ("The Shawshank Redemption", 1994),
    }
)


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    expect: list[tuple[str, int | None]]
    ids: list[int | None]
    fmt: str
    truncated: bool = False
    duplicates: int = 0
    dropped: int = 0


CASES = [
    Case(
        "numbered, exact",
        "1. Heat (1995)\n2. Alien (1979)\n3. Ronin (1998)",
        [("Heat", 1995), ("Alien", 1979), ("Ronin", 1998)],
        [9, 10, 11],
        "numbered",
    ),
    Case(
        "chatter before and after",
        "Sure! Based on your favourites, here are some movies you might enjoy:\n\n"
        "1. The Matrix (1999)\n2. Fargo (1996)\n\nLet me know if you want more suggestions!",
        [("The Matrix", 1999), ("Fargo", 1996)],
        [15, 14],
        "numbered",
    ),
    Case(
        "bold markdown with explanations",
        "1. **Heat** (1995) - A tense crime thriller.\n"
        "2. **Spirited Away** (2001): a beautiful animated fantasy\n"
        "3. **Lost in Translation** (2003) — quiet and moving",
        [("Heat", 1995), ("Spirited Away", 2001), ("Lost in Translation", 2003)],
        [9, 13, 12],
        "numbered",
    ),
    Case(
        "bulleted with dashes",
        "- Shrek (2001)\n- Finding Nemo (2003)\n- Forrest Gump (1994)",
        [("Shrek", 2001), ("Finding Nemo", 2003), ("Forrest Gump", 1994)],
        [22, 23, 24],
        "bulleted",
    ),
    Case(
        "bulleted with asterisks and bullets",
        "* Alien (1979)\n• Ronin (1998)\n* Heat (1995)",
        [("Alien", 1979), ("Ronin", 1998), ("Heat", 1995)],
        [10, 11, 9],
        "bulleted",
    ),
    Case(
        "numbered with parentheses and quotes",
        '1) "The Matrix" (1999)\n2) \u201cFargo\u201d (1996)',
        [("The Matrix", 1999), ("Fargo", 1996)],
        [15, 14],
        "numbered",
    ),
    Case(
        "json plain",
        '{"recommendations": [{"title": "Heat", "year": 1995}, {"title": "Alien", "year": 1979}]}',
        [("Heat", 1995), ("Alien", 1979)],
        [9, 10],
        "json",
    ),
    Case(
        "json in code fence with chatter",
        'Here you go:\n```json\n{"recommendations": [\n  {"title": "Fargo", "year": 1996},\n'
        '  {"title": "Ronin", "year": 1998}\n]}\n```\nEnjoy!',
        [("Fargo", 1996), ("Ronin", 1998)],
        [14, 11],
        "json",
    ),
    Case(
        "json list of strings",
        '["The Matrix (1999)", "Heat (1995)"]',
        [("The Matrix", 1999), ("Heat", 1995)],
        [15, 9],
        "json",
    ),
    Case(
        "json with other keys and string years",
        '{"movies": [{"name": "Shrek", "release_year": "2001"}, {"Title": "Alien", "Year": 1979}]}',
        [("Shrek", 2001), ("Alien", 1979)],
        [22, 10],
        "json",
    ),
    Case(
        "json truncated mid-entry",
        '{"recommendations": [{"title": "Heat", "year": 1995}, {"title": "Alien", "year": 1979},'
        ' {"title": "Ron',
        [("Heat", 1995), ("Alien", 1979)],
        [9, 10],
        "json",
        truncated=True,
    ),
    Case(
        "json with null year and an unreadable entry",
        '{"recommendations": [{"title": "Fargo", "year": null}, {"rating": 5}, 42]}',
        [("Fargo", None)],
        [14],
        "json",
        dropped=2,
    ),
    Case(
        "numbered truncated inside the year",
        "1. Heat (1995)\n2. Alien (1979)\n3. Ronin (19",
        [("Heat", 1995), ("Alien", 1979), ("Ronin", None)],
        [9, 10, 11],
        "numbered",
        truncated=True,
    ),
    Case(
        "numbered cut inside a title (not detectable from the text)",
        "1. Heat (1995)\n2. Alien (1979)\n3. Good Will Hun",
        [("Heat", 1995), ("Alien", 1979), ("Good Will Hun", None)],
        [9, 10, None],
        "numbered",
    ),
    Case(
        "numbered cut inside a quoted title",
        '1. "Heat" (1995)\n2. "Alien" (1979)\n3. "Good Will Hunting',
        [("Heat", 1995), ("Alien", 1979), ("Good Will Hunting", None)],
        [9, 10, 21],
        "numbered",
        truncated=True,
    ),
    Case(
        "duplicates removed",
        "1. Heat (1995)\n2. Alien (1979)\n3. Heat (1995)\n4. heat\n",
        [("Heat", 1995), ("Alien", 1979)],
        [9, 10],
        "numbered",
        duplicates=2,
    ),
    Case(
        "same title different years is not a duplicate",
        "1. Twister (1996)\n2. Twister (1989)",
        [("Twister", 1996), ("Twister", 1989)],
        [1, 2],
        "numbered",
    ),
    Case(
        "article moved behind",
        "1. Patriot, The (2000)\n2. Matrix, The (1999)",
        [("Patriot, The", 2000), ("Matrix, The", 1999)],
        [3, 15],
        "numbered",
    ),
    Case(
        "accents dropped and & spelled out",
        "1. Amelie (2001)\n2. Cafe Society (2016)\n3. Pride and Prejudice (2005)",
        [("Amelie", 2001), ("Cafe Society", 2016), ("Pride and Prejudice", 2005)],
        [5, 6, 7],
        "numbered",
    ),
    Case(
        "near-miss spellings",
        "1. The Shawshank Redemtion (1994)\n2. Ferris Buellers Day Off (1986)\n"
        "3. Harry Potter and the Philosopher's Stone (2001)\n4. Forest Gump (1994)",
        [
            ("The Shawshank Redemtion", 1994),
            ("Ferris Buellers Day Off", 1986),
            ("Harry Potter and the Philosopher's Stone", 2001),
            ("Forest Gump", 1994),
        ],
        [25, 18, None, 24],
        "numbered",
    ),
    Case(
        "invented titles",
        "1. The Matrix Reborn (2004)\n2. Heat 2: The Return (2001)\n3. Alien (1979)",
        [("The Matrix Reborn", 2004), ("Heat 2: The Return", 2001), ("Alien", 1979)],
        [None, None, 10],
        "numbered",
    ),
    Case(
        "titles with colons and digits",
        "1. 2001: A Space Odyssey (1968)\n"
        "2. Star Wars: Episode V: The Empire Strikes Back (1980)\n"
        "3. Lord of the Rings: The Fellowship of the Ring (2001)",
        [
            ("2001: A Space Odyssey", 1968),
            ("Star Wars: Episode V: The Empire Strikes Back", 1980),
            ("Lord of the Rings: The Fellowship of the Ring", 2001),
        ],
        [20, 17, 16],
        "numbered",
    ),
    Case(
        "year in brackets and 'film'",
        "1. Heat [1995]\n2. Fargo (1996 film)",
        [("Heat", 1995), ("Fargo", 1996)],
        [9, 14],
        "numbered",
    ),
    Case(
        "comma separated on one line",
        "You might like: Heat (1995), Alien (1979), Crouching Tiger (2000)",
        [("You might like: Heat", 1995), ("Alien", 1979), ("Crouching Tiger", 2000)],
        [None, 10, None],
        "lines",
    ),
    Case(
        "plain title (year) lines",
        "Heat (1995)\nAlien (1979)\nGood Will Hunting (1997)",
        [("Heat", 1995), ("Alien", 1979), ("Good Will Hunting", 1997)],
        [9, 10, 21],
        "lines",
    ),
    Case(
        "plain lines without years",
        "Here are my picks:\nHeat\nAlien\nFinding Nemo",
        [("Heat", None), ("Alien", None), ("Finding Nemo", None)],
        [9, 10, 23],
        "lines",
    ),
    Case(
        "refusal",
        "I'm sorry, but I can't provide recommendations without more information.",
        [],
        [],
        "empty",
    ),
    Case("empty string", "", [], [], "empty"),
    Case("json with an empty list", '{"recommendations": []}', [], [], "json"),
    Case("json error object", '```json\n{"error": "no recommendations"}\n```', [], [], "json"),
    Case(
        "numbered with sub-bullets of explanation",
        "1. Heat (1995)\n   - Directed by Michael Mann\n2. Ronin (1998)\n   - Car chases",
        [("Heat", 1995), ("Ronin", 1998)],
        [9, 11],
        "numbered",
    ),
    Case(
        "markdown heading and numbered list with empty item",
        "### Recommendations\n1. Alien (1979)\n2. \n3. Fargo (1996)",
        [("Alien", 1979), ("Fargo", 1996)],
        [10, 14],
        "numbered",
        dropped=1,
    ),
    Case(
        "Twister without a year resolves to the lowest id",
        "1. Twister\n2. The Patriot (1998)",
        [("Twister", None), ("The Patriot", 1998)],
        [1, 4],
        "numbered",
    ),
    Case(
        "json with bracketed year list is not confused",
        "1. Heat [1995]\n2. Alien [1979]\n3. Ronin [1998]",
        [("Heat", 1995), ("Alien", 1979), ("Ronin", 1998)],
        [9, 10, 11],
        "numbered",
    ),
]

RESOLVER = TitleResolver(CATALOG)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parse(case: Case) -> None:
    parsed = parse_response(case.text)
    assert [(i.title, i.year) for i in parsed.items] == case.expect
    assert parsed.format == case.fmt
    assert parsed.truncated == case.truncated
    assert parsed.duplicates == case.duplicates
    assert len(parsed.dropped) == case.dropped
    assert parsed.valid == bool(case.expect)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_resolve(case: Case) -> None:
    parsed = parse_response(case.text)
    results = RESOLVER.resolve_many(parsed.items)
    assert [r.movie_id for r in results] == case.ids
    for r in results:
        assert (r.movie_id is None) == (r.method == "unresolved")
