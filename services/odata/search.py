"""$search (OData v4 part 2, 5.1.7, and the searchExpr rule of the ABNF): words and "phrases" combined with
AND (also implicit, by juxtaposition), OR, NOT and parentheses; NOT binds tighter than AND, AND tighter than OR.

The expression is compiled to PostgreSQL full-text search: each word becomes plainto_tsquery, each phrase
phraseto_tsquery (its words adjacent and in order), combined with the tsquery operators && || !!, and matched
against the entity's search document (shared/catalog/model.py: search_document), stored as a generated column with
a GIN index (shared/catalog/migrations/004_text_search.sql). Every word and phrase is a bound parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.odata.compiler import SqlBuilder
from shared.catalog.model import SEARCH_COLUMN, TEXT_SEARCH_CONFIG, EntitySet
from shared.errors import BadRequest

MAX_SEARCH_LENGTH = 1000
MAX_SEARCH_TERMS = 20
MAX_SEARCH_NESTING = 8


class SearchError(BadRequest):
    code = "invalid_search"


@dataclass(frozen=True)
class SearchTerm:
    text: str
    phrase: bool


@dataclass(frozen=True)
class SearchNot:
    operand: SearchNode


@dataclass(frozen=True)
class SearchAll:
    operands: tuple[SearchNode, ...]


@dataclass(frozen=True)
class SearchAny:
    operands: tuple[SearchNode, ...]


SearchNode = SearchTerm | SearchNot | SearchAll | SearchAny

_TOKEN = re.compile(r'\s+|(?P<open>\()|(?P<close>\))|(?P<phrase>"(?:[^"\\]|\\.)*")|(?P<word>[^\s()"]+)')


@dataclass(frozen=True)
class _Token:
    kind: str  # open, close, phrase, word, AND, OR, NOT, end
    text: str
    position: int


def _tokens(text: str, option: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position] == '"':
                raise SearchError(f"Unterminated phrase at position {position + 1}", target=option)
            raise SearchError(f"Unexpected character at position {position + 1}", target=option)
        kind = match.lastgroup
        if kind == "phrase":
            body = re.sub(r"\\(.)", r"\1", match.group()[1:-1])
            if not body.strip():
                raise SearchError(f"Empty phrase at position {position + 1}", target=option)
            tokens.append(_Token("phrase", body, position))
        elif kind == "word":
            word = match.group()
            tokens.append(_Token(word if word in ("AND", "OR", "NOT") else "word", word, position))
        elif kind is not None:
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, option: str) -> None:
        self.option = option
        self.tokens = _tokens(text, option)
        self.index = 0
        self.terms = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def error(self, message: str) -> SearchError:
        token = self.current
        where = "at the end" if token.kind == "end" else f"at position {token.position + 1}"
        return SearchError(f"{message} {where} of $search", target=self.option)

    def parse(self) -> SearchNode:
        if self.current.kind == "end":
            raise SearchError("$search is empty", target=self.option)
        node = self.any_of(0)
        if self.current.kind != "end":
            raise self.error("Unexpected ')'")
        return node

    def any_of(self, depth: int) -> SearchNode:
        operands = [self.all_of(depth)]
        while self.current.kind == "OR":
            self.index += 1
            operands.append(self.all_of(depth))
        return operands[0] if len(operands) == 1 else SearchAny(tuple(operands))

    def all_of(self, depth: int) -> SearchNode:
        operands = [self.negation(depth)]
        while self.current.kind not in ("OR", "close", "end"):
            if self.current.kind == "AND":
                self.index += 1
            operands.append(self.negation(depth))
        return operands[0] if len(operands) == 1 else SearchAll(tuple(operands))

    def negation(self, depth: int) -> SearchNode:
        if self.current.kind == "NOT":
            self.index += 1
            return SearchNot(self.primary(depth))
        return self.primary(depth)

    def primary(self, depth: int) -> SearchNode:
        token = self.current
        if token.kind == "open":
            if depth >= MAX_SEARCH_NESTING:
                raise self.error(f"Parentheses nest at most {MAX_SEARCH_NESTING} deep")
            self.index += 1
            node = self.any_of(depth + 1)
            if self.current.kind != "close":
                raise self.error("Expected ')'")
            self.index += 1
            return node
        if token.kind in ("word", "phrase"):
            self.index += 1
            self.terms += 1
            if self.terms > MAX_SEARCH_TERMS:
                raise SearchError(f"$search takes at most {MAX_SEARCH_TERMS} words and phrases", target=self.option)
            return SearchTerm(token.text, token.kind == "phrase")
        raise self.error("Expected a word, a \"phrase\" or '('")


def parse_search_expression(text: str, option: str = "$search") -> SearchNode:
    if len(text) > MAX_SEARCH_LENGTH:
        raise SearchError(f"$search is longer than {MAX_SEARCH_LENGTH} characters", target=option)
    return _Parser(text, option).parse()


def check_searchable(entity: EntitySet, option: str = "$search") -> None:
    if not entity.searchable_fields:
        raise SearchError(f"{entity.type_name} has no searchable properties", target=option)


def _tsquery(node: SearchNode, builder: SqlBuilder) -> str:
    if isinstance(node, SearchTerm):
        function = "phraseto_tsquery" if node.phrase else "plainto_tsquery"
        return f"{function}('{TEXT_SEARCH_CONFIG}'::regconfig, {builder.bind(node.text, 'text')})"
    if isinstance(node, SearchNot):
        return f"(!! {_tsquery(node.operand, builder)})"
    operator = " && " if isinstance(node, SearchAll) else " || "
    return "(" + operator.join(_tsquery(operand, builder) for operand in node.operands) + ")"


def search_sql(entity: EntitySet, node: SearchNode, builder: SqlBuilder, alias: str = "t") -> str:
    """The WHERE condition: the entity's stored search document matches the expression."""
    return f'({alias}."{SEARCH_COLUMN}" @@ {_tsquery(node, builder)})'
