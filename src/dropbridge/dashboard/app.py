"""Mounting the dashboard on the FastAPI app: templates, static files, CSRF, the login wall and roles."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from dropbridge.services.users import SessionUser, session_user

from .security import CSRF_FIELD, SESSION_COOKIE, CsrfMiddleware, SessionCookie, derive_secret

HERE = Path(__file__).parent


class LoginRequired(Exception):
    pass


class RoleRefused(Exception):
    def __init__(self, user: SessionUser, need: str):
        self.user, self.need = user, need


def _when(value) -> str:
    if not value:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M")


def _ago(hours) -> str:
    if hours is None:
        return "never"
    if hours < 1:
        return f"{int(hours * 60)} min ago"
    if hours < 48:
        return f"{hours:.0f} h ago"
    return f"{hours / 24:.0f} days ago"


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["when"] = _when
    templates.env.filters["ago"] = _ago
    templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
    return templates


class Dashboard:
    """What every view needs: the app context, templates, the session cookie."""

    def __init__(self, app_ctx):
        self.app_ctx = app_ctx
        self.ctx = app_ctx.ctx
        self.settings = app_ctx.settings
        self.templates = build_templates()
        self.cookie = SessionCookie(self.settings)
        self.csrf_secret = derive_secret(self.settings, "csrf")

    def user(self, request: Request) -> SessionUser:
        session_id = self.cookie.load(request.cookies.get(SESSION_COOKIE))
        user = session_user(self.ctx, session_id) if session_id else None
        if user is None:
            raise LoginRequired()
        request.state.user = user
        # Every view starts here: a NUL in the address (PostgreSQL refuses it, SQLite would search for it) is
        # refused the same on both databases before any query runs.
        if any("\x00" in v for v in (*request.query_params.values(), *map(str, request.path_params.values()))):
            raise HTTPException(400, "the address holds a NUL character")
        return user

    def actor(self, request: Request, need: str = "staff") -> tuple[SessionUser, object]:
        """The signed-in user allowed to act (staff or owner; `need="owner"` for settings), and a context
        that records them as the actor in the audit trail."""
        user = self.user(request)
        if (need == "owner" and not user.is_owner) or not user.can_act:
            raise RoleRefused(user, need)
        return user, dataclasses.replace(self.ctx, actor=f"user:{user.email}")

    def render(self, request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
        token = request.scope.get("csrftoken")
        context.setdefault("user", getattr(request.state, "user", None))
        context.setdefault("msg", request.query_params.get("msg"))
        context.setdefault("err", request.query_params.get("err"))
        return self.templates.TemplateResponse(request, name, {"csrf": token() if token else "", **context},
                                               status_code=status_code)


def back(url: str, *, msg: str | None = None, err: str | None = None) -> RedirectResponse:
    sep = "&" if "?" in url else "?"
    if msg:
        url += f"{sep}msg={quote(msg)}"
    elif err:
        url += f"{sep}err={quote(err)}"
    return RedirectResponse(url, status_code=303)


def mount_dashboard(api: FastAPI, app_ctx) -> None:
    from .views import add_views

    board = Dashboard(app_ctx)
    api.mount("/assets", StaticFiles(directory=str(HERE / "static")), name="dashboard-assets")
    api.add_middleware(CsrfMiddleware, secret=board.csrf_secret)

    @api.exception_handler(LoginRequired)
    def _login(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @api.exception_handler(RoleRefused)
    def _refused(request: Request, exc: RoleRefused):
        request.state.user = exc.user
        return board.render(request, "refused.html", status_code=403, need=exc.need)

    add_views(api, board)
