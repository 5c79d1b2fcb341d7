"""Changing and reading routes: each change checked against the store, then written as route events of
the namespace log (one op), so ``history`` shows it and ``undo`` takes it back.

Rule: everything is checked before anything is written, in the transaction that writes it: a name that is
not a function, a version that does not exist or does not bind the name, a key that is not a parameter,
raise before the first event (a routing file is applied whole or not at all). What is only suspicious (a
candidate whose parameters differ from the primary's) is a warning, returned with the change.
"""

from __future__ import annotations

import ast
from typing import Any, NamedTuple

from ucode import hashing
from ucode.errors import NameNotFoundError, NoRouteError, RouteError
from ucode.namespace import StoredNamespace, clear_move, commit, set_binding, set_route
from ucode.records import NamespaceEvent
from ucode.resolver import resolve_name
from ucode.resolver._names import resolve_hash
from ucode.routing._policy import Policy, new_revision, parse_key
from ucode.store import Store, Txn, definitions
from ucode.store import names as stored_names
from ucode.store import routes as stored

__all__ = ["RouteChange", "RouteView", "clear_route", "list_routes", "prepare", "promote_route", "route_view",
           "set_policy", "write_policies"]


class RouteView(NamedTuple):
    """One route as it stands: its name, policy, and what its versions are bound to now."""

    name: str
    policy: Policy
    targets: dict[str, str | None]  # "primary" / "candidate" -> the hash it runs now (None: not bound)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "describe": self.policy.describe(), **self.policy.to_dict(),
                "targets": self.targets}


class RouteChange(NamedTuple):
    """What a route command did: the events it wrote, the routes as they are now, and warnings."""

    events: list[NamespaceEvent]
    routes: list[RouteView]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"events": [e.to_dict() for e in self.events], "routes": [r.to_dict() for r in self.routes],
                "warnings": self.warnings}


# ------------------------------------------------------------------------------------ checks


def _params(txn: Txn, h: str) -> list[str] | None:
    """The parameters of the function with hash ``h`` as its source declares them (``*args``,
    ``**kwargs`` included as such); None when its source cannot tell."""
    try:
        tree = ast.parse(definitions.expect_source(txn, h).source)
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            out = [p.arg for p in [*a.posonlyargs, *a.args]]
            if a.vararg:
                out.append("*" + a.vararg.arg)
            out += [p.arg for p in a.kwonlyargs]
            if a.kwarg:
                out.append("**" + a.kwarg.arg)
            return out
    return None


def _target(ns: StoredNamespace, txn: Txn, name: str, label: str, field: str) -> str:
    """The hash ``label`` (a version or ``#hash``) runs for ``name`` now, checked: a function."""
    if label.startswith("#"):
        h = resolve_hash(txn, label[1:], label)
    else:
        if not ns.exists(label):
            raise RouteError(name, f"there is no version {label!r} to route {name} to", field=field,
                             hint="versions: " + ", ".join(sorted(stored_names.version_names(txn))))
        found = ns.lookup(label, name)
        if found is None:
            raise RouteError(name, f"version {label} does not bind {name}", field=field,
                             hint=f"bind it there first (ucode bind {name}@{label} '#HASH'), or route to a #hash")
        h = found
    rec = definitions.expect_definition(txn, h)
    if rec.kind != "function":
        raise RouteError(name, f"{label} is a {rec.kind} for {name}, not a function: only functions are routed",
                         field=field)
    return h


def prepare(txn: Txn, name: str, policy: Policy) -> tuple[str, Policy, list[str]]:
    """(full name, the policy to write, warnings) for routing ``name`` (a full name or a unique suffix),
    checked against the store; raises :class:`RouteError` naming the setting at fault."""
    ns = StoredNamespace(txn)
    default = ns.default()
    try:
        full, own = resolve_name(ns, txn, name, default)
    except NameNotFoundError as exc:
        raise RouteError(name, f"there is no function {name} to route", field="name",
                         hint=exc.hint or "`ucode ls` lists the names") from None
    policy.check(full)
    kind = definitions.expect_definition(txn, own).kind
    if kind != "function":
        raise RouteError(full, f"{full} is a {kind}, not a function: only functions are routed", field="name")
    hashes: dict[str, str] = {}
    primary = _target(ns, txn, full, policy.primary, "primary") if policy.primary else own
    if policy.primary:
        hashes["primary"] = primary
    candidate = None
    if policy.candidate:
        candidate = hashes["candidate"] = _target(ns, txn, full, policy.candidate,
                                                  "shadow" if policy.mode == "shadow" else "candidate")
    warnings: list[str] = []
    if candidate is not None and candidate == primary:
        warnings.append(f"{full}: the candidate {policy.candidate} runs the same definition as the primary "
                        f"({hashing.short(primary)}): the route compares a function with itself")
    p_params = _params(txn, primary)
    c_params = _params(txn, candidate) if candidate else None
    if candidate is not None and p_params is not None and c_params is not None and p_params != c_params:
        only_p = [p for p in p_params if p not in c_params]
        only_c = [p for p in c_params if p not in p_params]
        what = "; ".join(x for x in (
            f"only the primary takes {', '.join(only_p)}" if only_p else "",
            f"only the candidate takes {', '.join(only_c)}" if only_c else "",
            "the order differs" if not only_p and not only_c else "") if x)
        warnings.append(f"{full}: the candidate {policy.candidate} takes ({', '.join(c_params)}) and the primary "
                        f"({', '.join(p_params)}): {what}; calls the candidate cannot take will fail in it")
    path = parse_key(full, policy.key) if policy.mode == "percent" else None
    if path is not None:
        for side, params in (("primary", p_params), ("candidate", c_params)):
            if params is not None and path[0] not in params and not any(p.startswith("**") for p in params):
                raise RouteError(full, f"the routing key {policy.key!r} is not a parameter of the {side} of {full}",
                                 field="key", hint=f"its parameters: {', '.join(params) or '(none)'}")
    old_text = stored.own_route(txn, "", full)
    old = Policy.from_text(old_text) if old_text else None
    salt = old.salt if old is not None and old.salt else (policy.salt or new_revision())
    new = policy.changed(salt=policy.salt or salt, hashes=hashes, revision="")
    if old is not None and old.changed(revision="") == new:
        return full, old, warnings  # the same route: no event, same counters
    return full, new.changed(revision=new_revision()), warnings


# ------------------------------------------------------------------------------------ changes


def write_policies(store: Store, wanted: list[tuple[str, Policy]], *, cause: str,
                   prune: bool = False) -> RouteChange:
    """Set every (name, policy) of ``wanted`` (checked first, all of them), as one op; with ``prune``, also
    remove the routes of names not in ``wanted``."""
    with store.write() as txn:
        prepared = [prepare(txn, n, p) for n, p in wanted]
        events: list[dict[str, Any] | None] = [set_route(txn, "", full, pol.to_text()) for full, pol, _w in prepared]
        if prune:
            keep = {full for full, _p, _w in prepared}
            events += [set_route(txn, "", n, None) for n in sorted(stored.routes(txn, "")) if n not in keep]
        written = commit(txn, events, cause=cause, now=store.clock())
        views = [_view(txn, full, pol) for full, pol, _w in prepared]
    return RouteChange(written, views, [w for _f, _p, ws in prepared for w in ws])


def set_policy(store: Store, name: str, policy: Policy) -> RouteChange:
    """Route ``name`` by ``policy`` (``route shadow``, ``route percent``, ``route set NAME --version V``)."""
    cause = {"primary": f"route set {name} --version {policy.primary}",
             "shadow": f"route shadow {name} --candidate {policy.candidate}",
             "percent": f"route percent {name} --candidate {policy.candidate} --percent {policy.percent:g}"}
    return write_policies(store, [(name, policy)], cause=cause[policy.mode])


def _routed(txn: Txn, name: str) -> tuple[str, Policy]:
    """The full name and policy of the routed name ``name`` (a full name or a unique suffix)."""
    routes = stored.routes(txn, "")
    if name in routes:
        return name, Policy.from_text(routes[name])
    found = [n for n in routes if n.endswith("." + name)]
    if len(found) != 1:
        raise NoRouteError(name, sorted(routes))
    return found[0], Policy.from_text(routes[found[0]])


def clear_route(store: Store, name: str) -> RouteChange:
    """Remove the route of ``name``: its calls run the caller's own binding again."""
    with store.write() as txn:
        full, _policy = _routed(txn, name)
        written = commit(txn, [set_route(txn, "", full, None)], cause=f"route clear {full}", now=store.clock())
    return RouteChange(written, [], [])


def promote_route(store: Store, name: str, version: str | None = None) -> RouteChange:
    """Bind ``name`` (in ``version``, default: the default version) to what its route's candidate (a
    ``primary`` route: its primary) runs now, and remove the route: one op, one ``undo``."""
    with store.write() as txn:
        full, policy = _routed(txn, name)
        ns = StoredNamespace(txn)
        v = version or ns.default()
        label = policy.candidate or policy.primary
        assert label is not None
        h = _target(ns, txn, full, label, "candidate")
        written = commit(txn, [set_binding(txn, v, full, h), clear_move(ns, v, full), set_route(txn, "", full, None)],
                         cause=f"route promote {full} ({label} {hashing.short(h)})", now=store.clock())
    return RouteChange(written, [], [])


# ------------------------------------------------------------------------------------ reading


def _view(txn: Txn, full: str, policy: Policy) -> RouteView:
    ns = StoredNamespace(txn)
    own = ns.lookup(ns.default(), full)
    targets: dict[str, str | None] = {}
    for side, label in (("primary", policy.primary), ("candidate", policy.candidate)):
        if side == "candidate" and label is None:
            continue
        if label is None:
            targets[side] = own
        elif label.startswith("#"):
            targets[side] = policy.hashes.get(side)
        else:
            targets[side] = ns.lookup(label, full) if ns.exists(label) else None
    return RouteView(full, policy, targets)


def list_routes(store: Store) -> list[RouteView]:
    """Every route in force, by name."""
    with store.read() as txn:
        return [_view(txn, n, Policy.from_text(t)) for n, t in sorted(stored.routes(txn, "").items())]


def route_view(store: Store, name: str) -> RouteView:
    with store.read() as txn:
        full, policy = _routed(txn, name)
        return _view(txn, full, policy)
