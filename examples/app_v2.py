"""Version 2 of one function: lookupUser that logs, then calls version 1.

`lookupUser` below is the name as it was bound when this file was added: binding `lookupUserV2` as
`lookupUser@v2` does not make it call itself, it wraps the version it was written against.
"""

from app import User, lookupUser


def lookupUserV2(user_id: int) -> User:
    """lookupUser, with a log line."""
    print(f"lookupUserV2 called with {user_id}")
    return lookupUser(user_id)
