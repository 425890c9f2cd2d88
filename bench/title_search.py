"""Benchmark: title search (GET /items?q=) through the title index against reading every title.

Run from the repository root with the project's Python:

    python bench/title_search.py [--movies CSV] [--items N] [--queries Q] [--result FILE]

The catalogue is MovieLens' movies.csv (ml-latest-small's 9.7k titles; nothing is downloaded)
repeated with a sequel numeral per copy ("Toy Story III (1995)") up to --items titles, so that
words and their frequencies are real ones; without the file, titles drawn from a word list.
Queries are what people type into the box: a title's first word or two, a word's first letters,
two word starts in any order, one letter, and words no title has. Each query runs through
`Catalog.browse` (the index) and through the scan the catalogue did before it (every title
graded by `title_match`, the same sort), alternating, so both see the same load of a shared
machine; the results must be equal. The ratio is the scan's time over the index's.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cluster.app.catalog import Catalog, CatalogItem
from cluster.app.title_index import title_match, title_words

MOVIES = Path(__file__).resolve().parents[2] / "shared/data/ml-latest-small/movies.csv"
NUMERALS = ["", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
WORDS = ["star", "love", "night", "man", "last", "city", "dark", "story", "blood", "war"]


def base_titles(movies: Path) -> list[tuple[str, list[str]]]:
    if not movies.is_file():
        draw = random.Random(1)
        return [
            (" ".join(draw.choices(WORDS, k=draw.randint(1, 4))) + " (2000)", ["Drama"])
            for _ in range(10_000)
        ]
    with movies.open(newline="") as rows:
        return [(row["title"], row["genres"].split("|")) for row in csv.DictReader(rows)]


def catalogue(movies: Path, size: int) -> dict[int, CatalogItem]:
    bases = base_titles(movies)
    draw = random.Random(2)
    items: dict[int, CatalogItem] = {}
    for n in range(size):
        title, genres = bases[n % len(bases)]
        numeral = NUMERALS[(n // len(bases)) % len(NUMERALS)]
        if numeral:
            stem, _, year = title.rpartition(" (")
            title = f"{stem} {numeral} ({year}" if stem else f"{title} {numeral}"
        items[n] = CatalogItem(
            item_id=n, title=title, genres=genres, year=None, popularity=draw.random() * 100
        )
    return items


def queries(items: dict[int, CatalogItem], count: int) -> list[tuple[str, str]]:
    """(kind, query) pairs, `count` of each kind but the one-letter ones (a few: they match
    much of the catalogue either way)."""
    draw = random.Random(3)
    titled = [w for i in items.values() if len(w := title_words(i.title).split()) >= 2]
    made: list[tuple[str, str]] = []
    for _ in range(count):
        words = draw.choice(titled)
        made.append(("first word", words[0]))
        made.append(("first two words", " ".join(words[:2])))
        made.append(("word start (3-5 letters)", draw.choice(words)[: draw.randint(3, 5)]))
        pair = draw.sample(words, 2)
        made.append(("two word starts, any order", f"{pair[0][:4]} {pair[1][:3]}"))
        made.append(("no such word", f"qx{draw.randint(0, 999)}z"))
    made += [("one letter", letter) for letter in "amst"]
    return made


def scan(items: dict[int, CatalogItem], titles: dict[int, str], query: str) -> list[CatalogItem]:
    """The search before the index: every title graded, then the popularity order."""
    wanted = title_words(query)
    matches = {i: g for i, t in titles.items() if (g := title_match(wanted, t)) is not None}
    chosen = [items[i] for i in matches]
    return sorted(chosen, key=lambda i: (matches[i.item_id], -i.popularity, i.item_id))[:20]


def timed(call: Callable[[], list[CatalogItem]]) -> tuple[float, list[int]]:
    started = time.perf_counter()
    found = call()
    return (time.perf_counter() - started) * 1000, [i.item_id for i in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movies", type=Path, default=MOVIES)
    parser.add_argument("--items", type=int, default=62_000)
    parser.add_argument("--queries", type=int, default=40, help="queries of each kind")
    parser.add_argument("--result", type=Path, default=Path("bench/results/title_search.txt"))
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    items = catalogue(args.movies, args.items)
    started = time.perf_counter()
    catalog = Catalog(items)
    build_s = time.perf_counter() - started
    titles = {i: title_words(item.title) for i, item in items.items()}
    by_kind: dict[str, list[tuple[float, float]]] = {}
    for kind, query in queries(items, args.queries):
        old_ms, old = timed(lambda q=query: scan(items, titles, q))
        new_ms, new = timed(lambda q=query: catalog.browse(None, "popularity", 20, 0, query=q))
        assert new == old, f"{query!r}: index {new} != scan {old}"
        by_kind.setdefault(kind, []).append((old_ms, new_ms))

    source = args.movies.name if args.movies.is_file() else "a word list"
    lines = [
        f"bench/title_search.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {len(items)} titles "
        f"({source}, repeated with sequel numerals), {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f}",
        f"index built in {build_s:.2f} s (as the catalogue loads); same results for every query",
        "",
        f"{'query':28} {'n':>4} {'scan p50 ms':>12} {'index p50 ms':>13} {'ratio':>8}",
    ]
    everything: list[tuple[float, float]] = []
    for kind, pairs in by_kind.items():
        everything += pairs
        lines.append(_row(kind, pairs))
    lines += [_row("all", everything), "", f"load average after: {os.getloadavg()[0]:.1f}"]
    report = "\n".join(lines)
    print(report)
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(report + "\n")


def _row(kind: str, pairs: list[tuple[float, float]]) -> str:
    """A kind's medians; its ratio is the median of the queries' own ratios."""
    old = statistics.median(o for o, _ in pairs)
    new = statistics.median(n for _, n in pairs)
    ratio = statistics.median(o / n for o, n in pairs)
    return f"{kind:28} {len(pairs):>4} {old:>12.2f} {new:>13.3f} {ratio:>7.1f}x"


if __name__ == "__main__":
    main()
