"""Command line: ``agentcreator serve | migrate | create-admin | rotate-secret | files sweep``."""

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
    from agentcreator.core.secret_key import SecretKeyError
    try:
        settings.resolve_secret_key()  # generated here once, before any worker starts
    except SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.no_migrate:
        asyncio.run(_migrate())
    # Each worker holds a lease and finishes only the turns of processes whose lease expired
    # (chat/leases.py): workers and other hosts restart independently.
    uvicorn.run("agentcreator.main:create_app", factory=True, host=args.host or settings.host,
                port=args.port or settings.port, log_level=settings.log_level, workers=args.workers,
                proxy_headers=settings.auth.trust_forwarded_for,
                # The server refuses bigger WebSocket messages itself (api/ws_frames.py checks them too).
                ws_max_size=settings.limits.max_body_bytes)
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


async def _sweep_files() -> str:
    from agentcreator.db.session import create_engine, create_session_factory
    from agentcreator.files.storage import LocalFileStorage
    from agentcreator.services.files import FileService

    settings = get_settings()
    engine = create_engine(settings.resolved_database_url)
    try:
        service = FileService(create_session_factory(engine), LocalFileStorage(settings.data_dir / "files"),
                              settings.files)
        report = await service.sweep()
    finally:
        await engine.dispose()
    return (f"removed {report.stored_removed} stored file(s) without a row, {report.rows_removed} row(s) "
            f"without a file, {report.spools_removed} abandoned upload(s)")


def cmd_files_sweep(_: argparse.Namespace) -> int:
    print(asyncio.run(_sweep_files()))
    return 0


async def _rotate(old_key: str, new_key: str) -> str:
    from agentcreator.db.session import create_engine, create_session_factory
    from agentcreator.services.secret_rotation import rotate_secret

    engine = create_engine(get_settings().resolved_database_url)
    try:
        report = await rotate_secret(create_session_factory(engine), old_key, new_key)
    finally:
        await engine.dispose()
    return (f"re-encrypted {report.providers_reencrypted} provider key(s); signed out {report.users_signed_out} "
            f"user(s) ({report.sessions_revoked} session(s) revoked)")


def cmd_rotate_secret(args: argparse.Namespace) -> int:
    """Move to a new secret key (docs/security.md). Stop the server first; start it again after."""
    import os

    from agentcreator.core import secret_key as keys

    settings = get_settings()
    try:
        old_key = settings.resolve_secret_key()
        if settings.secret_key is not None:
            if not args.new_key_stdin:
                print("error: SECRET_KEY is set in the environment. Pass the new key on standard input with "
                      "--new-key-stdin, then set SECRET_KEY to it and restart every worker.", file=sys.stderr)
                return 2
            new_key = keys.check_key(sys.stdin.readline().strip())
            print(asyncio.run(_rotate(old_key, new_key)))
            print("now set SECRET_KEY to the new key and restart every worker")
            return 0
        # The new key is saved before the database moves to it, and replaces the old one after: a crash
        # in between leaves secret_key.new, which the next run picks up (the rotation is idempotent).
        pending = keys.pending_key_file(settings.data_dir)
        if pending.exists():
            new_key = keys.read_key_file(pending)
        else:
            new_key = keys.generate_key()
            keys.write_new_key_file(pending, new_key)
        print(asyncio.run(_rotate(old_key, new_key)))
        os.replace(pending, keys.key_file(settings.data_dir))
    except keys.SecretKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"the new key is in {keys.key_file(settings.data_dir)}; restart every worker")
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
    files = sub.add_parser("files", help="uploaded files").add_subparsers(dest="files_command", required=True)
    sweep = files.add_parser("sweep", help="remove stored files without a row and rows without a file")
    sweep.set_defaults(func=cmd_files_sweep)
    rotate = sub.add_parser("rotate-secret", help="move to a new secret key: re-encrypt provider keys and "
                            "sign everyone out (stop the server first)")
    rotate.add_argument("--new-key-stdin", action="store_true",
                        help="read the new key from standard input (when SECRET_KEY is set in the environment)")
    rotate.set_defaults(func=cmd_rotate_secret)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
