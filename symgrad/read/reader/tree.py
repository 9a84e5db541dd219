"""Read stage: text to Python's parse tree of one expression, bounded in size.

Unicode operators (``·``, ``×``, ``−``, ``÷``) and superscript powers (``x²``) become
ASCII, ``^`` becomes ``**``, and the text is parsed by Python's :mod:`ast` (a parser only;
nothing is compiled or run). The text's length, its nesting depth and the tree's number of
nodes are bounded before anything else sees them. Turning the tree into SymPy is
:mod:`symgrad.read.reader.builder`'s job. Imports :mod:`symgrad.errors` only.
"""

from __future__ import annotations

import ast
import re

from symgrad.errors import ParseError, shorten

MAX_LENGTH = 10_000  # characters of formula text
MAX_DEPTH = 100  # nesting levels (parentheses, calls, operators of different kinds)
MAX_NODES = 5_000  # nodes of the parsed tree

_UNICODE = str.maketrans({"·": "*", "×": "*", "−": "-", "÷": "/"})
_SUPERSCRIPT = re.compile("[⁻⁺]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
KEYWORD_NAMES = {"lambda"}  # Python keywords that are ordinary names in mathematics
MANGLE = "__kw_"


def prepare(text: str) -> str:
    """Unicode operators and superscript powers as ASCII; ``^`` as ``**``; bounded length."""
    if len(text) > MAX_LENGTH:
        raise ParseError(
            f"the formula is too long: {len(text):,} characters (at most {MAX_LENGTH:,})"
        )
    text = _SUPERSCRIPT.sub(lambda m: "**" + m.group().translate(_SUPERSCRIPT_DIGITS), text)
    return text.translate(_UNICODE).replace("^", "**")


def _check_depth(text: str) -> None:
    """Refuse deep parenthesis nesting before Python's parser sees it (it gives up at 200)."""
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise ParseError(
            f"the formula is nested too deeply: {deepest} levels (at most {MAX_DEPTH})"
        )


def python_tree(text: str) -> ast.expr:
    """Python's parse tree of one expression; a keyword used as a name (``lambda``) is renamed."""
    source = text.strip()
    _check_depth(source)
    try:
        return ast.parse(source, mode="eval").body
    except SyntaxError as error:
        first = error
    except (ValueError, MemoryError, RecursionError) as error:  # e.g. 5,000-digit literals
        raise ParseError(f"cannot parse '{shorten(source)}': {reason(error)}") from None
    renamed = re.sub(r"(?<![\w.])(" + "|".join(KEYWORD_NAMES) + r")(?!\w)", MANGLE + r"\1", source)
    if renamed != source:
        try:
            return ast.parse(renamed, mode="eval").body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            pass
    raise ParseError(f"cannot parse '{shorten(source)}': {reason(first)}") from None


def reason(error: Exception) -> str:
    if "digits" in str(error):  # Python's own bound on integer literals (4,300 digits)
        return "a number with too many digits"
    if isinstance(error, SyntaxError):
        reason = error.msg or "invalid syntax"
        if "never closed" in reason or "unexpected EOF" in reason:
            reason = "unexpected end of input (unclosed parenthesis?)"
        return reason.splitlines()[0]
    if isinstance(error, (MemoryError, RecursionError)):
        return "too complex"
    return (str(error).splitlines() or [type(error).__name__])[0]


def check_size(tree: ast.expr) -> None:
    """Refuse trees with too many nodes or nested too deeply (chains of + or * count once)."""
    count, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ParseError(f"the formula is too large: more than {MAX_NODES:,} parts")
        if depth > MAX_DEPTH:
            raise ParseError(f"the formula is nested too deeply (at most {MAX_DEPTH} levels)")
        kind = _chain_kind(node)
        for child in ast.iter_child_nodes(node):
            same = kind is not None and _chain_kind(child) is kind
            stack.append((child, depth if same else depth + 1))


def _chain_kind(node):
    """``ast.Add`` for a + or - node, ``ast.Mult`` for a * or / node, else None."""
    return chain_kind(node.op) if isinstance(node, ast.BinOp) else None


def chain_kind(op):
    """``ast.Add`` for + and -, ``ast.Mult`` for * and /, else None: the chains read as one."""
    if isinstance(op, (ast.Add, ast.Sub)):
        return ast.Add
    if isinstance(op, (ast.Mult, ast.Div)):
        return ast.Mult
    return None
