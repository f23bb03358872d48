"""The gallery's URLs, who may see them, and how each is answered (HTML, or its JSON twin).

    GET  /                                   the hub (HTML for browsers, JSON for Accept: application/json,
                                             else the plain-text health check "hitrec hub")
    GET  /-/health                           the health check, always plain text
    GET  /-/static/<file>                    the gallery's CSS and icons
    GET  /-/login   POST /-/login            a private hub's login form (hub user name and token)
    POST /-/logout
    GET  /-/c/<name>                         a collaboration: filters, search, sort, pages (?page=N)
    GET  /-/c/<name>/feed.atom               its Atom feed of new fragments
    GET  /-/c/<name>/f/<id>                  a fragment (?depth=N: how far its lineage is drawn)
    GET  /-/c/<name>/f/<id>/media            its media, with Range (?download=1: as an attachment)
    GET  /-/c/<name>/piece/<id>              a piece: timeline, credits, paths, payouts (?profit=&currency=)
    GET  /-/c/<name>/contributor?id=<email>  a contributor
    GET  /-/c/<name>/picture/<oid>           a fragment's picture (a placeholder until it is made)

Every gallery path starts with ``/-/`` (``-`` is not a collaboration name), so none can be taken for
``/<name>.git/``. Names and ids are validated before they reach a path or a lookup.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hitrec.errors import HitrecError, MissingMediaError
from hitrec.hub.gallery import sessions
from hitrec.hub.gallery.catalog import Query
from hitrec.hub.gallery.headers import CSP, MEDIA_CSP, csp_with_media_from
from hitrec.hub.gallery.library import Library
from hitrec.hub.gallery.views import NotFound
from hitrec.hub.names import is_oid, is_user_name
from hitrec.hub.ranges import ranged_answer, unsatisfiable_header, unsatisfiable_message
from hitrec.hub.users import hash_token
from hitrec.store.format import read_ref

if TYPE_CHECKING:
    import jinja2

    from hitrec.hub.app import HubApp, Request
    from hitrec.hub.users import User

log = logging.getLogger("hitrec.hub")

HERE = Path(__file__).resolve().parent
STATIC = {"gallery.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
_COLLAB = re.compile(r"/-/c/(?P<name>[^/]+)(?P<rest>/.*)?")
_FRAGMENT_ID = re.compile(r"[0-9a-f]{40}")
_WHOLE = re.compile(r"[0-9]{1,8}")
_MAX_FORM = 8 * 1024
_LOGIN_FAILURE_DELAY = 0.5  # seconds: a guess through the form is slower than one through the API
_CHUNK = 1 << 20
_PAGES_KEPT = 512  # drawn pages remembered (~20-60 KB each)
# media a browser may show inline under the type it was recorded with; anything else is an attachment
_INLINE = re.compile(r"(audio|video)/[a-z0-9.+-]+|image/(png|jpeg|gif|webp|avif|bmp|heic|heif)|text/plain")


def is_gallery_path(path: str) -> bool:
    return path == "/" or path.startswith("/-/")


class Page(Exception):
    """An answer to send at once (a redirect, a refusal, a not-found)."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class Gallery:
    def __init__(self, hub: HubApp) -> None:
        self.hub = hub
        self.library = Library(hub.root)
        self.session_key = sessions.session_key(hub.action_key)
        self.ended_sessions = hub.root / ".sessions-ended"  # not a collaboration name (hitrec.hub.names)
        self._env: jinja2.Environment | None = None
        self.pictures = _picture_maker(hub.root)
        self._csp: str | None = None
        self._rendered: collections.OrderedDict[tuple[Any, ...], bytes] = collections.OrderedDict()

    # -- entry ------------------------------------------------------------------------------------
    async def handle(self, request: Request) -> None:
        try:
            await self._route(request)
        except Page as page:
            await self._error(request, page.status, page.message, page.headers)
        except NotFound as exc:
            await self._error(request, 404, str(exc))

    async def _route(self, request: Request) -> None:
        method, path = request.method, request.path
        if method not in ("GET", "HEAD", "POST"):
            raise Page(405, "the gallery only reads", [(b"allow", b"GET, HEAD, POST")])
        if path == "/-/health" or (path == "/" and not _wants_html(request) and not _wants_json(request)):
            await self.hub._send_bytes(request, 200, b"hitrec hub\n", b"text/plain; charset=utf-8")
            return
        if path.startswith("/-/static/"):
            await self._static(request, path[len("/-/static/"):])
            return
        if path == "/-/login":
            await (self._login(request) if method == "POST" else self._login_form(request))
            return
        if path == "/-/logout" and method == "POST":
            await self._logout(request)
            return
        if method == "POST":
            raise Page(405, "the gallery only reads", [(b"allow", b"GET, HEAD")])
        viewer = self._viewer(request)
        if path == "/":
            await self._hub_page(request, viewer)
            return
        match = _COLLAB.fullmatch(path)
        if not match:
            raise NotFound("no such page on this hub")
        name, rest = match.group("name"), match.group("rest") or ""
        self.library.git_dir(name)  # NotFound for a bad name or a missing collaboration (remembered paths)
        parts = rest.strip("/").split("/") if rest.strip("/") else []
        params = _params(request)
        if not parts:
            await self._collaboration(request, viewer, name, params)
        elif parts == ["feed.atom"]:
            await self._feed(request, name)
        elif parts == ["contributor"]:
            await self._contributor(request, viewer, name, params.get("id", ""))
        elif len(parts) == 2 and parts[0] == "f" and _FRAGMENT_ID.fullmatch(parts[1]):
            await self._fragment(request, viewer, name, parts[1], params)
        elif len(parts) == 3 and parts[0] == "f" and parts[2] == "media" and _FRAGMENT_ID.fullmatch(parts[1]):
            await self._media(request, name, parts[1], download=params.get("download") == "1")
        elif len(parts) == 2 and parts[0] == "piece" and _FRAGMENT_ID.fullmatch(parts[1]):
            await self._piece(request, viewer, name, parts[1], params)
        elif len(parts) == 2 and parts[0] == "picture" and is_oid(parts[1]):
            await self._picture(request, name, parts[1])
        else:
            raise NotFound("no such page on this hub")

    # -- who is looking ---------------------------------------------------------------------------
    def _viewer(self, request: Request) -> User | None:
        """The user a request speaks for: by session cookie, or a token as the API takes it; None for
        a stranger on a --public-read hub. A stranger elsewhere is sent to the login page (a browser)
        or refused (a tool)."""
        cookie = sessions.cookie_value(request.headers.get("cookie", ""))
        if cookie:
            session = sessions.check(self.session_key, cookie, self.hub.users, ended=self.ended_sessions)
            if session is not None:
                request.user = session.user
                return session.user
        if request.headers.get("authorization"):
            return self.hub._authorize(request, write=False)  # raises the API's own 401
        if self.hub.config.public_read:
            return None
        if _wants_html(request) and not _wants_json(request):
            target = request.path + (f"?{_query_string(request)}" if _query_string(request) else "")
            location = "/-/login?" + urllib.parse.urlencode({"next": target})
            raise Page(303, "log in to see this hub's gallery", [(b"location", location.encode())])
        return self.hub._authorize(request, write=False)

    # -- answers ----------------------------------------------------------------------------------
    @property
    def env(self) -> jinja2.Environment:
        if self._env is None:
            import jinja2

            from hitrec.credits.report import percent

            env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
            env.filters["duration"] = _duration
            env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M") if d is not None else ""
            env.filters["short"] = lambda fid: fid[:10]
            env.globals["url"] = Urls()
            env.globals["percent"] = percent
            self._env = env
        return self._env

    def _html(self, template: str, **context: Any) -> bytes:
        return self.env.get_template(template).render(**context).encode()

    async def _page(self, request: Request, viewer: User | None, name: str | None, template: str,
                    load: Callable[[], Any], context: Callable[[Any], dict[str, Any]] | None = None) -> None:
        """A page, or its JSON twin when the client asks for JSON. What ``load`` gives (on the worker
        thread) is drawn once per catalog commit: the answer is remembered under the collaboration's
        catalog commit (every collaboration's for the hub page), the URL, the format and the viewer."""
        as_json = _wants_json(request)
        heads = self._heads(name)
        # the base URL too: pages name the hub's address (clone URL), taken from the Host header, and one
        # stranger's forged Host must not reach every other stranger's page from this cache
        key = (template, heads, request.path, _query_string(request), as_json, viewer.name if viewer else "",
               self.hub._base_url(request))
        body = self._rendered.get(key)
        if body is None:
            def make() -> bytes:
                data = load()
                if as_json:
                    return json.dumps(data.to_json() if hasattr(data, "to_json") else data,
                                      ensure_ascii=False).encode()
                extra = context(data) if context is not None else {"page": data}
                return self._html(template, viewer=viewer, public=self.hub.config.public_read, **extra)

            body = await self.library.run(make)
            self._rendered[key] = body
            if len(self._rendered) > _PAGES_KEPT:
                self._rendered.popitem(last=False)
        else:
            self._rendered.move_to_end(key)
        cache = [(b"cache-control", b"no-cache" if self.hub.config.public_read else b"private, no-cache"),
                 (b"vary", b"Accept, Cookie")]
        if not as_json and self.hub.config.media.direct:
            cache.append((b"content-security-policy", (await self._page_csp()).encode()))
        ctype = b"application/json; charset=utf-8" if as_json else b"text/html; charset=utf-8"
        await self.hub._send_bytes(request, 200, body, ctype, cache)

    async def _page_csp(self) -> str:
        """The pages' CSP when media is in S3: the players may load from the store's origin (where the
        media route sends them). Found once, from an address signed for no real object."""
        if self._csp is None:
            try:
                url = await asyncio.to_thread(self.hub.config.media.store("gallery").presigned_get, "0" * 64, 60)
            except HitrecError as exc:
                log.warning("gallery: cannot sign a media address (%s); players may not load media", exc)
                return CSP
            parts = urllib.parse.urlsplit(url)
            self._csp = csp_with_media_from(f"{parts.scheme}://{parts.netloc}")
        return self._csp

    def _heads(self, name: str | None) -> tuple[str | None, ...]:
        """The catalog commit of collaboration ``name`` (of every one for None), read from the ref file."""
        names = [name] if name is not None else self.library.names()
        return tuple(read_ref(self.library.git_dir(n)) for n in names) + tuple(names)

    async def _error(self, request: Request, status: int, message: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
        if _wants_html(request) and not _wants_json(request) and status >= 400:
            body = self._html("error.html", status=status, message=message, viewer=request.user,
                              public=self.hub.config.public_read)
            ctype = b"text/html; charset=utf-8"
        elif _wants_json(request):
            body, ctype = json.dumps({"message": message}).encode(), b"application/json; charset=utf-8"
        else:
            body, ctype = (message + "\n").encode(), b"text/plain; charset=utf-8"
        await self.hub._send_bytes(request, status, body, ctype, headers)

    async def _static(self, request: Request, name: str) -> None:
        ctype = STATIC.get(name)
        if ctype is None:
            raise NotFound("no such file")
        body = (HERE / "static" / name).read_bytes()
        await self.hub._send_bytes(request, 200, body, ctype.encode(), [(b"cache-control", b"public, max-age=3600")])

    # -- login ------------------------------------------------------------------------------------
    async def _login_form(self, request: Request, *, error: str = "", status: int = 200, name: str = "") -> None:
        target = _safe_next(_params(request).get("next", "/"))
        html = self._html("login.html", error=error, next=target, name=name, viewer=None,
                          public=self.hub.config.public_read)
        await self.hub._send_bytes(request, status, html, b"text/html; charset=utf-8",
                                   [(b"cache-control", b"no-store")])

    def _same_origin(self, request: Request) -> bool:
        """A form posted from one of the hub's own pages (with SameSite cookies: the CSRF defence)."""
        origin = request.headers.get("origin")
        mine = self.hub._base_url(request)
        if origin is not None:
            return origin == mine
        referer = request.headers.get("referer", "")
        return referer == mine or referer.startswith(mine + "/")

    async def _form(self, request: Request) -> dict[str, str]:
        raw = bytearray()
        async for chunk in request.chunks():
            raw += chunk
            if len(raw) > _MAX_FORM:
                raise Page(413, "form too large")
        try:
            return dict(urllib.parse.parse_qsl(raw.decode("utf-8"), max_num_fields=10))
        except (UnicodeDecodeError, ValueError):
            raise Page(400, "bad form") from None

    async def _login(self, request: Request) -> None:
        if not self._same_origin(request):
            raise Page(403, "this login form must be sent from the hub's own login page")
        form = await self._form(request)
        name, token = form.get("user", "").strip(), form.get("token", "").strip()
        target = _safe_next(form.get("next", "/"))
        user = self.hub.users.authenticate(token) if token and is_user_name(name) else None
        if user is None or user.name != name:
            await asyncio.sleep(_LOGIN_FAILURE_DELAY)
            request.query["next"] = urllib.parse.quote(target)
            await self._login_form(request, error="That user name and token do not match a user of this hub.",
                                   status=401, name=name if is_user_name(name) else "")
            return
        request.user = user
        value = sessions.mint(self.session_key, user.name, hash_token(token))
        secure = request.scope.get("scheme") == "https"
        await self.hub._send_bytes(request, 303, b"", b"text/plain; charset=utf-8",
                                   [(b"location", target.encode()),
                                    (b"set-cookie", sessions.cookie_header(value, secure=secure)),
                                    (b"cache-control", b"no-store")])

    async def _logout(self, request: Request) -> None:
        if not self._same_origin(request):
            raise Page(403, "log out from the hub's own pages")
        await self._form(request)
        cookie = sessions.cookie_value(request.headers.get("cookie", ""))
        session = sessions.check(self.session_key, cookie, self.hub.users, ended=self.ended_sessions) \
            if cookie else None
        if session is not None:  # a copy of the cookie must stop working too, in every process
            await asyncio.to_thread(sessions.end, self.ended_sessions, cookie, session.expiry)
        secure = request.scope.get("scheme") == "https"
        await self.hub._send_bytes(request, 303, b"", b"text/plain; charset=utf-8",
                                   [(b"location", b"/-/login" if not self.hub.config.public_read else b"/"),
                                    (b"set-cookie", sessions.clear_cookie_header(secure=secure)),
                                    (b"cache-control", b"no-store")])

    # -- pages ------------------------------------------------------------------------------------
    async def _hub_page(self, request: Request, viewer: User | None) -> None:
        def load() -> list[dict[str, Any]]:
            out = []
            for name in self.library.names():
                try:
                    snap = self.library.snapshot(name)
                except (HitrecError, OSError) as exc:
                    log.warning("gallery: cannot read %s: %s", name, exc)
                    continue
                latest = snap.latest
                out.append({"name": name, "fragments": len(snap.fragments), "contributors": snap.contributor_count,
                            "latest": latest.isoformat() if latest else None, "latest_dt": latest})
            return out

        def twin(rows: list[dict[str, Any]]) -> dict[str, Any]:
            return {"collaborations": [{k: v for k, v in r.items() if k != "latest_dt"} for r in rows]}

        await self._page(request, viewer, None, "hub.html", lambda: _Twin(load(), twin),
                         lambda data: {"collaborations": data.value})

    async def _collaboration(self, request: Request, viewer: User | None, name: str, params: dict[str, str]) -> None:
        from hitrec.hub.gallery.views import collaboration

        query = Query.parse(params)
        page_no = _whole(params.get("page", ""), 1)

        def load() -> Any:
            snap = self.library.snapshot(name)
            return collaboration(self.hub.media_store_of(name), snap, query, page_no, self.library.excerpts)

        await self._page(request, viewer, name, "collaboration.html", load)

    async def _fragment(self, request: Request, viewer: User | None, name: str, fid: str,
                        params: dict[str, str]) -> None:
        from hitrec.hub.gallery.views import LINEAGE_DEPTH, fragment_page

        depth = max(1, min(_whole(params.get("depth", ""), LINEAGE_DEPTH), 12))
        clone_url = f"{self.hub._base_url(request)}/{name}.git"
        page_url = f"{self.hub._base_url(request)}/-/c/{name}/f/{fid}"

        def load() -> Any:
            snap = self.library.snapshot(name)
            return fragment_page(self.hub.media_store_of(name), snap, fid, page_url, depth)

        def context(page: Any) -> dict[str, Any]:
            return {"page": page, "clone_url": clone_url, "lineage_svg": self._lineage_svg(page, depth)}

        await self._page(request, viewer, name, "fragment.html", load, context)

    def _lineage_svg(self, page: Any, depth: int) -> str | None:
        """The lineage picture (hitrec.hub.gallery.lineage_svg, by Graphviz) inline, or None where
        that module is not installed or there is no lineage to draw."""
        if len(page.lineage.nodes) < 2:
            return None
        drawing = _optional("hitrec.hub.gallery.lineage_svg")
        if drawing is None:
            return None
        urls = Urls()
        nodes = [drawing.LineageNode(id=f.id, title=f.title, author=f.author.name, kind=f.kind, depth=d)
                 for f, d in page.lineage.nodes]
        cut = page.lineage.cut
        try:
            return str(drawing.lineage_svg(nodes, page.lineage.edges, focus=page.fragment.id,
                                           href=lambda i: urls.fragment(page.collaboration, i),
                                           more=lambda i: urls.fragment(page.collaboration, i) if i in cut else None))
        except Exception:  # a picture that cannot be drawn must not take the page down
            log.exception("gallery: cannot draw the lineage of %s", page.fragment.id)
            return None

    async def _piece(self, request: Request, viewer: User | None, name: str, fid: str, params: dict[str, str]) -> None:
        from hitrec.hub.gallery.views import piece_page

        profit = params.get("profit", "").strip()[:40]
        currency = params.get("currency", "USD").strip().upper()[:3] or "USD"
        if not currency.isalpha():
            currency = "USD"

        def load() -> Any:
            snap = self.library.snapshot(name)
            return piece_page(self.library.repo(name), snap, fid, profit, currency)

        await self._page(request, viewer, name, "piece.html", load)

    async def _contributor(self, request: Request, viewer: User | None, name: str, who: str) -> None:
        from hitrec.hub.gallery.views import contributor_page

        if not who or len(who) > 400:
            raise NotFound("which contributor? (?id=their e-mail address)")

        def load() -> Any:
            snap = self.library.snapshot(name)
            return contributor_page(self.library.repo(name), snap, who)

        await self._page(request, viewer, name, "contributor.html", load)

    async def _feed(self, request: Request, name: str) -> None:
        self._viewer(request)
        base = self.hub._base_url(request)

        def load() -> bytes:
            snap = self.library.snapshot(name)
            return self._html("feed.atom", name=name, base=base, fragments=snap.fragments[:50],
                              updated=snap.latest)

        body = await self.library.run(load)
        await self.hub._send_bytes(request, 200, body, b"application/atom+xml; charset=utf-8",
                                   [(b"cache-control", b"no-cache")])

    # -- media and pictures -----------------------------------------------------------------------
    async def _media(self, request: Request, name: str, fid: str, *, download: bool) -> None:
        self._viewer(request)
        snap = await self.library.run(self.library.snapshot, name)
        fragment = snap.by_id.get(fid)
        if fragment is None:
            raise NotFound(f"no fragment {fid[:12]} in {name}")
        store = self.hub.media_store_of(name)
        oid = fragment.media.oid
        try:
            size = await asyncio.to_thread(store.size, oid)
        except MissingMediaError:
            raise NotFound("the hub does not have this fragment's media") from None
        mime = (fragment.media.mime or "application/octet-stream").split(";")[0].strip().lower()
        inline = bool(_INLINE.fullmatch(mime)) and not download
        ctype = "text/plain; charset=utf-8" if mime == "text/plain" else mime if inline else "application/octet-stream"
        filename = urllib.parse.quote(fragment.media.filename or fid)
        disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{filename}"
        if self.hub.config.media.direct:  # media in S3: the player reads it from the store, not the hub
            url = await asyncio.to_thread(self.hub.config.media.store(name).presigned_get, oid,
                                          self.hub.config.media.url_ttl, content_type=ctype, disposition=disposition)
            raise Page(307, "the media is in the hub's object store",
                       [(b"location", url.encode()), (b"cache-control", b"no-store")])
        headers = [(b"content-type", ctype.encode()), (b"accept-ranges", b"bytes"),
                   (b"content-disposition", disposition.encode()), (b"content-security-policy", MEDIA_CSP.encode()),
                   (b"cache-control", b"private, max-age=86400")]
        answer = ranged_answer(request.headers.get("range"), size)
        if answer is None:
            raise Page(416, unsatisfiable_message(size), [unsatisfiable_header(size)])
        status, start, end, ranged_headers = answer
        await request.start(status, headers + ranged_headers)
        if request.method == "HEAD" or end == start:
            await request.body(b"")
            return
        reader = await asyncio.to_thread(store.open_read, oid, start, end)
        try:
            remaining = end - start
            while remaining > 0:
                data = await asyncio.to_thread(reader.read, min(_CHUNK, remaining))
                if not data:
                    raise ConnectionError("media ended early")
                remaining -= len(data)
                await request.body(data, more=remaining > 0)
        finally:
            reader.close()

    async def _picture(self, request: Request, name: str, oid: str) -> None:
        self._viewer(request)
        snap = await self.library.run(self.library.snapshot, name)
        fragment = snap.by_oid.get(oid)
        if fragment is None:
            raise NotFound("no fragment with this media here")
        kind = fragment.kind
        maker = self.pictures
        if maker is not None and kind != "text":
            ready = maker.ready(oid, kind)
            if ready is not None:
                ctype = b"image/webp" if ready.suffix == ".webp" else b"image/png"
                body = await asyncio.to_thread(ready.read_bytes)
                await self.hub._send_bytes(request, 200, body, ctype, [(b"cache-control", b"private, max-age=86400")])
                return
            store = self.hub.media_store_of(name)
            maker.want(oid, kind, lambda: store.local_path(oid))
            placeholder = maker.placeholder(kind)
        else:
            placeholder = _placeholder(kind)
        await self.hub._send_bytes(request, 200, placeholder, b"image/svg+xml", [(b"cache-control", b"no-store")])

    def close(self) -> None:
        self.library.close()


@dataclasses.dataclass
class _Twin:
    """A value whose JSON twin is made by a function."""

    value: Any
    json_of: Callable[[Any], Any]

    def to_json(self) -> Any:
        return self.json_of(self.value)


class Urls:
    """Every gallery address the templates link to (names and ids are already validated)."""

    def collaboration(self, name: str, **params: str) -> str:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v})
        return f"/-/c/{urllib.parse.quote(name)}" + (f"?{query}" if query else "")

    def fragment(self, name: str, fid: str) -> str:
        return f"/-/c/{urllib.parse.quote(name)}/f/{fid}"

    def media(self, name: str, fid: str, download: bool = False) -> str:
        return f"/-/c/{urllib.parse.quote(name)}/f/{fid}/media" + ("?download=1" if download else "")

    def piece(self, name: str, fid: str) -> str:
        return f"/-/c/{urllib.parse.quote(name)}/piece/{fid}"

    def picture(self, name: str, oid: str) -> str:
        return f"/-/c/{urllib.parse.quote(name)}/picture/{oid}"

    def contributor(self, name: str, email: str) -> str:
        return f"/-/c/{urllib.parse.quote(name)}/contributor?" + urllib.parse.urlencode({"id": email.lower()})

    def feed(self, name: str) -> str:
        return f"/-/c/{urllib.parse.quote(name)}/feed.atom"


def _picture_maker(root: Path) -> Any:
    """hitrec.hub.gallery.pictures' maker, caching under the hub root, or None where it is not there."""
    pictures = _optional("hitrec.hub.gallery.pictures")
    return None if pictures is None else pictures.PictureMaker(root / ".pictures", concurrency=2)


def _optional(module: str) -> Any:
    """A module of the gallery's pictures (hitrec.hub.gallery.pictures, .lineage_svg), or None while it
    is not there (the pages then show placeholders and the lineage as lists)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


_PLACEHOLDER = ('<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180" viewBox="0 0 320 180">'
                '<rect width="320" height="180" fill="#e8e6e1"/><text x="160" y="98" font-family="sans-serif" '
                'font-size="22" text-anchor="middle" fill="#555">{kind}</text></svg>')


def _placeholder(kind: str) -> bytes:
    return _PLACEHOLDER.format(kind=kind if kind in ("audio", "video", "image", "text") else "media").encode()


def _query_string(request: Request) -> str:
    return str(request.scope.get("query_string", b"").decode("latin-1"))


def _params(request: Request) -> dict[str, str]:
    """The URL's query, decoded (the first value of each name)."""
    out: dict[str, str] = {}
    try:
        fields = urllib.parse.parse_qsl(_query_string(request), max_num_fields=40)
    except ValueError:  # more fields than that
        raise Page(400, "too many parameters in this address") from None
    for key, value in fields:
        out.setdefault(key, value)
    for key, value in request.query.items():  # what the handler put there itself (the login's next)
        out.setdefault(key, urllib.parse.unquote(value))
    return out


def _whole(text: str, default: int) -> int:
    """A page number or depth from the URL: ASCII digits, at most 8 (``str.isdigit`` takes "²", which
    ``int`` refuses, and Python refuses to read more than 4300 digits), else ``default``."""
    return int(text) if _WHOLE.fullmatch(text) else default


def _safe_next(target: str) -> str:
    """Where to go after logging in: a path on this hub only (never //host or a scheme)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "").lower()


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}:{rest:02d}"
