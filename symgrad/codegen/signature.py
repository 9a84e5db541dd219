"""Codegen stage: the argument lists of a generated training module, as data.

The generator decides the order of the parameters, data, hyperparameters and state
that ``train``, ``loss_and_grad`` and ``predict`` take; callers (``fit``,
``CompiledNetwork``) hand values by name and :meth:`Signature.arguments` puts them in
that order, so neither side sorts anything to agree with the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signature:
    """The generated functions' arguments, by name, in order.

    ``params`` are the parameters' idents; ``state`` pairs each state array's argument name
    with (state symbol name, parameter ident); ``hyper`` pairs each tuned hyperparameter's
    symbol with its argument name; ``functions`` maps a function to its argument names.
    """

    params: tuple
    state: tuple
    hyper: tuple
    functions: dict

    def arguments(self, function: str, values: dict) -> list:
        """``values`` (argument name -> value) in the order ``function`` takes them.

        Raises:
            KeyError: a value that ``function`` takes is missing.
        """
        return [values[name] for name in self.functions[function]]
