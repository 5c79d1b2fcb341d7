"""A checkout with a bug that shows up only sometimes: the replay + swap demo (examples/replay_swap.sh).

Plain Python plus `ucode.effects`: the random promo roll and the order id are effects, so every run
records them and any run can be replayed exactly, including the ones that failed.
"""

from ucode import effects

PRICES = {"book": 1200, "pen": 150, "lamp": 4500}
DISCOUNTS = [0, 5, 10, 15, 20]  # percent, by promo roll


def discountPercent(plan: str) -> int:
    """Today's promo: a random roll picks the discount; pro users roll twice and keep the better one."""
    roll = effects.randint(0, 5)
    if plan == "pro":
        roll = max(roll, effects.randint(0, 5))
    return DISCOUNTS[roll]


def priceOrder(items: list[str], plan: str) -> int:
    """The amount to charge, in cents."""
    total = sum(PRICES[item] for item in items)
    return total * (100 - discountPercent(plan)) // 100


def handleCheckout(request: dict) -> dict:
    """Entry point: price the order and answer with a receipt."""
    order = str(effects.uuid4())[:8]
    amount = priceOrder(request["items"], request["plan"])
    effects.log("charged", order=order, amount=amount)
    return {"order": order, "amount": amount, "items": len(request["items"])}
