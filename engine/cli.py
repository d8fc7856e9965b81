"""The ``jiesu`` command: serve, demo, token, schema, check-config and the benchmarks.

Exit codes: 0 success; 1 runtime failure; 2 bad command line; 3 invalid configuration;
4 a benchmark ran but missed its target (only with ``--check``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_TARGET_MISSED = 4

#: Benchmark name -> module under jiesu.bench that defines add_arguments(parser) and run(args).
BENCHMARKS = {
    "gateway": "jiesu.bench.gateway",
}


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser("bench", help="run a benchmark and write bench/results/NAME.json")
    names = bench.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        parser = names.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        parser.add_argument(
            "--json", action="store_true", help="print the result as one JSON object"
        )
        parser.add_argument(
            "--output",
            type=Path,
            default=Path("bench/results") / f"{name}.json",
            help="where to write the result (default: %(default)s)",
        )
        parser.add_argument("--check", action="store_true", help="exit 4 if the target is missed")
        module.add_arguments(parser)
        parser.set_defaults(bench_module=module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiesu",
        description="Jiesu (接诉): real-time agent assist for 12345 government service hotlines.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_bench(sub)
    return parser


def _run_bench(args: argparse.Namespace) -> int:
    result = args.bench_module.run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    if args.check and not result.get("target_met", True):
        return EXIT_TARGET_MISSED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        return _run_bench(args)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
