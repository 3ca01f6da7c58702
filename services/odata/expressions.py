"""OData v4 common expressions ($filter, $orderby items, alias values): a tokenizer and a precedence-climbing
parser that produce an AST. The AST carries source positions so errors can point at the offending part."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from shared.errors import BadRequest, NotImplementedFeature

MAX_DEPTH = 32
MAX_EXPRESSION_LENGTH = 4000
MAX_IN_ITEMS = 500


class ExpressionError(BadRequest):
    code = "invalid_expression"

    def __init__(self, message: str, *, target: str | None = None, position: int | None = None) -> None:
        super().__init__(message, target=target)
        self.position = position  # 0-based offset in the expression, when known


@dataclass(frozen=True)
class Token:
    kind: str  # name, string, int, decimal, datetime, date, alias, punct, end
    text: str
    position: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,12})?)?(?:Z|[+\x20-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<decimal>\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
  | (?P<int>\d+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<alias>@[A-Za-z_][A-Za-z0-9_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<dollar>\$[A-Za-z]+)
  | (?P<punct>[(),/:\-])
    """,
    re.VERBOSE,
)


def tokenize(text: str, option: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ExpressionError(
                f"Unexpected character {text[position]!r} at position {position + 1}", target=option, position=position
            )
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# ---- AST -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: object  # str, int, Decimal, bool, datetime or None
    position: int


@dataclass(frozen=True)
class Property:
    name: str
    position: int


@dataclass(frozen=True)
class Unary:
    operator: str  # not | neg
    operand: Node
    position: int


@dataclass(frozen=True)
class Binary:
    operator: str
    left: Node
    right: Node
    position: int


@dataclass(frozen=True)
class In:
    operand: Node
    items: tuple[Node, ...]
    position: int


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Node, ...]
    position: int


@dataclass(frozen=True)
class Lambda:
    """`path/any(v: predicate)` or `path/all(v: predicate)` over a collection navigation; `any()` has neither."""

    path: str
    operator: str  # any | all
    variable: str | None
    predicate: Node | None
    position: int


Node = Literal | Property | Unary | Binary | In | Call | Lambda

# Binary operators by binding power, lowest first (OData v4 ABNF, section 5.1.1 operator precedence).
_BINARY_POWER: dict[str, int] = {
    "or": 1,
    "and": 2,
    "eq": 3,
    "ne": 3,
    "gt": 4,
    "ge": 4,
    "lt": 4,
    "le": 4,
    "in": 4,
    "has": 4,
    "add": 5,
    "sub": 5,
    "mul": 6,
    "div": 6,
    "divby": 6,
    "mod": 6,
}
_UNSUPPORTED_OPERATORS = {"has"}
_UNSUPPORTED_NAMES = {"isof", "cast", "geo"}
_LAMBDAS = ("any", "all")


class ExpressionParser:
    def __init__(self, text: str, option: str, aliases: Mapping[str, str], depth: int = 0) -> None:
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise ExpressionError(f"The expression is longer than {MAX_EXPRESSION_LENGTH} characters", target=option)
        self.text = text
        self.option = option
        self.aliases = aliases
        self.tokens = tokenize(text, option)
        self.index = 0
        self.base_depth = depth

    # -- helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def error(self, message: str, token: Token | None = None) -> ExpressionError:
        token = token or self.current
        where = "at the end" if token.kind == "end" else f"at position {token.position + 1} ({token.text[:40]!r})"
        return ExpressionError(f"{message} {where}", target=self.option, position=token.position)

    def expect(self, text: str) -> Token:
        if self.current.text != text:
            raise self.error(f"Expected {text!r}")
        return self.advance()

    def check_depth(self, depth: int) -> None:
        if depth + self.base_depth > MAX_DEPTH:
            raise ExpressionError(f"The expression is nested deeper than {MAX_DEPTH} levels", target=self.option)

    # -- grammar
    def parse(self) -> Node:
        if self.current.kind == "end":
            raise ExpressionError("The expression is empty", target=self.option)
        node = self.expression(0, 1)
        if self.current.kind != "end":
            raise self.error("Unexpected token")
        return node

    def parse_order(self) -> list[tuple[Node, bool]]:
        """$orderby: expression [asc|desc] {, expression [asc|desc]}; True means descending."""
        items: list[tuple[Node, bool]] = []
        while True:
            node = self.expression(0, 1)
            descending = False
            if self.current.kind == "name" and self.current.text.lower() in ("asc", "desc"):
                descending = self.advance().text.lower() == "desc"
            items.append((node, descending))
            if self.current.text != ",":
                break
            self.advance()
        if self.current.kind != "end":
            raise self.error("Unexpected token")
        return items

    def expression(self, min_power: int, depth: int) -> Node:
        self.check_depth(depth)
        left = self.unary(depth)
        while True:
            token = self.current
            word = token.text.lower()  # operators are case-insensitive in OData 4.01
            power = _BINARY_POWER.get(word) if token.kind == "name" else None
            if power is None or power <= min_power:
                if token.kind == "name" and power is None and word not in ("asc", "desc"):
                    raise self.error("Unknown operator")
                return left
            if word in _UNSUPPORTED_OPERATORS:
                raise NotImplementedFeature(f"The operator {word!r} is not supported", target=self.option)
            self.advance()
            if word == "in":
                left = In(left, self.in_list(depth + 1), token.position)
                continue
            right = self.expression(power, depth + 1)
            left = Binary(word, left, right, token.position)

    def in_list(self, depth: int) -> tuple[Node, ...]:
        self.check_depth(depth)
        self.expect("(")
        items = [self.expression(0, depth)]
        while self.current.text == ",":
            self.advance()
            items.append(self.expression(0, depth))
            if len(items) > MAX_IN_ITEMS:
                raise ExpressionError(f"An 'in' list holds at most {MAX_IN_ITEMS} values", target=self.option)
        self.expect(")")
        return tuple(items)

    def unary(self, depth: int) -> Node:
        self.check_depth(depth)
        token = self.current
        if token.kind == "name" and token.text.lower() == "not":
            self.advance()
            return Unary("not", self.unary(depth + 1), token.position)
        if token.text == "-":
            self.advance()
            operand = self.unary(depth + 1)
            if isinstance(operand, Literal) and isinstance(operand.value, int | Decimal):
                return Literal(-operand.value, token.position)
            return Unary("neg", operand, token.position)
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        self.check_depth(depth)
        token = self.advance()
        if token.text == "(":
            node = self.expression(0, depth + 1)
            self.expect(")")
            return node
        if token.kind in _LITERAL_PARSERS:
            return Literal(_LITERAL_PARSERS[token.kind](token, self), token.position)
        if token.kind == "alias":
            return self.alias(token, depth)
        if token.kind == "dollar":
            raise NotImplementedFeature(f"{token.text[:20]} in expressions is not supported", target=self.option)
        if token.kind == "name":
            return self.named_value(token, depth)
        raise self.error("Expected a value", token)

    def named_value(self, token: Token, depth: int) -> Node:
        """A name in value position: a keyword literal, a function call, a path or a property."""
        if self.current.kind == "string" and self.current.position == token.position + len(token.text):
            raise NotImplementedFeature(
                f"Typed literals such as {token.text[:40]}'...' (durations, enumeration members) are not supported",
                target=self.option,
            )
        if "." in token.text:
            raise NotImplementedFeature(
                f"Qualified names ({token.text[:60]}: functions, types) are not supported", target=self.option
            )
        if token.text in ("true", "false"):
            return Literal(token.text == "true", token.position)
        if token.text == "null":
            return Literal(None, token.position)
        if token.text.lower() in _UNSUPPORTED_NAMES:
            raise NotImplementedFeature(f"{token.text!r} is not supported", target=self.option)
        if self.current.text == "(":
            return self.call(token, depth + 1)
        if self.current.text == "/":
            return self.path(token, depth + 1)
        if token.text.lower() in _BINARY_POWER or token.text.lower() in ("not", "asc", "desc"):
            raise self.error("Expected a value", token)
        return Property(token.text, token.position)

    def path(self, first: Token, depth: int) -> Node:
        segments = [first.text]
        while self.current.text == "/":
            self.advance()
            segment = self.advance()
            if segment.kind == "dollar":
                raise NotImplementedFeature(
                    f"The path segment {segment.text[:20]} is not supported", target=self.option
                )
            if segment.kind != "name" or "." in segment.text:
                if segment.kind == "name":
                    raise NotImplementedFeature("Type-cast segments are not supported", target=self.option)
                raise self.error("Expected a property name after '/'", segment)
            if segment.text.lower() in _LAMBDAS and self.current.text == "(":
                return self.lambda_(first, "/".join(segments), segment.text.lower(), depth)
            segments.append(segment.text)
        return Property("/".join(segments), first.position)

    def lambda_(self, first: Token, path: str, operator: str, depth: int) -> Node:
        """OData v4 part 2, 5.1.1.10: any(v: predicate), all(v: predicate), any()."""
        self.check_depth(depth)
        self.expect("(")
        if self.current.text == ")":
            self.advance()
            if operator == "all":
                raise self.error("all() needs a lambda variable and a predicate")
            return Lambda(path, operator, None, None, first.position)
        variable = self.advance()
        if variable.kind != "name" or variable.text in _BINARY_POWER or variable.text in ("not", "true", "false"):
            raise self.error("Expected a lambda variable name", variable)
        self.expect(":")
        predicate = self.expression(0, depth + 1)
        self.expect(")")
        return Lambda(path, operator, variable.text, predicate, first.position)

    def call(self, name: Token, depth: int) -> Node:
        self.expect("(")
        arguments: list[Node] = []
        if self.current.text != ")":
            arguments.append(self.expression(0, depth))
            while self.current.text == ",":
                self.advance()
                arguments.append(self.expression(0, depth))
        self.expect(")")
        return Call(name.text.lower(), tuple(arguments), name.position)

    def alias(self, token: Token, depth: int) -> Node:
        value = self.aliases.get(token.text)
        if value is None:
            # OData v4 part 2, 5.1.1.13.1: an alias without a value in the query is null.
            return Literal(None, token.position)
        inner = ExpressionParser(value, token.text, {}, depth=self.base_depth + depth)
        return inner.parse()


def _string(token: Token, parser: ExpressionParser) -> str:
    return token.text[1:-1].replace("''", "'")


def _int(token: Token, parser: ExpressionParser) -> int | Decimal:
    value = int(token.text)
    if value > 2**63 - 1:
        raise parser.error("The number is too large", token)
    return value


def _decimal(token: Token, parser: ExpressionParser) -> Decimal:
    try:
        value = Decimal(token.text)
    except InvalidOperation:
        raise parser.error("Malformed number", token) from None
    if not value.is_finite() or abs(value.adjusted()) > 100:
        raise parser.error("The number is out of range", token)
    return value


def _datetime(token: Token, parser: ExpressionParser) -> datetime:
    try:
        # An unescaped "+" in a URL query arrives as a space: read "T10:00:00 02:00" as "+02:00".
        return datetime.fromisoformat(token.text.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise parser.error("Malformed date-time", token) from None


def _date(token: Token, parser: ExpressionParser) -> datetime:
    try:
        day = date.fromisoformat(token.text)
    except ValueError:
        raise parser.error("Malformed date", token) from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


_LITERAL_PARSERS: dict[str, Callable[[Token, ExpressionParser], object]] = {
    "string": _string,
    "int": _int,
    "decimal": _decimal,
    "datetime": _datetime,
    "date": _date,
}


def parse_expression(text: str, option: str, aliases: Mapping[str, str]) -> Node:
    return ExpressionParser(text, option, aliases).parse()
