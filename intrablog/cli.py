"""The ``intrablog`` command: serve, migrate, seed, sync-directory, check-config.

A bad configuration never ends in a traceback: the message names the file and the key, and the exit
status is 2 (1 when the configuration is valid but a dependency does not answer).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from intrablog import __version__
from intrablog.config import Settings, load_settings
from intrablog.errors import ConfigError, Unavailable
from intrablog.observability import configure_logging
from intrablog.runtime import Runtime, build_app, run_with_runtime
from intrablog.storage.migrate import migrate

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 1
CONFIG_ENV = "INTRABLOG_CONFIG"


def _config_path(value: str | None) -> Path | None:
    chosen = value or os.environ.get(CONFIG_ENV)
    return Path(chosen) if chosen else None


def _serve(settings: Settings) -> int:
    web.run_app(
        build_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        print=lambda _: None,
        access_log=None,
        shutdown_timeout=10,
    )
    return 0


def _migrate(settings: Settings) -> int:
    try:
        asyncio.run(migrate(settings.database.url))
    except (SQLAlchemyError, OSError) as exc:
        print(f"intrablog: database.url: cannot migrate {_safe_url(settings.database.url)}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"database is at the latest schema ({_safe_url(settings.database.url)})")
    return 0


def _seed(settings: Settings) -> int:
    async def work(runtime: Runtime) -> int:
        created = await runtime.services.channels.seed()
        print(f"channels created: {', '.join(created) if created else 'none (all exist)'}")
        return 0

    return asyncio.run(run_with_runtime(settings, work))


def _sync_directory(settings: Settings) -> int:
    async def work(runtime: Runtime) -> int:
        started = time.monotonic()

        def progress(step: str) -> None:
            print(f"[{time.monotonic() - started:6.1f} s] {step} ...", flush=True)

        report = await runtime.services.directory_sync.run(progress)
        if not report.ok:
            print(f"intrablog: directory sync failed, nothing changed: {report.error}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        print(
            f"directory sync done in {report.duration_seconds:.1f} s: {report.people} people, "
            f"{report.groups} groups, {report.memberships} group memberships\n"
            f"  created {report.created}, updated {report.updated}, deactivated {report.deactivated}, "
            f"reactivated {report.reactivated}; sessions revoked {report.sessions_revoked}; "
            f"channel memberships from groups changed {report.channel_memberships_changed}"
        )
        return 0

    return asyncio.run(run_with_runtime(settings, work))


def _safe_url(url: str) -> str:
    # Never print a database password.
    return make_url(url).render_as_string(hide_password=True)


def _check(settings: Settings, source: str) -> int:
    print(f"ok    configuration {source} is valid")

    async def work(runtime: Runtime) -> int:
        failures = 0
        for name, probe, where in (
            ("database", runtime.database.ping, _safe_url(settings.database.url)),
            ("directory", runtime.directory.ping, settings.ldap.url),
        ):
            try:
                await probe()
                print(f"ok    {name} answers at {where}")
            except Unavailable as exc:
                failures += 1
                print(f"FAIL  {name} at {where}: {exc.detail}")
        if settings.database.is_sqlite:
            print("note  single node: SQLite deployments run one intrablog process (PostgreSQL for several)")
        else:
            print(
                "note  several nodes may share this database; one runs the bridge (advisory lock), the "
                f"others try to take it every {settings.xmpp.leader_retry_seconds:g} s (xmpp.leader_retry_seconds); "
                f"a hung node keeps it at most {settings.xmpp.leader_timeout_seconds:g} s (xmpp.leader_timeout_seconds)"
            )
        return EXIT_UNAVAILABLE if failures else 0

    return asyncio.run(run_with_runtime(settings, work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intrablog", description="Self-hosted enterprise microblog")
    parser.add_argument("--version", action="version", version=f"intrablog {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("serve", "serve the web UI and API"),
        ("migrate", "upgrade the database schema to the latest revision"),
        ("seed", "create the channels named in the configuration"),
        ("sync-directory", "mirror the directory's people and groups once (deactivates people it no longer lists)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--config", help=f"TOML configuration file (default: ${CONFIG_ENV})")
    check = commands.add_parser("check-config", help="validate a configuration and try its connections")
    check.add_argument("config", help="TOML configuration file")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = _config_path(args.config)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        print(f"intrablog: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.logging.level, settings.logging.json_format)
    if args.command == "check-config":
        return _check(settings, str(path))
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "seed":
        return _seed(settings)
    if args.command == "sync-directory":
        return _sync_directory(settings)
    return _serve(settings)


if __name__ == "__main__":
    sys.exit(main())
