"""$apply (OData Extension for Data Aggregation 4.0, section 3): a sequence of transformations separated by `/`,
read into an Aggregation plan (services/odata/aggregation.py).

Supported: `filter(expr)` and `search(expr)` (any number, before the aggregation), `identity`, then one
`groupby((path, ...))` or `groupby((path, ...), aggregate(...))` or `aggregate(...)`, each aggregate item being
`path with sum|min|max|average|countdistinct as Alias`, an expression (`quantity mul unit_price with sum as
Revenue`) or `$count as Alias`. Paths are properties of the entity or go through single-valued navigation
properties (`category/name`); every identifier is checked against the entity model. The other transformations
of the extension (topcount, concat, compute, nest, hierarchy functions, ...) and transformations after the
aggregation answer 501.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from services.odata.aggregation import (
    MAX_AGGREGATES,
    MAX_GROUP_KEYS,
    Aggregate,
    Aggregation,
    AggregationError,
    GroupKey,
    OrderKey,
    check_aggregation,
)
from services.odata.expressions import ExpressionParser, Node
from services.odata.query import check_filter, parse_bool, parse_count_option, parse_text_search, split_top_level
from services.odata.search import SearchNode
from shared.catalog.model import EntitySet
from shared.errors import NotImplementedFeature

MAX_TRANSFORMATIONS = 10
MAX_SKIP = 10_000_000
_TRANSFORMATION = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*(?:\((?P<arguments>.*)\))?\s*$", re.DOTALL)
_AGGREGATE_ITEM = re.compile(
    r"^\s*(?P<operand>.+?)\s+with\s+(?P<method>[A-Za-z_][A-Za-z0-9_.]*)\s+as\s+(?P<alias>\S+)\s*$", re.DOTALL
)
_COUNT_ITEM = re.compile(r"^\s*\$count\s+as\s+(?P<alias>\S+)\s*$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(?:/[A-Za-z_][A-Za-z0-9_]{0,63}){0,4}$")
_UNSUPPORTED = {
    "topcount",
    "topsum",
    "toppercent",
    "bottomcount",
    "bottomsum",
    "bottompercent",
    "concat",
    "compute",
    "expand",
    "nest",
    "join",
    "outerjoin",
    "ancestors",
    "descendants",
    "traverse",
    "orderby",
    "top",
    "skip",
}
# Options that would apply to the aggregated result; only these are read beside $apply.
APPLY_OPTIONS = {"$apply", "$orderby", "$top", "$skip", "$count", "$format"}
OPTION = "$apply"


def parse_apply(entity: EntitySet, params: Mapping[str, str], aliases: Mapping[str, str]) -> Aggregation:
    _refuse_other_options(params)
    text = params["$apply"]
    steps = split_top_level(text, OPTION, "/")
    if len(steps) > MAX_TRANSFORMATIONS:
        raise AggregationError(f"$apply takes at most {MAX_TRANSFORMATIONS} transformations", target=OPTION)
    filters: list[Node] = []
    searches: list[SearchNode] = []
    resources: set[str] = set()
    plan: Aggregation | None = None
    for step in steps:
        name, arguments = _transformation(step)
        if plan is not None:
            raise NotImplementedFeature("Transformations after groupby or aggregate are not supported", target=OPTION)
        if name == "identity" and arguments is None:
            continue
        if arguments is None:
            raise AggregationError(f"Unknown transformation {name[:40]!r}", target=OPTION)
        if name == "filter":
            node = ExpressionParser(arguments, f"{OPTION}/filter", aliases).parse()
            resources |= check_filter(entity, node, f"{OPTION}/filter")
            filters.append(node)
        elif name == "search":
            search = parse_text_search(entity, arguments, f"{OPTION}/search")
            assert search is not None
            searches.append(search)
        elif name == "groupby":
            plan = _groupby(entity, arguments)
        elif name == "aggregate":
            plan = Aggregation(entity, aggregates=_aggregates(entity, arguments, aliases, ()))
        else:
            raise AggregationError(f"Unknown transformation {name[:40]!r}", target=OPTION)
    if plan is None:
        raise NotImplementedFeature("$apply without groupby or aggregate is not supported", target=OPTION)
    plan = Aggregation(
        entity,
        filters=tuple(filters),
        searches=tuple(searches),
        groups=plan.groups,
        aggregates=plan.aggregates,
        orderby=parse_result_order(plan, params.get("$orderby"), "$orderby"),
        top=parse_count_option(params.get("$top"), "$top", 2**31),
        skip=parse_count_option(params.get("$skip"), "$skip", MAX_SKIP) or 0,
        count=parse_bool(params.get("$count"), "$count"),
    )
    resources |= check_aggregation(plan, OPTION)
    return replace(plan, resources=frozenset(resources - {entity.resource}))


def _refuse_other_options(params: Mapping[str, str]) -> None:
    """Options other than APPLY_OPTIONS would apply to the entities before aggregating: 501, not ignored."""
    for name in params:
        if name.startswith("$") and name not in APPLY_OPTIONS:
            hint = "; use filter(...) inside $apply" if name == "$filter" else ""
            raise NotImplementedFeature(f"{name} together with $apply is not supported{hint}", target=name)


def _transformation(step: str) -> tuple[str, str | None]:
    """A step's name and its arguments (None without parentheses), refusing the unsupported transformations."""
    match = _TRANSFORMATION.match(step)
    if match is None:
        raise AggregationError(f"Malformed transformation {step.strip()[:60]!r}", target=OPTION)
    name, arguments = match.group("name"), match.group("arguments")
    if name in _UNSUPPORTED:
        raise NotImplementedFeature(f"The transformation {name} is not supported", target=OPTION)
    return name, arguments


def _groupby(entity: EntitySet, arguments: str) -> Aggregation:
    parts = split_top_level(arguments, OPTION)
    keys = parts[0].strip()
    if not (keys.startswith("(") and keys.endswith(")")):
        raise AggregationError("groupby takes a parenthesized list of properties: groupby((name))", target=OPTION)
    groups = [_group_key(raw) for raw in split_top_level(keys[1:-1], OPTION)]
    if len(groups) > MAX_GROUP_KEYS:
        raise AggregationError(f"groupby takes at most {MAX_GROUP_KEYS} properties", target=OPTION)
    if len({group.name for group in groups}) < len(groups):
        raise AggregationError("groupby names a property twice", target=OPTION)
    aggregates: tuple[Aggregate, ...] = ()
    if len(parts) > 2:
        raise NotImplementedFeature("groupby takes one aggregate(...) after its properties", target=OPTION)
    if len(parts) == 2:
        match = _TRANSFORMATION.match(parts[1])
        if match is None or match.group("name") != "aggregate" or match.group("arguments") is None:
            raise NotImplementedFeature("groupby supports only aggregate(...) after its properties", target=OPTION)
        aggregates = _aggregates(entity, match.group("arguments"), {}, tuple(groups))
    return Aggregation(entity, groups=tuple(groups), aggregates=aggregates)


def _group_key(raw: str) -> GroupKey:
    path = raw.strip()
    if not _PATH.match(path):
        raise AggregationError(f"groupby takes property paths, not {path[:60]!r}", target=OPTION)
    return GroupKey(tuple(path.split("/")))


def _aggregates(
    entity: EntitySet, arguments: str, aliases: Mapping[str, str], groups: tuple[GroupKey, ...]
) -> tuple[Aggregate, ...]:
    items: list[Aggregate] = []
    taken = {group.path[0] for group in groups}
    for raw in split_top_level(arguments, OPTION):
        count = _COUNT_ITEM.match(raw)
        if count is not None:
            item = Aggregate(_alias(entity, count.group("alias"), taken), "count")
        else:
            match = _AGGREGATE_ITEM.match(raw)
            if match is None:
                raise AggregationError(
                    f"Malformed aggregate {raw.strip()[:60]!r}; write: price with sum as Total", target=OPTION
                )
            method = match.group("method")
            if method == "avg":
                raise AggregationError("The aggregation method is 'average', not 'avg'", target=OPTION)
            if "." in method:
                raise NotImplementedFeature(
                    f"The custom aggregation method {method[:40]!r} is not supported", target=OPTION
                )
            if method not in ("sum", "min", "max", "average", "countdistinct"):
                raise AggregationError(f"Unknown aggregation method {method[:40]!r}", target=OPTION)
            operand_text = match.group("operand")
            if " from " in f" {operand_text} ":
                raise NotImplementedFeature("aggregate ... from ... is not supported", target=OPTION)
            operand = ExpressionParser(operand_text, f"{OPTION}/aggregate", aliases).parse()
            item = Aggregate(_alias(entity, match.group("alias"), taken), method, operand)
        taken.add(item.alias)
        items.append(item)
    if len(items) > MAX_AGGREGATES:
        raise AggregationError(f"aggregate takes at most {MAX_AGGREGATES} items", target=OPTION)
    return tuple(items)


def _alias(entity: EntitySet, alias: str, taken: set[str]) -> str:
    if not _ALIAS.match(alias):
        raise AggregationError(f"{alias[:64]!r} is not a valid alias", target=OPTION)
    if alias in taken or entity.field(alias) is not None or entity.relation(alias) is not None:
        raise AggregationError(f"The alias {alias!r} is already a property of the result", target=OPTION)
    return alias


def parse_result_order(plan: Aggregation, text: str | None, option: str) -> tuple[OrderKey, ...]:
    """$orderby over the aggregated result: its group keys and aggregate aliases, each asc or desc."""
    if text is None:
        return ()
    keys: list[OrderKey] = []
    names = plan.result_names
    for raw in split_top_level(text, option):
        words = raw.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise AggregationError(f"Malformed $orderby item {raw.strip()[:60]!r}", target=option)
        if words[0] not in names:
            raise AggregationError(
                f"{words[0][:64]!r} is not a property of the aggregated result; one of {', '.join(names)}",
                target=option,
            )
        keys.append(OrderKey(words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(keys)
