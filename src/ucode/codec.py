"""Typed values on the wire: what effects take and return, as msgpack, and back as the same types.

An effect's arguments and result are recorded so a task can be replayed: they must survive a round
trip. Supported: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists, tuples, dicts (any of
these as keys), sets, ``datetime`` / ``date`` / ``time`` / ``timedelta``, ``Decimal``, ``UUID``, enums and
dataclasses, nested in any way. Anything else is refused with a :class:`SerializationError` that names
where it was found and its type.

Types are kept by *tagging*, not by pickling: an enum or dataclass is recorded as its qualified type name
and its fields, and rebuilt from the type the decoder is given (an effect's return annotation), or, when
no type is given, from an already imported type of that name; otherwise it comes back as a :class:`Record`
(attribute access on the recorded fields). Nothing ever executes code from the recorded bytes.

A secret effect's result is recorded *sealed* (:func:`seal`): a tag holding the id of the key and a keyed
blake3 digest of the value's encoding, never the value. It decodes to :class:`Secret`, shown as
``<secret>``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import sys
import typing
from typing import Any

import msgpack

from ucode.errors import SerializationError

__all__ = ["SECRET_TEXT", "Record", "Secret", "SerializationError", "comparable", "decode", "encode", "from_wire",
           "is_sealed",
           "key_id", "seal", "seal_error", "sealed_key_id", "to_wire"]

# msgpack extension type codes: stable, part of the recorded format.
(_DATETIME, _DATE, _TIME, _TIMEDELTA, _DECIMAL, _UUID, _TUPLE, _SET, _ENUM, _DATACLASS, _FROZENSET,
 _BIGINT, _SECRET) = range(1, 14)
_INT_RANGE = (-(2**63), 2**64 - 1)  # what msgpack's int format holds


@dataclasses.dataclass(frozen=True)
class Record:
    """A recorded enum or dataclass whose type is not available: its type name and fields."""

    type_name: str
    fields: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None


class Secret:
    """A sealed value as it reads back (:func:`seal`): shown as ``<secret>``; ``sealed`` is the key id and
    the keyed digest, which tell nothing of the value without the key."""

    __slots__ = ("sealed",)

    def __init__(self, sealed: bytes) -> None:
        self.sealed = sealed

    def __repr__(self) -> str:
        return SECRET_TEXT

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.sealed == self.sealed

    def __hash__(self) -> int:
        return hash(self.sealed)


SECRET_TEXT = "<secret>"
"""How a secret is shown everywhere (``task show``, ``--json``, ``TaskView.to_dict``)."""
KEY_ID_BYTES = 8
_KEY_ID_CONTEXT = b"ucode secret key id\0"
_DIGEST_CONTEXT = b"ucode secret v1\0"


def key_id(key: bytes) -> bytes:
    """A short id of a secret key (a keyed digest of a constant): which key sealed a value, revealing
    nothing of the key."""
    import blake3  # only for secret effects

    return blake3.blake3(_KEY_ID_CONTEXT, key=key).digest(length=KEY_ID_BYTES)


def _sealed(data: bytes, key: bytes) -> msgpack.ExtType:
    import blake3

    return msgpack.ExtType(_SECRET, key_id(key) + blake3.blake3(_DIGEST_CONTEXT + data, key=key).digest())


def seal(value: Any, key: bytes, *, where: str = "value") -> msgpack.ExtType:
    """``value`` in sealed wire form: the id of ``key`` (32 bytes) and the keyed blake3 digest of its
    encoding. Equal values sealed with one key are equal; without the key a sealed value reveals nothing."""
    return _sealed(_pack(value, where), key)


def seal_error(exc: BaseException, key: bytes) -> dict[str, str]:
    """A secret effect's exception as recorded: its type and module, ``<secret>`` for its message, and the
    sealed ``[type, module, message]`` (hex) under ``secret``."""
    t = type(exc)
    sealed = _sealed(_pack([t.__qualname__, t.__module__, str(exc)], "an exception"), key)
    return {"type": t.__qualname__, "module": t.__module__, "message": SECRET_TEXT, "secret": sealed.data.hex()}


def is_sealed(wire: Any) -> bool:
    """Whether a recorded value (wire form) is sealed."""
    return type(wire) is msgpack.ExtType and wire.code == _SECRET


def sealed_key_id(wire: msgpack.ExtType | str) -> bytes:
    """The key id a sealed value (or a sealed error's ``secret``, hex) was sealed with."""
    data = bytes.fromhex(wire) if isinstance(wire, str) else wire.data
    return data[:KEY_ID_BYTES]


def _qualname(t: type) -> str:
    return f"{t.__module__}:{t.__qualname__}"


def _decimal_class() -> type | None:
    """``decimal.Decimal``, or None while no decimal module is loaded (no value can be a ``Decimal`` then):
    this module does not import ``decimal`` (nor ``uuid``) itself, to keep start-up small."""
    if "decimal" in sys.modules or "_decimal" in sys.modules or "_pydecimal" in sys.modules:
        from decimal import Decimal

        return Decimal
    return None


def _default(value: Any, where: str) -> Any:
    if type(value) is int:  # only reached for ints outside msgpack's range (see _pack)
        return msgpack.ExtType(_BIGINT, str(value).encode())
    if isinstance(value, dt.datetime):
        return msgpack.ExtType(_DATETIME, value.isoformat().encode())
    if isinstance(value, dt.date):
        return msgpack.ExtType(_DATE, value.isoformat().encode())
    if isinstance(value, dt.time):
        return msgpack.ExtType(_TIME, value.isoformat().encode())
    if isinstance(value, dt.timedelta):
        return msgpack.ExtType(_TIMEDELTA, _pack([value.days, value.seconds, value.microseconds], where))
    decimal_class = _decimal_class()
    if decimal_class is not None and isinstance(value, decimal_class):
        return msgpack.ExtType(_DECIMAL, str(value).encode())
    uuid = sys.modules.get("uuid")  # a UUID exists only once the uuid module is loaded
    if uuid is not None and isinstance(value, uuid.UUID):
        return msgpack.ExtType(_UUID, value.bytes)
    if isinstance(value, enum.Enum):
        return msgpack.ExtType(_ENUM, _pack([_qualname(type(value)), value.value], where))
    if isinstance(value, tuple):
        return msgpack.ExtType(_TUPLE, _pack(list(value), where))
    if isinstance(value, frozenset):
        return msgpack.ExtType(_FROZENSET, _pack(sorted(value, key=repr), where))
    if isinstance(value, set):
        return msgpack.ExtType(_SET, _pack(sorted(value, key=repr), where))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return msgpack.ExtType(_DATACLASS, _pack([_qualname(type(value)), fields], where))
    # Subclasses of the plain types (OrderedDict, defaultdict, a str subclass) travel as the plain type.
    plain: Any
    for plain in (bool, int, float, str, bytes, dict, list):
        if isinstance(value, plain):
            return plain(value)
    raise SerializationError(where, value)


def _pack(value: Any, where: str) -> bytes:
    try:
        # strict_types: tuples and subclasses (OrderedDict, IntEnum, ...) reach _default, which tags them,
        # instead of msgpack silently turning a tuple into a list.
        return msgpack.packb(  # type: ignore[no-any-return]
            value, use_bin_type=True, strict_types=True, default=lambda v: _default(v, where))
    except OverflowError:
        # an int beyond 64 bits somewhere inside: tag those and pack again (rare, so not checked up front)
        return _pack(_tag_bigints(value), where)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SerializationError):
            raise
        raise SerializationError(where, value) from None


def _tag_bigints(value: Any) -> Any:
    if type(value) is int and not (_INT_RANGE[0] <= value <= _INT_RANGE[1]):
        return msgpack.ExtType(_BIGINT, str(value).encode())
    if type(value) is list:
        return [_tag_bigints(v) for v in value]
    if type(value) is tuple:
        return msgpack.ExtType(_TUPLE, _pack([_tag_bigints(v) for v in value], "value"))
    if type(value) is dict:
        return {_tag_bigints(k): _tag_bigints(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        code = _FROZENSET if isinstance(value, frozenset) else _SET
        return msgpack.ExtType(code, _pack([_tag_bigints(v) for v in sorted(value, key=repr)], "value"))
    return value


def _find_type(name: str) -> type | None:
    """The type of that qualified name if its module is *already imported*: decoding never imports
    (importing runs code)."""
    module, _, qual = name.partition(":")
    obj: Any = sys.modules.get(module)
    if obj is None:
        return None
    for part in qual.split("."):
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) else None


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _DATETIME:
        return dt.datetime.fromisoformat(data.decode())
    if code == _DATE:
        return dt.date.fromisoformat(data.decode())
    if code == _TIME:
        return dt.time.fromisoformat(data.decode())
    if code == _TIMEDELTA:
        days, seconds, micros = _unpack(data)
        return dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    if code == _DECIMAL:
        from decimal import Decimal

        return Decimal(data.decode())
    if code == _UUID:
        import uuid

        return uuid.UUID(bytes=data)
    if code == _BIGINT:
        return int(data.decode())
    if code == _TUPLE:
        return tuple(_unpack(data))
    if code == _SET:
        return set(_unpack(data))
    if code == _FROZENSET:
        return frozenset(_unpack(data))
    if code == _ENUM:
        name, value = _unpack(data)
        t = _find_type(name)
        return t(value) if t is not None and issubclass(t, enum.Enum) else Record(name, {"value": value})
    if code == _SECRET:
        return Secret(data)
    if code == _DATACLASS:
        name, fields = _unpack(data)
        t = _find_type(name)
        if t is not None and dataclasses.is_dataclass(t):
            return t(**fields)
        return Record(name, fields)
    return msgpack.ExtType(code, data)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=_ext_hook, use_list=True)


def encode(value: Any, *, where: str = "value") -> bytes:
    """msgpack bytes of ``value``; :class:`SerializationError` names ``where`` and the type if it
    cannot be recorded."""
    return _pack(value, where)


def decode(data: bytes, hint: Any = None) -> Any:
    """The value ``encode`` was given, rebuilt as ``hint`` (a type annotation) where that tells more."""
    return _coerce(_unpack(data), hint)


_SCALARS = frozenset({str, float, bool, bytes, type(None)})


def _plain_copy(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` if it is already in wire form (scalars, and lists / str-keyed dicts of them),
    else a sentinel: the common case skips the msgpack round trip. A copy, because the code may mutate
    a list it passed or got back after the effect was recorded."""
    t = type(value)
    if t in _SCALARS or (t is int and -(2**63) <= value < 2**64):
        return value
    if depth < 2 and t is list:
        out = [_plain_copy(v, depth + 1) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in out) else out
    if depth < 2 and t is dict and all(type(k) is str for k in value):
        d = {k: _plain_copy(v, depth + 1) for k, v in value.items()}
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in d.values()) else d
    return _NOT_PLAIN


_NOT_PLAIN = object()


def scalar_list(values: tuple[Any, ...] | list[Any]) -> list[Any] | None:
    """``list(values)`` when every value is a scalar already in wire form (str, float, bool, bytes, None,
    a 64-bit int), else None. The hot path of recording an effect's arguments: most are such scalars."""
    for v in values:
        t = type(v)
        if t is int:
            if not -(2**63) <= v < 2**64:
                return None
        elif t not in _SCALARS:
            return None
    return list(values)


def is_scalar(value: Any) -> bool:
    """Whether ``value`` is a scalar already in wire form (see :func:`scalar_list`)."""
    t = type(value)
    return t in _SCALARS or (t is int and -(2**63) <= value < 2**64)


def to_wire(value: Any, *, where: str = "value") -> Any:
    """``value`` in msgpack-ready form (for embedding in a larger record)."""
    plain = _plain_copy(value)
    if plain is not _NOT_PLAIN:
        return plain
    return msgpack.unpackb(encode(value, where=where), raw=False, strict_map_key=False, use_list=True,
                           ext_hook=lambda code, data: msgpack.ExtType(code, data))


def from_wire(value: Any, hint: Any = None) -> Any:
    """Inverse of :func:`to_wire`."""
    return decode(msgpack.packb(value, use_bin_type=True), hint)


def _coerce(value: Any, hint: Any) -> Any:
    """Rebuild a decoded value as the annotated type: a stored dataclass, an enum, a tuple."""
    if hint is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        for arg in typing.get_args(hint):
            if arg is type(None) and value is None:
                return None
        for arg in typing.get_args(hint):
            if arg is not type(None):
                return _coerce(value, arg)
        return value
    if isinstance(value, Record) and isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return hint(**{k: _coerce(v, _field_hint(hint, k)) for k, v in value.fields.items()})
        if issubclass(hint, enum.Enum):
            return hint(value.fields["value"])
    if origin in (list, set, frozenset) and isinstance(value, (list, set, frozenset)):
        (arg,) = typing.get_args(hint) or (None,)
        return origin(_coerce(v, arg) for v in value)
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
        return tuple(_coerce(v, a) for v, a in zip(value, args, strict=False)) if args else tuple(value)
    if origin is dict and isinstance(value, dict):
        kh, vh = typing.get_args(hint) or (None, None)
        return {_coerce(k, kh): _coerce(v, vh) for k, v in value.items()}
    return value


def _field_hint(cls: type, name: str) -> Any:
    try:
        return typing.get_type_hints(cls).get(name)
    except Exception:  # unresolvable forward references: no hint
        return None


def comparable(value: Any, ignore: frozenset[str] = frozenset()) -> Any:
    """A recorded (wire) value as plain data for comparing two versions' values: an enum or dataclass
    becomes its class's qualified name without its module, and its fields (so ``app.User`` of version 1
    and of version 2 with equal fields compare equal); tuples and sets are tagged lists; every map key and
    field named in ``ignore`` is left out, at any depth."""
    if isinstance(value, msgpack.ExtType):
        code, data = value.code, value.data
        inner: Any = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True,
                                ext_hook=lambda c, d: msgpack.ExtType(c, d)) if code in (
            _TUPLE, _SET, _FROZENSET, _ENUM, _DATACLASS) else None
        if code == _DATACLASS:
            name, fields = inner
            return {"<class>": name.partition(":")[2] or name,
                    **{k: comparable(v, ignore) for k, v in fields.items() if k not in ignore}}
        if code == _ENUM:
            name, v = inner
            return {"<enum>": name.partition(":")[2] or name, "value": comparable(v, ignore)}
        if code in (_TUPLE, _SET, _FROZENSET):
            tag = {_TUPLE: "<tuple>", _SET: "<set>", _FROZENSET: "<frozenset>"}[code]
            return {tag: [comparable(v, ignore) for v in inner]}
        return value
    if isinstance(value, dict):
        return {k: comparable(v, ignore) for k, v in value.items() if k not in ignore}
    if isinstance(value, list):
        return [comparable(v, ignore) for v in value]
    return value
