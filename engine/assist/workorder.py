"""The work order (工单): a configurable schema of fields and the immutable state of one order.

The schema is data (``sip_config/workorder.toml``): which fields the form has, their labels, the
request types and urgencies it allows, the address components it keeps, the three-level
category taxonomy (a TSV of 一级/二级/三级 rows) and the auto-dispatch threshold. The default is
the usual 12345 order: caller name, callback phone, ID number, structured address, incident
time, request type, category, urgency, summary (诉求摘要) and the top-3 departments.

A :class:`WorkOrder` maps field names to :class:`FieldValue` s. It is a value: every change
returns a new order. A field the agent has edited is *locked*; :meth:`WorkOrder.propose` (the
automatic path) never changes a locked field, only :meth:`WorkOrder.edit` (the agent) does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from jiesu.engine.events import FieldOrigin, ScoredValue, SourceSpan

#: Address components in display order (the address-parsing dataset's labels, kept as is).
DEFAULT_ADDRESS_COMPONENTS = (
    "province",
    "city",
    "district",
    "town",
    "community",
    "road",
    "roadno",
    "poi",
    "subpoi",
    "houseno",
    "cellno",
    "floorno",
    "roomno",
)

DEFAULT_REQUEST_TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬")
DEFAULT_URGENCIES = ("normal", "urgent", "emergency")

#: Field kinds the filler knows how to fill.
FIELD_KINDS = frozenset(
    {
        "name",
        "phone",
        "id_number",
        "address",
        "time",
        "request_type",
        "category",
        "urgency",
        "summary",
        "department",
        "dispatch",
        "duplicate",
        "text",
    }
)


class SchemaError(ValueError):
    """An invalid work-order schema; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of the form."""

    name: str
    kind: str
    label: str
    required: bool = False
    #: Personal data: masked in logs and in every view except the form itself.
    sensitive: bool = False


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Three-level category taxonomy: the allowed (一级, 二级, 三级) paths."""

    paths: tuple[tuple[str, str, str], ...]

    @classmethod
    def parse_tsv(cls, text: str, source: str) -> Taxonomy:
        """The taxonomy from TSV text (``source`` names the file in errors)."""
        rows: list[tuple[str, str, str]] = []
        for n, line in enumerate(text.splitlines(), 1):
            cells = [c.strip() for c in line.split("\t")]
            if n == 1 and cells[:1] == ["一级分类"]:
                continue  # header
            if not any(cells):
                continue
            if len(cells) < 3 or not all(cells[:3]):
                raise SchemaError(f"{source}: line {n}: expected three tab-separated levels")
            rows.append((cells[0], cells[1], cells[2]))
        return cls(tuple(dict.fromkeys(rows)))

    def level1(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p[0] for p in self.paths))

    def contains(self, path: tuple[str, ...]) -> bool:
        """True if ``path`` (1 to 3 levels) is a prefix of a taxonomy path."""
        n = len(path)
        return 0 < n <= 3 and any(p[:n] == path for p in self.paths)


@dataclass(frozen=True, slots=True)
class WorkOrderSchema:
    fields: tuple[FieldSpec, ...]
    request_types: tuple[str, ...] = DEFAULT_REQUEST_TYPES
    urgencies: tuple[str, ...] = DEFAULT_URGENCIES
    address_components: tuple[str, ...] = DEFAULT_ADDRESS_COMPONENTS
    taxonomy: Taxonomy = Taxonomy(())
    #: Department probability at or above which the order is marked ready to dispatch.
    dispatch_threshold: float = 0.6
    #: Open tickets at the same address and category within this many days are duplicates.
    duplicate_window_days: float = 7.0

    def spec(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    def by_kind(self, kind: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.kind == kind:
                return spec
        return None

    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    def accepts(self, name: str) -> bool:
        """May a field of this name be set (a top-level field, or a component of the address)?"""
        if self.spec(name) is not None:
            return True
        head, _, component = name.partition(".")
        spec = self.spec(head)
        return spec is not None and spec.kind == "address" and component in self.address_components

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, object], path: Path, taxonomy_of: Callable[[str], Taxonomy]
    ) -> WorkOrderSchema:
        """Validate a schema TOML's tables; ``taxonomy_of`` reads the ``taxonomy_file`` named."""

        def fail(key: str, expected: str) -> SchemaError:
            return SchemaError(f"{path}: {key}: expected {expected}")

        known = {
            "fields",
            "request_types",
            "urgencies",
            "address_components",
            "taxonomy_file",
            "dispatch_threshold",
            "duplicate_window_days",
        }
        for key in data:
            if key not in known:
                raise SchemaError(f"{path}: {key}: unknown key (expected one of {sorted(known)})")
        raw_fields = data.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise fail("fields", "a non-empty array of tables [[fields]]")
        specs: list[FieldSpec] = []
        for i, raw in enumerate(raw_fields):
            key = f"fields[{i}]"
            if not isinstance(raw, dict):
                raise fail(key, "a table")
            name, kind = raw.get("name"), raw.get("kind")
            if not isinstance(name, str) or not name or "." in name:
                raise fail(f"{key}.name", "a non-empty name without '.'")
            if kind not in FIELD_KINDS:
                raise fail(f"{key}.kind", "one of " + ", ".join(sorted(FIELD_KINDS)))
            label = raw.get("label", name)
            if not isinstance(label, str):
                raise fail(f"{key}.label", "a string")
            extra = set(raw) - {"name", "kind", "label", "required", "sensitive"}
            if extra:
                raise SchemaError(f"{path}: {key}: unknown keys {sorted(extra)}")
            flags = {}
            for flag in ("required", "sensitive"):
                value = raw.get(flag, False)
                if not isinstance(value, bool):
                    raise fail(f"{key}.{flag}", "true or false")
                flags[flag] = value
            specs.append(FieldSpec(name, str(kind), label, flags["required"], flags["sensitive"]))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise fail("fields", "unique field names")

        def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
            value = data.get(key)
            if value is None:
                return default
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) for v in value)
            ):
                raise fail(key, "a non-empty list of strings")
            return tuple(value)

        def number(key: str, default: float, low: float, high: float) -> float:
            value = data.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(key, "a number")
            if not low <= value <= high:
                raise fail(key, f"a number {low:g}-{high:g}")
            return float(value)

        taxonomy = Taxonomy(())
        tax_file = data.get("taxonomy_file")
        if tax_file is not None:
            if not isinstance(tax_file, str) or not tax_file:
                raise fail("taxonomy_file", "a path string")
            taxonomy = taxonomy_of(tax_file)
        return cls(
            fields=tuple(specs),
            request_types=strings("request_types", DEFAULT_REQUEST_TYPES),
            urgencies=strings("urgencies", DEFAULT_URGENCIES),
            address_components=strings("address_components", DEFAULT_ADDRESS_COMPONENTS),
            taxonomy=taxonomy,
            dispatch_threshold=number("dispatch_threshold", 0.6, 0.0, 1.0),
            duplicate_window_days=number("duplicate_window_days", 7.0, 0.0, 3650.0),
        )


@dataclass(frozen=True, slots=True)
class FieldValue:
    """The current value of one field, where it came from and how sure we are."""

    value: str
    confidence: float
    origin: FieldOrigin = FieldOrigin.AUTO
    locked: bool = False
    source: SourceSpan | None = None
    alternatives: tuple[ScoredValue, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """The state of one call's work order (immutable; changes return a new order)."""

    call_id: str
    fields: Mapping[str, FieldValue] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, name: str) -> FieldValue | None:
        return self.fields.get(name)

    def value(self, name: str) -> str:
        current = self.fields.get(name)
        return current.value if current is not None else ""

    def locked(self, name: str) -> bool:
        current = self.fields.get(name)
        return current is not None and current.locked

    def _with(self, name: str, value: FieldValue) -> WorkOrder:
        return replace(self, fields=MappingProxyType({**self.fields, name: value}))

    def propose(self, name: str, value: FieldValue) -> WorkOrder | None:
        """The automatic path: the new order, or None when nothing changes (same value and
        about the same confidence) or the field is locked by the agent."""
        current = self.fields.get(name)
        if current is not None:
            if current.locked:
                return None
            same = current.value == value.value and current.alternatives == value.alternatives
            if same and abs(current.confidence - value.confidence) < 0.05:
                return None
        return self._with(name, replace(value, origin=FieldOrigin.AUTO, locked=False))

    def edit(self, name: str, value: str) -> WorkOrder:
        """The agent set the field: it is locked from now on."""
        return self._with(name, FieldValue(value, 1.0, FieldOrigin.AGENT, True))

    def plain(self) -> dict[str, str]:
        """Field name -> value, for storage and comparison."""
        return {name: fv.value for name, fv in sorted(self.fields.items())}


def address_text(components: Mapping[str, str], order: Iterable[str]) -> str:
    """The components joined in display order (Chinese addresses have no separators)."""
    return "".join(components[c] for c in order if components.get(c))
