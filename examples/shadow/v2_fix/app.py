"""Version 2 of examples/app.py, fixed, for examples/shadow.sh: lookupUser by position, checked at both ends.

Added into v2 again (`ucode add examples/shadow/v2_fix/app.py --version v2`), it replaces the lookupUser of
examples/shadow/v2/app.py, which answered id 0 with the last user.
"""

from dataclasses import dataclass

USERS = {
    1: {"id": 1, "name": "Ada", "plan": "pro"},
    2: {"id": 2, "name": "Grace", "plan": "free"},
}

ITEMS = {
    1: ["notebook", "analytical engine"],
    2: ["compiler", "moth"],
}


@dataclass(frozen=True)
class User:
    id: int
    name: str
    plan: str


def lookupUser(user_id: int) -> User:
    """Fetch a user by id (v2: by position; the ids are 1, 2, ...)."""
    rows = list(USERS.values())
    if not 1 <= user_id <= len(rows):
        raise KeyError(f"no user {user_id}")
    return User(**rows[user_id - 1])


def listItems(user_id: int) -> list[str]:
    """The items a user owns."""
    return list(ITEMS.get(user_id, []))


def renderPage(user: User, items: list[str]) -> dict:
    """What the handler answers."""
    return {"user": user.name, "plan": user.plan, "items": items, "count": len(items)}


def handleRequest(request: dict) -> dict:
    """Entry point: look the user up, list their items, render the page."""
    user = lookupUser(request["user_id"])
    items = listItems(user.id)
    return renderPage(user, items)
