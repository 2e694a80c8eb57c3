"""Checks on the tests themselves: an assertion must say exactly what the member sees.

`assert "exact text" in out or "part" in out` passes on the wrong text whenever the
loose half holds, so the exact half checks nothing. Such an `or` hid a member
answered in the wrong units ("0.0 MB") and two tests unsure of the member's language.
A genuinely either-way outcome says why on the line: `# or-ok: <reason>`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ALLOW = "# or-ok:"


def _has_or(test: ast.expr) -> bool:
    """An `or` among the alternatives the assertion accepts (not inside a value like
    `x or ""`, which only picks what to compare)."""
    if isinstance(test, ast.BoolOp):
        return isinstance(test.op, ast.Or) or any(_has_or(v) for v in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _has_or(test.operand)
    return False


def _allowed(lines: list[str], node: ast.Assert) -> bool:
    """`# or-ok: <reason>` (a reason, not just the tag) on a line of the assertion."""
    for line in lines[node.lineno - 1 : (node.end_lineno or node.lineno)]:
        _, tag, reason = line.partition(ALLOW)
        if tag and reason.strip():
            return True
    return False


def weak_asserts(source: str, name: str) -> list[str]:
    """`name:line: assertion` for each assertion that an `or` lets pass two ways."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Assert) and _has_or(node.test) and not _allowed(lines, node):
            found.append(f"{name}:{node.lineno}: assert {ast.unparse(node.test)}")
    return found


def test_no_test_accepts_either_of_two_answers() -> None:
    found = [
        weak
        for path in sorted(TESTS.glob("test_*.py"))
        for weak in weak_asserts(path.read_text(encoding="utf-8"), path.name)
    ]
    assert found == [], "assert exactly what the member sees:\n" + "\n".join(found)


# The check itself: what it must catch, and what it must leave alone.

THE_OLD_UPLOAD_LIMIT_ASSERT = """
def test_x(post):
    assert (
        "larger than this server's upload limit (0.0 MB)" in post.json["content"]
        or "upload limit" in post.json["content"]
    )
"""


@pytest.mark.parametrize(
    "source",
    [
        THE_OLD_UPLOAD_LIMIT_ASSERT,
        "assert a or b\n",
        "assert ok and (a or b)\n",
        "assert not (a or b)\n",
        "assert a or b  # or-ok:\n",  # a tag without a reason allows nothing
    ],
)
def test_the_check_catches_an_or(source: str) -> None:
    assert len(weak_asserts(source, "t.py")) == 1


@pytest.mark.parametrize(
    "source",
    [
        "assert a == (b or '')\n",
        "assert a and b\n",
        "x = a or b\n",
        "assert a or b  # or-ok: the provider may answer either way\n",
        "assert (\n    a\n    or b  # or-ok: either order is documented\n)\n",
    ],
)
def test_the_check_leaves_values_and_justified_cases_alone(source: str) -> None:
    assert weak_asserts(source, "t.py") == []
