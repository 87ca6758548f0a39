"""``python -m tda_backend.cli``: administrative commands.

migrate [--revision REV] [--database-url URL]   bring the schema up to date (default: head)
downgrade REV [--database-url URL]              step the schema back
current [--database-url URL]                    print the schema's revision
stream init | deploy [...]                      Kafka topics; Flink jobs (tda_backend.flink.cli)
keys create --name NAME | revoke ID | list      API keys in the database (API_KEYS_DB)
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tda_backend.config import get_settings
from tda_backend.services import database
from tda_backend.services.telemetry import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tda_backend.cli", description="tda-platform administration"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def with_url(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--database-url",
            help="SQLAlchemy async URL (default: DATABASE_URL, else SQLite in DATA_DIR)",
        )
        return sub

    migrate = with_url(commands.add_parser("migrate", help="upgrade the database schema"))
    migrate.add_argument("--revision", default="head")
    downgrade = with_url(commands.add_parser("downgrade", help="downgrade the database schema"))
    downgrade.add_argument("revision")
    with_url(commands.add_parser("current", help="print the schema revision"))
    keys = commands.add_parser("keys", help="API keys kept in the database (API_KEYS_DB)")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = with_url(key_commands.add_parser("create", help="make a key; it is shown once"))
    create.add_argument("--name", required=True, help="who or what the key is for")
    revoke = with_url(key_commands.add_parser("revoke", help="stop accepting a key"))
    revoke.add_argument("key_id")
    with_url(key_commands.add_parser("list", help="the keys, without the keys themselves"))
    from tda_backend.flink.cli import add_stream_commands

    add_stream_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings)
    if args.command == "stream":
        from tda_backend.flink.cli import run_stream_command

        return run_stream_command(args, settings)
    url = args.database_url or settings.resolved_database_url
    if args.database_url is None and settings.embedded_database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.command == "migrate":
        database.upgrade(url, args.revision)
        print(f"schema at {database.current_revision(url)}")
    elif args.command == "downgrade":
        database.downgrade(url, args.revision)
        print(f"schema at {database.current_revision(url)}")
    elif args.command == "current":
        print(database.current_revision(url) or "empty (no migrations applied)")
    elif args.command == "keys":
        database.upgrade(url)
        return asyncio.run(_keys(args, url))
    return 0


async def _keys(args: argparse.Namespace, url: str) -> int:
    from tda_backend.services.api_keys import KeyStore

    engine = database.create_engine(url)
    try:
        store = KeyStore(database.create_sessionmaker(engine))
        if args.keys_command == "create":
            record, key = await store.create(args.name)
            print(f"{record.id}\t{record.name}\t{key}")
            print("the key is shown only now; the database keeps its SHA-256", file=sys.stderr)
        elif args.keys_command == "revoke":
            if not await store.revoke(args.key_id):
                print(f"no active key {args.key_id!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.key_id}")
        else:
            for record in await store.list():
                revoked = record.revoked_at
                state = f"revoked {revoked.isoformat()}" if revoked else "active"
                print(f"{record.id}\t{record.name}\t{record.created_at.isoformat()}\t{state}")
    finally:
        await engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
