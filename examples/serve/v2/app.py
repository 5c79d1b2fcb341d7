"""Version 2 of examples/app.py, for examples/serve.sh: lookupUser answers the user's name in capitals.

The same module (`app`: the file is app.py) with one function changed, so that a client sees which version
answered: version 1 says "Ada", version 2 "ADA". `ucode add examples/serve/v2/app.py --version v2` stores it
in version v2, where only `lookupUser` is new; `ucode bind lookupUser '#HASH'` then binds the default
version's lookupUser to it, and a running engine (`ucode serve`) answers the next request with it.
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
    """Fetch a user by id (v2: the name in capitals)."""
    row = USERS.get(user_id)
    if row is None:
        raise KeyError(f"no user {user_id}")
    return User(row["id"], row["name"].upper(), row["plan"])


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
