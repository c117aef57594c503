"""`dropbridge sandbox run edi-partner` prints its connection JSON first, like every emulator, and
`supplier add --kind edi_x12` takes it as it is; the server behind it is a real SFTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

from dropbridge.connectors.kit.sftp import SftpClient

from .test_cli import cli  # noqa: F401 - the fixture


def test_sandbox_run_edi_partner_prints_a_connection_supplier_add_accepts(cli):  # noqa: F811
    proc = subprocess.Popen([sys.executable, "-m", "dropbridge.cli", "sandbox", "run", "edi-partner"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ))
    try:
        conn = json.loads(proc.stdout.readline())
        assert set(conn) == {"name", "base_url", "credentials", "config"}
        assert conn["base_url"].startswith("sftp://127.0.0.1:")
        cli("init")
        cli("supplier", "add", "acme-edi", "--kind", "edi_x12", "--url", conn["base_url"], "--credentials",
            json.dumps(conn["credentials"]), "--config", json.dumps(conn["config"]))
        listed = cli("supplier", "list").stdout
        assert "acme-edi" in listed and conn["credentials"]["password"] not in listed
        url = urlsplit(conn["base_url"])
        client = SftpClient(url.hostname, url.port, conn["credentials"]["username"],
                            password=conn["credentials"]["password"], host_key=conn["config"]["host_key"], timeout=5)
        with client.session() as session:
            assert session.list_files("/inbound") == []
            assert session.put_new("/inbound/archive", "hello.txt", b"hi") is True
            assert session.put_new("/inbound/archive", "hello.txt", b"again") is False  # never overwritten
    finally:
        proc.terminate()
        proc.wait(timeout=15)
