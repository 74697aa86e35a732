"""The storefront's listing and search: which on-sale products a shopper sees, in what order.

One shop's catalog is thousands of products, not millions. The whole listing (a few hundred
bytes per product) fits in a container's memory, so the storefront keeps it there as a
`Listing` and answers every filter, sort and search from it: pages are always full (the
filters run before the page is cut), any sort is one `sorted`, and search needs no server.

Search matches any part of a title, a tag or a category name, Chinese included. Chinese has
no spaces to split words on, so the index is of characters and character pairs (bigrams):
a one-character query (`茶`) is a lookup of that character, a longer one intersects the
postings of its pairs and then checks the text really contains the whole query (pairs in
another order would otherwise match). Matches rank by where they hit (title before tag
before category; a title that starts with the query, or is the query, first), then by sales.

Everything here is pure: the listing is built from plain values and queried with plain
values (layers/services/storefront.py loads and refreshes it).
"""

from __future__ import annotations

import gzip
import json
import unicodedata
from dataclasses import dataclass, field

SORTS = ("default", "sales", "price_asc", "price_desc", "newest")
MAX_LEVELS = 2  # a category tree: top-level categories and their children


@dataclass(frozen=True)
class Entry:
    """What the listing knows of one on-sale product."""

    product_id: str
    title: str
    price: int  # the lowest price of its on-sale SKUs
    created_at: str
    sort_weight: int = 0
    sales: int = 0
    tags: tuple[str, ...] = ()
    category_id: str | None = None
    category_names: tuple[str, ...] = ()  # its category and that category's parent


def normalize(text: str) -> str:
    """Full-width letters and digits folded to ASCII, case folded, spaces dropped: `ＴＥＡ`
    finds `tea`, and `红 茶` finds `红茶`."""
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _grams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} | set(text)


# How a match ranks: the field it hits, and a bonus for the title starting with (or being) it.
_TITLE, _TAG, _CATEGORY = 300, 200, 100
_PREFIX, _EXACT = 20, 40


@dataclass
class Listing:
    """The on-sale products, indexed for search. Build once per snapshot, then query."""

    entries: dict[str, Entry]
    _postings: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _texts: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, entries: list[Entry]) -> Listing:
        listing = cls(entries={e.product_id: e for e in entries})
        for e in listing.entries.values():
            title, tags, cats = normalize(e.title), tuple(map(normalize, e.tags)), tuple(map(normalize, e.category_names))
            listing._texts[e.product_id] = (title, tags, cats)
            for text in (title, *tags, *cats):
                for g in _grams(text):
                    listing._postings.setdefault(g, set()).add(e.product_id)
        return listing

    def _score(self, product_id: str, q: str) -> int:
        title, tags, cats = self._texts[product_id]
        if q in title:
            return _TITLE + (_EXACT if title == q else _PREFIX if title.startswith(q) else 0)
        if any(q in t for t in tags):
            return _TAG + (_EXACT if q in tags else 0)
        if any(q in c for c in cats):
            return _CATEGORY + (_EXACT if q in cats else 0)
        return 0

    def search(self, q: str) -> dict[str, int]:
        """Product id -> score, for the products whose title, tags or category names contain `q`."""
        q = normalize(q)
        if not q:
            return {}
        grams = [q] if len(q) == 1 else [q[i:i + 2] for i in range(len(q) - 1)]
        postings = [self._postings.get(g, set()) for g in grams]
        candidates = set.intersection(*sorted(postings, key=len)) if postings else set()
        scored = {pid: self._score(pid, q) for pid in candidates}
        return {pid: s for pid, s in scored.items() if s > 0}

    def select(self, *, category_ids: set[str] | None = None, q: str | None = None,
               sort: str = "default") -> list[str]:
        """The product ids a shopper's query lists, in order. `category_ids` is a category
        with its children (None: every category); with `q`, the default order is relevance."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        scores = self.search(q) if q else None
        pool = [self.entries[pid] for pid in (scores if scores is not None else self.entries)]
        if category_ids is not None:
            pool = [e for e in pool if e.category_id in category_ids]
        # Ties always end on the product id, so pages never shuffle between two requests.
        if sort == "sales":
            key = lambda e: (-e.sales, _desc(e.created_at), e.product_id)  # noqa: E731
        elif sort == "price_asc":
            key = lambda e: (e.price, _desc(e.created_at), e.product_id)  # noqa: E731
        elif sort == "price_desc":
            key = lambda e: (-e.price, _desc(e.created_at), e.product_id)  # noqa: E731
        elif sort == "newest":
            key = lambda e: (_desc(e.created_at), e.product_id)  # noqa: E731
        elif scores is not None:
            key = lambda e: (-scores[e.product_id], -e.sales, _desc(e.created_at), e.product_id)  # noqa: E731
        else:
            key = lambda e: (-e.sort_weight, _desc(e.created_at), e.product_id)  # noqa: E731
        return [e.product_id for e in sorted(pool, key=key)]


def _desc(text: str) -> tuple[int, ...]:
    """Sorts an RFC 3339 string newest first inside an ascending sort."""
    return tuple(-ord(c) for c in text)


# -- categories ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Category:
    category_id: str
    name: str
    parent_id: str | None = None
    sort_weight: int = 0
    image_url: str | None = None
    created_at: str = ""


def check_parent(parent: Category | None, parent_id: str | None, category_id: str | None = None) -> None:
    """A category sits at the top or under a top-level category: two levels at most."""
    from layers.domain import errors

    if parent_id is None:
        return
    if parent is None:
        raise errors.NotFound("no such parent category")
    if parent.parent_id is not None:
        raise errors.InvalidRequest(f"categories have at most {MAX_LEVELS} levels: the parent is itself a child")
    if category_id is not None and parent.category_id == category_id:
        raise errors.InvalidRequest("a category cannot be its own parent")


def category_tree(categories: list[Category]) -> list[dict]:
    """Top-level categories with their children, each level by sort weight (highest first),
    then name."""
    def order(c: Category):
        return (-c.sort_weight, c.name, c.category_id)

    children: dict[str, list[Category]] = {}
    for c in categories:
        if c.parent_id:
            children.setdefault(c.parent_id, []).append(c)

    def view(c: Category) -> dict:
        return {"id": c.category_id, "name": c.name, "sort_weight": c.sort_weight, "image_url": c.image_url,
                "parent_id": c.parent_id}

    return [{**view(top), "children": [view(c) for c in sorted(children.get(top.category_id, []), key=order)]}
            for top in sorted((c for c in categories if not c.parent_id), key=order)]


def with_children(categories: list[Category], category_id: str) -> set[str]:
    """A category and its children (what `?category_id=` lists)."""
    return {category_id} | {c.category_id for c in categories if c.parent_id == category_id}


def names_of(categories: dict[str, Category], category_id: str | None) -> tuple[str, ...]:
    """A product's category name and its parent's (search matches either)."""
    c = categories.get(category_id) if category_id else None
    if c is None:
        return ()
    parent = categories.get(c.parent_id) if c.parent_id else None
    return (c.name, parent.name) if parent else (c.name,)


# -- specs -----------------------------------------------------------------------------------

def spec_matrix(specs: list[dict | None]) -> list[dict]:
    """The attribute names and their values across a product's SKUs, in the order they first
    appear (`[{"name": "颜色", "values": ["红", "蓝"]}, {"name": "尺码", ...}]`): what a
    mini-program draws its 颜色 / 尺码 picker from."""
    names: dict[str, list[str]] = {}
    for spec in specs:
        for name, value in (spec or {}).items():
            values = names.setdefault(name, [])
            if value not in values:
                values.append(value)
    return [{"name": n, "values": v} for n, v in names.items()]


# -- campaigns a shopper can find --------------------------------------------------------------

def campaign_phase(starts_at: str, ends_at: str, now: str, stopped: bool = False) -> str | None:
    """`live`, `upcoming`, or None (ended or stopped). RFC 3339 UTC strings compare as times."""
    if stopped or ends_at <= now:
        return None
    return "live" if starts_at <= now else "upcoming"


# -- a published listing's bytes: one gzipped JSON object in the code bucket ----------------------

def encode_snapshot(entries: list[Entry], categories: list[Category]) -> bytes:
    doc = {"format": 1,
           "entries": [[e.product_id, e.title, e.price, e.created_at, e.sort_weight, e.sales, list(e.tags),
                        e.category_id] for e in entries],
           "categories": [[c.category_id, c.name, c.parent_id, c.sort_weight, c.image_url, c.created_at]
                          for c in categories]}
    return gzip.compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(), mtime=0)


def decode_snapshot(data: bytes) -> tuple[list[Entry], list[Category]]:
    doc = json.loads(gzip.decompress(data))
    categories = [Category(category_id=c[0], name=c[1], parent_id=c[2], sort_weight=c[3], image_url=c[4],
                           created_at=c[5]) for c in doc["categories"]]
    entries = [Entry(product_id=e[0], title=e[1], price=e[2], created_at=e[3], sort_weight=e[4], sales=e[5],
                     tags=tuple(e[6]), category_id=e[7]) for e in doc["entries"]]
    return entries, categories
