"""GraphQL scalars for exact money and free-form JSON.

`Decimal` serialises to a string, never a float, so an amount reaches the client digit for digit.
`JSON` accepts an object literal in the query text (the reference's
`parameters: {include_dormant_accounts: false}`) as well as a variable, and carries per-currency
maps of decimal strings.
"""

from decimal import Decimal as PyDecimal
from decimal import InvalidOperation
from typing import Any

import graphene
from graphql import (
    BooleanValueNode,
    EnumValueNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from graphql.language.ast import Node


class Decimal(graphene.Scalar):  # type: ignore[misc]
    """An exact decimal number, as a string: "292215.58"."""

    @staticmethod
    def serialize(value: Any) -> str:
        if isinstance(value, float):
            raise TypeError("money is never a float")
        return str(value)

    @staticmethod
    def parse_value(value: Any) -> PyDecimal:
        if isinstance(value, float):
            raise ValueError("give decimals as strings, not floats")
        try:
            return PyDecimal(str(value))
        except InvalidOperation as error:
            raise ValueError(f"not a decimal: {value!r}") from error

    @staticmethod
    def parse_literal(node: Node, _variables: Any = None) -> PyDecimal:
        if isinstance(node, StringValueNode | IntValueNode):
            return Decimal.parse_value(node.value)
        raise ValueError("give decimals as strings")


def _literal(node: ValueNode, variables: dict[str, Any] | None) -> Any:
    if isinstance(node, ObjectValueNode):
        return {field.name.value: _literal(field.value, variables) for field in node.fields}
    if isinstance(node, ListValueNode):
        return [_literal(item, variables) for item in node.values]
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        # Kept exact: a rate written 3.5 in a query must not become a binary float.
        return PyDecimal(node.value)
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, VariableNode):
        return (variables or {}).get(node.name.value)
    raise ValueError(f"unsupported JSON literal {type(node).__name__}")


class JSON(graphene.Scalar):  # type: ignore[misc]
    """Any JSON value: an object literal in the query, a variable, or a map of decimal strings."""

    @staticmethod
    def serialize(value: Any) -> Any:
        return value

    @staticmethod
    def parse_value(value: Any) -> Any:
        return value

    @staticmethod
    def parse_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
        return _literal(node, variables)
