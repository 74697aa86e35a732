"""The storefront's listing and search: which on-sale products a shopper sees, in what order.

One shop's catalog is thousands of products, not millions. The whole listing (a few hundred
bytes per product) fits in a container's memory, so the storefront keeps it there as a
`Listing` and answers every filter, sort and search from it: pages are always full (the
filters run before the page is cut), any sort is one `sorted`, and search needs no server.

Search matches any part of a title, a tag or a category name, Chinese included (`茶` finds
`红茶 250g`). Chinese has no spaces to split words on, and a tokenizer would miss a query of
one character; a substring test over each product's normalized text finds every match, and
at one shop's size it costs milliseconds (bench/search.py). Matches rank by where they hit
(title before tag before category; a title that starts with the query, or is it, first),
then by sales.

Everything here is pure: the listing is built from plain values and queried with plain
values (layers/services/storefront.py loads and refreshes it).
"""

from __future__ import annotations

import gzip
import json
import unicodedata
from dataclasses import dataclass

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


# How a match ranks: the field it hits, and a bonus for the title starting with (or being) it.
_TITLE, _TAG, _CATEGORY = 300, 200, 100
_PREFIX, _EXACT = 20, 40
_SEP = "\x1f"  # between a product's fields in its search text: no query spans two fields


class Listing:
    """The on-sale products, ready to filter, search and sort. Built once per snapshot (the
    orders of every sort are computed then), queried many times."""

    def __init__(self, entries: dict[str, Entry]):
        self.entries = entries
        self._texts = {pid: (normalize(e.title), tuple(map(normalize, e.tags)),
                             tuple(map(normalize, e.category_names))) for pid, e in entries.items()}
        self._haystack = {pid: _SEP.join((t, *tags, *cats)) for pid, (t, tags, cats) in self._texts.items()}
        newest = sorted(entries.values(), key=lambda e: (e.created_at, e.product_id), reverse=True)
        self._newest_rank = {e.product_id: n for n, e in enumerate(newest)}
        rank = self._newest_rank.__getitem__
        # Ties always end on the newest first, then the id, so pages never shuffle between requests.
        self._orders = {
            "newest": [e.product_id for e in newest],
            "default": [e.product_id for e in sorted(newest, key=lambda e: (-e.sort_weight, rank(e.product_id)))],
            "sales": [e.product_id for e in sorted(newest, key=lambda e: (-e.sales, rank(e.product_id)))],
            "price_asc": [e.product_id for e in sorted(newest, key=lambda e: (e.price, rank(e.product_id)))],
            "price_desc": [e.product_id for e in sorted(newest, key=lambda e: (-e.price, rank(e.product_id)))],
        }

    @classmethod
    def build(cls, entries: list[Entry]) -> Listing:
        return cls({e.product_id: e for e in entries})

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
        """Product id -> score, for the products whose title, tags or category names contain `q`.
        A substring test over each product's normalized text: at one shop's size (10,000
        products) this is a few milliseconds, less than keeping an n-gram index current."""
        q = normalize(q)
        if not q:
            return {}
        return {pid: self._score(pid, q) for pid, text in self._haystack.items() if q in text}

    def select(self, *, category_ids: set[str] | None = None, q: str | None = None,
               sort: str = "default") -> list[str]:
        """The product ids a shopper's query lists, in order. `category_ids` is a category
        with its children (None: every category); with `q`, the default order is relevance
        (then sales, then newest)."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        entries = self.entries
        if q:
            q = normalize(q)
            if not q:
                return []
            found = {pid for pid, text in self._haystack.items() if q in text}
            if category_ids is not None:
                found = {pid for pid in found if entries[pid].category_id in category_ids}
            if sort != "default":
                return [pid for pid in self._orders[sort] if pid in found]
            # Relevance has a handful of values: bucket the matches in the order of sales
            # (then newest) instead of sorting them.
            buckets: dict[int, list[str]] = {}
            for pid in self._orders["sales"]:
                if pid in found:
                    buckets.setdefault(self._score(pid, q), []).append(pid)
            return [pid for score in sorted(buckets, reverse=True) for pid in buckets[score]]
        order = self._orders[sort]
        if category_ids is None:
            return list(order)
        return [pid for pid in order if entries[pid].category_id in category_ids]


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
                        e.category_id, list(e.category_names)] for e in entries],
           "categories": [[c.category_id, c.name, c.parent_id, c.sort_weight, c.image_url, c.created_at]
                          for c in categories]}
    return gzip.compress(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(), mtime=0)


def decode_snapshot(data: bytes) -> tuple[list[Entry], list[Category]]:
    doc = json.loads(gzip.decompress(data))
    categories = [Category(category_id=c[0], name=c[1], parent_id=c[2], sort_weight=c[3], image_url=c[4],
                           created_at=c[5]) for c in doc["categories"]]
    by_id = {c.category_id: c for c in categories}
    entries = [Entry(product_id=e[0], title=e[1], price=e[2], created_at=e[3], sort_weight=e[4], sales=e[5],
                     tags=tuple(e[6]), category_id=e[7],
                     # a renamed category is searched by its new name at once
                     category_names=names_of(by_id, e[7]) or tuple(e[8]))
               for e in doc["entries"]]
    return entries, categories
