"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl on a free port under a temp dir,
run as the unprivileged ``postgres`` user when the tests run as root, stopped afterwards.

Skips (saying why) when Debian's ``postgresql`` package is not installed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield a DSN of a fresh database; the server is stopped and its files removed after."""
    bindir = _bin_dir()
    if bindir is None:
        pytest.skip(
            "PostgreSQL is not installed (apt-get install postgresql; ./jiesu.sh test does)"
        )
    user: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
    root = Path(tempfile.mkdtemp(prefix="jiesu-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if user is not None:
        for path in (root, sock):
            os.chown(path, user.pw_uid, user.pw_gid)

    def run(*args: str) -> None:
        cmd = [str(bindir / args[0]), *args[1:]]
        if user is not None:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    port = _free_port()
    run("initdb", "-D", str(data), "-U", "jiesu", "-A", "trust", "-E", "UTF8", "--no-sync")
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} -c fsync=off"
    run(
        "pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60", "start"
    )
    try:
        yield f"host=127.0.0.1 port={port} user=jiesu dbname=postgres connect_timeout=10"
    finally:
        try:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)
