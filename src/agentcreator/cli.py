"""Command line: ``agentcreator serve | migrate | create-admin``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from agentcreator.core.config import get_settings


async def _migrate() -> None:
    from agentcreator.db.migrate import upgrade
    from agentcreator.db.session import create_engine

    engine = create_engine(get_settings().resolved_database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def cmd_migrate(_: argparse.Namespace) -> int:
    asyncio.run(_migrate())
    print("database is at the latest migration")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    workers = args.workers or 1
    if workers > 1 and not settings.redis_url:
        print("error: several workers share turns, events and rate limits through Redis: set REDIS_URL",
              file=sys.stderr)
        return 2
    if not args.no_migrate:
        asyncio.run(_migrate())
    # Each worker holds a lease and finishes only the turns of processes whose lease expired
    # (chat/leases.py): workers and other hosts restart independently.
    uvicorn.run("agentcreator.main:create_app", factory=True, host=args.host or settings.host,
                port=args.port or settings.port, log_level=settings.log_level, workers=args.workers,
                proxy_headers=settings.auth.trust_forwarded_for)
    return 0


async def _create_admin(email: str, name: str, password: str) -> str:
    from agentcreator.services.accounts import create_admin
    from agentcreator.state import AppState

    state = AppState.build(get_settings())
    try:
        return await create_admin(state, email=email, name=name, password=password)
    finally:
        await state.close()


def cmd_create_admin(args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass("Password: ")
    try:
        outcome = asyncio.run(_create_admin(args.email, args.name, password))
    except Exception as exc:  # noqa: BLE001 - report any failure to the operator
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(outcome)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentcreator", description="Agent Creator server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply migrations and serve the app")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=None)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)
    admin = sub.add_parser("create-admin", help="create an administrator (or promote an existing user)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    admin.add_argument("--password", help="prompted for when omitted")
    admin.set_defaults(func=cmd_create_admin)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
