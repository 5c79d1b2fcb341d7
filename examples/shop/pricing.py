"""Quotes, from the catalog's prices."""

from shop.catalog import price_of


def quote(item: str, quantity: int) -> int:
    """What `quantity` of `item` costs."""
    return price_of(item) * quantity
