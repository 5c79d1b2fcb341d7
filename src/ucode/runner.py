"""The runner: turns stored definitions into ordinary Python objects and calls them.

Resolution semantics (docs/resolution.md has the long form, with examples):

* A run resolves every name against the bindings of one version *as of one log position* (a snapshot):
  a rebinding during a run does not affect it, the next run sees it.
* Each definition is executed in its own globals dict, holding the objects its names resolve to: its
  dependencies (other stored definitions, by the bindings of the snapshot), its imports, the builtins, and
  its own name (so a recursive call means this very definition). A call between stored functions is then
  a plain ``LOAD_GLOBAL`` + call: no proxy, no dispatcher, no per-call cost.
* Objects are cached by *closure hash*: two snapshots in which a definition and everything it reaches are
  the same share one object, so a class is the same class object for the same closure, and switching
  versions re-executes only what changed. Objects nothing refers to any more are dropped with
  :meth:`Runtime.collect` (Erlang's "old code is purged when no process runs it").
* Compiled code is cached in the store per Python version: running never parses with libcst, and after
  the first run of a definition it does not compile either.
"""

from __future__ import annotations

import builtins
import collections.abc
import importlib
import inspect
import linecache
import marshal
import sys
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from ucode import hashing
from ucode.errors import UcodeError

if TYPE_CHECKING:
    from ucode.codebase import ClosureImage, Codebase, LoadedDefinition

__all__ = [
    "DefinitionFailedError", "MissingImportError", "RunError", "Runtime", "Snapshot", "UnboundDependencyError",
    "call", "check_arguments", "code_filename", "compile_definition", "is_unbound",
]


class RunError(UcodeError):
    """A stored definition cannot be loaded (not: the user's code raised; that propagates as is)."""


class MissingImportError(RunError, ImportError):
    """An import a stored definition needs is not installed. Also an ``ImportError``: code that falls back
    (``try: from .win import tzwin / except ImportError: tzwin = None``) falls back, as in Python."""

    def __init__(self, who: str, statement: str, exc: BaseException) -> None:
        module = statement.split(" ")[1]
        super().__init__(
            f"{who} needs `{statement}`, which cannot be imported: {exc}",
            hint=f"install the package that provides {module.split('.')[0]!r} (e.g. pip install "
                 f"{module.split('.')[0]}) in the environment ucode runs in",
        )
        self.statement = statement


class UnboundDependencyError(RunError):
    """Raised *when called*: a stored definition uses a name that is not bound in its version."""


class DefinitionFailedError(RunError):
    """Building a stored definition raised: a module-level value, a decorator or a class body ran when
    the definition was first loaded, and failed. ``error`` is the exception; ``where`` the stored line."""

    def __init__(self, ref: str, exc: BaseException) -> None:
        where = ""
        tb = exc.__traceback__
        while tb is not None:  # the innermost frame of stored code is where it failed
            name = tb.tb_frame.f_code.co_filename
            if name.startswith("<ucode "):
                text = linecache.getline(name, tb.tb_lineno).strip()
                where = f"{name[1:-1]} line {tb.tb_lineno}" + (f": {text}" if text else "")
            tb = tb.tb_next
        super().__init__(
            f"loading {ref} failed: {type(exc).__name__}: {exc}" + (f" (in {where})" if where else ""),
            hint="module-level code (values, decorators, class bodies) runs when a definition is first "
                 "loaded; `ucode view NAME` shows its stored source",
        )
        self.ref = ref
        self.error = exc
        self.where = where


def compile_definition(source: str, line: int, filename: str,
                       futures: list[str] | tuple[str, ...] = ()) -> types.CodeType:
    """Compile a stored definition's source so that its code has the file's line numbers (the source
    is placed at ``line``) and its module's future features (``futures``, see
    :data:`ucode.hashing.FUTURE_FEATURES`: a definition is compiled on its own, without the module's
    ``from __future__`` line)."""
    import __future__

    flags = 0
    for name in futures:
        flags |= getattr(__future__, name).compiler_flag
    code: types.CodeType = compile("\n" * (line - 1) + source, filename, "exec", flags=flags, dont_inherit=True)
    return code


def code_filename(module: str, name: str, h: str) -> str:
    """The filename compiled code carries: tracebacks then show the qualified name and short hash."""
    return f"<ucode {module}.{name} {hashing.short(h)}>"


class _Unbound:
    """Stands in for a dependency that is not bound in the snapshot: any use says which and where."""

    def __init__(self, name: str, who: str, version: str) -> None:
        self._message = f"{who} uses {name}, which is not bound in version {version!r}"

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UnboundDependencyError(self._message, hint="bind it (ucode bind NAME #HASH) or add its source")

    __call__ = _fail

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._fail()

    def __repr__(self) -> str:
        return f"<unbound: {self._message}>"


def is_unbound(obj: Any) -> bool:
    """Whether ``obj`` stands in for a name that has no value here (see ``_Unbound``)."""
    return type(obj) is _Unbound


def _unbound_use(self: _Unbound, *args: Any, **kwargs: Any) -> Any:
    self._fail()


# Operators and protocols are looked up on the type, not through __getattr__: without these, `TABLE[0]`
# on an unbound TABLE would be "TypeError: '_Unbound' object is not subscriptable" instead of the error
# that names the missing name. (__eq__ and __hash__ stay: identity, so it can sit in dicts and sets.)
for _dunder in ("getitem", "setitem", "delitem", "iter", "len", "contains", "bool", "int", "float", "index",
                "add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv", "rfloordiv",
                "mod", "rmod", "pow", "rpow", "neg", "pos", "abs", "lt", "le", "gt", "ge", "and", "or",
                "enter", "exit", "aiter", "await", "fspath"):
    setattr(_Unbound, f"__{_dunder}__", _unbound_use)
del _dunder


class _PlacedLines(collections.abc.Sequence[str]):
    """A stored definition's source lines as linecache holds a file's: ``line`` is where the first is;
    the lines before it read as empty."""

    def __init__(self, line: int, lines: list[str]) -> None:
        self._offset = line - 1
        self._lines = lines

    def __len__(self) -> int:
        return self._offset + len(self._lines)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._lines[i - self._offset] if i >= self._offset else "\n"


class _ModuleView(types.ModuleType):
    """A stored module as stored code sees it outside a mount (see ``Runtime._module_view``)."""

    def __init__(self, name: str, runtime: Runtime, version: str, position: int) -> None:
        super().__init__(name)
        self.__ucode_view__ = (runtime, version, position)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        runtime, version, position = self.__ucode_view__
        full = f"{self.__name__}.{attr}"
        if runtime.codebase.module_info(full) is not None:
            value: Any = _ModuleView(full, runtime, version, position)
        else:
            try:
                value = runtime.load(full, version=version, at=position)[0]
            except UcodeError:
                raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None
        setattr(self, attr, value)
        return value


@dataclass
class Snapshot:
    """The objects of one version at one namespace log position."""

    runtime: Runtime
    version: str
    position: int
    objects: dict[str, Any] = field(default_factory=dict)  # hash -> object in this snapshot

    def __hash__(self) -> int:
        return id(self)


class Runtime:
    """Builds and caches objects for one codebase. One per process is typical (``Codebase.runtime``)."""

    def __init__(self, codebase: Codebase) -> None:
        self.codebase = codebase
        # closure hash -> object. Functions and classes are held weakly: an object lives as long as something
        # uses it (a caller's globals, an instance, a running request, the entry cache below) and is
        # dropped with the last user, as Erlang purges old code. Other values are held strongly until
        # ``collect`` finds that only the cache holds them.
        self._by_closure: dict[str, Any] = {}
        self._entry_cache: dict[tuple[str, str | None, int | None], tuple[int, Any, ClosureImage]] = {}

    # ---------------------------------------------------------------------------------------- API

    def load(self, ref: str, *, version: str | None = None, at: int | None = None,
             overrides: dict[str, str] | None = None) -> tuple[Any, ClosureImage]:
        """The object ``ref`` names in ``version`` as of log position ``at`` (now if None), with the image
        it was built from; ``overrides`` (full name -> hash) replace bindings (replay + swap). Cheap when
        nothing changed since the last call: one read of the log position."""
        if overrides:
            image = self.codebase.load_closure(ref, version=version, at=at, overrides=overrides)
            return self._build_entry(ref, image), image
        key = (ref, version, at)
        cached = self._entry_cache.get(key)
        if cached is not None and at is None and cached[0] == self.codebase.log_position():
            return cached[1], cached[2]
        image = self.codebase.load_closure(ref, version=version, at=at)
        obj = self._build_entry(ref, image)
        self._entry_cache[key] = (image.position, obj, image)
        return obj, image

    def _build_entry(self, ref: str, image: ClosureImage) -> Any:
        try:
            return self._build(image, Snapshot(self, image.version, image.position))
        except UcodeError:
            raise
        except Exception as exc:  # the stored code raised while it was being defined
            raise DefinitionFailedError(ref, exc) from exc

    def load_many(self, refs: list[str], *, version: str | None = None, at: int | None = None) -> dict[str, Any]:
        """Several objects from one snapshot (what ``mount`` uses to fill a module)."""
        if not refs:
            return {}
        image = self.codebase.load_closures(refs, version=version, at=at)
        snap = Snapshot(self, image.version, image.position)
        self._build(image, snap)
        return {ref: snap.objects[h] for ref, h in image.entries.items()}

    def collect(self) -> int:
        """Forget cached objects nothing uses any more (old code); returns how many were dropped.

        Functions and classes go by themselves when their last user does; this also drops dead weak
        references and values that only the cache still holds."""
        dropped = 0
        for c, held in list(self._by_closure.items()):
            if isinstance(held, weakref.ref):
                if held() is None:
                    del self._by_closure[c]
                    dropped += 1
            elif sys.getrefcount(held) <= 3:  # the cache's reference, `held` and the call's argument
                del self._by_closure[c]
                dropped += 1
        return dropped

    def _cached(self, closure: str) -> Any:
        held = self._by_closure.get(closure)
        if isinstance(held, weakref.ref):
            return held()
        return held

    def _remember(self, closure: str, obj: Any) -> None:
        try:
            self._by_closure[closure] = weakref.ref(obj)
        except TypeError:  # ints, dicts, lists, ...: not weakly referenceable
            self._by_closure[closure] = obj

    # --------------------------------------------------------------------------------- building

    def _build(self, image: ClosureImage, snap: Snapshot) -> Any:
        defs = image.defs
        compiled: dict[str, tuple[str, bytes]] = {}
        state: dict[str, int] = {}  # 1 = building, 2 = built
        pending: list[tuple[dict[str, Any], str, LoadedDefinition, str]] = []  # globals to finish later
        # Cycles (definitions that reach each other: a class whose methods use its subclass) build in the
        # order Python's run of the module gives: what a definition needs *to be defined* (its eager
        # names) first; names it uses only when called are filled in once every member of the cycle
        # that is being built has been defined, and before the cycle is handed to anything outside it
        # (a value computed from it may call into it).
        cycle = image.cycles
        building: dict[int, int] = {}  # cycle -> members being built now
        deferred: dict[int, list[tuple[dict[str, Any], str, LoadedDefinition, str]]] = {}

        def build(h: str) -> Any:
            d = defs[h]
            obj = self._cached(d.closure)
            if obj is not None:
                snap.objects[h] = obj
                state[h] = 2
                return obj
            state[h] = 1
            mine = cycle.get(h, -1)
            building[mine] = building.get(mine, 0) + 1
            g: dict[str, Any] = {
                "__name__": d.module, "__builtins__": builtins, "__file__": d.path or None,
                "__package__": d.module.rpartition(".")[0],
            }
            who = f"{d.module}.{d.names[0]}"
            eager_names = d.eager if d.eager is not None else d.refs.keys()

            def placer(eager_use: bool) -> Callable[[dict[str, Any], str, str], None]:
                def place(container: dict[str, Any], name: str, dh: str) -> None:
                    if state.get(dh) == 1 or (state.get(dh) != 2 and not eager_use and cycle.get(dh) == mine):
                        # a member of this cycle being built, or one this definition uses only when
                        # called (Command's methods use Group; `class Group(Command)` needs Command)
                        deferred.setdefault(cycle.get(dh, -2), []).append((container, name, d, dh))
                    else:
                        container[name] = build(dh)
                return place

            for local, (kind, target) in d.refs.items():
                if kind == "import":
                    g[local] = _import(target, local, who)
                elif kind == "module":
                    g[local] = self._module_view(target, d, placer(local in eager_names), snap)
                else:
                    dh = d.deps.get(target)
                    if dh is None:
                        g[local] = _Unbound(target, who, image.version)
                    elif dh.startswith("module:"):  # the name is a stored module
                        g[local] = self._module_view(dh[len("module:"):], d, placer(local in eager_names), snap)
                    elif local in d.weak and state.get(dh) != 2:
                        pending.append((g, local, d, dh))  # only in a string annotation: filled at the end
                    else:
                        placer(local in eager_names)(g, local, dh)
            code = self._code(d, compiled)
            # While it is defined, code may look its module up (dataclasses does, for string annotations:
            # sys.modules[cls.__module__]): outside a mount there is no such module, so a stand-in holding
            # the definition's globals is registered for the duration.
            stand_in = None
            if d.module not in sys.modules:
                stand_in = sys.modules[d.module] = types.ModuleType(d.module)
                stand_in.__dict__.update(g)
            try:
                exec(code, g)  # defines the object under its own name in its own globals
            finally:
                if stand_in is not None and sys.modules.get(d.module) is stand_in:
                    del sys.modules[d.module]
            if d.names[0] in g:
                obj = g[d.names[0]]
            elif hasattr(builtins, d.names[0]):  # `if PY2: from itertools import imap as map`: the builtin
                obj = getattr(builtins, d.names[0])
            else:  # a block (`if`/`try`) whose branch taken on this Python does not bind this name
                obj = _Unbound(d.names[0], f"the block at {d.path}:{d.line}", image.version)
                obj._message = (f"{d.module}.{d.names[0]} is not defined here: the block at {d.path}:{d.line} "
                                "did not bind it on this Python")
            if d.kind == "value" and len(d.names) > 1:
                for n in d.names[1:]:
                    g.setdefault(n, obj)
            self._remember(d.closure, obj)
            snap.objects[h] = obj
            state[h] = 2
            building[mine] -= 1
            if building[mine] == 0:  # every member of this cycle being built is defined: complete it
                todo = deferred.pop(mine, [])
                while todo:
                    gg, local, _dd, dh = todo.pop(0)
                    if state.get(dh) == 1:
                        pending.append((gg, local, _dd, dh))
                    else:
                        gg[local] = snap.objects[dh] if state.get(dh) == 2 else build(dh)
                    todo.extend(deferred.pop(mine, []))
            return obj

        entry = build(image.entry)
        for h in image.entries.values():
            if state.get(h) != 2:
                build(h)
        for todo in [*deferred.values(), pending]:
            for g, local, _d, dh in todo:
                g[local] = snap.objects[dh] if dh in snap.objects else build(dh)
        if compiled:
            self.codebase.store_code(compiled)
        return entry

    def _module_view(self, module: str, d: LoadedDefinition, place: Callable[[dict[str, Any], str, str], None],
                     snap: Snapshot) -> types.ModuleType:
        """A module object exposing the attributes ``d`` uses of a stored module (``helpers.slugify``); any
        other attribute is loaded when first used, from the same snapshot (``presets.js_default`` where
        ``js_default = default`` is itself a module)."""
        view: types.ModuleType = _ModuleView(module, self, snap.version, snap.position)
        prefix = module + "."
        for dep, dh in d.deps.items():
            if not dep.startswith(prefix) or dh is None:
                continue
            parts = dep[len(prefix):].split(".")
            target: Any = view
            for i, p in enumerate(parts[:-1]):
                sub = getattr(target, p, None)
                if sub is None:
                    sub = _ModuleView(prefix + ".".join(parts[: i + 1]), self, snap.version, snap.position)
                    setattr(target, p, sub)
                target = sub
            if dh.startswith("module:"):
                continue
            place(target.__dict__, parts[-1], dh)  # now, or once its cycle is built (as a dependency)
        return view

    def _code(self, d: LoadedDefinition, compiled: dict[str, tuple[str, bytes]]) -> types.CodeType:
        filename = code_filename(d.module, d.names[0], d.hash)
        # Register the stored source so tracebacks show its lines (mtime None: never invalidated); the
        # lines before the definition are not materialized (a late definition of a long file would
        # cost a list of thousands of empty lines each).
        lines = _PlacedLines(d.line, d.source.splitlines(keepends=True))
        linecache.cache[filename] = (len(d.source) + d.line - 1, None, lines, filename)  # type: ignore[assignment]
        if d.code is not None:
            try:
                code = marshal.loads(d.code)
                if isinstance(code, types.CodeType) and code.co_filename == filename:
                    return code
            except (ValueError, EOFError, TypeError):
                pass  # a damaged cache entry: compile again
        code = compile_definition(d.source, d.line, filename, d.futures)
        compiled[d.hash] = (d.source, marshal.dumps(code))
        return code


def _import(statement: str, local: str, who: str) -> Any:
    if "; " in statement:  # `import email; import email.mime.text`: all run, all bind the same top module
        return [_import(part, local, who) for part in statement.split("; ")][-1]
    words = statement.split(" ")
    try:
        if words[0] == "from":
            module, name = words[1], words[3]
            mod = importlib.import_module(module)
            try:
                return getattr(mod, name)
            except AttributeError:
                return importlib.import_module(f"{module}.{name}")
        module = words[1]
        mod = importlib.import_module(module)
        if "." in module and local == module.split(".")[0]:
            return sys.modules[local]  # `import a.b` binds `a`
        return mod
    except ImportError as exc:
        raise MissingImportError(who, statement, exc) from None


def check_arguments(ref: str, obj: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Refuse a call whose arguments do not fit the signature, with a message naming it (instead of a
    TypeError from deep inside)."""
    if not callable(obj):
        return
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise UcodeError(f"cannot call {ref}{sig}: {exc}",
                         hint=f"pass arguments as JSON values matching {ref}{sig}") from None


def call(obj: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call a stored entry point as ``ucode run`` does: coroutines run to completion, generators are
    collected into lists (so the result can be printed or serialized)."""
    if not callable(obj):
        if args or kwargs:
            raise UcodeError(f"{obj!r} is a value, not a function: it takes no arguments",
                             hint="ucode run NAME prints a value when given no arguments")
        return obj
    result = obj(*args, **kwargs)
    if inspect.iscoroutine(result) or inspect.isasyncgen(result):
        import asyncio  # only when needed: it costs ~40 ms to import
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    if inspect.isgenerator(result):
        result = list(result)
    elif inspect.isasyncgen(result):
        agen = result

        async def collect() -> list[Any]:
            return [x async for x in agen]

        result = asyncio.run(collect())
    return result
