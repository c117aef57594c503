"""Read models shared by the API and the dashboard: each returns plain dicts and lists, ready to render."""
