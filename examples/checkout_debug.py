"""A debug version of one function: discountPercent with a log line. Only replays use it (replay + swap):
it asks for the same effects as the original, so it replays against the recorded task."""

from checkout import DISCOUNTS

from ucode import effects


def discountPercentDebug(plan: str) -> int:
    """discountPercent, logging the rolls."""
    roll = effects.randint(0, 5)
    if plan == "pro":
        roll = max(roll, effects.randint(0, 5))
    effects.log("discount roll", plan=plan, roll=roll, table_size=len(DISCOUNTS))
    return DISCOUNTS[roll]
