"""Naming items by id or by title, forgivingly.

Users type "star wars", "The Silence of the Lambs" or "Net, The (1995)"; MovieLens writes
"Star Wars (1977)" and "Silence of the Lambs, The (1991)". A lookup ignores case, accents,
punctuation, the trailing year and an article moved to the end, and an ambiguous or unknown
name is an error that lists the closest titles with their ids.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Hashable

import numpy as np

from embedrec.data.ratings import IdMap
from embedrec.errors import AmbiguousNameError, UnknownIdError

ARTICLES = ("the", "a", "an", "la", "le", "les", "l'", "il", "el", "das", "der", "die")
_YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
_MOVED_ARTICLE = re.compile(r"^(.*),\s*(" + "|".join(ARTICLES) + r")$", re.IGNORECASE)


def fold_accents(text: str) -> str:
    """`text` without its accents ('Misérables' -> 'Miserables'): people type titles without
    them, and compatibility forms (ligatures, full-width letters) become plain letters."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalise_title(title: str, keep_year: bool = True) -> str:
    """A title's comparable form: 'Net, The (1995)' -> 'net 1995' (or 'net'); accents folded.

    >>> normalise_title("Silence of the Lambs, The (1991)", keep_year=False)
    'silence of the lambs'
    """
    text = fold_accents(str(title)).strip()
    year = ""
    found = _YEAR.search(text)
    if found:
        year, text = found.group(1), text[: found.start()]
    moved = _MOVED_ARTICLE.match(text.strip())
    if moved:
        text = f"{moved.group(2)} {moved.group(1)}"
    words = re.sub(r"[^\w']+", " ", text.lower()).split()
    if len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]  # "The Net", "Net, The" and "Net" all name the same film
    if keep_year and year:
        words.append(year)
    return " ".join(words)


class ItemNames:
    """Resolves what a user calls an item (raw id or title) to its index."""

    def __init__(self, item_map: IdMap, titles: np.ndarray | None):
        self.item_map = item_map
        self.titles = titles
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._with_year: dict[str, list[int]] = defaultdict(list)
        self._without_year: dict[str, list[int]] = defaultdict(list)
        if titles is not None:
            for index, title in enumerate(titles):
                if not title:
                    continue
                self._exact[title].append(index)
                self._with_year[normalise_title(title)].append(index)
                self._without_year[normalise_title(title, keep_year=False)].append(index)

    def label(self, index: int) -> str:
        raw = self.item_map.ids[index]
        raw = raw.item() if hasattr(raw, "item") else raw
        title = self.titles[index] if self.titles is not None else ""
        return f"{raw!r} {title!r}" if title else repr(raw)

    def resolve(self, name: Hashable) -> int:
        """The index of the item called `name` (an id first, then a title); raises
        `AmbiguousNameError` listing the matches, or `UnknownIdError` listing near misses."""
        index = self.item_map.lookup(name)
        if index >= 0:
            return index
        text = str(name)
        for table, key in (
            (self._exact, text),
            (self._with_year, normalise_title(text)),
            (self._without_year, normalise_title(text, keep_year=False)),
        ):
            matches = table.get(key, [])
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                listed = "; ".join(self.label(i) for i in matches[:10])
                raise AmbiguousNameError(
                    f"{text!r} matches {len(matches)} items: {listed}. Name one by its id."
                )
        raise UnknownIdError(f"unknown item {text!r}" + self._suggestions(text))

    def search(self, query: str) -> tuple[list[int], list[int]]:
        """Items whose title holds every word of `query` (case, punctuation and a moved
        article ignored): (those whose title starts with the query, the others)."""
        wanted = normalise_title(query).split()
        if not wanted:
            return [], []
        prefix = " ".join(wanted)
        starting: list[int] = []
        containing: list[int] = []
        for key, indices in self._with_year.items():
            words = key.split()
            if all(any(w.startswith(part) for w in words) for part in wanted):
                (starting if key.startswith(prefix) else containing).extend(indices)
        return starting, containing

    def _suggestions(self, text: str) -> str:
        if self.titles is None:
            return " (the model has no titles: name items by id)"
        keys = list(self._without_year)
        close = difflib.get_close_matches(
            normalise_title(text, keep_year=False), keys, n=5, cutoff=0.6
        )
        if not close:
            return ""
        indices = [i for key in close for i in self._without_year[key]][:5]
        return "; closest: " + "; ".join(self.label(i) for i in indices)
