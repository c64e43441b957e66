"""The ``glassnet`` command: one sub-command per module in ``glassnet.commands``.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; heavy
imports happen inside ``run`` so that ``glassnet --help`` stays instant. Errors print one line on
stderr, ``glassnet CMD: error: ...``: usage errors (an option's value, options that conflict) exit 2 as
argparse's own do, every other error 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

COMMANDS = ("train", "evaluate", "predict", "explain", "summary", "autoencoder", "plot", "export", "playground",
            "sweep")


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (with a pointer to --help) instead of the whole usage block."""

    def error(self, message: str) -> NoReturn:
        # "argument --lr: must be a positive number, got nan" -> "--lr must be a positive number, got nan"
        message = re.sub(r"^argument (?:\S+/)?(\S+): (must .*)$", r"\1 \2", message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from glassnet._base.version import __version__

    parser = _Parser(prog="glassnet", description="Glass-box neural networks on NumPy.")
    parser.add_argument("--version", action="version", version=f"glassnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.set_defaults(subparsers=sub.choices)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"glassnet.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"glassnet.commands.{name}":
                raise
            continue
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show full tracebacks on errors")
        mod.add_arguments(p)
        p.set_defaults(run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command's own parser: "glassnet evaluate: error: unrecognized arguments: ..."
            args.subparsers[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # --help, --version, or a usage error already printed
        return 0 if e.code is None else e.code if isinstance(e.code, int) else 2
    from glassnet.commands._common import UsageError

    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line for users, the traceback with --debug
        if getattr(args, "debug", False):
            raise
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if isinstance(e, OSError) and e.strerror:  # "[Errno 28] ..." -> the words
            msg = e.strerror + (f": {e.filename}" if e.filename else "")
        print(f"glassnet {args.command}: error: {msg}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1


if __name__ == "__main__":
    sys.exit(main())
