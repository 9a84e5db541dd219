"""Errors that name the problem, shared by every stage (imports nothing of symgrad).

Every error a user can cause derives from :class:`SymgradError`, so the CLI can turn
any of them into one line and exit status 2 instead of a traceback.
"""


class SymgradError(ValueError):
    """Base class of the errors a user's input can cause."""


class ParseError(SymgradError):
    """Text that is not a valid expression or assignment."""


class UnknownSymbolError(SymgradError):
    """A symbol asked for that the expression does not contain, or a missing value."""


class NoDerivativeRuleError(SymgradError):
    """An operation on the path to a gradient with neither a rule nor ``fdiff``."""


class EvaluationError(SymgradError):
    """A value that cannot be computed at the given point (division by zero, log of 0)."""


class ShapeError(SymgradError):
    """Tensors, layers or labels whose shapes or ranges do not fit together."""


class TrainingDivergedError(SymgradError):
    """Training produced inf or NaN, or a loss that grew by orders of magnitude.

    ``epoch`` is the epoch it stopped at (from 1); ``history`` the epoch losses up to it.
    """

    def __init__(self, message: str, *, epoch: int | None = None, history=None):
        super().__init__(message)
        self.epoch, self.history = epoch, history

    @classmethod
    def at(cls, history, lr: float) -> "TrainingDivergedError":
        """The error for a run whose last loss in ``history`` (from epoch 1) went wrong."""
        epoch = len(history)
        return cls(
            f"training diverged at epoch {epoch}: loss {history[-1]:.4g} "
            f"(epoch 1: {history[0]:.4g}); try a smaller learning rate than {lr:g}",
            epoch=epoch,
            history=history.copy(),
        )


class GeneratedFileError(SymgradError):
    """A generated file that was edited by hand or does not match its header."""


class DataError(ShapeError):
    """Data that cannot be trained on: no examples, NaN or inf, labels that are not numbers."""


class TrainingInterrupted(SymgradError):
    """Training stopped by Ctrl-C (SIGINT).

    ``epoch`` is the epoch it stopped at (from 1), ``history`` the losses of the epochs
    before it, ``params`` the parameters after them (ident -> array).
    """

    def __init__(self, message: str, *, epoch: int, history, params: dict):
        super().__init__(message)
        self.epoch, self.history, self.params = epoch, history, params


class TrainingWarning(UserWarning):
    """A training run that finished, but ended far above its best loss."""


def shorten(text, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for quoting in one-line errors."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
