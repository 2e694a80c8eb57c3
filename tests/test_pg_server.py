"""The test PostgreSQL server (tests/pg_server.py) does what the backends rely on: it
starts from Debian's package, hands out empty databases that don't see each other, runs
as the `postgres` user when we are root, and is gone after the session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests import pg_server as pg_module
from tests.backends import rows, sql, storage_section
from tests.pg_server import PgServer, PgServerError, start_server

TABLES = (
    "SELECT table_schema, table_name FROM information_schema.tables"
    " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
)


def running(pid: int) -> bool:
    """Alive, not a zombie (the dead server's parent is init, which reaps when it will)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_a_server_starts_serves_and_is_gone_after_stop() -> None:
    server = start_server()
    assert server.directory is not None
    directory, pid_file = server.directory, server.data_dir / "postmaster.pid"
    admin = {"url": server.admin_url}
    try:
        postmaster = int(pid_file.read_text().split()[0])
        settings = rows(
            admin,
            "SELECT name, setting FROM pg_settings WHERE name = ANY(?) ORDER BY name",
            ["listen_addresses", "fsync", "synchronous_commit", "full_page_writes"],
        )
        assert settings == [
            {"name": "fsync", "setting": "off"},
            {"name": "full_page_writes", "setting": "off"},
            {"name": "listen_addresses", "setting": "127.0.0.1"},
            {"name": "synchronous_commit", "setting": "off"},
        ]
        assert rows(admin, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [
            {"rolsuper": True}
        ]
        # As root the server runs as `postgres` (it refuses root), otherwise as ourselves.
        owner = Path(f"/proc/{postmaster}").stat().st_uid
        expected = pg_module._run_as()
        assert owner == (expected.pw_uid if expected is not None else os.geteuid())
        # Its Unix socket is in its own directory, not in /var/run/postgresql.
        assert list(directory.glob(".s.PGSQL.*"))
        assert running(postmaster)
    finally:
        server.stop()
    assert not directory.exists()
    assert not running(postmaster)
    with pytest.raises(ConnectionRefusedError):
        rows(admin, "SELECT 1")


def test_a_server_left_by_a_killed_run_is_stopped_and_removed_by_the_next() -> None:
    abandoned = start_server()
    assert abandoned.directory is not None
    postmaster = int(abandoned.data_dir.joinpath("postmaster.pid").read_text().split()[0])
    # Its pytest died without a teardown (SIGKILL): its recorded owner is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    abandoned.directory.joinpath(pg_module.OWNER_FILE).write_text(str(dead.pid))
    # A live owner's server (another run going on meanwhile) is left alone.
    alive = start_server()
    try:
        assert alive.directory is not None
        assert not abandoned.directory.exists()
        assert not running(postmaster)
        neighbour = start_server()
        neighbour.stop()
        assert alive.directory.exists()
        assert rows({"url": alive.admin_url}, "SELECT 1 AS one") == [{"one": 1}]
    finally:
        alive.stop()
        abandoned.stop()


async def test_fresh_databases_are_empty_and_do_not_see_each_other(pg_server: PgServer) -> None:
    first = pg_server.fresh_database_url("first")
    second = pg_server.fresh_database_url("second")
    try:
        assert first != second
        assert await sql({"url": first}, TABLES) == []
        await sql({"url": first}, "CREATE TABLE jobs (id integer PRIMARY KEY, state text)")
        await sql({"url": first}, "INSERT INTO jobs VALUES (?, ?)", 1, "pending")
        assert await sql({"url": first}, "SELECT * FROM jobs") == [{"id": 1, "state": "pending"}]
        assert await sql({"url": second}, TABLES) == []
        # The same table name in the other database is another table.
        await sql({"url": second}, "CREATE TABLE jobs (id integer PRIMARY KEY, state text)")
        assert await sql({"url": second}, "SELECT * FROM jobs") == []
    finally:
        pg_server.drop_database(first)
        pg_server.drop_database(second)


async def test_a_dropped_database_is_gone_even_with_a_connection_open(pg_server: PgServer) -> None:
    url = pg_server.fresh_database_url("dropped")
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(url)  # a bot that did not close its pool
    try:
        pg_server.drop_database(url)
        assert name not in pg_server.made
        listed = await sql(
            {"url": pg_server.admin_url}, "SELECT datname FROM pg_database WHERE datname = ?", name
        )
        assert listed == []
    finally:
        await conn.close()


async def test_a_directory_keeps_its_database_within_a_test_on_postgres(
    pg_server: PgServer, tmp_path: Path
) -> None:
    """A restart builds its config again: it must reach the same data. The databases are
    dropped when the `store_backend` fixture ends; here, by hand."""
    from tests.backends import _databases

    _databases.server = pg_server
    try:
        a = storage_section("postgres", tmp_path / "a")
        assert storage_section("postgres", tmp_path / "a") == a
        b = storage_section("postgres", tmp_path / "b")
        assert a != b
        assert set(a) == {"url"}
        assert await sql(a, TABLES) == []
        # From synchronous code inside this test's running loop, as the process tests poll.
        assert rows(b, TABLES) == []
    finally:
        _databases.drop_all()
        _databases.server = None
    gone = await sql(
        {"url": pg_server.admin_url},
        "SELECT count(*) AS n FROM pg_database WHERE datname = ANY(?)",
        [a["url"].rsplit("/", 1)[1], b["url"].rsplit("/", 1)[1]],
    )
    assert gone == [{"n": 0}]


async def test_an_outside_server_is_used_as_it_is_and_keeps_only_what_it_had(
    pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`STORYBOARD_TEST_PG_URL`: nothing started; the databases made there dropped at the end."""
    monkeypatch.setenv(pg_module.ENV_URL, pg_server.admin_url)
    outside = start_server()
    try:
        assert outside.directory is None
        url = outside.fresh_database_url("outside")
        assert await sql({"url": url}, TABLES) == []
    finally:
        outside.stop()
    # Our own server still runs; the database is gone from it.
    left = await sql(
        {"url": pg_server.admin_url},
        "SELECT count(*) AS n FROM pg_database WHERE datname = ?",
        url.rsplit("/", 1)[1],
    )
    assert left == [{"n": 0}]


def test_root_without_a_postgres_user_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_user(name: str) -> None:
        raise KeyError(name)

    monkeypatch.setattr(pg_module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(pg_module.pwd, "getpwnam", no_such_user)
    with pytest.raises(PgServerError, match="no `postgres` user") as error:
        start_server()
    assert "STORYBOARD_TEST_PG_URL" in str(error.value)


def test_no_postgresql_installed_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(pg_module, "DEBIAN_BINDIRS", "/nonexistent/postgresql/*/bin")
    with pytest.raises(PgServerError, match=r"apt-get install postgresql"):
        start_server()
