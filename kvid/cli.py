"""The ``kvid`` command line: parse, call the library, print.

Each package owns its subcommands in a ``cli`` module exposing ``add_parsers(subparsers)``;
each parser sets ``func`` (called with the parsed args, returns the exit status) and, when the
command needs an optional extra whatever its arguments, ``needs="train"``. Those modules must
not import TensorFlow at import time, so ``kvid predict`` works on a runtime-only install; a
command that needs an extra this install lacks says so in one line (which extra, the pip
command) with exit status 2 - up front when it declares ``needs``, else where the missing
module is first imported.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kvid import KvidError, __version__, environment

# Modules that contribute subcommands, in the order `kvid --help` lists them.
COMMAND_MODULES = (
    "kvid.analysis.cli",  # models, info
    "kvid.data.cli",  # synth, data
    "kvid.train.cli",  # train, evaluate
    "kvid.export.cli",  # qat, export, audit
    "kvid.runtime.cli",  # predict, bench
    "kvid.quant.cli",  # quant
    "kvid.demo",  # demo
    "kvid.doctor",  # doctor
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvid",
        description="Efficient video recognition in Keras, exported to fully int8 TFLite.",
    )
    parser.add_argument("--version", action="version", version=f"kvid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a module of a package not built yet
            if exc.name and (name + ".").startswith(exc.name + "."):
                continue  # that package is not in this install
            raise
        module.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = f"kvid {args.command}"
    needs = getattr(args, "needs", None)
    if needs and environment.missing(needs):
        print(f"kvid: error: {environment.needs_extra(command, needs)}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KvidError as exc:
        print(f"kvid: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # a command that needs an extra only for some inputs
        extra = environment.extra_of(exc.name)
        if extra is None:
            raise
        print(f"kvid: error: {environment.needs_extra(command, extra, [exc.name])}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        return 0
    except KeyboardInterrupt:
        print("kvid: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
