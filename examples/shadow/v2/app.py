"""Version 2 of examples/app.py, for examples/shadow.sh: lookupUser by position, with a bug.

The same module (`app`: the file is app.py) with one function changed. `ucode add examples/shadow/v2/app.py
--version v2` stores it in version v2: only `lookupUser` is new there, and `ucode route shadow lookupUser
--candidate v2` runs it beside version 1 on real requests. It finds a user by position (the ids are 1, 2, ...):
right for every id v1 knows and for the ids past the end, wrong for 0, where `rows[-1]` is the last user.
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
    if user_id > len(rows):
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
