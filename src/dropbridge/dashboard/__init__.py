"""The dashboard: server-rendered pages (Jinja2) on the API's FastAPI app, for users with roles.
No asset comes from the internet; charts are SVG rendered on the server."""

from .app import mount_dashboard

__all__ = ["mount_dashboard"]
