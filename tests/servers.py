"""Real servers for fault tests and `bench/faults.py`: private PostgreSQL and Redis instances on
free loopback ports (stopped, stalled with SIGSTOP and resumed at will, never the shared ones),
and gunicorn with the project's configuration."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Missing(RuntimeError):
    """A server binary this machine does not have."""


def start_or_skip(server_class):
    """A private server for a test; a missing binary fails the test in CI and skips it elsewhere."""
    import pytest

    try:
        return server_class()
    except Missing as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing))
        pytest.skip(str(missing))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{check} did not succeed within {seconds} s")
        time.sleep(0.1)


def get(url, method="GET", data=None, headers=None, timeout=15):
    """(status, headers, body, seconds) of one request."""
    request = urllib.request.Request(url, method=method, data=data, headers=headers or {})  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        answer = error.code, error.headers, error.read().decode()
    return (*answer, time.monotonic() - started)


def _children(parent):
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            pids.append(int(Path(stat).parent.name))
    return pids


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temporary folder, on a port of its own."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise Missing("PostgreSQL server binaries (initdb) are not installed")
        self.bin = Path(bins[-1])
        self.folder = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL refuses to run as root: the folder then belongs to postgres.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def _run(self, tool, *args):
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self):
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self):
        self.resume()
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _pids(self):
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        return [postmaster, *_children(postmaster)]

    def stall(self):
        """Every process stopped: the kernel accepts connections, nothing answers."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self):
        if (self.data / "postmaster.pid").exists():
            for pid in self._pids():
                os.kill(pid, signal.SIGCONT)

    def psql(self):
        return ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q"]

    def remove(self):
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis:
    """A redis-server on a port of its own, keeping nothing on disk."""

    def __init__(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise Missing("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = Path(tempfile.mkdtemp(prefix="crm-redis-"))
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), timeout=1).close() or 1)

    def stall(self):
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def remove(self):
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


class Gunicorn:
    """gunicorn with gunicorn.conf.py and the test settings (debug off, the suite's token)."""

    def __init__(self, env, log_path, workers=1):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            **env,
        }
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "crm_project.wsgi"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: get(self.base + "/healthz", timeout=5)[0] in (200, 503))

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
