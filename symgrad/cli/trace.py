"""Command line: ``symgrad explain --layers 2,3,1 ...``, a network's backward pass in numbers.

``explain`` (:mod:`symgrad.cli.formula`) traces a formula given as EXPR; given a network
instead (the options of :func:`symgrad.cli.network.network_arguments`), it comes here and
prints every forward and backward quantity on a seeded random batch at the network's
seeded initial parameters (:func:`symgrad.nn.trace.explain_network`).
"""

from __future__ import annotations

import argparse

from symgrad.cli.network import LAYER_OPTIONS, network_arguments, network_from, seed
from symgrad.errors import SymgradError

#: The options that only a network takes, beside those that describe it.
_OWN = ("batch", "seed")


def _batch(text: str) -> int:
    """The ``--batch`` option: 1 to MAX_SHOWN examples."""
    from symgrad.nn.trace import MAX_SHOWN

    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_SHOWN:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_SHOWN} examples, got {text!r}")
    return value


def arguments(p: argparse.ArgumentParser) -> None:
    """Add the network's options and the batch's to ``explain``'s parser."""
    group = p.add_argument_group("a network instead of EXPR (its backward pass in numbers)")
    network_arguments(group)
    group.add_argument("--batch", type=_batch, help="random examples (default 2)")
    group.add_argument("--seed", type=seed, help="of the examples and parameters (default 0)")


def given(args: argparse.Namespace) -> list[str]:
    """The network options given, as typed (``--layers``, ``--seed``)."""
    names = ["layers", "file", *LAYER_OPTIONS, *_OWN]
    return [f"--{name}" for name in names if getattr(args, name) is not None]


def run(args: argparse.Namespace) -> int:
    """Print the network's trace in ``args.format``."""
    from symgrad.nn.trace import BATCH, explain_network

    if not given(args):
        raise SymgradError("give EXPR and --at a=1,b=2 (a formula), or --layers 2,3,1 (a network)")
    if args.at is not None:
        raise SymgradError("--at is the point of EXPR; a network is explained on a batch")
    network = network_from(args)
    batch = BATCH if args.batch is None else args.batch
    trace = explain_network(network, batch=batch, seed=args.seed or 0)
    print(getattr(trace, args.format)())
    return 0
