"""The fork server: a pre-warmed Python that forks one child per job.

Run as its own process (`python -m activities.forkserver SOCKET`), started by the worker with an
environment that holds no secret. It imports boto3/botocore (and the Azure SDK when installed) once,
warms boto3's default session, then serves a Unix socket. Per request (one connection per job):

    worker -> server: one JSON line {"argv": [...], "cwd": "...", "env": {...}} plus, with
                      SCM_RIGHTS, the write end of the job's output pipe
    server -> worker: {"pid": N}               once the child is forked
    server -> worker: {"returncode": N}        when the child has exited (negative: killed by
                                               signal -N), exactly like subprocess

The child calls setsid() (its own process group, as `start_new_session=True` gives), points fd 1 and
2 at the pipe and fd 0 at /dev/null, replaces its environment, changes into the job's working copy,
confines its writes to the request's `writable` directories when the request names them (Landlock,
activities/confine.py) and runs the job file as `__main__` with runpy, exiting with the job's exit
code. For a job with its own environment (activities/job_deps.py) the request names its
`site_packages`, put first on sys.path, and its `own_modules`: none may be imported already (the
worker asks only then: the ready line lists the server's imported top-level `modules`).

The server makes itself non-dumpable and gives up any capability before anything else
(activities/process_guard.py): the requests it reads hold run credentials, and its children, the
jobs, inherit both, so no job can read or trace the server or another job.

Only the worker that started the server may connect (SO_PEERCRED): a job, which can find the
socket, must not get a process of its choosing that is not write-confined.

The server is single-threaded (forking a threaded process is unsafe): one select loop over the
listening socket, the open connections and a SIGCHLD wake-up pipe.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import runpy
import selectors
import signal
import site
import socket
import struct
import sys
import traceback
from typing import Any

from activities.confine import ConfinementError, confine_writes, landlock_abi
from activities.process_guard import drop_capabilities, make_undumpable
from remedy import services

MAX_REQUEST = 4 * 1024 * 1024
SPARES = int(os.environ.get("REMEDY_FORKSERVER_SPARES", "2"))
WARM_SPARES = os.environ.get("REMEDY_FORKSERVER_WARM_SPARES", "1") == "1"
IDLE_BEFORE_WARM_S = 0.005
EX_OSERR = 71  # as activities/confined_exec.py: confinement was refused, the job did not run


def warm_up() -> list[str]:
    """Import what jobs import, and load the service models the registry names
    (remedy/services) into boto3's default session."""
    warmed = []
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")  # no credential lookup while warming
    try:
        import boto3

        # No region on the session itself: a job's AWS_DEFAULT_REGION must decide, as without us.
        boto3.setup_default_session()
        for service in services.registered():
            if service.warm_up.boto3_model:
                boto3.client(service.name, region_name="us-east-1")  # type: ignore[call-overload]
                warmed.append(service.name)
    except Exception:
        traceback.print_exc()
    for module in (
        "pkgutil",
        *services.modules_to_warm(),
        "remedy.jobkit",
        "json",
        "urllib.request",
    ):
        with contextlib.suppress(ImportError):
            __import__(module)
            warmed.append(module)
    return warmed


def touch_client_paths() -> None:
    """In a spare child, before any job: make throwaway clients so that the memory client creation
    touches is copied now (copy-on-write), not while a job waits. No credentials exist here."""
    with contextlib.suppress(Exception):
        import boto3

        for service in services.registered():
            if service.warm_up.spare_client:
                boto3.client(service.name, region_name="us-east-1")  # type: ignore[call-overload]


def spare_child(channel: socket.socket) -> None:
    """A pre-forked child: wait for one job from the server and become it.

    Warming (touching the client-creation paths, ~20 ms of CPU) happens only when the worker is
    idle: a spare that gets no job within IDLE_BEFORE_WARM_S warms itself, then waits. Under load
    a job takes a cold spare at once and pays nothing extra; after a pause it finds a warm one.
    """
    os.setsid()
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    keep = channel.fileno()  # nothing of the server's (sockets, other jobs' pipes) stays open
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)
    try:
        if WARM_SPARES:
            channel.settimeout(IDLE_BEFORE_WARM_S)
            try:
                message, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST, 1)
            except TimeoutError:  # idle: warm up now, then wait as long as it takes
                touch_client_paths()
                channel.settimeout(None)
                message, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST, 1)
            channel.settimeout(None)
        else:
            message, fds, _, _ = socket.recv_fds(channel, MAX_REQUEST, 1)
        while message and not message.endswith(b"\n"):
            message += channel.recv(MAX_REQUEST)
        if not message or not fds:
            os._exit(0)  # the server went away before handing us a job
        request = json.loads(message)
    except (OSError, ValueError):
        os._exit(0)
    run_child(request, fds[0])


def imported_modules() -> list[str]:
    """The top-level names of every module imported here (a job environment must not shadow one)."""
    return sorted({name.split(".", 1)[0] for name in list(sys.modules)})


def use_site_packages(path: str) -> None:
    """A job environment's site-packages (its .pth files included) first after the job's own folder."""
    before = list(sys.path)
    site.addsitedir(path)
    added = [entry for entry in sys.path if entry not in before]
    sys.path[:] = [*before[:1], *added, *before[1:]]
    importlib.invalidate_caches()


def run_child(request: dict[str, Any], out_fd: int) -> None:
    """In the forked child: become the job. Never returns."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.closerange(3, 65536)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        if request.get("writable"):  # here, per job: the server and its spares stay unconfined
            try:
                confine_writes(request["writable"])
            except ConfinementError as exc:
                print(f"remedy: could not confine the job's writes ({exc}); the job was not run")
                code = EX_OSERR
                return
        script = request["argv"][1]
        sys.argv = request["argv"][1:]
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        if request.get("site_packages"):
            clash = sorted(set(request.get("own_modules", ())) & set(imported_modules()))
            if clash:  # the worker checks first: this only guards against a surprise
                print(
                    f"remedy: the job's own packages {', '.join(clash)} are already imported by "
                    "the fork server; the job was not run (use REMEDY_LAUNCHER=subprocess)"
                )
                code = EX_OSERR
                return
            use_site_packages(request["site_packages"])
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as exit_:
            if exit_.code is None:
                code = 0
            elif isinstance(exit_.code, int):
                code = exit_.code
            else:
                print(exit_.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code & 0xFF)


def peer_pid(conn: socket.socket) -> int:
    """The pid of the process at the other end of a Unix socket (SO_PEERCRED: pid, uid, gid)."""
    pid, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return int(pid)


class Server:
    def __init__(self, path: str) -> None:
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.wake_r = wake_r
        self.selector.register(wake_r, selectors.EVENT_READ, "child")
        self.children: dict[int, socket.socket] = {}
        self.spares: list[tuple[int, socket.socket]] = []
        self.fill_spares()

    def fill_spares(self) -> None:
        """Keep SPARES warmed children ready, so a job pays for neither the fork nor the warming
        (two: one can warm while the other takes the next job)."""
        while len(self.spares) < SPARES:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pid = os.fork()
            if pid == 0:
                ours.close()
                spare_child(theirs)
            theirs.close()
            self.spares.append((pid, ours))

    def serve(self) -> None:
        parent = os.getppid()
        while True:
            if os.getppid() != parent:
                # The worker died: its jobs must not run on, racing the retry of their steps on
                # another worker. Each job is its own process group: kill them, then go.
                for pid in [*self.children, *(spare for spare, _ in self.spares)]:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):  # nobody else will remove our socket now
                    os.unlink(self.path)
                    os.rmdir(os.path.dirname(self.path))
                os._exit(0)  # no interpreter shutdown: the SDKs' exit handlers could hang it
            for key, _ in self.selector.select(timeout=1.0):
                if key.data == "accept":
                    self.accept()
                elif key.data == "child":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
                    self.reap()
                else:
                    self.request(key.fileobj)  # type: ignore[arg-type]

    def accept(self) -> None:
        with contextlib.suppress(BlockingIOError):
            conn, _ = self.listener.accept()
            if peer_pid(conn) != os.getppid():
                # Only the worker that started this server may ask it for a process: a job that
                # finds the socket must not get an unconfined process of its choosing.
                with contextlib.suppress(OSError):
                    conn.sendall(b'{"error": "only the worker that started it may use it"}\n')
                conn.close()
                return
            conn.setblocking(True)
            self.selector.register(conn, selectors.EVENT_READ, "request")

    def request(self, conn: socket.socket) -> None:
        self.selector.unregister(conn)
        try:
            message, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 1)
            if not message or not fds:
                raise ValueError("an empty request, or no output pipe with it")
            while not message.endswith(b"\n"):
                more = conn.recv(MAX_REQUEST)
                if not more:
                    raise ValueError("the request ended early")
                message += more
            json.loads(message)  # a malformed request is refused here, not in a child
        except (OSError, ValueError) as exc:
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            conn.close()
            return
        try:
            pid = self.hand_to_spare(message, fds[0])
        finally:
            os.close(fds[0])  # before the next spare is forked: it must not inherit this pipe
        self.children[pid] = conn
        with contextlib.suppress(OSError):  # the worker went away: the child still runs, is reaped
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        self.reap()  # a child may already have ended
        self.fill_spares()  # after answering: the next fork is off this job's path

    def hand_to_spare(self, message: bytes, out_fd: int) -> int:
        """Give the job to the oldest spare child (the warmest); fork one if none is left."""
        for _ in range(SPARES + 1):
            if not self.spares:
                self.fill_spares()
            pid, channel = self.spares.pop(0)
            try:
                sent = socket.send_fds(channel, [message], [out_fd])
            except OSError:  # the spare died before taking it: reaped later; try the next one
                channel.close()
                continue
            # From here the spare holds the job: never hand it to another child, whatever happens
            # (a job must not run twice). The spare reads until the newline; a rest is sent here.
            with contextlib.suppress(OSError):
                if sent < len(message):
                    channel.sendall(message[sent:])
            channel.close()
            return pid
        raise OSError("could not hand the job to a child")

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:  # a spare died unused: drop it (the pool is refilled on demand)
                for spare in [s for s in self.spares if s[0] == pid]:
                    spare[1].close()
                    self.spares.remove(spare)
                continue
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"returncode": code}).encode() + b"\n")
            conn.close()


def main() -> None:
    path = sys.argv[1]
    make_undumpable()  # first: every job is forked from here, and inherits it
    drop_capabilities()  # a GuardError ends the server: the worker falls back, and says so
    warmed = warm_up()
    landlock_abi()  # asked once, here: the children inherit the answer and the loaded libc
    os.environ.pop("AWS_EC2_METADATA_DISABLED", None)
    server = Server(path)
    # Everything imported so far is shared with every child: keep the collector from walking
    # (and so copying) it in each child.
    gc.collect()
    gc.freeze()
    ready = {"ready": path, "warmed": warmed, "modules": imported_modules()}
    print(json.dumps(ready), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve()


if __name__ == "__main__":
    main()
