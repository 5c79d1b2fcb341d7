"""Version 3 of examples/app.py, for examples/shadow.sh: lookupUser that says which version answered.

`ucode route percent lookupUser --candidate v3 --percent 10 --key user_id` sends a sticky share of the users
to it: its line shows which requests it answered.
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
    """Fetch a user by id (v3: says so)."""
    print(f"lookupUser v3: user {user_id}")
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
