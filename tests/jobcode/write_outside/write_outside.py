"""Writes where a job may (its cwd, $TMPDIR), then where it may not (the parameter `outside`)."""

import array
import contextlib
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile

outside = json.loads(sys.argv[1])["remediationParameters"]["outside"]
victim = os.path.join(outside, "victim.txt")
print("cwd:", os.getcwd(), flush=True)

with open("in_cwd.txt", "w") as mine:
    mine.write("mine")
with open(os.path.join(os.environ["TMPDIR"], "in_tmpdir.txt"), "w") as mine:
    mine.write("mine too")
with tempfile.NamedTemporaryFile("w") as scratch:
    scratch.write("scratch")
for name in ("in_cwd.txt", os.path.join(os.environ["TMPDIR"], "in_tmpdir.txt")):
    with open(name) as back:
        print(f"wrote {os.path.abspath(name)}: {back.read()}")
with open(victim) as readable:
    print(f"read {victim}: {readable.read()}")

attempts = {
    "mkdir": lambda: os.mkdir(os.path.join(outside, "made_dir")),
    "symlink": lambda: os.symlink("in_cwd.txt", os.path.join(outside, "link")),
    "truncate": lambda: os.truncate(victim, 0),
    "remove": lambda: os.remove(victim),
}
for what, attempt in attempts.items():
    try:
        attempt()
        print(f"{what}: done", flush=True)
    except OSError as exc:
        print(f"{what}: refused: {exc}", flush=True)
shell = subprocess.run(
    ["sh", "-c", 'echo escaped > "$1"', "sh", os.path.join(outside, "from_shell.txt")],
    capture_output=True,
    text=True,
)
print(f"shell: exit {shell.returncode} {shell.stderr.strip()}", flush=True)


def through_a_fork_server() -> str:
    """Ask the fork servers beside our working directory for a process of our own, unconfined."""
    sockets = glob.glob(
        os.path.join(os.path.dirname(os.environ["TMPDIR"]), "remedy-forkserver-*/s*")
    )
    with open("escape.py", "w") as script:
        script.write(f"open({os.path.join(outside, 'via_fork_server.txt')!r}, 'w').write('x')\n")
    request = {
        "argv": [sys.executable, os.path.abspath("escape.py")],
        "cwd": os.getcwd(),
        "env": {},
    }
    answers = []
    _, write_end = os.pipe()
    for path in sockets:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5)
            try:  # a socket left by a server that has gone refuses the connection
                conn.connect(path)
            except OSError as exc:
                answers.append(f"({exc.strerror})")
                continue
            with contextlib.suppress(OSError):  # a server that refuses may close first (EPIPE)
                message = json.dumps(request).encode() + b"\n"
                rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [write_end]))]
                conn.sendmsg([message], rights, socket.MSG_NOSIGNAL)  # send_fds drops flags
            try:
                answers.append(conn.recv(4096).decode().strip())
            except OSError as exc:
                answers.append(f"({exc.strerror})")
    return " ".join(answers) or "none found"


print(f"fork server: {through_a_fork_server()}", flush=True)
if json.loads(sys.argv[1])["remediationParameters"].get("swallow"):
    try:  # a job that hides the refusal and exits 0
        open(os.path.join(outside, "written.txt"), "w").close()
    except OSError as exc:
        print(f"could not write, carrying on: {exc}", flush=True)
    sys.exit(0)
with open(os.path.join(outside, "written.txt"), "w") as escaped:  # unguarded: fails the job
    escaped.write("escaped")
print("wrote", os.path.join(outside, "written.txt"))
