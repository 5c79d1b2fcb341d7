"""Hashes: the canonical encoding of a definition, its hash, its closure hash and how hashes are shown.

Pure functions, no I/O, and no libcst (read paths import this module). Normalization, which turns source
into the canonical tree hashed here, lives in :mod:`ucode.normalize`.

Invariants:

* A definition hash is ``blake3(msgpack([SCHEME, kind, tree, imports, deps]))``. ``SCHEME`` comes first so
  a future scheme can never produce the same bytes as this one. ``tree`` is a nested list of ``str`` and
  ``int`` only; ``imports`` and ``deps`` are sorted lists of ``str``. msgpack's encoding of those types is
  canonical (smallest form, no maps, no floats), so the hash depends on nothing but the definition:
  not the Python version, not the platform, not dict order.
* A hash is shown as ``#`` + the first 10 characters of lowercase RFC 4648 base32 of the 32-byte digest.
  Full hashes are 52 characters; any unique prefix of 3 or more characters names a definition.
* A closure hash identifies a definition *and* everything its names resolve to in one version. Mutually
  recursive definitions form a strongly connected component that is hashed as a unit, by member hashes
  (not by name), as Unison does; a member's closure hash is then the component's hash plus its own.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import blake3
import msgpack

__all__ = [
    "BODY_SCHEME",
    "CLOSURE_SCHEME",
    "DEF_SCHEME",
    "FULL_LENGTH",
    "FUTURE_FEATURES",
    "INSTANCE_SCHEME",
    "MIN_PREFIX",
    "MODULE_SCHEME",
    "NORMALIZATION",
    "SHORT_LENGTH",
    "STMT_SCHEME",
    "closure_hashes",
    "components_of",
    "definition_hash",
    "digest_to_text",
    "instance_key",
    "is_hash_ref",
    "module_hash",
    "module_hash_of_rows",
    "module_seal",
    "seal_hash",
    "short",
    "statement_hash",
    "text_digest",
]

DEF_SCHEME = "ucode/def/2"
STMT_SCHEME = "ucode/stmt/1"
"""Module code: a top-level statement that is not a definition (imports, calls, loops, ``if``/``try``
blocks, patches such as ``X += 1`` or ``REG["a"] = f``). Hashed like a definition, under the module it runs
in instead of a qualified name."""
BODY_SCHEME = "ucode/body/1"
"""A definition without its name: equal for the same code under another name (``add`` reports a
definition renamed in source as ``renamed``). Never a key: only compared."""
MODULE_SCHEME = "ucode/module/1"
"""A module's program: its statements in file order, each by hash, with the exact text and line that
runs (see :func:`module_hash`)."""
INSTANCE_SCHEME = "ucode/instance/1"
CLOSURE_SCHEME = "ucode/closure/1"
FUTURE_FEATURES = ("annotations",)
"""``from __future__`` features that change what code means on the Pythons ucode supports (the others are
mandatory there). A module's are recorded with each of its definitions, hashed (``["Future", features,
tree]``) and given to ``compile()`` when the definition runs. A fixed list: hashes must not depend on
the Python that computes them."""
NORMALIZATION = 3
"""The version of what :mod:`ucode.normalize` produces for a given source (here, not there: the re-add
fast path reads it without importing libcst). Bump it whenever that output changes (the hash scheme,
chains, which imports merge, definition lines, ...): an unchanged file added before is then normalized
again instead of being answered from the store's ``files`` table. 1: the first; 2: qualified names in
hashes (``ucode/def/2``), chains, ``globals()`` dependencies, merged plain imports, source lines; 3: modules
are programs (every statement stored, in file order; module code hashed as ``ucode/stmt/1``), no chains,
no ``globals()`` dependencies."""
SHORT_LENGTH = 10
FULL_LENGTH = 52
MIN_PREFIX = 3
_BASE32_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def _pack(value: Any) -> bytes:
    try:
        return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]
    except ValueError as exc:  # msgpack refuses lists nested over ~512 deep (`1 + 1 + ...` of 1,000 terms)
        if "recursion limit" not in str(exc):
            raise
        return _pack_deep(value)


def _array_header(n: int, small: int, mid: int, big: int) -> bytes:
    if n < 16:
        return bytes([small | n])
    return bytes([mid]) + n.to_bytes(2, "big") if n < 0x10000 else bytes([big]) + n.to_bytes(4, "big")


def _pack_deep(value: Any) -> bytes:
    """The bytes ``msgpack.packb(value, use_bin_type=True)`` would give if it had no nesting limit: lists,
    tuples and dicts framed here, without recursion (msgpack's array and map headers), every other value
    packed by msgpack. Only values msgpack refuses as too deep come here; a test checks it byte for byte
    against msgpack on values it accepts."""
    out = bytearray()
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            out += _array_header(len(item), 0x90, 0xDC, 0xDD)
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            out += _array_header(len(item), 0x80, 0xDE, 0xDF)
            for k, v in reversed(list(item.items())):
                stack.append(v)
                stack.append(k)
        else:
            out += msgpack.packb(item, use_bin_type=True)
    return bytes(out)


_B32_PAIRS = [a + b for a in "abcdefghijklmnopqrstuvwxyz234567" for b in "abcdefghijklmnopqrstuvwxyz234567"]
_SHIFTS = tuple(range(250, -1, -10))


def digest_to_text(digest: bytes) -> str:
    """Lowercase base32 without padding: 32 bytes -> 52 characters."""
    if len(digest) == 32:
        # the same text as base64.b32encode (pure Python in 3.11, and this runs three times per definition
        # of a closure being loaded): 256 bits and 4 zero bits, as 26 pairs of base32 digits
        n = int.from_bytes(digest, "big") << 4
        return "".join([_B32_PAIRS[(n >> s) & 1023] for s in _SHIFTS])
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def _blake(data: bytes) -> str:
    return digest_to_text(blake3.blake3(data).digest())


def definition_hash(kind: str, tree: Any, imports: Sequence[str], deps: Sequence[str], *, name: str) -> str:
    """The full hash of a normalized definition.

    ``name`` is the qualified name the definition defines (``app.lookupUser``): in Python a definition
    *is* the object its statement binds, under its name, in its module (``class FooError(Exception):
    pass`` and ``class BarError(Exception): pass`` are two classes; ``A = []`` and ``B = []`` are two
    lists), so two statements that differ only by the name they bind are two definitions. Scheme 1 left
    the name out and merged them into one object at run time.

    ``imports`` and ``deps`` must be the sorted lists the normalizer produced: the ``tree`` refers to them
    by position (``_u_i0``, ``_u_d0``, ...), so their order is part of the meaning.
    """
    if list(imports) != sorted(imports) or list(deps) != sorted(deps):
        raise ValueError("imports and deps must be sorted")
    return _blake(_pack([DEF_SCHEME, kind, name, tree, list(imports), list(deps)]))


def statement_hash(tree: Any, imports: Sequence[str], deps: Sequence[str], *, module: str) -> str:
    """The full hash of a normalized top-level statement that is module code (not a definition): what it
    does (``tree``, with its canonical ``imports`` and ``deps`` as for a definition) in ``module``."""
    if list(imports) != sorted(imports) or list(deps) != sorted(deps):
        raise ValueError("imports and deps must be sorted")
    return _blake(_pack([STMT_SCHEME, module, tree, list(imports), list(deps)]))


def body_hash(kind: str, tree: Any, imports: Sequence[str], deps: Sequence[str]) -> str:
    """A definition's hash without its name (the tree already refers to itself as ``_u_self``): two
    definitions that differ only by the name they bind have the same body hash."""
    return _blake(_pack([BODY_SCHEME, kind, tree, list(imports), list(deps)]))


def text_digest(text: str) -> str:
    """The digest of exact source text (what runs, comments and docstrings included): the key of the
    store's ``texts`` table. Full length base32, like a hash."""
    return _blake(text.encode("utf-8"))


def module_hash(module: str, *, package: bool, path: str, futures: Sequence[str],
                statements: Sequence[tuple[str, str, int]]) -> str:
    """The hash of a module's program: the module's name, whether it is a package, the path it runs as
    (``__file__``), its ``from __future__`` features and, in file order, each statement as (statement
    hash, text digest, first line). It is over exactly what runs: a comment or docstring edit keeps every
    statement hash but makes a new program (the text that runs, and its lines, differ)."""
    return _blake(module_seal(module, package=package, path=path, futures=futures, statements=statements))


def module_seal(module: str, *, package: bool, path: str, futures: Sequence[str],
                statements: Sequence[tuple[str, str, int]]) -> bytes:
    """The bytes :func:`module_hash` hashes. The ``programs`` table stores them as they are (the record's
    ``sealed`` field), so that loading a program checks its hash with one blake3 over them
    (:func:`seal_hash`) instead of encoding the program again."""
    body = [[h, d, int(line)] for h, d, line in statements]
    return _pack([MODULE_SCHEME, module, bool(package), path, sorted(futures), body])


def seal_hash(sealed: bytes) -> str:
    """The program hash of :func:`module_seal` bytes."""
    return _blake(sealed)


def module_hash_of_rows(module: str, *, package: bool, path: str, futures: Sequence[str],
                        rows: Sequence[Sequence[Any]]) -> str:
    """:func:`module_hash` of statements given as stored rows (``[hash, digest, line, ...]``: the first
    three fields are hashed, as they are): how a program stored before programs were sealed (schema 3) is
    checked."""
    return _blake(_pack([MODULE_SCHEME, module, bool(package), path, sorted(futures), [r[:3] for r in rows]]))


def instance_key(parts: Sequence[Any]) -> str:
    """The key of one module instance (see :mod:`ucode.runtime`): msgpack-able ``parts`` of strings,
    ints and lists."""
    return _blake(_pack([INSTANCE_SCHEME, list(parts)]))


def short(full_hash: str) -> str:
    """``#`` + the first 10 characters: how a hash is shown."""
    return "#" + full_hash[:SHORT_LENGTH]


def is_hash_ref(ref: str) -> bool:
    """True when ``ref`` is written as a hash reference (``#abc...``)."""
    return ref.startswith("#")


def normalize_hash_ref(ref: str) -> str | None:
    """The lowercase prefix of a ``#hash`` reference, or None when it is not a valid one."""
    body = ref[1:] if ref.startswith("#") else ref
    body = body.lower()
    if not (MIN_PREFIX <= len(body) <= FULL_LENGTH) or not set(body) <= _BASE32_CHARS:
        return None
    return body


def _tarjan(
    roots: Iterable[str], deps_of: Callable[[str], Sequence[str | None]],
) -> tuple[list[list[str]], dict[str, int], dict[str, Sequence[str | None]]]:
    """Strongly connected components of the graph reachable from ``roots`` (iterative Tarjan: no recursion
    limit on deep chains), in reverse topological order (dependencies first); the component of each node;
    and each node's edges (``deps_of`` is called once per node)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    edges: dict[str, Sequence[str | None]] = {}
    component_of: dict[str, int] = {}
    components: list[list[str]] = []
    counter = 0

    for root in roots:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
                edges[node] = deps_of(node)
            out = edges[node]
            advanced = False
            while i < len(out):
                nxt = out[i]
                i += 1
                if nxt is None:
                    continue
                if nxt not in index:
                    work.append((node, i))
                    work.append((nxt, 0))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            if low[node] == index[node]:
                members: list[str] = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component_of[m] = len(components)
                    members.append(m)
                    if m == node:
                        break
                components.append(members)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components, component_of, edges


def components_of(roots: Iterable[str], deps_of: Callable[[str], Sequence[str | None]]) -> dict[str, int]:
    """For every node reachable from ``roots``: the id of its strongly connected component (two nodes
    share an id exactly when each reaches the other: a cycle of definitions)."""
    return _tarjan(roots, deps_of)[1]


def closure_hashes(
    roots: Iterable[str],
    deps_of: Callable[[str], Sequence[str | None]],
    cycles: dict[str, int] | None = None,
    content_of: Callable[[str], Any] | None = None,
) -> dict[str, str]:
    """Closure hashes for ``roots`` and everything they reach.

    ``deps_of(h)`` returns, for definition ``h``, the hash each of its dependency names resolves to, in
    the order of its sorted dependency names, or None for a name that does not resolve (a missing name is
    part of what would run, so it is part of the closure hash).

    Components are hashed in reverse topological order, so every external dependency's closure hash is
    known when it is needed. ``cycles``, if given, receives each node's component id (as
    :func:`components_of`). ``content_of(node)`` is what a node stands for (default: the node itself, a
    hash): module instances are nodes named by module, standing for their program and rebindings.
    """
    components, component_of, edges = _tarjan(roots, deps_of)
    if cycles is not None:
        cycles.update(component_of)
    result: dict[str, str] = {}
    # Tarjan emits components in reverse topological order: dependencies first.
    for cid, members in enumerate(components):
        entries = []
        for m in sorted(set(members)):
            dep_entries: list[list[Any]] = []
            for d in edges[m]:
                if d is None:
                    dep_entries.append(["missing"])
                elif component_of[d] == cid:
                    dep_entries.append(["member", d if content_of is None else content_of(d)])
                else:
                    dep_entries.append(["closure", result[d]])
            entries.append([m if content_of is None else content_of(m), dep_entries])
        component_hash = _blake(_pack([CLOSURE_SCHEME, entries]))
        for m in members:
            result[m] = _blake(_pack([CLOSURE_SCHEME, component_hash, m if content_of is None else content_of(m)]))
    return result


def pack_canonical(value: Mapping[str, Any] | Sequence[Any]) -> bytes:
    """msgpack bytes of ``value`` (exposed for tests and golden files)."""
    return _pack(value)
