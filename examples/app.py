"""The walkthrough, version 1: a request handler over a tiny in-memory table (examples/walkthrough.sh).

Plain Python: no decorators, no base classes. `ucode add examples/app.py` stores each definition.
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
    """Fetch a user by id."""
    row = USERS.get(user_id)
    if row is None:
        raise KeyError(f"no user {user_id}")
    return User(**row)


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
