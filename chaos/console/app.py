"""The console's HTTP side: the page, its assets, Server-Sent Events and the actions.

Every request passes `ConsoleAccess` first; a refused request changes nothing. The page is
static: every string from an experiment or a note reaches it as JSON and is set as text,
never parsed as HTML, and the Content-Security-Policy allows only our own scripts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from chaos.console.access import AccessDenied, ConsoleAccess, Role
from chaos.console.actions import add_note, next_step, stop_everything
from chaos.console.errors import ConsoleError
from chaos.console.follow import RunCursor, report_path

# How often a page's cursor looks for appended lines: a new load second reaches the page
# within this of being written.
PUSH_POLL_S = 0.25
# A comment line now and then keeps proxies and idle browsers from closing the stream.
KEEPALIVE_S = 15.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
REPORT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class NoteBody(BaseModel):
    text: str = Field(max_length=4000)
    author: str = Field(max_length=200)


class AuthorBody(BaseModel):
    author: str = Field(default="facilitator", max_length=200)


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token")


def _is_public(path: str) -> bool:
    """The page and its assets hold nothing from a run: a browser loads them without the
    token (a `<script src>` cannot send one); the page then sends it with every request."""
    return path == "/" or path.startswith("/static/")


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"


def create_app(runs_dir: Path, access: ConsoleAccess, stop_grace_s: float = 30.0) -> FastAPI:
    """The console app for the runs folder `runs_dir`."""
    app = FastAPI(title="gameday console", docs_url=None, redoc_url=None, openapi_url=None)
    static = resources.files("chaos.console") / "static"

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        client = request.client.host if request.client else None
        try:
            access.check_origin(
                request.method, request.headers.get("host"), request.headers.get("origin")
            )
            if _is_public(request.url.path):
                access.check_address(client)
            else:
                request.state.role = access.role(client, _token(request))
        except AccessDenied as denied:
            return JSONResponse({"error": str(denied)}, denied.status, headers=SECURITY_HEADERS)
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path.startswith("/report/"):
            # The report is self-contained HTML with inline styles: shown sandboxed.
            response.headers["Content-Security-Policy"] = REPORT_POLICY
        return response

    def facilitator(request: Request, action: str) -> None:
        role: Role = request.state.role
        access.require_facilitator(role, action)

    @app.exception_handler(AccessDenied)
    async def denied(request: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, exc.status)

    @app.exception_handler(ConsoleError)
    async def refused(request: Request, exc: ConsoleError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 409)

    @app.get("/")
    async def page() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    @app.get("/api/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        return {"role": request.state.role, "runs_dir": str(runs_dir)}

    @app.get("/api/events")
    async def events(request: Request) -> StreamingResponse:
        cursor = RunCursor(Path(runs_dir))

        async def stream() -> AsyncIterator[str]:
            yield _sse("snapshot", await asyncio.to_thread(cursor.snapshot))
            quiet = 0.0
            while not await request.is_disconnected():
                await asyncio.sleep(PUSH_POLL_S)
                delta = await asyncio.to_thread(cursor.changes)
                if delta is not None:
                    quiet = 0.0
                    yield _sse("snapshot" if delta.get("reset") else "delta", delta)
                    continue
                quiet += PUSH_POLL_S
                if quiet >= KEEPALIVE_S:
                    quiet = 0.0
                    yield ": keepalive\n\n"

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @app.post("/api/notes")
    async def note(request: Request, body: NoteBody) -> dict[str, Any]:
        return await asyncio.to_thread(add_note, Path(runs_dir), body.text, body.author)

    @app.post("/api/next")
    async def advance(request: Request, body: AuthorBody) -> dict[str, Any]:
        facilitator(request, "start the next step")
        return await asyncio.to_thread(next_step, Path(runs_dir), body.author)

    @app.post("/api/stop")
    async def stop(request: Request) -> dict[str, Any]:
        facilitator(request, "press the emergency stop")
        return await asyncio.to_thread(stop_everything, Path(runs_dir), stop_grace_s)

    @app.get("/report/{folder}")
    async def report(folder: str) -> FileResponse:
        path = report_path(Path(runs_dir), folder)
        if path is None:
            raise HTTPException(404, "no report in that folder yet")
        return FileResponse(str(path), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app
