"""Backends of their own for fault tests: a PostgreSQL cluster and a RabbitMQ node that a
test may stop, restart and starve without disturbing the machine's shared servers (the
cluster on 5432, the node `rabbit@localhost` on 5672) or anyone else's tests.

Both live in a temporary directory removed afterwards, with every process they started
killed, even when a test fails. Each keeps how long its starts and stops took."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.support.platform import free_port

# Starting either server takes seconds on a quiet machine; more on two busy cores.
BACKEND_TIMEOUT_SECONDS = 60
POSTGRES_USER = "postgres"


class Timings:
    """How long each operation on a backend took, in seconds, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = defaultdict(list)

    def timed(self, operation: str, action: Callable[[], object]) -> float:
        started = time.monotonic()
        action()
        elapsed = time.monotonic() - started
        self.seconds[operation].append(elapsed)
        return elapsed


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (initdb, pg_ctl)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL found under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    """Runs a command to its end within the backend timeout; its output when it fails."""
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=BACKEND_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as expired:
        raise RuntimeError(f"{what} took over {BACKEND_TIMEOUT_SECONDS}s: {expired.stdout}") from None
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return done.stdout


class ThrowawayPostgres:
    """A PostgreSQL cluster in `directory`, run by the `postgres` user (the server refuses
    root), trusting every local connection, on its own port and socket directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.sockets = directory / "sockets"
        self.log = directory / "postgres.log"
        self.port = free_port()
        self.bin = postgres_bin_dir()
        self.timings = Timings()

    @property
    def url(self) -> str:
        """The maintenance database, as a role that may create databases."""
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/postgres"

    def init(self) -> float:
        self.sockets.mkdir(parents=True)
        shutil.chown(self.directory, POSTGRES_USER, POSTGRES_USER)
        shutil.chown(self.sockets, POSTGRES_USER, POSTGRES_USER)
        return self.timings.timed(
            "initdb",
            lambda: self._as_postgres(
                "initdb", "-D", str(self.data), "--auth=trust", "--no-sync", "-E", "UTF8", "-U", POSTGRES_USER
            ),
        )

    def start(self) -> float:
        # Durability is not what these tests are about: fsync off keeps the two cores
        # free for the platform. Every process holds pools, hence the connection room.
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=400"
        )
        return self.timings.timed("start", lambda: self._pg_ctl("start", "-l", str(self.log), "-o", options))

    def stop(self) -> float:
        return self.timings.timed("stop", lambda: self._pg_ctl("stop", "-m", "fast"))

    def restart(self) -> float:
        return self.timings.timed(
            "restart", lambda: self._pg_ctl("restart", "-m", "fast", "-l", str(self.log))
        )

    def running(self) -> bool:
        status = subprocess.run(
            self._as_postgres_command("pg_ctl", "status", "-D", str(self.data)),
            capture_output=True,
            timeout=BACKEND_TIMEOUT_SECONDS,
            check=False,
        )
        return status.returncode == 0

    def kill(self) -> None:
        """Ends the postmaster at once; its children follow it."""
        pid_file = self.data / "postmaster.pid"
        with suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGKILL)

    def _pg_ctl(self, action: str, *options: str) -> None:
        # A start or restart must name the log (-l): otherwise the server keeps pg_ctl's
        # output pipe open and pg_ctl's caller waits for the server's end.
        self._as_postgres(
            "pg_ctl", action, "-D", str(self.data), "-w", "-t", str(BACKEND_TIMEOUT_SECONDS), *options
        )

    def _as_postgres(self, program: str, *arguments: str) -> None:
        _run(self._as_postgres_command(program, *arguments), f"{program} {arguments[0]}")

    def _as_postgres_command(self, program: str, *arguments: str) -> list[str]:
        return ["runuser", "-u", POSTGRES_USER, "--", str(self.bin / program), *arguments]


@contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started cluster of its own; stopped, killed if need be, and deleted afterwards."""
    server = ThrowawayPostgres(Path(tempfile.mkdtemp(prefix="gantry-fault-pg-")))
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.data.exists():
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                server._pg_ctl("stop", "-m", "immediate")
            server.kill()
        shutil.rmtree(server.directory, ignore_errors=True)


RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


class ThrowawayRabbit:
    """A RabbitMQ node of its own: its own name, ports, data, logs, Erlang cookie and an
    empty configuration, so that nothing of /etc/rabbitmq (whose rabbitmq-env.conf names
    the machine's node `rabbit@localhost` and whose rabbitmq.conf listens on 5672)
    reaches it. Restarts keep its data directory: durable quorum queues survive them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.node = f"gantry-fault-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.log = directory / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.timings = Timings()
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
            "log.console = false\nlog.file.level = info\n"
        )
        (directory / "rabbitmq-env.conf").write_text("")
        (directory / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            # The Erlang cookie of this node and of the rabbitmqctl calls to it.
            "HOME": str(directory),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_PID_FILE": str(directory / "rabbit.pid"),
            # Distribution on loopback only, as the machine's own node is configured.
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def start(self) -> float:
        return self.timings.timed("start", self._start)

    def stop(self) -> float:
        return self.timings.timed("stop", self._stop)

    def restart(self) -> float:
        """Stops and starts the node on the same data: what a broker's restart does."""
        return self.timings.timed("restart", lambda: (self._stop(), self._start()))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _start(self) -> None:
        with self.log.open("ab") as log:
            # A session of its own: the Erlang VM and its helpers are killed as one group.
            self.process = subprocess.Popen(
                [RABBITMQ_SERVER],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            # `wait` waits for the node to write its pid file, register and boot;
            # `await_startup` alone fails at once while the node is not registered yet.
            self._ctl("wait", "--timeout", str(BACKEND_TIMEOUT_SECONDS), self.env["RABBITMQ_PID_FILE"])
            self._ctl("await_startup", "--timeout", str(BACKEND_TIMEOUT_SECONDS))
        except RuntimeError:
            self.kill()
            raise

    def _stop(self) -> None:
        self._ctl("stop")
        if self.process is not None:
            self.process.wait(BACKEND_TIMEOUT_SECONDS)
            self.process = None

    def kill(self) -> None:
        """Ends the node and everything it started at once."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(BACKEND_TIMEOUT_SECONDS)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        logs = sorted((self.directory / "log").glob("*.log"))
        text = "".join(path.read_text(errors="replace") for path in [self.log, *logs] if path.exists())
        return "\n".join(text.splitlines()[-lines:])

    def close_connections(self) -> None:
        """Closes every client connection from the broker's side, as a reset would."""
        self._ctl("close_all_connections", "closed by the fault trial")

    def block_publishers(self) -> None:
        """Raises a memory alarm: the broker holds every publication."""
        self._ctl("set_vm_memory_high_watermark", "0.000001")

    def unblock_publishers(self) -> None:
        self._ctl("set_vm_memory_high_watermark", "0.4")

    def _ctl(self, *arguments: str) -> str:
        return _run([RABBITMQCTL, "-n", self.node, *arguments], f"rabbitmqctl {arguments[0]}", self.env)


@contextmanager
def throwaway_rabbit() -> Iterator[ThrowawayRabbit]:
    """A started node of its own; stopped, killed if need be, and deleted afterwards."""
    node = ThrowawayRabbit(Path(tempfile.mkdtemp(prefix="gantry-fault-rabbit-")))
    try:
        node.start()
        yield node
    finally:
        if node.running():
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                node._stop()
        node.kill()
        shutil.rmtree(node.directory, ignore_errors=True)
