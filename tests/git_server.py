"""A Git server on loopback for the tests: bare repositories served over smart HTTP by
`git http-backend` (CGI), behind Basic authentication whose password is the token.

`GitServer.push_job(name)` commits a job folder through a working clone and pushes it, as a
person would; every request line and Authorization header the server saw is kept.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

HTTP_BACKEND = (
    Path(
        subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    / "git-http-backend"
)
GIT_ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Remedy tests",
    "GIT_AUTHOR_EMAIL": "tests@remedy.invalid",
    "GIT_COMMITTER_NAME": "Remedy tests",
    "GIT_COMMITTER_EMAIL": "tests@remedy.invalid",
}


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@dataclass
class GitServer:
    root: Path
    token: str
    port: int = 0
    #: request lines and Authorization headers, as received
    requests: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)

    def url(self, repo: str = "jobs.git") -> str:
        return f"http://127.0.0.1:{self.port}/{repo}"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def push_job(self, name: str, body: str = "", *, under: str = "") -> str:
        """Commit a job folder (its entry point) to `main` and push it; return the commit's sha."""
        folder = self.work / under / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.py").write_text(body or f"print('{name}')\n")
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", f"add {name}", cwd=self.work)
        git("push", "-q", "origin", "HEAD:main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def remove(self, path: str) -> str:
        """Delete a file or folder on `main` and push; return the commit's sha."""
        git("rm", "-rq", path, cwd=self.work)
        git("commit", "-q", "-m", f"remove {path}", cwd=self.work)
        git("push", "-q", "origin", "HEAD:main", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)


def _handler(server: GitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            server.requests.append(self.requestline)
            authorization = self.headers.get("Authorization", "")
            server.headers.append(authorization)
            scheme, _, credentials = authorization.partition(" ")
            expected = {  # read each time: a test may change the token the server takes
                base64.b64encode(f"{user}:{server.token}".encode()).decode()
                for user in ("x-access-token", "oauth2")
            }
            if scheme != "Basic" or credentials not in expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            env = {
                **GIT_ENV,
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(length),
                "REMOTE_USER": "tests",
                "REMOTE_ADDR": "127.0.0.1",
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            body = self.rfile.read(length) if length else b""
            done = subprocess.run(
                [str(HTTP_BACKEND)], input=body, env=env, capture_output=True, check=False
            )
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

    return Handler


@contextlib.contextmanager
def serve_git(root: Path) -> Iterator[GitServer]:
    """A bare `jobs.git` with one job on `main`, served on 127.0.0.1 until the block ends; the
    pushes go through the filesystem (the working clone's origin is the bare repository)."""
    server = GitServer(root, token="tok-" + os.urandom(12).hex())
    bare = server.root / "jobs.git"
    bare.mkdir(parents=True)
    git("init", "-q", "--bare", "--initial-branch=main", str(bare))
    git("clone", "-q", str(bare), str(server.work))
    git("checkout", "-q", "-b", "main", cwd=server.work)
    server.push_job("first_job")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitServer]:
    with serve_git(tmp_path / "served") as server:
        yield server
