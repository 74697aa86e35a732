"""Categories and the storefront's listing snapshot, in the shop table and the code bucket.

- Category: pk `CATEGORY#<id>`, sk `CATEGORY`; listed through gsi1 `CATEGORIES` / `<id>` (a
  shop has tens of categories: the tree is one query). `product_count` counts the products
  that name it and `child_count` its children, each moved by `ADD` in the transaction that
  names or unnames it, so deleting one in use fails its condition (409 IN_USE) however the
  writes interleave.
- Listing: pk `CATALOG`, sk `LISTING`: `snapshot_key` names the newest snapshot, set by
  compare-and-swap on the key it replaces; `version` counts the snapshots published.
- Snapshot: an object in the code bucket (`catalog/listing-<version>-<random>.json.gz`): every
  on-sale product's listing entry and every category, as JSON, gzipped.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from layers.domain import errors
from layers.domain.storefront import Category
from layers.storage.base import Listed, ShopModel

CATEGORIES = "CATEGORIES"
LISTING_KEY = ("CATALOG", "LISTING")


class CategoryItem(Listed):
    category_id = UnicodeAttribute()
    name = UnicodeAttribute()
    parent_id = UnicodeAttribute(null=True)
    sort_weight = NumberAttribute(null=True)
    image_url = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    product_count = NumberAttribute(null=True)
    child_count = NumberAttribute(null=True)


class ListingVersionItem(ShopModel):
    version = NumberAttribute(null=True)
    snapshot_key = UnicodeAttribute(null=True)


def category_key(category_id: str) -> tuple[str, str]:
    return f"CATEGORY#{category_id}", "CATEGORY"


def _category(item: CategoryItem) -> Category:
    return Category(category_id=item.category_id, name=item.name, parent_id=item.parent_id,
                    sort_weight=int(item.sort_weight or 0), image_url=item.image_url, created_at=item.created_at)


class DynamoCategoryRepository:
    """`layers.services.storefront.CategoryRepository` on the shop table."""

    def get(self, category_id: str) -> Category | None:
        try:
            return _category(CategoryItem.get(*category_key(category_id)))
        except CategoryItem.DoesNotExist:
            return None

    def list_all(self) -> list[Category]:
        return [_category(i) for i in CategoryItem.gsi1.query(CATEGORIES)]

    def stage_put(self, tx, category: Category, *, create: bool) -> None:
        """Create (conditioned on the id being new) or rewrite the category's own fields
        (conditioned on it existing); its counts are left as they are."""
        item = CategoryItem(*category_key(category.category_id))
        actions = [CategoryItem.category_id.set(category.category_id), CategoryItem.name.set(category.name),
                   CategoryItem.parent_id.set(category.parent_id) if category.parent_id
                   else CategoryItem.parent_id.remove(),
                   CategoryItem.sort_weight.set(category.sort_weight),
                   CategoryItem.image_url.set(category.image_url) if category.image_url
                   else CategoryItem.image_url.remove(),
                   CategoryItem.created_at.set(category.created_at),
                   CategoryItem.gsi1pk.set(CATEGORIES), CategoryItem.gsi1sk.set(category.category_id)]
        condition = CategoryItem.pk.does_not_exist() if create else CategoryItem.pk.exists()
        tx.update(item, actions=actions, condition=condition,
                  on_fail=(lambda: errors.InvalidState("the category exists")) if create
                  else (lambda: errors.NotFound("no such category")))

    def stage_count(self, tx, category_id: str, *, products: int = 0, children: int = 0) -> None:
        """Move the category's counts; conditioned on it existing (404 otherwise), so a
        product or child never names a category deleted meanwhile."""
        actions = []
        if products:
            actions.append(CategoryItem.product_count.add(products))
        if children:
            actions.append(CategoryItem.child_count.add(children))
        tx.update(CategoryItem(*category_key(category_id)), actions=actions, condition=CategoryItem.pk.exists(),
                  on_fail=lambda: errors.NotFound(f"no such category {category_id}"))

    def stage_delete(self, tx, category_id: str) -> None:
        """Delete, conditioned on no product and no child naming it (409 IN_USE)."""
        unused = ((CategoryItem.product_count.does_not_exist() | (CategoryItem.product_count == 0))
                  & (CategoryItem.child_count.does_not_exist() | (CategoryItem.child_count == 0)))
        tx.delete(CategoryItem(*category_key(category_id)), condition=CategoryItem.pk.exists() & unused,
                  on_fail=lambda: errors.InUse("products or child categories still use this category"))


class DynamoListingVersions:
    """Which snapshot is the newest: one item, moved by compare-and-swap."""

    def state(self) -> tuple[int, str | None]:
        """(version, snapshot_key): how many snapshots were published, and the newest's key."""
        try:
            item = ListingVersionItem.get(*LISTING_KEY)
        except ListingVersionItem.DoesNotExist:
            return 0, None
        return int(item.version or 0), item.snapshot_key

    def swap(self, expected_key: str | None, new_key: str) -> bool:
        """Name `new_key` the newest snapshot while `expected_key` still is; False when
        another publisher got there first."""
        from pynamodb.exceptions import UpdateError

        from layers.storage.errors import condition_failed

        current = (ListingVersionItem.snapshot_key.does_not_exist() if expected_key is None
                   else ListingVersionItem.snapshot_key == expected_key)
        try:
            ListingVersionItem(*LISTING_KEY).update(
                actions=[ListingVersionItem.snapshot_key.set(new_key), ListingVersionItem.version.add(1)],
                condition=current)
            return True
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
