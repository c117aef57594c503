"""Read models shared by the API, the CLI and the dashboard."""
