"""Routing files: the memo's format, read with the line and column of every setting.

    functions:
      lookupUser:
        routing:
          mode: shadow        # or: primary, percent
          primary: v1
          shadow: v2          # percent mode: candidate: v2, percent: 10, key: user_id
          compare:            # optional
            ignore: [fetched_at]

Rule: a file is parsed whole (PyYAML's composer: nodes with their marks; nothing is constructed but
strings, numbers and lists of them) and every route in it checked against the store before anything is
written; the first problem is a :class:`RouteConfigError` naming the file, the line and the column, and
the fix. ``mode: none`` (or ``routing: null``) removes the name's route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ucode.errors import RouteConfigError, RouteError
from ucode.routing._ops import RouteChange
from ucode.routing._policy import MODES, Policy
from ucode.store import Store

__all__ = ["apply_file", "read_file"]

_FIELDS = {"mode", "primary", "shadow", "candidate", "percent", "key", "reads", "compare", "salt"}


def _where(node: Any) -> tuple[int, int]:
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def _scalar(path: str, node: Any, what: str) -> Any:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise RouteConfigError(path, *_where(node), f"{what} must be a single value")
    # one scalar as YAML types it (10 is a number, v2 a string, null nothing): its tag is resolved already
    return yaml.constructor.SafeConstructor().construct_object(node)


def _mapping(path: str, node: Any, what: str) -> list[tuple[Any, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise RouteConfigError(path, *_where(node), f"{what} must be a mapping (name: value lines)")
    return list(node.value)


def read_file(path: str | Path) -> list[tuple[str, Policy | None, tuple[int, int], dict[str, tuple[int, int]]]]:
    """The routes a file declares: (name, policy or None to remove, where the name is, where each setting
    is). A file that does not parse, or a setting that says nothing valid, is a :class:`RouteConfigError`."""
    import yaml

    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RouteConfigError(shown, 1, 1, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise RouteConfigError(shown, line, col, f"not valid YAML: {exc.problem or exc}",
                               hint="check the indentation and the `name: value` lines around it") from None
    except yaml.YAMLError as exc:
        raise RouteConfigError(shown, 1, 1, f"not valid YAML: {exc}") from None
    if root is None:
        raise RouteConfigError(shown, 1, 1, "the file is empty", hint="it starts with `functions:`")
    top = dict((_scalar(shown, k, "a top-level key"), (k, v)) for k, v in _mapping(shown, root, "the file"))
    unknown = [k for k in top if k != "functions"]
    if unknown:
        k_node = top[unknown[0]][0]
        raise RouteConfigError(shown, *_where(k_node), f"unknown top-level key {unknown[0]!r}",
                               hint="a routing file has one top-level key: `functions:`")
    if "functions" not in top:
        raise RouteConfigError(shown, 1, 1, "no `functions:` in the file", hint="it starts with `functions:`")
    out: list[tuple[str, Policy | None, tuple[int, int], dict[str, tuple[int, int]]]] = []
    for name_node, body in _mapping(shown, top["functions"][1], "`functions`"):
        name = str(_scalar(shown, name_node, "a function name"))
        where = _where(name_node)
        settings = dict((_scalar(shown, k, "a setting"), (k, v)) for k, v in _mapping(shown, body, name))
        extra = [k for k in settings if k != "routing"]
        if extra:
            raise RouteConfigError(shown, *_where(settings[extra[0]][0]), f"unknown key {extra[0]!r} under {name}",
                                   hint="a function's routes go under `routing:`")
        if "routing" not in settings:
            raise RouteConfigError(shown, *where, f"{name} has no `routing:`")
        r_node = settings["routing"][1]
        if getattr(r_node, "tag", "").endswith(":null"):
            out.append((name, None, where, {}))
            continue
        fields: dict[str, Any] = {}
        marks: dict[str, tuple[int, int]] = {}
        for k, v in _mapping(shown, r_node, f"{name}.routing"):
            field = _scalar(shown, k, "a setting")
            if field not in _FIELDS:
                raise RouteConfigError(shown, *_where(k), f"unknown setting {field!r} for {name}",
                                       hint="settings: " + ", ".join(sorted(_FIELDS)))
            marks[field] = _where(v)
            if field == "compare":
                for ck, cv in _mapping(shown, v, "compare"):
                    if _scalar(shown, ck, "a setting") != "ignore":
                        raise RouteConfigError(shown, *_where(ck), "compare has one setting: ignore",
                                               hint="compare:\n  ignore: [fetched_at]")
                    marks["ignore"] = _where(cv)
                    items = cv.value if isinstance(cv, yaml.SequenceNode) else [cv]
                    fields["ignore"] = tuple(str(_scalar(shown, i, "a field name")) for i in items)
            else:
                fields[field] = _scalar(shown, v, field)
        mode = fields.get("mode")
        if mode in ("none", "off", None) and "mode" in fields:
            out.append((name, None, where, marks))
            continue
        if mode not in MODES:
            line, col = marks.get("mode", where)
            raise RouteConfigError(shown, line, col, f"unknown routing mode {mode!r} for {name}"
                                   if mode is not None else f"{name} has no mode",
                                   hint="mode: " + ", ".join(MODES) + " (or none, to remove the route)")
        candidate = fields.get("candidate", fields.get("shadow"))
        if mode == "shadow" and "shadow" not in fields and "candidate" not in fields:
            raise RouteConfigError(shown, *where, f"{name}: a shadow route needs `shadow: VERSION`",
                                   hint="e.g. shadow: v2")
        percent = fields.get("percent", 0.0)
        if mode == "percent" and "percent" not in fields:
            raise RouteConfigError(shown, *where, f"{name}: a percent route needs `percent:` (0-100)")
        policy = Policy(mode, _text(fields.get("primary")), _text(candidate), percent,
                        _text(fields.get("key")), str(fields.get("reads", "perform")),
                        tuple(fields.get("ignore", ())), str(fields.get("salt") or ""))
        if mode == "shadow" and "shadow" in fields:
            marks.setdefault("candidate", marks["shadow"])
        try:
            policy.check(name)
        except RouteError as exc:
            line, col = marks.get(exc.field or "", where)
            raise RouteConfigError(shown, line, col, f"{name}: {exc.message}", hint=exc.hint) from None
        out.append((name, policy, where, marks))
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def apply_file(store: Store, path: str | Path, *, prune: bool = False) -> RouteChange:
    """Apply a routing file: every route in it checked, then all written as one op (``route apply``)."""
    from ucode.namespace import commit, set_route
    from ucode.routing._ops import _view, prepare
    from ucode.store import routes as stored

    shown = str(path)
    declared = read_file(path)
    with store.write() as txn:
        prepared = []
        removed = []
        for name, policy, where, marks in declared:
            try:
                if policy is None:
                    removed.append(name)
                    continue
                prepared.append(prepare(txn, name, policy))
            except RouteError as exc:
                line, col = marks.get(exc.field or "", where)
                raise RouteConfigError(shown, line, col, f"{name}: {exc.message}", hint=exc.hint) from None
        events: list[dict[str, Any] | None] = [set_route(txn, "", full, pol.to_text()) for full, pol, _w in prepared]
        routes = stored.routes(txn, "")
        for name in removed:
            found = [n for n in routes if n == name or n.endswith("." + name)]
            events += [set_route(txn, "", n, None) for n in found[:1]]
        if prune:
            keep = {full for full, _p, _w in prepared}
            events += [set_route(txn, "", n, None) for n in sorted(routes) if n not in keep
                       and not any(n == r or n.endswith("." + r) for r in removed)]
        written = commit(txn, events, cause=f"route apply {Path(path).name}", now=store.clock())
        views = [_view(txn, full, pol) for full, pol, _w in prepared]
    return RouteChange(written, views, [w for _f, _p, ws in prepared for w in ws])

