"""Title search over the catalogue (GET /items?q=): how titles and queries are compared, and an
index of title words so that a query reads the titles sharing its words, not every title."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Mapping

_YEAR = re.compile(r"\s*\(\d{4}(?:-\d{4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(.*), (the|a|an|les|la|le|l'|die|der|das|il|el)$")


def title_words(title: str) -> str:
    """A title as search compares it: no year, MovieLens' trailing article moved to the front
    ("Matrix, The (1999)" -> "the matrix"), accents, case and punctuation dropped."""
    plain = unicodedata.normalize("NFKD", _YEAR.sub("", title)).encode("ascii", "ignore").decode()
    plain = plain.casefold().strip()
    if moved := _TRAILING_ARTICLE.match(plain):
        plain = f"{moved.group(2)} {moved.group(1)}"
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def title_match(query: str, title: str) -> int | None:
    """How well a title's words match a query's (both from `title_words`): 0 the title starts
    with the query, 1 the query starts a word of it, 2 every query word starts one of its
    words; None for no match (and for an empty query)."""
    if not query:
        return None
    if title.startswith(query):
        return 0
    if f" {query}" in f" {title}":
        return 1
    words = title.split()
    if all(any(w.startswith(q) for w in words) for q in query.split()):
        return 2
    return None


class TitleIndex:
    """Each title word's items, the words kept sorted so that the words a prefix starts are one
    run of them. Every match of `title_match` has each query word start a title word, so the
    items of one query word's prefix hold all the matches; `title_match` then grades them."""

    def __init__(self, titles: Mapping[int, str]) -> None:
        self._titles: dict[int, str] = {}
        self._items: dict[str, set[int]] = {}
        for item_id, title in titles.items():
            self._titles[item_id] = words = title_words(title)
            for word in words.split():
                self._items.setdefault(word, set()).add(item_id)
        self._words = sorted(self._items)

    def put(self, item_id: int, title: str) -> None:
        """Index an item's new or changed title in place of its old one."""
        for word in self._titles.pop(item_id, "").split():
            held = self._items.get(word)
            if held is None:
                continue
            held.discard(item_id)
            if not held:
                del self._items[word]
                self._words.pop(bisect.bisect_left(self._words, word))
        self._titles[item_id] = words = title_words(title)
        for word in words.split():
            if word not in self._items:
                self._items[word] = set()
                bisect.insort(self._words, word)
            self._items[word].add(item_id)

    def search(self, query: str) -> dict[int, int]:
        """The items whose title matches `query` (as typed), each with its `title_match` grade."""
        wanted = title_words(query)
        if not wanted:
            return {}
        # The longest word's prefix usually starts the fewest titles: the fewest to grade.
        candidates = self._starting(max(wanted.split(), key=len))
        return {
            item_id: grade
            for item_id in candidates
            if (grade := title_match(wanted, self._titles[item_id])) is not None
        }

    def _starting(self, prefix: str) -> set[int]:
        """The items with a title word that starts with `prefix`."""
        found: set[int] = set()
        at = bisect.bisect_left(self._words, prefix)
        while at < len(self._words) and self._words[at].startswith(prefix):
            found |= self._items[self._words[at]]
            at += 1
        return found
