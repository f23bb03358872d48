"""git smart HTTP served by the git binary (``git upload-pack`` / ``git receive-pack --stateless-rpc``).

Request bodies are received whole first (gunzipped if the client compressed them; in memory up to a
few MiB, then in a temp file), so no git process waits on a slow client; then they stream into git's
stdin and git's stdout streams back, so memory stays flat whatever the size of a clone or push. git's receive-pack
quarantines a push's objects until the pre-receive hook accepts them and moves refs with a proper
compare-and-set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import tempfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO

import hitrec

SERVICES = ("git-upload-pack", "git-receive-pack")
_PROTOCOL = re.compile(r"[A-Za-z0-9=:.,_-]{1,64}")
_INFLATE_STEP = 1 << 20
_PACKAGE_PARENT = str(Path(hitrec.__file__).resolve().parent.parent)


class BodyTooLarge(Exception):
    pass


def pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def service_env(git_protocol: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a git service: protocol version, and what the pre-receive hook needs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "HITREC_HUB_"))}
    if git_protocol and _PROTOCOL.fullmatch(git_protocol):
        env["GIT_PROTOCOL"] = git_protocol
    env["HITREC_HUB_PYTHON"] = sys.executable
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, os.environ.get("PYTHONPATH")) if p)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["HOME"] = env.get("HOME", "/nonexistent")
    env.update(extra or {})
    return env


def protocol_v2(git_protocol: str | None) -> bool:
    return bool(git_protocol) and "version=2" in (git_protocol or "").split(":")


async def advertise(git_dir: Path, service: str, git_protocol: str | None) -> bytes:
    """The body of ``info/refs?service=...``."""
    proc = await asyncio.create_subprocess_exec(
        "git", service[len("git-"):], "--stateless-rpc", "--advertise-refs", str(git_dir),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=service_env(git_protocol),
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"git {service} --advertise-refs failed: {err.decode(errors='replace').strip()}")
    if protocol_v2(git_protocol) and service == "git-upload-pack":
        return out
    return pkt_line(f"# service={service}\n") + b"0000" + out


async def decoded_body(
    chunks: AsyncIterator[bytes], *, gzip: bool, limit: int
) -> AsyncIterator[bytes]:
    """Undo ``Content-Encoding: gzip`` and enforce the size limit on the decoded bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    total = 0
    async for chunk in chunks:
        while chunk:
            if inflater is None:
                data, chunk = chunk, b""
            else:  # at most 1 MiB out per call: 1 MiB of gzip can inflate to 1 GiB at once
                data = inflater.decompress(chunk, _INFLATE_STEP)
                chunk = inflater.unconsumed_tail
            total += len(data)
            if total > limit:
                raise BodyTooLarge(f"request body is larger than this hub's limit of {limit} bytes")
            if data:
                yield data
    if inflater is not None:
        tail = inflater.flush()
        if tail:
            total += len(tail)
            if total > limit:
                raise BodyTooLarge(f"request body is larger than this hub's limit of {limit} bytes")
            yield tail


async def spool(body: AsyncIterator[bytes], folder: Path, memory: int = 8 << 20) -> IO[bytes]:
    """Receive a whole request body first (in memory, or a temp file past ``memory`` bytes).

    A push holds its collaboration's lock only while git works, never while a slow client uploads.
    """
    spooled: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=memory, dir=str(folder))  # noqa: SIM115
    try:
        async for chunk in body:
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    spooled.seek(0)
    return spooled


async def spooled_chunks(spooled: IO[bytes]) -> AsyncIterator[bytes]:
    while data := spooled.read(1 << 20):
        yield data


async def run_service(
    git_dir: Path,
    service: str,
    body: AsyncIterator[bytes],
    start: Callable[[], Awaitable[None]],
    send: Callable[[bytes], Awaitable[None]],
    *,
    git_protocol: str | None,
    hook_env: dict[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> tuple[int, str]:
    """Stream ``body`` into ``git <service> --stateless-rpc`` and its output to ``send``.

    ``start`` is called once, before the first byte is sent (or not at all if git produced nothing).
    Returns git's exit code and its stderr (for the log). Raises BodyTooLarge from ``body``.
    ``pass_fds`` stay open in git and its hooks (the push lock: see hitrec.hub.repos.lock_pushes).
    """
    proc = await asyncio.create_subprocess_exec(
        "git", service[len("git-"):], "--stateless-rpc", str(git_dir),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=service_env(git_protocol, hook_env), pass_fds=pass_fds,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    stderr_parts: list[bytes] = []

    async def feed() -> None:
        assert proc.stdin
        try:
            async for chunk in body:
                proc.stdin.write(chunk)
                await proc.stdin.drain()
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                proc.stdin.close()

    async def drain_stderr() -> None:
        assert proc.stderr
        while chunk := await proc.stderr.read(65536):
            if sum(map(len, stderr_parts)) < 65536:
                stderr_parts.append(chunk)

    feeder = asyncio.create_task(feed())
    err_task = asyncio.create_task(drain_stderr())
    started = False
    try:
        while True:
            chunk = await proc.stdout.read(1 << 20)
            if not chunk:
                break
            if not started:
                await start()
                started = True
            await send(chunk)
            if feeder.done() and feeder.exception() is not None:
                break
        await feeder  # re-raises BodyTooLarge or a disconnect
        await err_task
        code = await proc.wait()
    finally:
        for task in (feeder, err_task):
            if not task.done():
                task.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if not started and code == 0:
        await start()
    return code, b"".join(stderr_parts).decode(errors="replace")
