"""The ``tda-stack`` dispatcher: parses the command and runs it over the chosen services.

Services are brought up in the order of :data:`SERVICES` (a later one may depend on an earlier
one: Flink's jobs read Kafka) and taken down in the reverse order. A new service is a module with a
class following :class:`tda_backend.stack.base.Service`, registered here by name.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys

from tda_backend.stack.base import Service, StackContext, StackError

# name -> "module:Class", imported only when the service is asked for.
SERVICES: dict[str, str] = {
    "postgres": "tda_backend.stack.postgres:Postgres",
    "redis": "tda_backend.stack.redis:Redis",
    "kafka": "tda_backend.stack.kafka:Kafka",
    "flink": "tda_backend.stack.flink:Flink",
}


def load(name: str) -> Service:
    module_name, class_name = SERVICES[name].split(":")
    service: Service = getattr(importlib.import_module(module_name), class_name)()
    return service


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tda-stack",
        description="Start, stop and inspect the servers of the production mode on this machine.",
    )
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument(
        "services",
        nargs="*",
        metavar="service",
        help=f"any of {', '.join(SERVICES)} (default: all)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [s for s in args.services if s not in SERVICES]
    if unknown:
        parser.error(f"unknown service {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    names = [s for s in SERVICES if s in args.services] if args.services else list(SERVICES)
    ctx = StackContext.from_environment()
    try:
        if args.command == "up":
            for name in names:
                service = load(name)
                service.up(ctx)
                print(f"{name}: {service.status(ctx).detail}")
        elif args.command == "down":
            for name in reversed(names):
                load(name).down(ctx)
                print(f"{name}: stopped")
        elif args.command == "status":
            states = [load(name).status(ctx) for name in names]
            for state in states:
                print(f"{state.name}: {state.detail}")
            return 0 if all(state.running for state in states) else 3
        else:
            for name in names:
                for key, value in load(name).env(ctx).items():
                    print(f"export {key}={shlex.quote(value)}")
    except StackError as exc:
        print(f"tda-stack {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0
