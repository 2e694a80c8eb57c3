"""A real PostgreSQL server for the test session, from Debian's `postgresql` package.

`start_server()` runs `initdb` into a temporary directory and starts the server there:
TCP on 127.0.0.1 only (a free port), its Unix socket in the same directory, trust
authentication for one superuser, and durability turned off (tests never survive a crash
of the machine, so fsync buys nothing but time). `stop()` kills it (`-m immediate`) and
removes the directory. PostgreSQL refuses to run as root: as root, the directory belongs
to the `postgres` user (which the package creates) and the server runs as that user.

With `STORYBOARD_TEST_PG_URL` set (a superuser's URL, or one allowed CREATE DATABASE),
that server is used instead and nothing is started; the databases the tests made there
are dropped again.

Each test gets a fresh empty database, `CREATE DATABASE ... TEMPLATE template0`: a
database, not a schema, so a test sees exactly what a real install sees (its own
`public` schema, its own advisory locks, nothing another test made). Measured on the
2-core CI machine with the data in /dev/shm: create 16 ms and drop 9 ms (STRATEGY
FILE_COPY; PostgreSQL 15's default WAL_LOG took 25 to 65 ms), against 1 ms each for a
schema; on the disk instead of tmpfs a create took 30 to 380 ms, hence `_parent_dir`.

Under pytest-xdist each worker is its own session, hence its own server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

ENV_URL = "STORYBOARD_TEST_PG_URL"
SUPERUSER = "storyboard"
# Debian's package puts the server's programs here, one directory per major version.
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
# Settings for a server whose data is thrown away at the end: nothing is flushed to disk.
TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Every test's bot holds a few connections; a slow teardown can overlap the next test.
    "max_connections": "200",
    # Shown in the log when a test fails on the server's side.
    "log_min_messages": "warning",
    "log_min_error_statement": "error",
}
START_ATTEMPTS = 3
PREFIX = "storyboard-pg-"
OWNER_FILE = "owner.pid"
# A server with its WAL takes about 200 MB; each test's database (7.5 MB) is dropped after it.
SHM_NEEDS = 1 << 30


class PgServerError(RuntimeError):
    """The test server could not be started; the message says why and what to do."""


def find_bindir() -> Path:
    """The directory with `initdb`, `pg_ctl` and `postgres`: from PATH (followed through
    symlinks, so the three come from one installation), else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/").glob(DEBIAN_BINDIRS.lstrip("/")),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
    )
    for bindir in reversed(versions):
        if (bindir / "initdb").exists():
            return bindir
    raise PgServerError(
        "no PostgreSQL server programs: initdb is neither on PATH nor in "
        f"{DEBIAN_BINDIRS}. Install Debian's package (`apt-get install postgresql`; "
        f"scripts/test does it), or point {ENV_URL} at a server."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The user the server must run as: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise PgServerError(
            "running as root, and PostgreSQL refuses to run as root, but there is no "
            "`postgres` user to run it as (Debian's postgresql package creates it). "
            f"Install the package, run the tests as another user, or set {ENV_URL}."
        ) from None


def _as_user(user: pwd.struct_passwd | None, argv: list[str]) -> list[str]:
    if user is None:
        return argv
    # setpriv (util-linux, in every Debian) switches user without PAM or a login shell.
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--init-groups",
        "--",
        *argv,
    ]


class _AdminLoop:
    """One asyncpg connection to the server's `postgres` database on a private event loop
    in a thread, so synchronous code (config builders called from inside a test's own
    loop) can create databases without blocking on a loop that is already running."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._url = url
        self._conn: Any = None

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=60)

    async def execute(self, sql: str) -> None:
        import asyncpg  # the `postgres` extra; only tests on PostgreSQL need it

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._url)
        await self._conn.execute(sql)

    def close(self) -> None:
        async def close_conn() -> None:
            if self._conn is not None and not self._conn.is_closed():
                await self._conn.close()

        with contextlib.suppress(Exception):
            self.run(close_conn())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@dataclass
class PgServer:
    """A running server (ours or `STORYBOARD_TEST_PG_URL`'s) and the databases made on it."""

    admin_url: str  # the `postgres` database, as the superuser
    directory: Path | None = None  # ours: data, socket and log; None for an outside server
    bindir: Path | None = None
    run_as: pwd.struct_passwd | None = None
    made: list[str] = field(default_factory=list)
    _admin: _AdminLoop | None = None
    _counter: int = 0

    @property
    def data_dir(self) -> Path:
        assert self.directory is not None
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        assert self.directory is not None
        return self.directory / "server.log"

    def url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + quote(database)))

    def execute(self, sql: str) -> None:
        """Run one statement in the `postgres` database as the superuser."""
        if self._admin is None:
            self._admin = _AdminLoop(self.admin_url)
        self._admin.run(self._admin.execute(sql))

    def fresh_database_url(self, name: str) -> str:
        """A new empty database (`name` made unique and safe) and its URL."""
        self._counter += 1
        slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        # Identifiers end at 63 bytes; the counter keeps truncated names apart.
        database = f"t{self._counter}_{os.getpid()}_{slug}"[:63]
        # FILE_COPY copies template0's few files; WAL_LOG (15's default) writes every page
        # to the WAL, which costs more for a database this small.
        self.execute(f'CREATE DATABASE "{database}" TEMPLATE template0 STRATEGY FILE_COPY')
        self.made.append(database)
        return self.url(database)

    def drop_database(self, url: str) -> None:
        """Drop a database `fresh_database_url` made, even with connections still open."""
        database = urlsplit(url).path.lstrip("/")
        self.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if database in self.made:
            self.made.remove(database)

    def stop(self) -> None:
        """Ours: killed and removed. An outside server: our databases dropped."""
        try:
            if self.directory is None:
                for database in list(self.made):
                    self.drop_database(self.url(database))
        finally:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
            if self.directory is not None:
                if self.data_dir.joinpath("postmaster.pid").exists():
                    assert self.bindir is not None
                    subprocess.run(
                        _as_user(
                            self.run_as,
                            [
                                *(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data_dir)),
                                *("-m", "immediate", "-w", "-t", "30"),
                            ],
                        ),
                        cwd=self.directory,
                        capture_output=True,
                        check=False,
                    )
                shutil.rmtree(self.directory, ignore_errors=True)


def _parent_dir() -> str | None:
    """Where the server's directory goes: /dev/shm (a tmpfs in every Debian) when it has
    room, so the server never waits on the disk; else the usual temporary directory."""
    shm = Path("/dev/shm")
    try:
        usage = shutil.disk_usage(shm)
    except OSError:
        return None
    if os.access(shm, os.W_OK | os.X_OK) and usage.free > SHM_NEEDS:
        return str(shm)
    return None


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_abandoned(parent: Path, bindir: Path, user: pwd.struct_passwd | None) -> None:
    """Servers whose test run was killed outright (SIGKILL, a CI timeout) never ran their
    teardown: stop them and free their directories (in /dev/shm, that is memory)."""
    for directory in parent.glob(f"{PREFIX}*"):
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still starting
        if _alive(owner):
            continue
        PgServer(admin_url="", directory=directory, bindir=bindir, run_as=user).stop()


def start_server() -> PgServer:
    """`STORYBOARD_TEST_PG_URL`'s server, or a new one of ours (see the module's doc)."""
    outside = os.environ.get(ENV_URL)
    if outside:
        return PgServer(admin_url=outside)
    bindir = find_bindir()
    user = _run_as()
    directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_parent_dir()))
    _remove_abandoned(directory.parent, bindir, user)
    server = PgServer(admin_url="", directory=directory, bindir=bindir, run_as=user)
    try:
        # Whose server this is, for `_remove_abandoned` in a later run.
        (directory / OWNER_FILE).write_text(str(os.getpid()))
        if user is not None:
            os.chown(directory, user.pw_uid, user.pw_gid)
        initdb = subprocess.run(
            _as_user(
                user,
                [
                    *(str(bindir / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER),
                    *("--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"),
                ],
            ),
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
        )
        if initdb.returncode != 0:
            raise PgServerError(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        settings = {
            **TEST_SETTINGS,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{directory}'",
        }
        with server.data_dir.joinpath("postgresql.conf").open("a") as conf:
            conf.write("\n# tests/pg_server.py\n")
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        for _attempt in range(START_ATTEMPTS):
            port = free_port()
            started = subprocess.run(
                _as_user(
                    user,
                    [
                        *(str(bindir / "pg_ctl"), "start", "-D", str(server.data_dir)),
                        *("-l", str(server.log_file), "-o", f"-p {port}", "-w", "-t", "60"),
                    ],
                ),
                cwd=directory,
                capture_output=True,
                text=True,
                check=False,
                # Its own session: a Ctrl-C at the terminal reaches pytest, whose teardown
                # stops the server, instead of shutting it down under the running tests.
                start_new_session=True,
            )
            if started.returncode == 0:
                server.admin_url = f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
                return server
            # Another process took the port between our probe and the server's bind.
            if "could not bind" not in _log_tail(server.log_file):
                break
        raise PgServerError(
            f"the PostgreSQL server did not start:\n{started.stdout}{started.stderr}\n"
            f"{server.log_file}:\n{_log_tail(server.log_file)}"
        )
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's server, started on first use (a `--store sqlite` run starts none)."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
