"""Unit tests of :mod:`ucode.hashing`: display, references, definition hashes and closure hashes."""

from __future__ import annotations

import base64
import itertools
import sys
from collections.abc import Callable, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucode import hashing

# ------------------------------------------------------------------------------------------ display


def test_digest_to_text_is_lowercase_unpadded_base32() -> None:
    digest = bytes(range(32))
    text = hashing.digest_to_text(digest)
    assert len(text) == hashing.FULL_LENGTH == 52
    assert text == text.lower()
    assert "=" not in text
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz234567")
    # It round-trips through the standard decoder (after restoring case and padding).
    assert base64.b32decode(text.upper() + "====") == digest


def test_digest_to_text_known_values() -> None:
    assert hashing.digest_to_text(bytes(32)) == "a" * 52
    assert hashing.digest_to_text(b"\xff" * 32) == "7" * 51 + "q"


@given(st.binary(min_size=32, max_size=32))
@settings(max_examples=50)
def test_digest_to_text_is_injective_on_digests(digest: bytes) -> None:
    text = hashing.digest_to_text(digest)
    assert len(text) == 52
    assert base64.b32decode(text.upper() + "====") == digest


def test_short() -> None:
    full = hashing.definition_hash("value", ["Module", []], [], [], name="app.x")
    assert len(full) == hashing.FULL_LENGTH
    assert hashing.short(full) == "#" + full[:10]
    assert len(hashing.short(full)) == 1 + hashing.SHORT_LENGTH


def test_is_hash_ref() -> None:
    assert hashing.is_hash_ref("#abc")
    assert not hashing.is_hash_ref("abc")
    assert not hashing.is_hash_ref("app.f")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("#abc", "abc"),
        ("abc", "abc"),
        ("#ABC", "abc"),
        ("#k3V7q2a", "k3v7q2a"),
        ("#k3v9q2a", None),  # 9 is not a base32 digit (the example in ucode.__init__ uses it)
        ("#" + "a" * 52, "a" * 52),
        ("#ab", None),  # shorter than MIN_PREFIX
        ("#", None),
        ("", None),
        ("#" + "a" * 53, None),  # longer than a full hash
        ("#abc1", None),  # 1 is not a base32 digit
        ("#abc8", None),
        ("#abc0", None),
        ("#ab-c", None),
        ("#abc ", None),
        ("##abc", None),
    ],
)
def test_normalize_hash_ref(ref: str, expected: str | None) -> None:
    assert hashing.normalize_hash_ref(ref) == expected


def test_normalize_hash_ref_accepts_every_real_hash_and_its_prefixes() -> None:
    full = hashing.definition_hash("function", ["Name", "x"], ["import os"], ["app.f"], name="app.x")
    for n in range(hashing.MIN_PREFIX, hashing.FULL_LENGTH + 1):
        assert hashing.normalize_hash_ref("#" + full[:n]) == full[:n]
        assert hashing.normalize_hash_ref("#" + full[:n].upper()) == full[:n]


# ------------------------------------------------------------------------------- definition hashes


def test_definition_hash_is_deterministic_and_full_length() -> None:
    args = ("function", ["FunctionDef", ["name", ["Name", "_u_self"]]], ["import os"], ["app.g"])
    h = hashing.definition_hash(*args, name="app.f")
    assert h == hashing.definition_hash(*args, name="app.f")
    assert len(h) == hashing.FULL_LENGTH
    assert hashing.normalize_hash_ref(h) == h


def test_definition_hash_depends_on_every_part() -> None:
    base = hashing.definition_hash("function", ["Name", "x"], ["import os"], ["app.g"], name="app.x")
    assert hashing.definition_hash("value", ["Name", "x"], ["import os"], ["app.g"], name="app.x") != base
    assert hashing.definition_hash("function", ["Name", "y"], ["import os"], ["app.g"], name="app.x") != base
    assert hashing.definition_hash("function", ["Name", "x"], ["import sys"], ["app.g"], name="app.x") != base
    assert hashing.definition_hash("function", ["Name", "x"], ["import os"], ["app.h"], name="app.x") != base
    assert hashing.definition_hash("function", ["Name", "x"], [], ["app.g"], name="app.x") != base
    assert hashing.definition_hash("function", ["Name", "x"], ["import os"], [], name="app.x") != base
    assert hashing.definition_hash("function", ["Name", "x"], ["import os"], ["app.g"], name="app.y") != base
    assert hashing.definition_hash("function", ["Name", "x"], ["import os"], ["app.g"], name="lib.x") != base


def test_definition_hash_distinguishes_str_and_int_leaves() -> None:
    as_int = hashing.definition_hash("value", ["Int", 1], [], [], name="app.x")
    assert as_int != hashing.definition_hash("value", ["Int", "1"], [], [], name="app.x")


def test_definition_hash_imports_and_deps_are_not_interchangeable() -> None:
    one = hashing.definition_hash("value", [], ["x"], [], name="app.x")
    assert one != hashing.definition_hash("value", [], [], ["x"], name="app.x")


def test_definition_hash_accepts_tuples_like_lists() -> None:
    assert hashing.definition_hash("value", [], ("a", "b"), ("c",), name="app.x") == hashing.definition_hash(
        "value", [], ["a", "b"], ["c"], name="app.x")


@pytest.mark.parametrize(
    ("imports", "deps"),
    [
        (["import sys", "import os"], []),
        ([], ["app.g", "app.f"]),
        (["b", "a", "c"], ["x", "y"]),
    ],
)
def test_definition_hash_rejects_unsorted_lists(imports: list[str], deps: list[str]) -> None:
    with pytest.raises(ValueError, match="sorted"):
        hashing.definition_hash("function", [], imports, deps, name="app.x")


def test_definition_hash_known_vector() -> None:
    """The scheme itself is pinned: msgpack of [scheme, kind, name, tree, imports, deps], blake3, base32."""
    import blake3
    import msgpack

    tree = ["Module", [["Name", "x"], ["Int", "3"]]]
    assert hashing.DEF_SCHEME == "ucode/def/2"
    data = msgpack.packb([hashing.DEF_SCHEME, "value", "app.x", tree, ["import os"], ["app.f"]],
                         use_bin_type=True)
    expected = hashing.digest_to_text(blake3.blake3(data).digest())
    assert hashing.definition_hash("value", tree, ["import os"], ["app.f"], name="app.x") == expected
    assert hashing.pack_canonical([hashing.DEF_SCHEME, "value", "app.x", tree, ["import os"], ["app.f"]]) == data


# ---------------------------------------------------------------------------------- closure hashes


def _graph(edges: Mapping[str, Sequence[str | None]]) -> Callable[[str], Sequence[str | None]]:
    """A deps_of function over a fixed graph; fails loudly on a node it does not know."""

    def deps_of(h: str) -> Sequence[str | None]:
        return edges[h]

    return deps_of


def _h(label: str) -> str:
    """A realistic definition hash for a test node."""
    return hashing.definition_hash("function", ["Name", label], [], [], name="app.x")


A, B, C, D, E = (_h(x) for x in "abcde")


def test_closure_hash_of_a_leaf_differs_from_its_definition_hash() -> None:
    result = hashing.closure_hashes([A], _graph({A: []}))
    assert set(result) == {A}
    assert len(result[A]) == hashing.FULL_LENGTH
    assert result[A] != A


def test_closure_includes_everything_reachable() -> None:
    result = hashing.closure_hashes([A], _graph({A: [B], B: [C], C: []}))
    assert set(result) == {A, B, C}


def test_closure_hash_changes_when_a_dependency_hash_changes() -> None:
    before = hashing.closure_hashes([A], _graph({A: [B], B: []}))
    after = hashing.closure_hashes([A], _graph({A: [C], C: []}))
    assert before[A] != after[A]


def test_closure_hash_changes_when_a_transitive_dependency_changes() -> None:
    before = hashing.closure_hashes([A], _graph({A: [B], B: [C], C: []}))
    after = hashing.closure_hashes([A], _graph({A: [B], B: [D], D: []}))
    assert before[A] != after[A]
    assert before[B] != after[B]


def test_closure_hash_depends_on_dependency_order() -> None:
    # deps_of gives resolutions in the order of the sorted dependency *names*, so swapping which name
    # resolves to which definition is a different program.
    one = hashing.closure_hashes([A], _graph({A: [B, C], B: [], C: []}))
    two = hashing.closure_hashes([A], _graph({A: [C, B], B: [], C: []}))
    assert one[A] != two[A]


def test_identical_closures_give_identical_closure_hashes() -> None:
    alone = hashing.closure_hashes([A], _graph({A: [B], B: [C], C: []}))
    with_others = hashing.closure_hashes(
        [D, C, A, E], _graph({A: [B], B: [C], C: [], D: [A, B], E: [D, None]})
    )
    for h in (A, B, C):
        assert alone[h] == with_others[h]


def test_two_roots_sharing_a_closure() -> None:
    result = hashing.closure_hashes([A, B], _graph({A: [C], B: [C], C: []}))
    assert result[A] != result[B]  # different definitions
    again = hashing.closure_hashes([B], _graph({B: [C], C: []}))
    assert again[B] == result[B]


def test_missing_dependencies_are_part_of_the_closure() -> None:
    resolved = hashing.closure_hashes([A], _graph({A: [B], B: []}))
    missing = hashing.closure_hashes([A], _graph({A: [None]}))
    two_missing = hashing.closure_hashes([A], _graph({A: [None, None]}))
    assert set(missing) == {A}
    assert resolved[A] != missing[A] != two_missing[A]
    assert hashing.closure_hashes([A], _graph({A: [None]})) == missing


def test_missing_position_matters() -> None:
    one = hashing.closure_hashes([A], _graph({A: [None, B], B: []}))
    two = hashing.closure_hashes([A], _graph({A: [B, None], B: []}))
    assert one[A] != two[A]


def test_mutual_recursion_is_stable_and_order_independent() -> None:
    graph = _graph({A: [B], B: [A]})
    first = hashing.closure_hashes([A], graph)
    second = hashing.closure_hashes([B], graph)
    both = hashing.closure_hashes([B, A], graph)
    assert first == second == both
    assert first[A] != first[B]


def test_three_cycle_with_tail_is_order_independent() -> None:
    edges: dict[str, list[str | None]] = {A: [B, D], B: [C], C: [A, E], D: [], E: [D]}
    results = [hashing.closure_hashes(list(order), _graph(edges)) for order in itertools.permutations([A, B, C, D, E])]
    assert all(r == results[0] for r in results)
    assert len(set(results[0].values())) == 5


def test_cycle_hash_changes_when_a_member_changes() -> None:
    before = hashing.closure_hashes([A], _graph({A: [B], B: [A]}))
    after = hashing.closure_hashes([A], _graph({A: [C], C: [A]}))
    assert before[A] != after[A]


def test_cycle_hash_changes_when_a_dependency_outside_the_cycle_changes() -> None:
    before = hashing.closure_hashes([A], _graph({A: [B], B: [A, C], C: []}))
    after = hashing.closure_hashes([A], _graph({A: [B], B: [A, D], D: []}))
    assert before[A] != after[A]
    assert before[B] != after[B]


def test_self_loop() -> None:
    loop = hashing.closure_hashes([A], _graph({A: [A]}))
    leaf = hashing.closure_hashes([A], _graph({A: []}))
    assert loop[A] != leaf[A]


def test_cycle_is_distinguished_from_unrolled_chain() -> None:
    cycle = hashing.closure_hashes([A], _graph({A: [B], B: [A]}))
    chain = hashing.closure_hashes([A], _graph({A: [B], B: [C], C: []}))
    assert cycle[A] != chain[A]


def test_duplicate_roots_and_duplicate_edges() -> None:
    result = hashing.closure_hashes([A, A, B], _graph({A: [B, B], B: []}))
    assert result == hashing.closure_hashes([A], _graph({A: [B, B], B: []}))


def test_deps_of_called_once_per_node() -> None:
    calls: list[str] = []
    edges: dict[str, list[str | None]] = {A: [B, C], B: [C, D], C: [D, A], D: []}

    def deps_of(h: str) -> Sequence[str | None]:
        calls.append(h)
        return edges[h]

    hashing.closure_hashes([A, B, C, D], deps_of)
    assert sorted(calls) == sorted(edges)


def test_deep_chain_does_not_hit_recursion_limit() -> None:
    n = 5000
    assert n > sys.getrecursionlimit() // 2
    nodes = [hashing.definition_hash("function", ["Int", str(i)], [], [], name="app.x") for i in range(n)]
    edges: dict[str, list[str | None]] = {nodes[i]: [nodes[i + 1]] for i in range(n - 1)}
    edges[nodes[-1]] = []
    result = hashing.closure_hashes([nodes[0]], _graph(edges))
    assert len(result) == n
    assert len(set(result.values())) == n
    # Every suffix of the chain hashes as it would alone.
    tail = hashing.closure_hashes([nodes[-2]], _graph(edges))
    assert tail[nodes[-2]] == result[nodes[-2]]


def test_deep_cycle_does_not_hit_recursion_limit() -> None:
    n = 5000
    nodes = [hashing.definition_hash("function", ["Int", str(i)], [], [], name="app.x") for i in range(n)]
    edges: dict[str, list[str | None]] = {nodes[i]: [nodes[(i + 1) % n]] for i in range(n)}
    first = hashing.closure_hashes([nodes[0]], _graph(edges))
    second = hashing.closure_hashes([nodes[n // 2]], _graph(edges))
    assert first == second
    assert len(first) == n


@st.composite
def _graphs(draw: st.DrawFn) -> dict[str, list[str | None]]:
    n = draw(st.integers(min_value=1, max_value=7))
    nodes = [_h(f"n{i}") for i in range(n)]
    edges: dict[str, list[str | None]] = {}
    for node in nodes:
        out = draw(st.lists(st.sampled_from([*nodes, None]), max_size=4))
        edges[node] = out
    return edges


@given(_graphs(), st.randoms(use_true_random=False))
@settings(max_examples=75, deadline=None)
def test_closure_hashes_do_not_depend_on_root_order(edges: dict[str, list[str | None]], rnd: object) -> None:
    import random

    assert isinstance(rnd, random.Random)
    roots = list(edges)
    reference = hashing.closure_hashes(roots, _graph(edges))
    shuffled = roots[:]
    rnd.shuffle(shuffled)
    assert hashing.closure_hashes(shuffled, _graph(edges)) == reference
    # Starting from any single node gives the same hashes for what it reaches.
    start = rnd.choice(roots)
    partial = hashing.closure_hashes([start], _graph(edges))
    assert all(reference[h] == v for h, v in partial.items())


# ------------------------------------------------------------------------------------------ deep trees

_leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=40) | st.binary(max_size=40)
_values = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=20) | st.tuples(inner, inner)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=60)


@given(_values)
@settings(max_examples=300, deadline=None)
def test_the_deep_encoder_is_msgpack_byte_for_byte(value: object) -> None:
    import msgpack

    assert hashing._pack_deep(value) == msgpack.packb(value, use_bin_type=True)


def test_a_tree_deeper_than_msgpack_allows_still_hashes_and_only_by_its_content() -> None:
    import msgpack

    def nest(depth: int, leaf: str) -> list[object]:
        tree: list[object] = ["Name", leaf]
        for _ in range(depth):
            tree = ["BinOp", "+", tree, ["Int", 1]]
        return tree

    with pytest.raises(ValueError, match="recursion limit"):
        msgpack.packb(nest(2_000, "x"))
    a = hashing.definition_hash("function", nest(2_000, "x"), [], [], name="m.f")
    assert a == hashing.definition_hash("function", nest(2_000, "x"), [], [], name="m.f")
    assert a != hashing.definition_hash("function", nest(2_000, "y"), [], [], name="m.f")
    assert a != hashing.definition_hash("function", nest(1_999, "x"), [], [], name="m.f")


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8), st.integers(1, 10**6)), max_size=30),
       st.booleans(), st.lists(st.sampled_from(sorted(hashing.FUTURE_FEATURES)), unique=True))
def test_the_hash_of_stored_rows_is_the_module_hash(stmts: list[tuple[str, str, int]], package: bool,
                                                   futures: list[str]) -> None:
    rows = [[h, d, line, ["name"], "value"] for h, d, line in stmts]  # as the programs table stores them
    assert hashing.module_hash_of_rows("m", package=package, path="m.py", futures=futures, rows=rows) == \
        hashing.module_hash("m", package=package, path="m.py", futures=futures, statements=stmts)
