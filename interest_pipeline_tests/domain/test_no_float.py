"""No float may reach money: the domain package is checked for float names, calls and literals."""

import ast
from pathlib import Path

import pytest

import interest_pipeline.domain

PACKAGE_DIR = Path(interest_pipeline.domain.__file__).parent
MODULES = sorted(PACKAGE_DIR.glob("*.py"))


def float_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "float":
            found.append(f"line {node.lineno}: name float")
        elif isinstance(node, ast.Attribute) and node.attr in {"float", "__float__", "from_float"}:
            found.append(f"line {node.lineno}: attribute {node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (float, complex)):
            found.append(f"line {node.lineno}: literal {node.value!r}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in {"float", "inf", "nan"}
        ):
            found.append(f"line {node.lineno}: string {node.value!r}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _both_int_literals(node):
            found.append(f"line {node.lineno}: true division of int literals")
        elif (
            isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and _is_negative_literal(node.right)
        ):
            found.append(f"line {node.lineno}: negative integer power")
    return found


def _is_negative_literal(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    )


def _both_int_literals(node: ast.BinOp) -> bool:
    return all(isinstance(side, ast.Constant) and type(side.value) is int for side in (node.left, node.right))


class TestNoFloatInDomain:
    def test_package_has_modules(self) -> None:
        assert {path.name for path in MODULES} >= {"rounding.py", "daycount.py", "posting.py", "simulate.py"}

    @pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
    def test_module_uses_no_float(self, module: Path) -> None:
        assert float_uses(ast.parse(module.read_text(), filename=str(module))) == []

    @pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
    def test_module_imports_no_io_frameworks(self, module: Path) -> None:
        banned = {"dagster", "sqlalchemy", "psycopg", "pandas", "math"}
        imported = set()
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert imported & banned == set()


class TestDetector:
    @pytest.mark.parametrize(
        "source",
        [
            "x = 1.5",
            "y = float(z)",
            "y = 1e-3",
            "y = Decimal.from_float(z)",
            "y = 1 / 3",
            "y = x.__float__()",
            "y = 10**-2",
        ],
    )
    def test_flags_float(self, source: str) -> None:
        assert float_uses(ast.parse(source)) != []

    @pytest.mark.parametrize(
        "source",
        ["x = Decimal('1.5')", "y = Fraction(1, 3)", "y = a / b", "y = 10**2", "y = 7 // 2"],
    )
    def test_allows_exact_arithmetic(self, source: str) -> None:
        assert float_uses(ast.parse(source)) == []
