"""nginx in front of several hub processes over one root, as docs/scale.md lays it out (tests and bench).

    with NginxFront(tmp_path / "front", ["127.0.0.1:8001", "127.0.0.1:8002"]) as front:
        front.url("film")                 # http://127.0.0.1:PORT/film.git, through nginx
        front.access_log()                # per request: [collab, upstream, status, method, uri]

``front_conf`` writes the configuration docs/scale.md shows (the part inside ``http { }``; run as a
test process, nginx also needs the few top-level lines ``NginxFront`` adds: its own pid, logs and temp
folders, and ``user root`` when the tests run as root, like tests/thirdparty_host.py does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def front_conf(listen: str, hubs: list[str], *, access_log: str | None = None, tls: tuple[Path, Path] | None = None,
               server_name: str = "_") -> str:
    """The ``http { }`` part of nginx's configuration for a front to ``hubs`` (host:port each): every
    request for ``/<name>.git/...`` goes to the hub that consistent hashing of ``<name>`` picks, the
    next one on the ring when that one is down. ``tls``: (certificate, key) to serve HTTPS."""
    servers = "\n".join(f"    server {hub} max_fails=1 fail_timeout=5s;" for hub in hubs)
    log = f"    access_log {access_log} hitrec_front;" if access_log else "    access_log off;"
    ssl = f"""
    ssl_certificate {tls[0]};
    ssl_certificate_key {tls[1]};""" if tls else ""
    return f"""\
# The collaboration a request is for: the first path segment before ".git/" ("-" for "/").
map $uri $hitrec_collab {{
    ~^/(?<collab>[^/]+)\\.git/  $collab;
    default                     "-";
}}

log_format hitrec_front '$hitrec_collab|$upstream_addr|$status|$request_method|$uri';

upstream hitrec_hubs {{
    # Each collaboration always goes to the same hub (ketama consistent hashing: adding or removing a
    # hub moves only ~1/N of the collaborations). A hub that refuses connections is skipped for
    # fail_timeout: its collaborations go to the next hub on the ring, which serves the same root.
    hash $hitrec_collab consistent;
{servers}
    keepalive 32;
}}

server {{
    listen {listen}{" ssl" if tls else ""};
    server_name {server_name};{ssl}
{log}

    client_max_body_size 0;           # the hubs enforce --max-object-size and --max-push-size
    proxy_request_buffering off;      # uploads stream to the hub as they arrive
    proxy_buffering off;              # downloads and clones stream to the client
    proxy_http_version 1.1;           # keep-alive to the hubs ...
    proxy_set_header Connection "";   # ... (no "Connection: close" from nginx)
    proxy_set_header Host $http_host; # batch answers' hrefs name this front, not a hub
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_read_timeout 3600s;         # a big clone's pack can take a while to start
    proxy_send_timeout 3600s;
    proxy_next_upstream error timeout;  # the next hub only if this one is unreachable; a POST
                                        # already sent (a push, a batch) is never sent twice

    location / {{
        proxy_pass http://hitrec_hubs;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NginxFront:
    """A real nginx (Debian's) on 127.0.0.1 and a free port, in front of ``hubs``."""

    def __init__(self, root: Path, hubs: list[str], *, tls: tuple[Path, Path] | None = None) -> None:
        self.root = Path(root)
        self.hubs = list(hubs)
        self.tls = tls
        self.port = free_port()
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"{self.origin}/{name}.git"

    def start(self) -> NginxFront:
        for sub in ("logs", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        tmp = self.root / "tmp"
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = f"""\
{user}
daemon off;
worker_processes 2;
pid {self.root}/nginx.pid;
error_log {self.root}/logs/error.log warn;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{front_conf(f"127.0.0.1:{self.port}", self.hubs, access_log=str(self.root / "logs/access.log"), tls=self.tls)}
}}
"""
        (self.root / "nginx.conf").write_text(conf)
        log = open(self.root / "nginx.out", "ab")  # noqa: SIM115 (the child keeps it)
        self.proc = subprocess.Popen([NGINX, "-p", str(self.root), "-c", str(self.root / "nginx.conf"),
                                      "-e", str(self.root / "logs/error.log")],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}: {self.logs()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx does not answer: {self.logs()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> NginxFront:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def access_log(self) -> list[list[str]]:
        """Each request nginx passed on: [collaboration, upstream address(es), status, method, uri]."""
        path = self.root / "logs/access.log"
        if not path.exists():
            return []
        return [line.split("|", 4) for line in path.read_text().splitlines() if line]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in
                         (self.root / "nginx.out", self.root / "logs/error.log") if p.exists())
