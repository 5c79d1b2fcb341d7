"""The fix: the promo roll goes from 0 to 5, so the table needs six entries."""

from ucode import effects

DISCOUNTS_FIXED = [0, 5, 10, 15, 20, 25]


def discountPercentFixed(plan: str) -> int:
    """Today's promo: a random roll picks the discount; pro users roll twice and keep the better one."""
    roll = effects.randint(0, 5)
    if plan == "pro":
        roll = max(roll, effects.randint(0, 5))
    return DISCOUNTS_FIXED[roll]
