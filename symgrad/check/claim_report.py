"""Check stage: the report of a check of the user's own derivatives, as text or Markdown.

One :class:`Claim` per claimed derivative (a partial of a formula, a parameter's gradient from
the user's backward pass): whether it is right, how that was decided, the user's and
symgrad's forms and values, and a diagnosis when it is wrong and one was found. Imports
nothing of symgrad.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    """One claimed derivative against symgrad's.

    Attributes:
        name: what was claimed (``∂f/∂w``, ``dW[1]``).
        right: whether the claim agrees with symgrad's derivative.
        evidence: how that was decided (``equal after simplification``, ``differs at 24 of
            24 random points``).
        lines: ``(label, text)`` pairs: the user's form and value, symgrad's, the entries.
        diagnosis: what the mistake looks like, or ``""``.
    """

    name: str
    right: bool
    evidence: str
    lines: tuple[tuple[str, str], ...] = ()
    diagnosis: str = ""


@dataclass
class ClaimReport:
    """The claims of one check, with ``text()`` and ``markdown()``; ``passed``: all are right."""

    title: str
    claims: list[Claim]
    legend: str = ""

    @property
    def passed(self) -> bool:
        return all(c.right for c in self.claims)

    def summary(self) -> str:
        """One line: passed, or failed with the wrong claims' names."""
        wrong = [c.name for c in self.claims if not c.right]
        if wrong:
            return f"FAILED: {len(wrong)} of {len(self.claims)} wrong ({', '.join(wrong)})"
        return f"passed: all {len(self.claims)} right"

    def text(self) -> str:
        """The title, each claim with its forms, values and diagnosis, and the summary."""
        lines = [self.title] + ([self.legend] if self.legend else [])
        for c in self.claims:
            lines += ["", f"{c.name}: {'right' if c.right else 'WRONG'} ({c.evidence})"]
            width = max((len(label) for label, _ in c.lines), default=0) + 1
            lines += [f"  {(label + ':').ljust(width)}  {text}" for label, text in c.lines]
            if c.diagnosis:
                lines.append(f"  diagnosis: {c.diagnosis}")
        return "\n".join([*lines, "", self.summary()])

    def markdown(self) -> str:
        """The same as a Markdown list, forms in code spans."""
        lines = [f"**{self.title}**", ""] + ([f"*{self.legend}*", ""] if self.legend else [])
        for c in self.claims:
            lines.append(f"- **{c.name}**: {'right' if c.right else 'wrong'} ({c.evidence})")
            lines += [f"  - {label}: `{text}`" for label, text in c.lines]
            if c.diagnosis:
                lines.append(f"  - diagnosis: {c.diagnosis}")
        return "\n".join([*lines, "", self.summary()])

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return self.text()
