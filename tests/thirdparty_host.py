"""A third-party Git LFS host for tests: nginx in front of ``git http-backend`` (through fcgiwrap) and
giftless, all on 127.0.0.1 with free ports, as a self-hosted git server with an LFS server looks.

    with ThirdPartyHost(tmp_path / "host") as host:
        host.create_repo("team/film")             # a bare repo at /team/film.git (git + LFS)
        url = host.url("team/film")               # http://127.0.0.1:PORT/team/film.git
        host.configure(rename={"team/old": "team/film"}, cdn=True, faults="rate")  # nginx reloads
        host.access_log()                          # nginx's request lines (method uri status user auth)

One origin (``host.origin``) serves both git smart HTTP and the LFS API, behind HTTP Basic auth
(``host.user`` / ``host.password``, nginx ``auth_basic``). What it can be told to do (``configure``):

- ``rename``: answer ``301`` for an old repo path, to the new one (git refs, LFS, everything);
- ``cdn``: answer every object download with ``302`` to another origin (``host.cdn_origin``: nginx
  serving giftless's storage folder as object storage or a CDN would; it refuses any request that
  carries an ``Authorization`` header with 400, and logs what it was sent);
- ``faults``: ``"rate"`` (nginx ``limit_req``: 429 with ``Retry-After: 1`` above a few LFS requests a
  second) or ``"errors"`` (503 for roughly one LFS object request in four, at random);
- ``slow``: nginx sends object downloads at this many bytes a second (``limit_rate``);
- ``refuse``: object ids whose transfers always get 500.
giftless's addresses expire after ``lifetime`` seconds (its action lifetime and the lifetime of the JWT
it signs them with, no leeway): set at start. giftless also answers on its own origin
(``host.giftless_origin``), as a separate LFS server for ``lfs.url``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FCGIWRAP = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def available() -> str | None:
    """Why the host cannot run here, or None (tests/run.sh installs nginx, fcgiwrap and giftless)."""
    for exe in (NGINX, FCGIWRAP, HTTP_BACKEND):
        if not os.path.exists(exe):
            return f"{exe} is missing (bash tests/run.sh installs it)"
    try:
        import giftless  # noqa: F401
    except ImportError:
        return "giftless is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# giftless under werkzeug's threaded server. Its signer of action addresses is giftless's own JWT
# authenticator, built here only to set leeway 0 (its config file cannot), so an address is refused the
# second it expires.
_GIFTLESS = """\
import sys
from giftless.auth import jwt
from werkzeug.serving import run_simple

preauth = jwt.factory(algorithm="HS256", private_key=sys.argv[2], default_lifetime=int(sys.argv[3]), leeway=0)

from giftless.app import init_app

run_simple("127.0.0.1", int(sys.argv[1]), init_app(), threaded=True)
"""


class ThirdPartyHost:
    user = "alice"
    password = "wonder-land-7"

    def __init__(self, root: Path, *, lifetime: int = 900) -> None:
        self.root = Path(root)
        self.lifetime = lifetime
        self.port = _free_port()
        self.cdn_port = _free_port()
        self.giftless_port = _free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.cdn_origin = f"http://127.0.0.1:{self.cdn_port}"
        self.giftless_origin = f"http://127.0.0.1:{self.giftless_port}"
        self.git_root = self.root / "git"
        self.store = self.root / "lfs"
        self.options: dict[str, object] = {}
        self._procs: list[subprocess.Popen[bytes]] = []
        self._nginx: subprocess.Popen[bytes] | None = None

    # -- repos ----------------------------------------------------------------------------------
    def url(self, name: str, *, with_user: bool = False) -> str:
        netloc = f"{self.user}@127.0.0.1:{self.port}" if with_user else f"127.0.0.1:{self.port}"
        return f"http://{netloc}/{name}.git"

    def create_repo(self, name: str) -> Path:
        path = self.git_root / f"{name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
        subprocess.run(["git", "--git-dir", str(path), "config", "http.receivepack", "true"], check=True)
        return path

    def lfs_objects(self, name: str) -> set[str]:
        folder = self.store / name
        return {p.name for p in folder.iterdir()} if folder.is_dir() else set()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ThirdPartyHost:
        for sub in ("git", "lfs", "nginx/logs", "nginx/tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "htpasswd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        self._start_giftless()
        sock = self.root / "fcgiwrap.sock"
        self._spawn([FCGIWRAP, "-c", "4", "-s", f"unix:{sock}"], "fcgiwrap")
        self._write_conf()
        self._nginx = self._spawn([NGINX, "-p", str(self.root / "nginx"), "-c", str(self.root / "nginx.conf"),
                                   "-e", str(self.root / "nginx/logs/error.log")], "nginx")
        self._wait(self.port)
        self._wait(self.cdn_port)
        self._wait(self.giftless_port)
        return self

    def _start_giftless(self) -> None:
        key = "test-only-signing-key"
        config = self.root / "giftless.yaml"
        config.write_text(f"""\
LEGACY_ENDPOINTS: false
AUTH_PROVIDERS:
  - giftless.auth.allow_anon:read_write
TRANSFER_ADAPTERS:
  basic:
    factory: giftless.transfer.basic_streaming:factory
    options:
      storage_class: giftless.storage.local_storage:LocalStorage
      storage_options:
        path: {self.store}
      action_lifetime: {self.lifetime}
PRE_AUTHORIZED_ACTION_PROVIDER: "__main__:preauth"
""")
        env = {**os.environ, "GIFTLESS_CONFIG_FILE": str(config), "PYTHONWARNINGS": "ignore"}
        self._spawn([sys.executable, "-c", _GIFTLESS, str(self.giftless_port), key, str(self.lifetime)],
                    "giftless", env=env, cwd=self.root)

    def _spawn(self, args: list[str], name: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)
        log.close()
        self._procs.append(proc)
        return proc

    def _wait(self, port: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}: {self.logs()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nothing answers on port {port} after {timeout} s: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in [*sorted(self.root.glob("*.log")), self.root / "nginx/logs/error.log"]
                         if p.exists())

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs = []

    def __enter__(self) -> ThirdPartyHost:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour ------------------------------------------------------------------------------
    def configure(self, **options: object) -> None:
        """Change what nginx answers (see the module doc) and reload it; waits until the new workers
        serve."""
        self.options = dict(options)
        self._write_conf()
        assert self._nginx is not None
        before = self._worker_pids()
        os.kill(self._nginx.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = self._worker_pids()
            if now and not now & before:
                return
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not reload: {self.logs()}")

    def _worker_pids(self) -> set[int]:
        assert self._nginx is not None
        done = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self._nginx.pid)], capture_output=True, text=True)
        return {int(p) for p in done.stdout.split()}

    def access_log(self) -> list[str]:
        path = self.root / "nginx/logs/access.log"
        return path.read_text().splitlines() if path.exists() else []

    def cdn_log(self) -> list[str]:
        path = self.root / "nginx/logs/cdn.log"
        return path.read_text().splitlines() if path.exists() else []

    def _write_conf(self) -> None:
        opts = self.options
        tmp = self.root / "nginx/tmp"
        renames = ""
        for old, new in dict(opts.get("rename") or {}).items():  # type: ignore[call-overload]
            renames += f"""
        location ~ ^/{old}\\.git(/.*)?$ {{
            return 301 $scheme://$http_host/{new}.git$1$is_args$args;
        }}"""
        limit = ""
        if opts.get("faults") == "rate":
            limit = "limit_req zone=lfs burst=4 nodelay;"
        errors = 'if ($fail = "1") { return 503 "try later"; }' if opts.get("faults") == "errors" else ""
        for oid in opts.get("refuse") or ():  # type: ignore[attr-defined]
            errors += f' if ($oid = "{oid}") {{ return 500 "refused"; }}'
        cdn = ""
        if opts.get("cdn"):
            cdn = (f'if ($request_method = GET) {{ return 302 {self.cdn_origin}/objects/$org/$repo/$oid; }}')
        slow = f"limit_rate {int(opts['slow'])};" if opts.get("slow") else ""  # type: ignore[call-overload]
        no_lfs = "".join(f"""
        location ^~ /{name}.git/info/lfs/ {{ return 404 "no LFS here"; }}""" for name in opts.get("no_lfs") or ())
        user = "user root root;" if os.geteuid() == 0 else ""
        conf = f"""\
{user}
daemon off;
worker_processes 2;
pid {self.root}/nginx/nginx.pid;
error_log {self.root}/nginx/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    client_max_body_size 0;
    log_format who '$request_method $uri $status user=$remote_user auth=$http_authorization';
    limit_req_zone $binary_remote_addr zone=lfs:1m rate=8r/s;
    limit_req_status 429;
    split_clients "$request_id" $fail {{ 25% "1"; * "0"; }}

    server {{
        listen 127.0.0.1:{self.port};
        access_log {self.root}/nginx/logs/access.log who;
        error_page 429 = @slow_down;
        location @slow_down {{
            add_header Retry-After 1 always;
            default_type application/vnd.git-lfs+json;
            return 429 '{{"message": "rate limited: slow down"}}';
        }}
        {renames}
        {no_lfs}
        location ~ "^/(?<org>.+)/(?<repo>[^/]+)\\.git/info/lfs/objects/storage/(?<oid>[0-9a-f]{{64}}|verify)$" {{
            {limit}
            {errors}
            {cdn}
            {slow}
            proxy_pass http://127.0.0.1:{self.giftless_port};
            proxy_set_header Host $http_host;
            proxy_request_buffering off;
        }}
        location ~ ^/.+\\.git/info/lfs/ {{
            auth_basic "git";
            auth_basic_user_file {self.root}/htpasswd;
            {limit}
            proxy_pass http://127.0.0.1:{self.giftless_port};
            proxy_set_header Host $http_host;
        }}
        location ~ ^/.+\\.git/(HEAD|info/refs|objects/.*|git-upload-pack|git-receive-pack)$ {{
            auth_basic "git";
            auth_basic_user_file {self.root}/htpasswd;
            fastcgi_pass unix:{self.root}/fcgiwrap.sock;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {self.git_root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $uri;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_request_buffering off;
        }}
        location / {{ return 404 "not here"; }}
    }}

    server {{
        listen 127.0.0.1:{self.cdn_port};
        access_log {self.root}/nginx/logs/cdn.log who;
        location /objects/ {{
            if ($http_authorization) {{ return 400 "credentials sent to object storage"; }}
            {slow}
            alias {self.store}/;
        }}
    }}
}}
"""
        (self.root / "nginx.conf").write_text(conf)


@pytest.fixture(scope="module")
def thirdparty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThirdPartyHost]:
    """A started ThirdPartyHost (addresses live 900 s), shared by a test module; nginx's behaviour is
    reset for each test by the ``host`` fixture."""
    reason = available()
    if reason:
        pytest.fail(reason)
    with ThirdPartyHost(tmp_path_factory.mktemp("thirdparty")) as host:
        yield host
