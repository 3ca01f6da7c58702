"""The mapper form: one row per importable field of the entity (which CSV column feeds it and how it converts) and
the CSV dialect, read into the JSON definition the importer's API takes, and back. The importer checks it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.auth.web.forms import Form
from shared.catalog.model import ENTITY_SETS

KIND_BY_EDM = {
    "Edm.String": "text",
    "Edm.Int32": "integer",
    "Edm.Int64": "integer",
    "Edm.Decimal": "decimal",
    "Edm.Boolean": "boolean",
    "Edm.DateTimeOffset": "datetime",
}
DELIMITERS = (
    (",", "comma", "Comma (,)"),
    (";", "semicolon", "Semicolon (;)"),
    ("\t", "tab", "Tab"),
    ("|", "bar", "Vertical bar (|)"),
)
QUOTES = (('"', "double", 'Double quote (")'), ("'", "single", "Single quote (')"))
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252", "iso-8859-15")
MAX_COLUMN_TEXT = 200
MAX_OPTION_TEXT = 400


@dataclass(frozen=True)
class FieldChoice:
    """An importable field of an entity as the form shows it."""

    name: str
    kind: str
    required: bool  # an insert must give it


def importable_fields(entity: str) -> list[FieldChoice]:
    return [
        FieldChoice(f.name, KIND_BY_EDM[f.edm_type], f.required) for f in ENTITY_SETS[entity].fields if not f.generated
    ]


def entity_key(entity: str) -> str | None:
    candidates = ENTITY_SETS[entity].key_candidates
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class ColumnValues:
    column: str = ""
    required: bool = False
    trim: bool = True
    default: str = ""
    case: str = ""
    decimal_separator: str = "."
    true_values: str = ""
    false_values: str = ""
    date_format: str = ""


@dataclass(frozen=True)
class MapperValues:
    """What the form holds, as text, so that a refused or previewed form comes back as it was typed."""

    entity: str
    id: str = ""
    name: str = ""
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    header: bool = True
    keyed: bool = True
    update_only: bool = False
    columns: Mapping[str, ColumnValues] = field(default_factory=dict)

    def column(self, name: str) -> ColumnValues:
        return self.columns.get(name, ColumnValues())


def _words(value: str) -> list[str]:
    return [word.strip() for word in value.split(",") if word.strip()]


def blank_values(entity: str) -> MapperValues:
    """A new mapper's form: each field read from the CSV column of its own name."""
    return MapperValues(
        entity=entity,
        keyed=entity_key(entity) is not None,
        columns={
            choice.name: ColumnValues(column=choice.name, required=choice.name == entity_key(entity))
            for choice in importable_fields(entity)
        },
    )


def values_from_form(form: Form, entity: str) -> MapperValues:
    def text(name: str, limit: int = MAX_COLUMN_TEXT) -> str:
        return (form.get(name) or "")[:limit]

    delimiter = next((char for char, token, _ in DELIMITERS if token == form.get("delimiter")), ",")
    quote = next((char for char, token, _ in QUOTES if token == form.get("quote")), '"')
    columns = {}
    for choice in importable_fields(entity):
        prefix = f"{choice.name}."
        columns[choice.name] = ColumnValues(
            column=text(prefix + "column").strip(),
            required=form.ticked(prefix + "required"),
            trim=form.get(prefix + "trim") != "no",
            default=text(prefix + "default"),
            case=text(prefix + "case", 10),
            decimal_separator=text(prefix + "decimal_separator", 5) or ".",
            true_values=text(prefix + "true_values", MAX_OPTION_TEXT),
            false_values=text(prefix + "false_values", MAX_OPTION_TEXT),
            date_format=text(prefix + "date_format", 60),
        )
    return MapperValues(
        entity=entity,
        id=text("id", 64).strip(),
        name=text("name").strip(),
        delimiter=delimiter,
        quote=quote,
        encoding=form.get("encoding") if form.get("encoding") in ENCODINGS else "utf-8",  # type: ignore[arg-type]
        header=form.ticked("header"),
        keyed=form.get("key") != "none",
        update_only=form.ticked("update_only"),
        columns=columns,
    )


def values_from_mapper(mapper: Mapping[str, Any]) -> MapperValues:
    definition = mapper["definition"]
    entity = str(mapper["entity"])
    columns: dict[str, ColumnValues] = {}
    for rule in definition.get("columns", []):
        columns[str(rule.get("field"))] = ColumnValues(
            column=str(rule.get("column", "")),
            required=bool(rule.get("required", False)),
            trim=bool(rule.get("trim", True)),
            default="" if rule.get("default") is None else str(rule["default"]),
            case=str(rule.get("case") or ""),
            decimal_separator=str(rule.get("decimalSeparator", ".")),
            true_values=", ".join(rule.get("trueValues", [])),
            false_values=", ".join(rule.get("falseValues", [])),
            date_format=str(rule.get("dateFormat") or ""),
        )
    blank = {choice.name: ColumnValues() for choice in importable_fields(entity)}
    return MapperValues(
        entity=entity,
        id=str(mapper["id"]),
        name=str(mapper.get("name") or ""),
        delimiter=str(definition.get("delimiter", ",")),
        quote=str(definition.get("quote", '"')),
        encoding=str(definition.get("encoding", "utf-8")),
        header=bool(definition.get("header", True)),
        keyed=definition.get("key", entity_key(entity)) is not None,
        update_only=bool(definition.get("updateOnly", False)),
        columns={**blank, **columns},
    )


def _rule(choice: FieldChoice, given: ColumnValues, header: bool) -> dict[str, Any]:
    """One column's rule: only what differs from the importer's defaults."""
    rule: dict[str, Any] = {
        "column": int(given.column) if not header and given.column.isdigit() else given.column,
        "field": choice.name,
    }
    if given.required:
        rule["required"] = True
    if not given.trim:
        rule["trim"] = False
    if given.default:
        rule["default"] = given.default
    if choice.kind == "text" and given.case in ("lower", "upper"):
        rule["case"] = given.case
    if choice.kind == "decimal" and given.decimal_separator != ".":
        rule["decimalSeparator"] = given.decimal_separator
    if choice.kind == "boolean" and given.true_values:
        rule["trueValues"] = _words(given.true_values)
    if choice.kind == "boolean" and given.false_values:
        rule["falseValues"] = _words(given.false_values)
    if choice.kind == "datetime" and given.date_format:
        rule["dateFormat"] = given.date_format
    return rule


def definition_of(values: MapperValues) -> dict[str, Any]:
    """The JSON definition the importer's API takes; a field whose CSV column is empty is not mapped."""
    columns = [
        _rule(choice, values.column(choice.name), values.header)
        for choice in importable_fields(values.entity)
        if values.column(choice.name).column
    ]
    definition: dict[str, Any] = {
        "delimiter": values.delimiter,
        "quote": values.quote,
        "encoding": values.encoding,
        "header": values.header,
        "key": entity_key(values.entity) if values.keyed else None,
        "columns": columns,
    }
    if values.update_only:
        definition["updateOnly"] = True
    return definition


def with_id(values: MapperValues, mapper_id: str) -> MapperValues:
    return replace(values, id=mapper_id)


def delimiter_token(char: str) -> str:
    return next((token for value, token, _ in DELIMITERS if value == char), "comma")


def quote_token(char: str) -> str:
    return next((token for value, token, _ in QUOTES if value == char), "double")
