"""Film-like titles and release years for synthetic catalogs, from word lists only.

Titles follow the patterns of a video-rental catalog ("The Silent Harbor", "Midnight in Avalon",
"Return of the Iron King", "Summer's End II", "Brooklyn Nights: Season 2") and reproduce the
quirks of the Netflix Prize ``movie_titles.csv`` that a reader must survive: commas inside
titles, a few unknown (``NULL``) years, Latin-1 accents ("Café ..."), and the same title under
different ids with different years (the real file has two "Twister" and two "The Patriot").
Every ``(title, year)`` pair is unique so a title plus year always resolves to one id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["film_titles"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


_ADJ = _words(
    "Silent|Iron|Crimson|Broken|Hidden|Last|Golden|Lost|Dark|Eternal|Wild|Frozen|Burning|"
    "Secret|Forgotten|Savage|Distant|Hollow|Scarlet|Quiet|Endless|Fallen|Velvet|Electric|"
    "Perfect|Dangerous|Little|Restless|Final|Blue|Black|White|Sweet|Bitter|Strange|"
    "Invisible|Northern|Lonely|Shining|Deadly|Stolen|Painted|Sleeping|Reckless"
)
_NOUN = _words(
    "Harbor|King|River|Garden|Road|Storm|Promise|Kingdom|Shadow|Mirror|Island|City|Heart|"
    "Empire|Horizon|Legacy|Witness|Journey|Code|Frontier|Stranger|Bridge|Flame|Sky|"
    "Valley|Crown|Tide|Ghost|Hunter|Sea|Moon|Voyage|Temple|Fortune|Angel|Game|Line|Star|"
    "Season|Summer|Alibi|Dream|Station|Detective|Rider|Sister|Son"
)
_PLACE = _words(
    "Avalon|Paris|Manhattan|Casablanca|Tokyo|Rome|Vegas|Brooklyn|Havana|Montana|Siberia|"
    "Bombay|Marseille|Santa Fe|Berlin|Vienna|Texas|Alaska|Shanghai|Venice|Dublin|Chicago|"
    "Memphis|Sicily|Cairo|Harlem|Tangier|Oregon|Provence|Montréal|Bogotá|Zürich"
)
_TIME = _words(
    "Midnight|Summer|Winter|Yesterday|Tomorrow|Sunday|Dawn|Twilight|Autumn|Christmas|"
    "Friday|Spring|Monday|Morning|Tonight|August"
)
_NAME = _words(
    "Harry|Anna|Jack|Mona|Rosie|Max|Billy|Lola|Frankie|Grace|Sam|Ruby|Eddie|Clara|"
    "Vincent|Nora|Otis|Stella|Walter|Daisy|Joe|Maggie|Leo|Iris|Hugo|Mabel|Felix|Ada|José|"
    "Zoë|Renée"
)
_VERB = _words(
    "Saving|Finding|Chasing|Waiting for|Looking for|Remembering|Meeting|Loving|Trusting|"
    "Becoming|Losing|Killing|Kissing|Following"
)
_SINGLE = _words(
    "Twister|Ransom|Outbreak|Vertigo|Aftermath|Undertow|Blowback|Gravity|Payback|"
    "Crossfire|Sabotage|Exodus|Nightfall|Lifeline|Heatwave|Freefall|Backdraft|Showdown|"
    "Stakeout|Homecoming|Masquerade|Quicksand"
)
_COMMA_HEAD = ("Love", "Goodbye", "Hello", "Sorry", "Hush", "Run", "Wait", "Hurry")
_COMMA_TAIL = _words(
    "Actually Later|Again|Forever|Tonight|Maybe|My Darling|Stranger|Mr. Jones|"
    "Little Sister|Old Friend|Just Once"
)
_LATIN1 = ("Café", "Señor", "Château", "Noël", "Fiancée", "Déjà Vu", "Mañana", "Ça Va")
_SEQUEL = (" II", " III", " 2", ": Part Two", " Returns")
_PLACE_NOUN = ("Nights", "Blues", "Stories", "Heat", "Confidential", "Diaries", "Rhapsody")

_Pick = Callable[[Sequence[str]], str]


def _patterns() -> list[tuple[float, Callable[[_Pick], str]]]:
    return [
        (14.0, lambda p: f"The {p(_ADJ)} {p(_NOUN)}"),
        (6.0, lambda p: f"{p(_TIME)} in {p(_PLACE)}"),
        (4.0, lambda p: f"Return of the {p(_ADJ)} {p(_NOUN)}"),
        (4.0, lambda p: f"{p(_TIME)}'s End"),
        (5.0, lambda p: f"{p(_NAME)}'s {p(_NOUN)}"),
        (5.0, lambda p: f"{p(_VERB)} {p(_NAME)}"),
        (6.0, lambda p: f"{p(_NOUN)} of the {p(_ADJ)} {p(_NOUN)}"),
        (9.0, lambda p: f"{p(_ADJ)} {p(_NOUN)}"),
        (3.0, lambda p: p(_SINGLE)),
        (2.0, lambda p: f"{p(_COMMA_HEAD)}, {p(_COMMA_TAIL)}"),
        (4.0, lambda p: f"{p(_PLACE)} {p(_PLACE_NOUN)}"),
        (2.0, lambda p: f"{p(_PLACE)} {p(_PLACE_NOUN)}: Season {p(('1', '2', '3', '4'))}"),
        (3.0, lambda p: f"A {p(_NOUN)} for {p(_NAME)}"),
        (1.0, lambda p: f"{p(_LATIN1)} {p(_PLACE)}"),
        (4.0, lambda p: f"The {p(_NOUN)} and the {p(_NOUN)}"),
        (6.0, lambda p: f"The {p(_ADJ)} {p(_NOUN)} of {p(_PLACE)}"),
        (3.0, lambda p: f"{p(_NAME)} and the {p(_ADJ)} {p(_NOUN)}"),
    ]


def _years(n: int, rng: np.random.Generator) -> list[int]:
    """Release years 1920-2005, skewed to recent years like a 2005 rental catalog."""
    back = np.floor(rng.exponential(scale=11.0, size=n)).astype(np.int64)
    return [int(y) for y in np.clip(2005 - back, 1920, 2005)]


def film_titles(n: int, rng: np.random.Generator) -> list[tuple[str, int | None]]:
    """``n`` film-like ``(title, year)`` pairs for movie ids ``1..n`` (``year`` may be ``None``).

    Deterministic for a given generator state. With ``n >= 20`` the list always holds at least
    one title with a comma, one with a Latin-1 accent ("Café ..."), one ``None`` year, and one
    title repeated under another id with a different year; about 1 in 400 years are ``None`` and
    1 in 150 titles repeat an earlier one (a remake), 1 in 40 are sequels ("... II").
    """
    if n <= 0:
        return []
    patterns = _patterns()
    cdf = np.cumsum([w for w, _ in patterns])
    cdf /= cdf[-1]
    years: list[int | None] = list(_years(n, rng))
    kind = rng.random(n)

    def pick(words: Sequence[str]) -> str:
        return words[int(rng.integers(len(words)))]

    taken: set[tuple[str, int | None]] = set()
    used: set[str] = set()
    titles: list[str] = []
    for i in range(n):
        title = ""
        for _ in range(1000):
            if titles and kind[i] < 1 / 150:  # a remake: an earlier title, another year
                title = titles[int(rng.integers(len(titles)))]
                if (title, years[i]) not in taken:
                    break
                years[i] = _years(1, rng)[0]
                continue
            if titles and kind[i] < 1 / 150 + 1 / 40:  # a sequel of an earlier title
                j = int(rng.integers(len(titles)))
                title = titles[j] + pick(_SEQUEL)
                first, own = years[j], years[i]
                if first is not None and own is not None:
                    years[i] = min(2005, max(own, first + 1))
            else:
                title = patterns[int(np.searchsorted(cdf, rng.random(), side="right"))][1](pick)
            if title not in used:
                break
        else:  # pragma: no cover - the word lists hold far more than 1000 choices per pattern
            title = f"{title} {i + 1}"
        taken.add((title, years[i]))
        used.add(title)
        titles.append(title)
    if n >= 20:
        _force_quirks(titles, years, taken, rng)
    for i in rng.choice(n, size=max(0, n // 400), replace=False) if n >= 20 else ():
        if (titles[int(i)], None) not in taken:
            taken.discard((titles[int(i)], years[int(i)]))
            years[int(i)] = None
            taken.add((titles[int(i)], None))
    return list(zip(titles, years, strict=True))


def _force_quirks(
    titles: list[str],
    years: list[int | None],
    taken: set[tuple[str, int | None]],
    rng: np.random.Generator,
) -> None:
    """Make sure each real-file quirk occurs at least once (in place)."""
    n = len(titles)
    slots = [int(s) for s in rng.choice(np.arange(1, n), size=4, replace=False)]

    def put(i: int, title: str, year: int | None) -> None:
        if (title, year) in taken:
            return
        taken.discard((titles[i], years[i]))
        titles[i], years[i] = title, year
        taken.add((title, year))

    if not any("," in t for t in titles):
        put(slots[0], "Love, Actually Later", years[slots[0]])
    if not any(t.startswith("Café") for t in titles):
        put(slots[1], f"Café {_PLACE[int(rng.integers(len(_PLACE)))]}", years[slots[1]])
    if None not in years:
        put(slots[2], titles[slots[2]], None)
    if len(set(titles)) == n:  # no repeated title yet: remake an earlier one
        src = int(rng.integers(slots[3]))
        old = years[src]
        put(slots[3], titles[src], 1998 if old is None or old > 1998 else old + 7)
