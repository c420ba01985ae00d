"""``filterQuery``: the API's SQL-like filter language, translated to a parameterised SQLite
condition over the stored JSON documents.

The language, as the OpenAPI document describes it: comparisons (``= != <> > < >= <=``),
``LIKE`` and ``ILIKE``, ``IN (…)``, ``AND``/``OR`` with parentheses; string, number and boolean
literals. A name is a standard property of the resource (``name``, ``id``, ``state``,
``createTimeSinceEpoch``, any field of its kind) or else a custom property, whose value type is
inferred from the literal it is compared with (``accuracy > 0.95`` reads the double or int
value); ``prop.string_value`` (or ``double_value``, ``int_value``, ``bool_value``) picks one
type; backticks quote a property name holding dots or dashes.

Values always travel as SQL parameters, never inside the SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jukebox.registry.server.errors import BadRequest
from jukebox.registry.server.resources import (
    ARTIFACT_OUTPUT_FIELDS,
    ARTIFACT_TYPES,
    COMMON_FIELDS,
    KINDS,
)

TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|-?\.\d+(?:[eE][-+]?\d+)?)
      | (?P<op><>|!=|>=|<=|=|>|<)
      | (?P<punct>[(),])
      | (?P<quoted>`[^`]+`)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "LIKE", "ILIKE", "IN", "TRUE", "FALSE"}
TYPED_VALUES = ("string_value", "double_value", "int_value", "bool_value")
# Standard properties kept in columns of their own (integers), not only in the document.
COLUMNS = {
    "id": "id",
    "createTimeSinceEpoch": "create_time",
    "lastUpdateTimeSinceEpoch": "update_time",
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(query: str) -> list[Token]:
    tokens, position = [], 0
    query = query.rstrip()
    while position < len(query):
        match = TOKEN.match(query, position)
        if not match or match.end() == position:
            raise BadRequest(
                f"filterQuery: cannot read {query[position : position + 20].strip()!r}"
                f" (at character {position + 1})"
            )
        kind = match.lastgroup
        text = match.group(kind)
        if kind == "word" and text.upper() in KEYWORDS:
            kind, text = "keyword", text.upper()
        tokens.append(Token(kind, text))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, query: str, kind: str):
        self.tokens = tokenize(query)
        self.position = 0
        self.fields = _standard_fields(kind)

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or (kind and token.kind != kind) or (text and token.text != text):
            wanted = text or kind or "more"
            found = f"{token.text!r}" if token else "the end"
            raise BadRequest(f"filterQuery: expected {wanted} but found {found}")
        self.position += 1
        return token

    def accept(self, kind: str, text: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == kind and token.text == text:
            self.position += 1
            return True
        return False

    def parse(self) -> tuple[str, list]:
        sql, params = self.disjunction()
        if self.peek() is not None:
            raise BadRequest(f"filterQuery: unexpected {self.peek().text!r}")
        return sql, params

    def disjunction(self) -> tuple[str, list]:
        sql, params = self.conjunction()
        while self.accept("keyword", "OR"):
            right, more = self.conjunction()
            sql, params = f"({sql} OR {right})", params + more
        return sql, params

    def conjunction(self) -> tuple[str, list]:
        sql, params = self.factor()
        while self.accept("keyword", "AND"):
            right, more = self.factor()
            sql, params = f"({sql} AND {right})", params + more
        return sql, params

    def factor(self) -> tuple[str, list]:
        if self.accept("punct", "("):
            result = self.disjunction()
            self.take("punct", ")")
            return result
        return self.comparison()

    def comparison(self) -> tuple[str, list]:
        token = self.take()
        if token.kind not in ("word", "quoted"):
            raise BadRequest(f"filterQuery: expected a property name but found {token.text!r}")
        if self.accept("keyword", "IN"):
            self.take("punct", "(")
            values = [self.literal()]
            while self.accept("punct", ","):
                values.append(self.literal())
            self.take("punct", ")")
            left = self.operand(token, values[0])
            return f"{left} IN ({', '.join('?' * len(values))})", values
        operator = self.peek()
        if (
            operator is not None
            and operator.kind == "keyword"
            and operator.text
            in (
                "LIKE",
                "ILIKE",
            )
        ):
            self.position += 1
            value = self.literal()
            left = self.operand(token, value)
            if operator.text == "ILIKE":
                return f"LOWER({left}) LIKE LOWER(?)", [value]
            return f"{left} LIKE ?", [value]
        operator = self.take("op").text
        value = self.literal()
        return f"{self.operand(token, value)} {'!=' if operator == '<>' else operator} ?", [value]

    def literal(self):
        token = self.take()
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            number = float(token.text)
            return int(number) if number.is_integer() and "." not in token.text else number
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE"):
            return 1 if token.text == "TRUE" else 0
        raise BadRequest(f"filterQuery: expected a value but found {token.text!r}")

    def operand(self, token: Token, value) -> str:
        """The SQL expression of a property, typed by the value it is compared with."""
        if token.kind == "quoted":
            return _custom(token.text[1:-1], None, value)
        name = token.text
        if name in COLUMNS:
            return COLUMNS[name]
        if name in self.fields:
            if name.endswith("Id") and name != "externalId" and not isinstance(value, str):
                # Ids are strings of digits in the API; `experimentRunId IN (5, 6)` means them.
                return f"CAST(json_extract(body, '$.{name}') AS INTEGER)"
            return f"json_extract(body, '$.{name}')"
        head, _, tail = name.rpartition(".")
        if tail in TYPED_VALUES and head:
            return _custom(head.strip("`"), tail, value)
        return _custom(name, None, value)


def _custom(name: str, typed: str | None, value) -> str:
    if '"' in name or "'" in name:
        raise BadRequest(f"filterQuery: a property name cannot contain quotes: {name!r}")
    base = f'json_extract(body, \'$.customProperties."{name}"'
    if typed is None:
        if isinstance(value, str):
            typed = "string_value"
        else:
            # A number may be stored as a double or as an int (a string of digits in the API).
            return (
                f"COALESCE({base}.double_value'), CAST({base}.int_value') AS INTEGER),"
                f" {base}.bool_value'))"
            )
    if typed == "int_value":
        return f"CAST({base}.int_value') AS INTEGER)"
    return f"{base}.{typed}')"


def _standard_fields(kind: str) -> set[str]:
    if kind == "artifact":
        fields = {name for fields in ARTIFACT_TYPES.values() for name in fields}
        return fields | set(COMMON_FIELDS) | {"artifactType", *ARTIFACT_OUTPUT_FIELDS}
    return set(COMMON_FIELDS) | set(KINDS[kind].fields)


def filter_to_sql(query: str, kind: str) -> tuple[str, list]:
    """The SQL condition (with ``?`` placeholders) and parameters of ``filterQuery``."""
    return _Parser(query, kind).parse()
