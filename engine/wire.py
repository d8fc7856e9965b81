"""Strict conversion between typed frozen dataclasses and plain JSON/msgpack values.

One generic codec serves every message family (call events, screen control messages, ingest
frames) so that each family only declares dataclasses. Decoding validates: a missing or unknown
field, a value of the wrong type or an unknown enum member raises :class:`ProtocolError` naming
the path of the bad value; nothing is coerced silently.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin

T = TypeVar("T")


class ProtocolError(ValueError):
    """A message that does not follow the protocol; ``code`` is a short machine-readable reason."""

    def __init__(self, message: str, code: str = "bad_message") -> None:
        super().__init__(message)
        self.code = code


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def to_plain(value: object) -> Any:
    """Turn a dataclass (recursively) into dicts, lists, str, int, float, bool, bytes or None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    return value


def from_plain(cls: type[T], data: object, path: str = "$") -> T:
    """Build an instance of dataclass ``cls`` from plain data, validating every field."""
    return typing.cast(T, _convert(cls, data, path))


def _convert(tp: Any, data: object, path: str) -> Any:
    origin = get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, data, path)
            except ProtocolError as exc:
                errors.append(str(exc))
        raise ProtocolError("; ".join(errors) or f"{path}: unexpected null")
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(data, list | tuple):
            raise ProtocolError(f"{path}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise ProtocolError(f"{path}: expected {len(args)} items, got {len(data)}")
        return tuple(
            _convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    if origin is typing.Literal:
        if data not in get_args(tp):
            raise ProtocolError(f"{path}: expected one of {list(get_args(tp))}, got {data!r}")
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, data, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = [m.value for m in tp]
            raise ProtocolError(f"{path}: expected one of {allowed}, got {data!r}") from None
    if tp is bool:
        if not isinstance(data, bool):
            raise ProtocolError(f"{path}: expected a boolean, got {type(data).__name__}")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise ProtocolError(f"{path}: expected an integer, got {type(data).__name__}")
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise ProtocolError(f"{path}: expected a number, got {type(data).__name__}")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise ProtocolError(f"{path}: expected a string, got {type(data).__name__}")
        return data
    if tp is bytes:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ProtocolError(f"{path}: expected bytes, got {type(data).__name__}")
        return bytes(data)
    raise TypeError(f"wire codec cannot handle type {tp!r} at {path}")


def _convert_dataclass(cls: type, data: object, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{path}: expected an object, got {type(data).__name__}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = set(data) - set(fields)
    if unknown:
        raise ProtocolError(f"{path}: unknown field(s) {sorted(map(str, unknown))}")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{path}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ProtocolError(f"{path}: missing field {name!r}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{path}: {exc}") from None
