"""Apps stage: the lecture's Markdown as a LaTeX document that pdflatex compiles.

The book writes a small Markdown (headings, paragraphs, bullets, pipe tables, ``$…$`` and
``$$…$$`` math, links, images, fenced and inline code, bold, italic); each block becomes its
LaTeX twin and math passes through as it is, so the document says what ``index.md`` says. Text
is escaped and the Unicode the lecture's words use (α, ·, ‖, —, subscript digits) becomes LaTeX
commands. pdflatex reads no SVG: an image is included from its PDF or PNG twin beside it. Only
packages of the smallest TeX installs are used (amsmath, amssymb, graphicx, geometry).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage[margin=2.2cm]{geometry}
\usepackage{amsmath,amssymb,graphicx}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
% amsfonts has no blackboard digits: the indicator's 1 is set in bold
\let\blackboard\mathbb
\def\bbone{1}
\renewcommand{\mathbb}[1]{\def\bbarg{#1}\ifx\bbarg\bbone\mathbf{1}\else\blackboard{#1}\fi}
% a table wider than the text is scaled down to the text's width
\newsavebox{\widebox}
\newenvironment{fitwidth}{\begin{lrbox}{\widebox}}{\end{lrbox}%
  \ifdim\wd\widebox>\linewidth\resizebox{\linewidth}{!}{\usebox{\widebox}}%
  \else\usebox{\widebox}\fi}
"""

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
    "$": r"\$",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}

#: Unicode in the lecture's words that pdflatex does not set by itself, as LaTeX.
_UNICODE = {
    "·": r"\ensuremath{\cdot}",
    "⋅": r"\ensuremath{\cdot}",
    "×": r"\ensuremath{\times}",
    "−": r"\ensuremath{-}",
    "–": "--",
    "—": "---",
    "‖": r"\ensuremath{\|}",
    "≈": r"\ensuremath{\approx}",
    "≤": r"\ensuremath{\le}",
    "≥": r"\ensuremath{\ge}",
    "≠": r"\ensuremath{\ne}",
    "±": r"\ensuremath{\pm}",
    "→": r"\ensuremath{\to}",
    "←": r"\ensuremath{\leftarrow}",
    "⇒": r"\ensuremath{\Rightarrow}",
    "∂": r"\ensuremath{\partial}",
    "∇": r"\ensuremath{\nabla}",
    "∑": r"\ensuremath{\sum}",
    "√": r"\ensuremath{\surd}",
    "∞": r"\ensuremath{\infty}",
    "∈": r"\ensuremath{\in}",
    "⊙": r"\ensuremath{\odot}",
    "∘": r"\ensuremath{\circ}",
    "′": r"\ensuremath{'}",
    "″": r"\ensuremath{''}",
    "ᵀ": r"\ensuremath{^{T}}",
    "ℝ": r"\ensuremath{\mathbb{R}}",
    "ℒ": r"\ensuremath{\mathcal{L}}",
    "𝟙": r"\ensuremath{\mathbb{1}}",
    "✓": r"\ensuremath{\checkmark}",
    "✗": r"\ensuremath{\times}",
    "…": r"\ldots{}",
    "•": r"\ensuremath{\bullet}",
    "°": r"\ensuremath{^\circ}",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "\u00a0": "~",
}
#: Greek capitals LaTeX has no command for look like Latin ones.
_GREEK_AS_LATIN = dict(
    zip(
        "Alpha Beta Epsilon Zeta Eta Iota Kappa Mu Nu Omicron Rho Tau Chi".split(),
        "ABEZHIKMNOPTX",
        strict=True,
    )
)
_DIGITS = "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split()


def _greek(case: str, name: str) -> str:
    letter = name.capitalize().replace("Lamda", "Lambda").replace("Final sigma", "Varsigma")
    if case == "CAPITAL":
        return _GREEK_AS_LATIN.get(letter) or rf"\ensuremath{{\{letter}}}"
    return "o" if letter == "Omicron" else rf"\ensuremath{{\{letter.lower()}}}"


def _char(c: str) -> str:
    """One character of text, as LaTeX."""
    if c in _ESCAPES:
        return _ESCAPES[c]
    if c.isascii() or (unicodedata.category(c).startswith("L") and ord(c) < 0x180):
        return c  # ASCII, and Latin letters with accents, which inputenc sets
    if c in _UNICODE:
        return _UNICODE[c]
    name = unicodedata.name(c, "")
    greek = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER (\w+|FINAL SIGMA)", name)
    if greek:
        return _greek(greek[1], greek[2])
    script = re.fullmatch(r"(SUB|SUPER)SCRIPT (\w+)", name)
    if script and script[2] in _DIGITS:
        mark = "_" if script[1] == "SUB" else "^"
        return rf"\ensuremath{{{mark}{{{_DIGITS.index(script[2])}}}}}"
    return "?"  # a character no package of a small TeX install sets


def escape(text: str) -> str:
    """Plain text as LaTeX text: special characters escaped, Unicode as commands."""
    return "".join(_char(c) for c in text)


_INLINE = re.compile(
    r"(?P<display>\$\$[^$]+\$\$)|(?P<math>\$[^$]+\$)"
    r"|`(?P<code>[^`]+)`"
    r"|!?\[(?P<label>[^\]]*)\]\((?P<target>[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|\*(?P<italic>[^*\s][^*]*)\*"
)


def inline(text: str) -> str:
    """A line of Markdown as LaTeX: math as it is; code, links, bold and italic converted."""
    out, end = [], 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[end : m.start()]))
        end = m.end()
        if m["display"]:
            out.append(r"\[" + m["display"][2:-2] + r"\]")
        elif m["math"]:
            out.append(m["math"])
        elif m["code"]:
            out.append(rf"\texttt{{{escape(m['code'])}}}")
        elif m["target"]:
            label, target = m["label"], m["target"]
            shown = rf"\texttt{{{escape(target)}}}"
            out.append(shown if label == target else f"{inline(label)} ({shown})")
        elif m["bold"]:
            out.append(rf"\textbf{{{inline(m['bold'])}}}")
        else:
            out.append(rf"\emph{{{inline(m['italic'])}}}")
    out.append(escape(text[end:]))
    return "".join(out)


def _cells(row: str) -> list[str]:
    """A pipe-table row's cells; a ``|`` inside ``$…$`` does not split."""
    cells, cell, math = [], "", False
    for c in row.strip().strip("|"):
        if c == "$":
            math = not math
        if c == "|" and not math:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += c
    return [*cells, cell.strip()]


def _table(rows: list[str]) -> str:
    head, rule, *body = rows
    columns = "".join("r" if c.endswith(":") else "l" for c in _cells(rule))
    # "{}" first: a row starting with "[" is no optional argument of the "\\" above it
    lines = ["{}" + " & ".join(inline(c) for c in _cells(r)) + r" \\" for r in [head, *body]]
    return "\n".join(
        [
            r"\begin{center}\small",
            r"\begin{fitwidth}",
            rf"\begin{{tabular}}{{{columns}}}",
            r"\hline",
            lines[0],
            r"\hline",
            *lines[1:],
            r"\hline",
            r"\end{tabular}",
            r"\end{fitwidth}",
            r"\end{center}",
        ]
    )


def _image(caption: str, target: str, folder: Path) -> str:
    stem = Path(target).with_suffix("")
    twin = next(
        (t for t in (f"{stem}.pdf", f"{stem}.png") if (folder / t).is_file()),
        target if Path(target).suffix in (".pdf", ".png", ".jpg") else None,
    )
    if twin is None:
        return rf"({inline(caption)}: \texttt{{{escape(target)}}})"
    return "\n".join(
        [
            r"\begin{center}",
            rf"\includegraphics[width=0.85\linewidth,height=0.4\textheight,"
            rf"keepaspectratio]{{{twin}}}\\",
            rf"\small\emph{{{inline(caption)}}}",
            r"\end{center}",
        ]
    )


_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_HEADINGS = {1: "section*", 2: "section*", 3: "subsection*", 4: "paragraph"}


def _list(lines: list[str], marker: str, environment: str) -> str:
    """Bullets or numbered items; an indented line continues the item above it."""
    items: list[str] = []
    for line in lines:
        item = re.match(marker, line)
        if item or not items:
            items.append(line[item.end() :] if item else line)
        else:
            items[-1] += " " + line.strip()
    return "\n".join(
        [
            rf"\begin{{{environment}}}",
            # "{}" before a "[": text, not the item's optional label
            *[rf"\item {'{}' * i.startswith('[')}{inline(i)}" for i in items],
            rf"\end{{{environment}}}",
        ]
    )


def _block(lines: list[str], folder: Path) -> str:
    """One block of Markdown (no blank line inside) as LaTeX."""
    first = lines[0]
    heading = re.fullmatch(r"(#{1,4}) (.*)", first)
    if heading and len(heading[1]) == 1:
        return "\n".join(
            [rf"\title{{{inline(heading[2])}}}", r"\author{}", r"\date{}", r"\maketitle"]
        )
    if heading:
        return rf"\{_HEADINGS[len(heading[1])]}{{{inline(heading[2])}}}"
    images = [_IMAGE.fullmatch(line.strip()) for line in lines]
    if all(images):  # lines of nothing but an image: figures
        return "\n\n".join(_image(m[1], m[2], folder) for m in images)
    if first.startswith("|"):
        return _table(lines)
    if first.startswith("- "):
        return _list(lines, r"- ", "itemize")
    if re.match(r"\d+\. ", first):
        return _list(lines, r"\d+\. ", "enumerate")
    if first.startswith(">"):
        quoted = "\n".join(inline(line.lstrip(">").strip()) for line in lines)
        return "\\begin{quote}\n" + quoted + "\n\\end{quote}"
    return "\n".join(inline(line) for line in lines)


def _closes(fence: str, stripped: str) -> bool:
    if fence == "```":
        return stripped.startswith("```") and not stripped.strip("`")
    return stripped.endswith("$$")


def _blocks(markdown: str) -> list[list[str]]:
    """Blocks split at blank lines, a heading its own block; ``$$…$$`` display math and
    fenced code kept whole, blank lines and all."""
    blocks: list[list[str]] = []
    current: list[str] = []
    fence = None
    for line in markdown.splitlines():
        stripped = line.strip()
        if fence:
            current.append(line)
            if _closes(fence, stripped):
                blocks.append(current)
                current, fence = [], None
            continue
        fence = next((f for f in ("$$", "```") if stripped.startswith(f)), None)
        if fence:
            blocks.append(current)
            current = [line]
            if fence == "$$" and len(stripped) > 2 and stripped.endswith("$$"):  # one line
                blocks.append(current)
                current, fence = [], None
        elif not stripped or line.startswith("#") or current[:1] and current[0].startswith("#"):
            blocks.append(current)
            current = [line] if stripped else []
        else:
            current.append(line)
    return [b for b in [*blocks, current] if b]


def _display(lines: list[str]) -> str:
    body = "\n".join(lines).strip()[2:-2].strip()
    return "\\[\n" + body + "\n\\]"


def _verbatim(lines: list[str]) -> str:
    """Fenced code, in typewriter type, spaces kept (and the lecture's Unicode mapped)."""
    body = lines[1:-1] if len(lines) > 1 and _closes("```", lines[-1].strip()) else lines[1:]
    # \mbox{} first: an empty line is a line, and "[" no optional argument of the \\ above
    shown = [r"\mbox{}" + "".join("~" if c == " " else _char(c) for c in line) for line in body]
    return "\\begin{flushleft}\\small\\ttfamily\n" + "\\\\\n".join(shown) + "\n\\end{flushleft}"


def document(markdown: str, folder: Path) -> str:
    """The whole LaTeX document of ``markdown``; images are looked up in ``folder``."""
    body = []
    for block in _blocks(markdown):
        start = block[0].strip()
        if start.startswith("$$"):
            body.append(_display(block))
        elif start.startswith("```"):
            body.append(_verbatim(block))
        else:
            body.append(_block(block, folder))
    return PREAMBLE + "\n\\begin{document}\n\n" + "\n\n".join(body) + "\n\n\\end{document}\n"
