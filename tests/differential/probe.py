"""What a probe observes of a module, run in a fresh interpreter (files or store): printed as JSON.

    python probe.py OUT.json MODULE [SUBMODULE ...]             # import them the usual way (the files)
    python probe.py OUT.json --store S MODULE [SUBMODULE ...]   # from a store, through ucode.mount
    python probe.py OUT.json --run S MODULE [SUBMODULE ...]     # from a store, as `ucode run` imports

The observation is everything about the module that does not depend on which process made it: its
attribute names; for each attribute its type, and a description (a class's qualified name, module, MRO
and own attribute names; a function's qualified name, module, signature and defaults; a submodule's
name; any other value's repr, with memory addresses blanked), for the module and every submodule of it
that is imported by then; and the reprs of a few sample calls (``SAMPLES``).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import re
import sys
import types
from typing import Any

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+|0x[0-9a-fA-F]{6,}")
# Attributes that say how a module was loaded, not what it is.
_LOADING = {"__loader__", "__spec__", "__builtins__"}
# A few calls per module, evaluated with the module as `m` (deterministic results only).
SAMPLES: dict[str, list[str]] = {
    "textwrap": ["m.fill('The quick brown fox jumps over the lazy dog', 12)", "m.dedent('  a\\n  b')",
                 "m.shorten('Hello  world!', width=10)"],
    "json": ["m.dumps({'a': [1, 2.5, None]}, sort_keys=True)", "m.loads('[1, {\"b\": true}]')"],
    "fractions": ["m.Fraction(3, 12) + m.Fraction('1/3')", "m.Fraction(1.1).limit_denominator(100)"],
    "colorsys": ["m.rgb_to_hsv(0.2, 0.4, 0.4)", "m.hls_to_rgb(0.5, 0.5, 0.5)"],
    "difflib": ["list(m.unified_diff(['a\\n', 'b\\n'], ['a\\n', 'c\\n']))",
                "m.get_close_matches('appel', ['ape', 'apple'])"],
    "fnmatch": ["m.translate('*.py')", "m.fnmatch('a.py', '*.py')"],
    "shlex": ["m.split('a \"b c\" d')", "m.quote(\"it's\")"],
    "string": ["m.capwords('hello  world')", "m.Template('$a-${b}').substitute(a=1, b=2)"],
    "heapq": ["m.nlargest(2, [5, 1, 9, 3])", "list(m.merge([1, 4], [2, 3]))"],
    "bisect": ["m.bisect_left([1, 2, 4], 3)"],
    "statistics": ["m.median([3, 1, 2, 8])", "m.stdev([1.5, 2.5, 2.5, 2.75, 3.25, 4.75])"],
    "ipaddress": ["str(m.ip_network('10.0.0.0/30').broadcast_address)", "list(m.ip_network('::/126').hosts())"],
    "base64": ["m.b64encode(b'ucode')", "m.b32decode(b'MFRGG===')"],
    "calendar": ["m.monthrange(2026, 2)", "m.isleap(2000)"],
    "html": ["m.escape('<a href=\"x\">&</a>')", "m.unescape('&lt;&amp;&#x41;')"],
    "urllib.parse": ["m.urlsplit('https://u:p@h:8/p?q=1#f')", "m.quote('a b/ü')"],
    "csv": ["list(m.reader(['a,\"b,c\",d']))"],
    "enum": ["list(m.Enum('Color', 'RED GREEN'))", "m.Flag('F', 'A B C').A | m.Flag('F', 'A B C').B"],
    "functools": ["m.reduce(lambda a, b: a * b, [1, 2, 3, 4])",
                  "sorted([3, 1, 2], key=m.cmp_to_key(lambda a, b: b - a))"],
    "operator": ["m.itemgetter(1, 0)('ab')", "m.attrgetter('real')(3)"],
    "pprint": ["m.pformat({'b': [1] * 3, 'a': {'c': 'd'}}, width=20)"],
    "reprlib": ["m.repr(list(range(100)))"],
    "copy": ["m.deepcopy({'a': [1, [2]]})"],
    "dataclasses": ["m.asdict(m.make_dataclass('P', ['x', 'y'])(1, 2))"],
    "collections": ["m.Counter('abracadabra').most_common(2)", "m.OrderedDict(a=1, b=2)",
                    "m.namedtuple('P', 'x y')(1, 2)"],
    "graphlib": ["list(m.TopologicalSorter({'b': {'a'}, 'c': {'b'}}).static_order())"],
    "configparser": ["sorted(m.ConfigParser().sections())"],
    "decimal": ["m.Decimal('1.1') + m.Decimal('2.2')"],
    "datetime": ["m.date(2026, 12, 1).isocalendar()", "m.timedelta(days=1, seconds=5)"],
    "tomllib": ["m.loads('a = 1\\n[b]\\nc = \"x\"')"],
    "ast": ["m.dump(m.parse('x = 1'))"],
    "keyword": ["m.iskeyword('match'), m.issoftkeyword('match')"],
    "numbers": ["issubclass(int, m.Integral)"],
    "quopri": ["m.encodestring(b'caf\\xe9')"],
    "uu": ["m.__all__"],
    "glob": ["m.escape('a[b]*')"],
    "posixpath": ["m.normpath('a//b/../c')", "m.splitext('x.tar.gz')"],
    "gettext": ["m.NullTranslations().gettext('x')"],
    "locale": ["m.normalize('en_us')"],
    "zipfile": ["m.is_zipfile(__import__('io').BytesIO(b'x'))"],
    "tokenize": ["[t.string for t in m.generate_tokens(__import__('io').StringIO('a = 1\\n').readline)]"],
    "argparse": ["m.ArgumentParser(prog='p').format_usage()"],
}


def _describe(value: Any, owner: str) -> Any:
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if inspect.isclass(value):
        own = sorted(k for k in vars(value) if k not in ("__dict__", "__weakref__", "__doc__"))
        return ["class", value.__qualname__, value.__module__, [c.__qualname__ for c in value.__mro__], own]
    if inspect.isfunction(value) or inspect.isbuiltin(value) or inspect.ismethod(value):
        try:
            sig = str(inspect.signature(value))
        except (TypeError, ValueError):
            sig = "?"
        return ["function", getattr(value, "__qualname__", "?"), getattr(value, "__module__", "?"),
                _ADDRESS.sub(" at 0x", sig)]
    try:
        if isinstance(value, (set, frozenset)):  # iteration order follows the elements' hashes: sort
            text = "{" + ", ".join(sorted(_ADDRESS.sub(" at 0x", repr(v)) for v in value)) + "}"
        else:
            text = repr(value)
    except Exception as exc:  # a value whose repr fails fails the same way from files
        text = f"<repr raised {type(exc).__name__}>"
    return ["value", type(value).__qualname__, _ADDRESS.sub(" at 0x", text)[:500]]


def observe_module(mod: types.ModuleType) -> dict[str, Any]:
    names = sorted(k for k in vars(mod) if k not in _LOADING)
    return {"names": names, "attrs": {k: _describe(getattr(mod, k), mod.__name__) for k in names}}


def observe(names: list[str]) -> dict[str, Any]:
    """Import each of ``names`` in order (a package, then its submodules), then observe every module of
    the top-level package that is imported by then."""
    top = names[0].split(".")[0]
    out: dict[str, Any] = {"errors": {}}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for name in names:
            try:
                __import__(name)
            except BaseException as exc:
                out["errors"][name] = f"{type(exc).__name__}: {_ADDRESS.sub(' at 0x', str(exc))[:300]}"
        mods = sorted(k for k in list(sys.modules) if (k == top or k.startswith(top + "."))
                      and isinstance(sys.modules[k], types.ModuleType))
        out["modules"] = {k: observe_module(sys.modules[k]) for k in mods}
        samples = {}
        for name in names:
            mod = sys.modules.get(name)
            for expr in SAMPLES.get(name, []) if mod is not None else []:
                try:
                    samples[expr] = _ADDRESS.sub(" at 0x", repr(eval(expr, {"m": mod})))
                except Exception as exc:
                    samples[expr] = f"raised {type(exc).__name__}: {exc}"
        out["samples"] = samples
        out["loaders"] = {k: type(getattr(getattr(sys.modules[k], "__spec__", None), "loader", None)).__name__
                          if getattr(sys.modules[k], "__name__", None) == k else "an alias (os.path)"
                          for k in mods}
    return out


def main() -> None:
    path = sys.argv[1]
    args = sys.argv[2:]
    # Both sides start from the same state (ucode and what it imports are loaded) and run the modules
    # under test afresh: the only difference left is where their code comes from.
    import ucode
    import ucode.runtime

    via = "files"
    if args[0] in ("--store", "--run"):
        via, store, args = args[0], args[1], args[2:]
    top = args[0].split(".")[0]
    if via == "--store":
        ucode.mount(top, store=store)
    elif via == "--run":  # the path `ucode run` takes: Codebase.function imports the module from the store
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[name]
        ucode.open(store, create=False).function(top)
    else:
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[name]
    result = observe(args)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
