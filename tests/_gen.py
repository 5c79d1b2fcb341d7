"""Random small Python functions for the normalizer's property tests.

A hypothesis strategy (:func:`functions`) draws a *tree* (plain tuples) from a small grammar of statements
and expressions over two parameters ``a, b`` and a few locals. :func:`render` turns a tree into source
text; its ``style`` (a seeded ``random.Random``) decides everything that must NOT change the hash:

* the function's name, every local variable's name (a random bijection),
* formatting: spaces around operators, redundant parentheses, line breaks and comments inside brackets,
  trailing commas, ``;`` vs new lines, one-line bodies, blank and comment lines, indentation width,
* literal spelling: quotes, ``u`` prefix, escapes, implicit string concatenation, ``0x10`` vs ``16``,
* a docstring, and the alias an import is bound to.

Names that are part of the hash stay as drawn: parameters (also of lambdas and nested functions), the
names of nested functions and classes, class attributes, keyword and attribute names.

Every generated function runs without NameError (all locals are initialized first; a name is only used
where it is bound), terminates quickly (loops are over ``range(<=3)``, recursion is bounded) and returns
a tuple of ints and strings, so running it before and after normalization can be compared.
"""

from __future__ import annotations

import builtins
import keyword
import random
import string
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import strategies as st

PARAMS = ("a", "b")
LOCALS = ("x", "y", "real")  # ``real`` is also the keyword of the class pattern ``int(real=...)``
LOOP_VARS = ("i", "j")
COMP_VARS = ("c", "w")
CAPTURES = ("m", "n")
ERR = "err"
BINOPS = ("+", "-", "*", "%", "//", "&", "|", "^")
AUGOPS = ("+", "-", "*", "|", "^", "&")
CMPOPS = ("<", "<=", "==", "!=", ">", ">=")
CALLS1 = ("abs", "int", "bool")
CALLS2 = ("min", "max")
IMPORTS = {("math", "gcd"), ("math", "lcm"), ("operator", "add"), ("operator", "sub")}
# Names a random local must never take: they are used by the generated code or are Python's.
RESERVED = frozenset(
    {*keyword.kwlist, *keyword.softkwlist, *dir(builtins), *PARAMS, "F", "ZeroDivisionError",
     "math", "operator", "gcd", "lcm", "add", "sub", "functools", "attr", "q", "p0", "p1", "a_renamed"}
) | frozenset(f"h{i}" for i in range(20)) | frozenset(f"K{i}" for i in range(20))

Tree = Any


# --------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class _Env:
    names: tuple[str, ...]  # int-valued names readable here
    helpers: tuple[str, ...] = ()  # nested one-argument functions callable here
    walrus_ok: bool = True  # directly in the function body (or a comprehension in it)
    loop_free: tuple[str, ...] = LOOP_VARS  # loop variables not bound by an enclosing loop
    in_if: bool = False


@dataclass
class _Counter:
    helpers: int = 0
    classes: int = 0
    recursion: int = 0
    lambdas: int = 0
    uses_import: bool = False
    defined: list[str] = field(default_factory=list)


def _expr(draw: st.DrawFn, env: _Env, depth: int, cnt: _Counter) -> Tree:
    kinds = ["int", "name"]
    if depth > 0:
        kinds += ["bin", "bin", "cmp", "neg", "call1", "call2", "ifexp", "icall", "comp", "lambda"]
        if env.walrus_ok:
            kinds.append("walrus")
        if env.helpers:
            kinds.append("helper")
        if cnt.recursion < 2:
            kinds.append("rec")
    kind = draw(st.sampled_from(kinds))
    sub = depth - 1
    if kind == "int":
        return ("int", draw(st.integers(0, 40)))
    if kind == "name":
        return ("var", draw(st.sampled_from(env.names)))
    if kind == "bin":
        return ("bin", draw(st.sampled_from(BINOPS)), _expr(draw, env, sub, cnt), _expr(draw, env, sub, cnt))
    if kind == "cmp":
        return ("cmp", draw(st.sampled_from(CMPOPS)), _expr(draw, env, sub, cnt), _expr(draw, env, sub, cnt))
    if kind == "neg":
        return ("neg", _expr(draw, env, sub, cnt))
    if kind == "call1":
        return ("call", draw(st.sampled_from(CALLS1)), [_expr(draw, env, sub, cnt)])
    if kind == "call2":
        return ("call", draw(st.sampled_from(CALLS2)), [_expr(draw, env, sub, cnt), _expr(draw, env, sub, cnt)])
    if kind == "ifexp":
        return ("ifexp", _expr(draw, env, sub, cnt), _expr(draw, env, sub, cnt), _expr(draw, env, sub, cnt))
    if kind == "icall":
        cnt.uses_import = True
        return ("icall", _expr(draw, env, sub, cnt), _expr(draw, env, sub, cnt))
    if kind == "comp":
        free = [c for c in COMP_VARS if c not in env.names]
        if not free:
            return ("int", 1)
        cv = draw(st.sampled_from(free))
        inner = replace(env, names=(*env.names, cv))
        elt = _expr(draw, inner, sub, cnt)
        cond = _expr(draw, inner, sub, cnt) if draw(st.booleans()) else None
        return ("comp", draw(st.sampled_from(["list", "gen", "set"])), cv, draw(st.integers(0, 3)), elt, cond)
    if kind == "lambda":
        p = f"p{cnt.lambdas % 2}"
        cnt.lambdas += 1
        inner = replace(env, names=(*env.names, p), walrus_ok=False)
        return ("lambda", p, _expr(draw, inner, sub, cnt), _expr(draw, env, sub, cnt))
    if kind == "walrus":
        return ("walrus", draw(st.sampled_from(LOCALS)), _expr(draw, env, sub, cnt))
    if kind == "helper":
        return ("hcall", draw(st.sampled_from(env.helpers)), _expr(draw, env, sub, cnt))
    assert kind == "rec"
    cnt.recursion += 1
    return ("rec", _expr(draw, env, sub, cnt))


def _stmts(draw: st.DrawFn, env: _Env, depth: int, cnt: _Counter, n_min: int = 1, n_max: int = 2) -> list[Tree]:
    out: list[Tree] = []
    for _ in range(draw(st.integers(n_min, n_max))):
        stmt, env = _stmt(draw, env, depth, cnt)
        out.append(stmt)
    return out


def _stmt(draw: st.DrawFn, env: _Env, depth: int, cnt: _Counter) -> tuple[Tree, _Env]:
    kinds = ["assign", "assign", "aug"]
    if depth > 0:
        kinds += ["if", "try", "match", "helper", "bump", "class"]
        if env.loop_free:
            kinds.append("for")
    if env.in_if:
        kinds.append("return")
    kind = draw(st.sampled_from(kinds))

    def e() -> Tree:
        return _expr(draw, env, 2, cnt)

    sub = depth - 1
    if kind == "assign":
        return ("assign", draw(st.sampled_from(LOCALS)), e()), env
    if kind == "aug":
        return ("aug", draw(st.sampled_from(LOCALS)), draw(st.sampled_from(AUGOPS)), e()), env
    if kind == "return":
        return ("return", e()), env
    if kind == "if":
        inner = replace(env, in_if=True)
        orelse = _stmts(draw, inner, sub, cnt) if draw(st.booleans()) else []
        return ("if", e(), _stmts(draw, inner, sub, cnt), orelse), env
    if kind == "for":
        lv = draw(st.sampled_from(env.loop_free))
        inner = replace(env, names=(*env.names, lv), loop_free=tuple(v for v in env.loop_free if v != lv))
        return ("for", lv, draw(st.integers(0, 3)), _stmts(draw, inner, sub, cnt)), env
    if kind == "try":
        target = draw(st.sampled_from(LOCALS))
        handler = [("assign", draw(st.sampled_from(LOCALS)), ("errlen",)), *_stmts(draw, env, sub, cnt, 0, 2)]
        return ("try", target, e(), e(), handler), env
    if kind == "match":
        cases: list[Tree] = []
        for pattern in draw(st.lists(st.sampled_from(["lit", "kw", "star"]), min_size=1, max_size=3, unique=True)):
            if pattern == "lit":
                inner = replace(env, names=(*env.names, "m"))
                cases.append(("case_lit", draw(st.integers(0, 3)), _stmts(draw, inner, sub, cnt)))
            elif pattern == "kw":
                inner = replace(env, names=(*env.names, "m", "n"))
                guard = _expr(draw, inner, 1, cnt) if draw(st.booleans()) else None
                cases.append(("case_kw", guard, _stmts(draw, inner, sub, cnt)))
            else:
                inner = replace(env, names=(*env.names, "m"))
                body = [("assign", draw(st.sampled_from(LOCALS)), ("len", "n")), *_stmts(draw, inner, sub, cnt, 0, 2)]
                cases.append(("case_star", body))
        if draw(st.booleans()):
            cases.append(("case_default", _stmts(draw, env, sub, cnt)))
        return ("match", e(), e(), cases), env
    if kind == "helper":
        name = f"h{cnt.helpers}"
        cnt.helpers += 1
        inner = replace(env, names=(*env.names, "q"), walrus_ok=False)
        stmt = ("helper", name, _expr(draw, inner, 2, cnt))
        return stmt, replace(env, helpers=(*env.helpers, name))
    if kind == "bump":
        name = f"h{cnt.helpers}"
        cnt.helpers += 1
        target = draw(st.sampled_from(LOCALS))
        inner = replace(env, walrus_ok=False)
        return ("bump", name, target, _expr(draw, inner, 2, cnt)), env
    assert kind == "class"
    name = f"K{cnt.classes}"
    cnt.classes += 1
    attrs = draw(st.permutations(["x", "attr", "real"]))[:2]
    # The class body reads function locals, but not a name it assigns itself (that would be a global).
    inner = replace(env, names=tuple(v for v in env.names if v not in attrs) or ("a",), walrus_ok=False)
    return ("class", name, attrs[0], _expr(draw, inner, 2, cnt), attrs[1], draw(st.sampled_from(LOCALS))), env


@st.composite
def functions(draw: st.DrawFn, *, max_depth: int = 2) -> Tree:
    """A random function tree (see the module docstring)."""
    cnt = _Counter()
    env = _Env(names=(*PARAMS, *LOCALS))
    inits = [draw(st.integers(0, 40)) for _ in LOCALS]
    body = _stmts(draw, env, max_depth, cnt, 1, 3)
    final_op = draw(st.sampled_from(BINOPS[:3]))
    # The imported function is always called, so the import is part of every generated function.
    final = (_expr(draw, env, 1, cnt), ("icall", _expr(draw, env, 1, cnt), _expr(draw, env, 1, cnt)))
    label = draw(st.text(alphabet="ab {}'\"\\\n", max_size=8))
    fparts = draw(st.lists(st.one_of(
        st.tuples(st.just("text"), st.text(alphabet="xy{}'\\ ", min_size=1, max_size=4)),
        st.tuples(st.just("fexpr"), st.sampled_from([*PARAMS, *LOCALS]), st.sampled_from(["", "r", "s"]),
                  st.sampled_from(["", ">3", "03d"])),
    ), max_size=3))
    # An f-string with a string conversion and a numeric format spec is a runtime error: keep it valid.
    fparts = [p if p[0] == "text" or not (p[2] and p[3] == "03d") else (*p[:3], "") for p in fparts]
    imp = (draw(st.sampled_from(["mod", "from"])), *draw(st.sampled_from(sorted(IMPORTS))))
    return {
        "default": draw(st.integers(0, 9)),
        "inits": inits,
        "body": body,
        "final_op": final_op,
        "final_call": "abs",
        "final": final,
        "label": label,
        "fstring": fparts,
        "import": imp,
        "decorator": None,
    }


# ---------------------------------------------------------------------------------------- rendering


class Style:
    """Random choices for one rendering; ``plain`` turns every perturbation off."""

    def __init__(self, seed: int, *, plain: bool = False, params: dict[str, str] | None = None) -> None:
        self.rng = random.Random(seed)
        self.plain = plain
        self.params = params or {}
        self.indent = " " * (4 if plain else self.rng.choice([1, 2, 3, 4, 8]))
        used: set[str] = set()
        if plain:
            self.fname = "f"
            self.local = {v: v for v in (*LOCALS, *LOOP_VARS, *COMP_VARS, *CAPTURES, ERR)}
            self.alias: str | None = None
            self.docstring: str | None = None
        else:
            # the definition's own name is part of its identity (hashing.definition_hash): not perturbed
            self.fname = "f"
            used.add("f")
            self.local = {v: self._fresh(used) for v in (*LOCALS, *LOOP_VARS, *COMP_VARS, *CAPTURES, ERR)}
            self.alias = self._fresh(used) if self.rng.random() < 0.6 else None
            self.docstring = self.rng.choice([None, "Doc.", "Multi\n    line doc.", "'quoted' doc"])

    def _fresh(self, used: set[str]) -> str:
        while True:
            n = "".join(self.rng.choice(string.ascii_lowercase) for _ in range(self.rng.randint(1, 7)))
            if self.rng.random() < 0.2:
                n += str(self.rng.randint(0, 99))
            if n not in RESERVED and n not in used and not n.startswith("_u_") and n.isidentifier():
                used.add(n)
                return n

    def chance(self, p: float) -> bool:
        return not self.plain and self.rng.random() < p

    def sp(self) -> str:
        """Spaces around a symbol."""
        return " " if self.plain else self.rng.choice(["", " ", "  ", " "])

    def brk(self) -> str:
        """Optional line break (and comment) inside brackets."""
        if not self.chance(0.15):
            return ""
        return self.rng.choice(["\n", "\n        ", "  # note\n", "\n\n"])

    def comma_tail(self) -> str:
        return "," if self.chance(0.3) else ""

    def parens(self, text: str) -> str:
        for _ in range(2):
            if self.chance(0.15):
                text = "(" + self.brk() + text + self.brk() + ")"
        return text

    def name(self, v: str) -> str:
        if v in self.params:
            return self.params[v]
        return self.local.get(v, v)


def _int(v: int, s: Style) -> str:
    if s.plain:
        return str(v)
    form = s.rng.choice(["dec", "dec", "hex", "HEX", "oct", "bin", "under"])
    if form == "hex":
        return hex(v)
    if form == "HEX":
        return "0X" + format(v, "X")
    if form == "oct":
        return oct(v)
    if form == "bin":
        return bin(v)
    if form == "under" and v >= 10:
        d = str(v)
        return d[0] + "_" + d[1:]
    return str(v)


def _quote(text: str, s: Style) -> tuple[str, str]:
    q = '"' if s.plain else s.rng.choice(['"', "'"])
    body = text.replace("\\", "\\\\").replace(q, "\\" + q).replace("\n", "\\n")
    return body, q


def _str(text: str, s: Style) -> str:
    pieces = [text]
    if text and s.chance(0.4):
        cut = s.rng.randint(0, len(text))
        pieces = [text[:cut], text[cut:]]
    out = []
    for p in pieces:
        body, q = _quote(p, s)
        prefix = "u" if s.chance(0.1) else ""
        out.append(prefix + q + body + q)
    sep = " " if s.plain else s.rng.choice([" ", "  ", " \n "])
    joined = sep.join(out)
    if "\n" in joined:
        joined = "(" + joined + ")"
    return joined


def _fstring(parts: list[Tree], s: Style) -> str:
    q = '"' if s.plain else s.rng.choice(['"', "'"])
    body = ""
    for p in parts:
        if p[0] == "text":
            b = p[1].replace("\\", "\\\\").replace(q, "\\" + q).replace("{", "{{").replace("}", "}}")
            body += b
        else:
            _, v, conv, spec = p
            body += "{" + s.name(v) + ("!" + conv if conv else "") + (":" + spec if spec else "") + "}"
    return "f" + q + body + q


def expr(e: Tree, s: Style, fn: dict[str, Any]) -> str:
    """Render an expression; the result is always safe to use as an operand (atom or parenthesized)."""
    kind = e[0]
    if kind == "int":
        out = _int(e[1], s)
    elif kind == "var":
        out = s.name(e[1])
    elif kind == "bin":
        out = "(" + expr(e[2], s, fn) + s.sp() + e[1] + s.sp() + s.brk() + expr(e[3], s, fn) + ")"
    elif kind == "cmp":
        out = "(" + expr(e[2], s, fn) + s.sp() + e[1] + s.sp() + expr(e[3], s, fn) + ")"
    elif kind == "neg":
        out = "(-" + expr(e[1], s, fn) + ")"
    elif kind == "call":
        args = ("," + s.sp()).join(expr(a, s, fn) for a in e[2])
        out = e[1] + "(" + s.brk() + args + s.comma_tail() + ")"
    elif kind == "ifexp":
        out = "(" + expr(e[2], s, fn) + " if " + expr(e[1], s, fn) + " else " + expr(e[3], s, fn) + ")"
    elif kind == "icall":
        form, _mod, name = fn["import"]
        alias = s.alias or (_mod if form == "mod" else name)
        target = f"{alias}.{name}" if form == "mod" else alias
        out = target + "(" + expr(e[1], s, fn) + "," + s.sp() + s.brk() + expr(e[2], s, fn) + s.comma_tail() + ")"
    elif kind == "comp":
        _, how, cv, n, elt, cond = e
        inner = expr(elt, s, fn) + " for " + s.name(cv) + " in range(" + _int(n, s) + ")"
        if cond is not None:
            inner += " if " + expr(cond, s, fn)
        if how == "list":
            out = "sum([" + s.brk() + inner + s.brk() + "])"
        elif how == "set":
            out = "len({" + inner + "})"
        else:
            out = "sum((" + inner + "))" if s.chance(0.5) else "sum(" + inner + ")"
    elif kind == "lambda":
        out = "(lambda " + e[1] + ": " + expr(e[2], s, fn) + ")(" + expr(e[3], s, fn) + ")"
    elif kind == "walrus":
        out = "(" + s.name(e[1]) + s.sp() + ":=" + s.sp() + expr(e[2], s, fn) + ")"
    elif kind == "hcall":
        out = e[1] + "(" + expr(e[2], s, fn) + ")"
    elif kind == "rec":
        a = s.name("a")
        call = s.fname + "(" + a + " - 1," + s.sp() + expr(e[1], s, fn) + ")[0]"
        out = "(" + call + " if 0 < " + a + " < 3 else 0)"
    elif kind == "errlen":
        out = "len(str(" + s.name(ERR) + "))"
    elif kind == "len":
        out = "len(" + s.name(e[1]) + ")"
    else:  # pragma: no cover
        raise AssertionError(kind)
    return s.parens(out)


def _simple(st_: Tree, s: Style, fn: dict[str, Any]) -> str | None:
    kind = st_[0]
    if kind == "assign":
        return s.name(st_[1]) + s.sp() + "=" + s.sp() + expr(st_[2], s, fn)
    if kind == "aug":
        return s.name(st_[1]) + s.sp() + st_[2] + "=" + s.sp() + expr(st_[3], s, fn)
    if kind == "return":
        return "return " + expr(st_[1], s, fn)
    return None


def _block(stmts: list[Tree], s: Style, fn: dict[str, Any], level: int) -> list[str]:
    """Lines of a block at indentation ``level`` (never empty: ``pass`` when there is nothing)."""
    ind = s.indent * level
    lines: list[str] = []
    i = 0
    if not stmts:
        return [ind + "pass"]
    while i < len(stmts):
        if s.chance(0.1):
            lines.append(s.rng.choice(["", ind + "# a comment", "   # misaligned comment"]))
        simple = _simple(stmts[i], s, fn)
        if simple is not None:
            # Join following simple statements with ``;``.
            while i + 1 < len(stmts) and _simple(stmts[i + 1], s, fn) is not None and s.chance(0.3):
                i += 1
                simple += ";" + s.sp() + _simple(stmts[i], s, fn)  # type: ignore[operator]
            if s.chance(0.1):
                simple += ";"
            if s.chance(0.1):
                simple += "  # trailing comment"
            lines.append(ind + simple)
        else:
            lines.extend(_compound(stmts[i], s, fn, level))
        i += 1
    return lines


def _suite(header: str, body: list[Tree], s: Style, fn: dict[str, Any], level: int) -> list[str]:
    """``header:`` followed by the body, on one line when it is simple and the style says so."""
    ind = s.indent * level
    simples = [_simple(b, s, fn) for b in body]
    if body and all(x is not None for x in simples) and s.chance(0.3):
        return [ind + header + ": " + "; ".join(simples)]  # type: ignore[arg-type]
    return [ind + header + ":", *_block(body, s, fn, level + 1)]


def _compound(st_: Tree, s: Style, fn: dict[str, Any], level: int) -> list[str]:
    ind = s.indent * level
    inner = s.indent * (level + 1)
    kind = st_[0]
    if kind == "if":
        lines = _suite("if " + expr(st_[1], s, fn), st_[2], s, fn, level)
        if st_[3]:
            lines += _suite("else", st_[3], s, fn, level)
        return lines
    if kind == "for":
        return _suite("for " + s.name(st_[1]) + " in range(" + _int(st_[2], s) + ")", st_[3], s, fn, level)
    if kind == "try":
        _, target, num, den, handler = st_
        lines = [ind + "try:", inner + s.name(target) + " = " + expr(num, s, fn) + " // " + expr(den, s, fn)]
        lines.append(ind + "except ZeroDivisionError as " + s.name(ERR) + ":")
        return lines + _block(handler, s, fn, level + 1)
    if kind == "match":
        _, e1, e2, cases = st_
        lines = [ind + "match (" + expr(e1, s, fn) + "," + s.sp() + expr(e2, s, fn) + s.comma_tail() + "):"]
        m, n = s.name("m"), s.name("n")
        for case in cases:
            if case[0] == "case_lit":
                header = f"case ({_int(case[1], s)}, {m})"
                body = case[2]
            elif case[0] == "case_kw":
                header = f"case (int(real={m}), {n})"
                if case[1] is not None:
                    header += " if " + expr(case[1], s, fn)
                body = case[2]
            elif case[0] == "case_star":
                header = f"case [{m}, *{n}]"
                body = case[1]
            else:
                header = "case _"
                body = case[1]
            lines += _suite(header, body, s, fn, level + 1)
        return lines
    if kind == "helper":
        _, name, body = st_
        return [ind + f"def {name}(q):", inner + "return " + expr(body, s, fn)]
    if kind == "bump":
        _, name, target, e = st_
        t = s.name(target)
        return [ind + f"def {name}():", inner + f"nonlocal {t}", inner + f"{t} = {t} + " + expr(e, s, fn),
                ind + f"{name}()"]
    if kind == "class":
        _, name, attr1, e, attr2, target = st_
        return [ind + f"class {name}:", inner + f"{attr1} = " + expr(e, s, fn), inner + f"{attr2} = {attr1} + 1",
                ind + s.name(target) + f" = {name}.{attr1} + {name}.{attr2}"]
    raise AssertionError(kind)  # pragma: no cover


def render(fn: dict[str, Any], s: Style) -> str:
    """Source of a module: the import, then the function."""
    form, mod, name = fn["import"]
    if form == "mod":
        imp = f"import {mod}" + (f" as {s.alias}" if s.alias else "")
    else:
        imp = f"from {mod} import {name}" + (f" as {s.alias}" if s.alias else "")
    lines = ["# generated", imp, "import functools", ""]
    if s.chance(0.3):
        lines.append("")
    if fn["decorator"]:
        lines.append("@" + fn["decorator"])
    a, b = s.name("a"), s.name("b")
    sig = f"def {s.fname}({s.brk()}{a},{s.sp()}{b}{s.sp()}={s.sp()}{_int(fn['default'], s)}{s.comma_tail()}):"
    lines.append(sig)
    ind = s.indent
    if s.docstring is not None:
        q = s.rng.choice(['"""', "'''"])
        lines.append(ind + q + s.docstring + q)
    body: list[Tree] = [("assign", v, ("int", k)) for v, k in zip(LOCALS, fn["inits"], strict=True)]
    body += fn["body"]
    lines += _block(body, s, fn, 1)
    e1, e2 = fn["final"]
    total = fn["final_call"] + "(" + expr(e1, s, fn) + s.sp() + fn["final_op"] + s.sp() + expr(e2, s, fn) + ")"
    items = [total, _str(fn["label"], s), _fstring(fn["fstring"], s), *(s.name(v) for v in LOCALS)]
    if s.chance(0.5):
        ret = "(" + ("," + s.sp() + s.brk()).join(items) + s.comma_tail() + ")"
    else:
        ret = ("," + s.sp()).join(items) + s.comma_tail()
    lines.append(ind + "return " + ret)
    if s.chance(0.3):
        lines.append("# trailing comment")
    return "\n".join(lines) + "\n"
