"""The sweep: stored files without a row and rows without a stored file are removed; young files and
live uploads are left alone. Also through ``agentcreator files sweep``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from agentcreator import cli
from agentcreator.api.deps import file_service_of
from agentcreator.files.storage import LocalFileStorage, new_key
from agentcreator.state import AppState
from tests.api.files_helpers import empty_storage, file_settings, stored_files, uploaded
from tests.conftest import UserSession
from tests.files import samples
from tests.test_cli import cli_database  # noqa: F401 - the fixture


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


async def test_sweep_removes_orphans_both_ways(client: httpx.AsyncClient, alice: UserSession,
                                               app_state: AppState) -> None:
    empty_storage(app_state)
    service = file_service_of(app_state)
    storage = service.storage
    assert isinstance(storage, LocalFileStorage)
    good = await uploaded(client, alice, "good.png", samples.image())
    lost = await uploaded(client, alice, "lost.txt", b"its bytes vanish")
    lost_row, _ = await service.get(alice.id, lost["id"])
    storage.path_of(lost_row.storage_key).unlink()
    orphan, young_orphan = new_key(), new_key()
    await storage.put_bytes(orphan, b"no row points here")
    await storage.put_bytes(young_orphan, b"an upload writing its row right now")
    spool = storage.spool()
    await spool.close()
    for path in stored_files(app_state):
        if young_orphan not in path.name:
            _age(path, 7200)
    with file_settings(app_state, sweep_grace_seconds=3600):
        report = await service.sweep()
    assert (report.stored_removed, report.rows_removed, report.spools_removed) == (1, 1, 1)
    assert (await client.get(f"/api/files/{lost['id']}", headers=alice.headers)).status_code == 404
    good_row, _ = await service.get(alice.id, good["id"])
    left = sorted(p.name for p in stored_files(app_state))
    assert left == sorted([*good_row.keys, young_orphan])
    assert (await client.get(f"/api/files/{good['id']}/content", headers=alice.headers)).status_code == 200
    again = await service.sweep()
    assert (again.stored_removed, again.rows_removed, again.spools_removed) == (0, 0, 0)


def test_cli_files_sweep(cli_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    assert cli.main(["migrate"]) == 0
    storage = LocalFileStorage(tmp_path / "files")
    key = new_key()
    path = storage.path_of(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"orphan")
    _age(path, 7200)
    capsys.readouterr()
    assert cli.main(["files", "sweep"]) == 0
    assert "removed 1 stored file(s) without a row" in capsys.readouterr().out
    assert not path.exists()


async def test_the_start_up_sweep_follows_its_setting(client: httpx.AsyncClient, app_state: AppState) -> None:
    from agentcreator.services.files import sweep_at_startup

    service = file_service_of(app_state)
    with file_settings(app_state, sweep_on_startup=False):
        assert await sweep_at_startup(service) is None
    with file_settings(app_state, sweep_on_startup=True):
        report = await sweep_at_startup(service)
    assert report is not None and report.rows_removed == 0
