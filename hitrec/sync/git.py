"""Commits over git smart HTTP.

Ref listing is one GET of ``info/refs`` (hitrec.sync.http: exact status codes, no subprocess). Packs move
with the git binary pointed at the local bare repo (``GIT_DIR``): it negotiates and packs far faster
than dulwich's pure-Python client. Credentials reach git only through the environment
(``GIT_CONFIG_COUNT``/``KEY``/``VALUE`` -> ``http.<origin>/.extraHeader``), never its command line or the URL,
and the header is scoped to the hub's origin.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitrec.errors import AuthError, RemoteError, SyncError
from hitrec.progress import ProgressFn
from hitrec.store.format import CATALOG_REF
from hitrec.sync import credentials
from hitrec.sync.credentials import Auth
from hitrec.sync.http import REDIRECTS, Http, TransportError, describe
from hitrec.sync.remotes import origin_of, redact_url

ZERO = "0" * 40
_SIZE = re.compile(r"([\d.]+)\s*(bytes|KiB|MiB|GiB|TiB)")
_COUNT = re.compile(r"\((\d+)/(\d+)\)")
_REMOTE_TOTAL = re.compile(r"^remote: Total (\d+)")
_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


@dataclass
class GitStats:
    objects: int = 0
    bytes: int = 0  # pack bytes, as git reports them (rounded to its display unit)

    def to_json(self) -> dict[str, Any]:
        return {"objects": self.objects, "bytes": self.bytes}


@dataclass
class PushOutcome:
    status: str  # "ok" | "up-to-date" | "non-fast-forward" (a lost race) | "rejected" (refused)
    reason: str
    stats: GitStats


def git_exe() -> str:
    found = shutil.which("git")
    if not found:
        raise SyncError("git is not installed: sync needs the git binary (apt install git).")
    return found


# -- ref listing ------------------------------------------------------------------------------------


def _pkt_lines(data: bytes) -> list[bytes | None]:
    out: list[bytes | None] = []
    pos = 0
    while pos + 4 <= len(data):
        try:
            size = int(data[pos:pos + 4], 16)
        except ValueError as exc:
            raise RemoteError("the hub's ref list is not git smart HTTP (bad pkt-line)") from exc
        if size == 0:
            out.append(None)
            pos += 4
            continue
        if size < 4:
            pos += 4
            continue
        out.append(data[pos + 4:pos + size])
        pos += size
    return out


class RefList(dict[str, str]):
    """A hub's refs, and the collaboration's URL they came from (another one after a redirect: a
    renamed repo answers 301, and git itself then uses the new URL for the rest of the conversation)."""

    url: str = ""


def list_refs(http: Http, url: str, auth: Auth | None,
              service: str = "git-upload-pack", git_dir: Path | None = None) -> RefList | None:
    """The hub's refs for a collaboration, or ``None`` when the collaboration does not exist yet.
    Redirects on the same origin are followed (``RefList.url`` says where to); one to another host is
    refused, since the credentials are for this one."""
    suffix = f"/info/refs?service={service}"
    href = url.rstrip("/") + suffix
    headers = {"Authorization": auth.header()} if auth else {}
    origin = origin_of(url)
    try:
        response = http.request("GET", href, headers)
    except TransportError as exc:
        detail = auth.scrub(describe(exc)) if auth else describe(exc)
        raise SyncError(f"cannot reach the hub at {origin} ({detail}). "
                        "Check it is running and the URL is right.") from exc
    status = response.status_code
    if status in (200, 401):  # as git does: a helper's answer is kept once accepted, dropped on 401
        credentials.confirm(auth, status == 200, git_dir)
    if status in REDIRECTS:
        where = redact_url(response.headers.get("location", ""))
        raise RemoteError(f"the hub at {origin} says {url} moved to another host ({where}). If you trust "
                          "it, point the remote there: `hitrec remote add origin NEW-URL --replace`.")
    if status == 404:
        return None
    if status == 401:
        how = "the token was not accepted" if auth else "it needs a token"
        raise AuthError(f"the hub at {origin} said 401 ({how}). "
                        f"Run `hitrec login {origin} --user NAME` or set HITREC_TOKEN.")
    if status == 403:
        who = f" for user {auth.user!r}" if auth and auth.user else ""
        raise AuthError(f"the hub at {origin} refused access to {url}{who} (403).")
    if status != 200:
        raise RemoteError(f"the hub at {origin} answered {status} when listing refs of {url}.")
    refs = RefList()
    final = response.url or href
    refs.url = final[:-len(suffix)] if final.endswith(suffix) else url
    for line in _pkt_lines(response.content):
        if line is None or line.startswith(b"#"):
            continue
        line = line.split(b"\0", 1)[0].rstrip(b"\n")
        sha, _, name = line.partition(b" ")
        if len(sha) == 40 and name and not name.endswith(b"^{}") and sha.decode() != ZERO:
            refs[name.decode()] = sha.decode()
    return refs


# -- the git binary ---------------------------------------------------------------------------------


_DROP_ENV = {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_CONFIG_COUNT",
             "GIT_CONFIG_PARAMETERS", "GIT_CURL_VERBOSE", "GIT_NAMESPACE", "GIT_COMMON_DIR",
             "GIT_ALTERNATE_OBJECT_DIRECTORIES"}


def _env(git_dir: Path, url: str, auth: Auth | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_TRACE"))
           and k not in _DROP_ENV}
    env.update({
        "GIT_DIR": str(git_dir),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",
        "SSH_ASKPASS": "true",
        "GCM_INTERACTIVE": "never",
        "LC_ALL": "C",
    })
    if os.environ.get("SSL_CERT_FILE") and "GIT_SSL_CAINFO" not in env:  # one CA setting for both
        env["GIT_SSL_CAINFO"] = os.environ["SSL_CERT_FILE"]
    pairs = [
        ("credential.helper", ""),
        ("http.followRedirects", "false"),
        ("http.postBuffer", str(32 << 20)),
        ("gc.auto", "0"),
        ("maintenance.auto", "false"),
        ("fetch.writeCommitGraph", "false"),
        ("core.hooksPath", os.devnull),
        ("advice.pushFetchFirst", "false"),
        ("advice.pushNonFFCurrent", "false"),
    ]
    if auth:
        pairs.append((f"http.{origin_of(url)}/.extraHeader", f"Authorization: {auth.header()}"))
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for i, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _parse_size(text: str) -> int:
    match = _SIZE.search(text)
    if not match:
        return 0
    return int(float(match.group(1)) * _UNITS[match.group(2)])


class _Git:
    """Run one git command, following its progress lines on stderr."""

    def __init__(self, git_dir: Path, url: str, auth: Auth | None, phase: str,
                 progress: ProgressFn | None, describe: str) -> None:
        self.git_dir = git_dir
        self.url = url
        self.auth = auth
        self.phase = phase  # "Writing objects" or "Receiving objects"
        self.progress = progress
        self.describe = describe
        self.stats = GitStats()
        self.messages: list[str] = []
        self._reported = 0

    def _line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        if line.startswith(self.phase) or line.startswith("Unpacking objects"):
            count = _COUNT.search(line)
            if count:
                done, total = int(count.group(1)), int(count.group(2))
                self.stats.objects = total
                nbytes = _parse_size(line.split(",", 1)[1]) if "," in line else 0
                if nbytes:
                    self.stats.bytes = nbytes
                if self.progress:
                    advance = max(0, nbytes - self._reported)
                    self._reported += advance
                    self.progress(advance, description=f"{self.describe} {done}/{total} objects")
            return
        remote_total = _REMOTE_TOTAL.match(line)
        if remote_total:  # the only count git prints when it unpacks a small fetch into loose objects
            self.stats.objects = self.stats.objects or int(remote_total.group(1))
            return
        if re.match(r"^(Counting|Compressing|Enumerating|Total|Resolving|remote: (Counting|Compress|Enumerat"
                    r"|Total))", line):
            return
        self.messages.append(self.auth.scrub(line) if self.auth else line)

    def run(self, args: list[str]) -> tuple[int, str]:
        env = _env(self.git_dir, self.url, self.auth)
        proc = subprocess.Popen([git_exe(), *args], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out_chunks: list[bytes] = []

        def read_stdout() -> None:
            assert proc.stdout is not None
            out_chunks.append(proc.stdout.read())

        reader = threading.Thread(target=read_stdout, daemon=True)
        reader.start()
        try:
            stderr = proc.stderr
            assert isinstance(stderr, io.BufferedReader)
            pending = b""
            while True:
                block = stderr.read1(65536)
                if not block:
                    break
                pending += block
                parts = re.split(rb"[\r\n]", pending)
                pending = parts.pop()
                for part in parts:
                    self._line(part.decode("utf-8", "replace"))
            if pending:
                self._line(pending.decode("utf-8", "replace"))
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        reader.join()
        stdout = b"".join(out_chunks).decode("utf-8", "replace")
        return code, (self.auth.scrub(stdout) if self.auth else stdout)

    def error(self, what: str) -> SyncError:
        text = "\n".join(self.messages)
        origin = origin_of(self.url)
        tail = "; ".join(m for m in self.messages[-4:] if m)
        if re.search(r"error: 401|Authentication failed|could not read Username", text):
            return AuthError(f"{what}: the hub at {origin} did not accept the token. "
                             f"Run `hitrec login {origin} --user NAME` or set HITREC_TOKEN.")
        if "error: 403" in text:
            who = f" for user {self.auth.user!r}" if self.auth and self.auth.user else ""
            return AuthError(f"{what}: the hub refused access{who} (403).")
        if "error: 404" in text or "not found" in text:
            return RemoteError(f"{what}: no collaboration at {self.url}.")
        if "error: 413" in text:
            return RemoteError(f"{what}: the hub refused a body over its size limit (413).")
        if re.search(r"Failed to connect|Could not resolve host|Connection refused|Empty reply", text):
            return SyncError(f"{what}: cannot reach the hub at {origin} ({tail}). "
                             "Check it is running, then run the same command again.")
        return RemoteError(f"{what} failed: {tail or 'git exited with an error'}")


def fetch(git_dir: Path, url: str, auth: Auth | None, dst_ref: str, *, src_ref: str = CATALOG_REF,
          have: tuple[str | None, ...] = (), progress: ProgressFn | None = None) -> GitStats:
    """Fetch the hub's ``src_ref`` into the local object store, recording it at ``dst_ref``.

    git keeps a fetch of 100+ objects as a pack (its size is what arrived) and unpacks a smaller one
    into loose objects, which keeps many small pulls from piling up packs; for those, the bytes are the
    on-disk size of the objects reachable from the new commit and not from ``have``."""
    git = _Git(git_dir, url, auth, "Receiving objects", progress, "receiving commits")
    code, _ = git.run(["fetch", "--no-tags", "--progress", "--no-write-fetch-head", "--no-auto-gc",
                       url, f"+{src_ref}:{dst_ref}"])
    if code != 0:
        raise git.error("fetching commits")
    if git.stats.objects and not git.stats.bytes:
        known = [sha for sha in have if sha]
        done = subprocess.run([git_exe(), "rev-list", "--objects", "--disk-usage", dst_ref,
                               *(["--not", *known] if known else [])],
                              env=_env(git_dir, url, None), capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip().isdigit():
            git.stats.bytes = int(done.stdout.strip())
    return git.stats


def push(git_dir: Path, url: str, auth: Auth | None, sha: str, *, dst_ref: str = CATALOG_REF,
         progress: ProgressFn | None = None) -> PushOutcome:
    """Push commit ``sha`` to the hub's ``dst_ref`` (never forced). Reads git's per-ref verdict."""
    git = _Git(git_dir, url, auth, "Writing objects", progress, "sending commits")
    code, out = git.run(["push", "--porcelain", "--progress", url, f"{sha}:{dst_ref}"])
    verdict = None
    for line in out.splitlines():
        if "\t" in line and line[:1] in " +-*=!" and dst_ref in line:
            verdict = line
    if verdict is None:
        raise git.error("pushing commits")
    flag, _, rest = verdict.partition("\t")
    summary = rest.split("\t", 1)[1] if "\t" in rest else ""
    if flag == "=":
        return PushOutcome("up-to-date", "", git.stats)
    if flag in (" ", "*", "+"):
        return PushOutcome("ok", "", git.stats)
    reason = summary.strip()
    remote = [m[len("remote: "):].strip() for m in git.messages if m.startswith("remote: ")]
    # A lost race: the hub's ref moved since we read it (receive-pack's compare-and-set says "is at X but
    # expected Y"). Any other failure to move the ref (a hook, a lock, a full disk) is the hub's refusal.
    raced = ("non-fast-forward", "fetch first", "stale info")
    if any(word in reason for word in raced) or any("but expected" in m for m in remote):
        return PushOutcome("non-fast-forward", reason, git.stats)
    if code == 0 and flag != "!":
        return PushOutcome("ok", "", git.stats)
    errors = [m for m in remote if m.startswith(("error:", "fatal:"))]
    if errors and ("failed to update ref" in reason or "cannot lock ref" in reason):
        detail = errors[0].partition(":")[2].strip()  # git's first line says it; the rest is advice
    else:
        detail = "; ".join(m for m in remote if m)
    return PushOutcome("rejected", f"{reason}{': ' + detail if detail else ''}", git.stats)
