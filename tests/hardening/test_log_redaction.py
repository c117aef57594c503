"""Logs: third-party HTTP loggers stay at WARNING even at DEBUG; credentials in any URL we log are masked
(query keys such as consumer_key/consumer_secret/access_token/signature, and userinfo); the CLI logs to
standard error and is quiet by default, so log lines never mix with command output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dropbridge.sandbox.woocommerce import WooCommerceEmulator
from dropbridge.services.redaction import redact_text, redact_url

from .cli_tools import cli_env, run_cli


@pytest.mark.parametrize("url,redacted", [
    ("https://shop.example/wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_2&page=2",
     "https://shop.example/wp-json/wc/v3/orders?consumer_key=***&consumer_secret=***&page=2"),
    ("https://user:pass@feeds.example/stock.csv", "https://***@feeds.example/stock.csv"),
    ("https://api.example/x?access_token=t&key=k&secret=s&signature=g&a=1",
     "https://api.example/x?access_token=***&key=***&secret=***&signature=***&a=1"),
    ("https://api.example/x?api_key=k&client_secret=c&x-amz-signature=z",
     "https://api.example/x?api_key=***&client_secret=***&x-amz-signature=***"),
    ("https://plain.example/path?page=2", "https://plain.example/path?page=2"),
])
def test_redact_url(url, redacted):
    assert redact_url(url) == redacted
    assert redact_text(f"GET {url} -> 200") == f"GET {redacted} -> 200"


SCRIPT = """
import logging, structlog
from dropbridge.bootstrap import configure_logging
configure_logging("DEBUG")
logging.getLogger("dropbridge.x").warning("GET https://u:p@h.example/x?consumer_key=ck_1&consumer_secret=cs_2&page=3")
structlog.get_logger("dropbridge.y").warning("fetch", url="https://h.example/x?access_token=tok_9")
logging.getLogger("httpx").info("HTTP Request: GET https://h.example/?consumer_secret=cs_3")
logging.getLogger("httpcore").debug("send_request_headers.started request=<Request [b'GET']>")
print("levels", [logging.getLogger(n).getEffectiveLevel() for n in ("httpx", "httpcore", "urllib3")])
"""


def test_logging_at_debug_keeps_http_loggers_quiet_and_masks_urls():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "levels [30, 30, 30]\n"  # nothing but the program's own output
    err = done.stderr
    for secret in ("ck_1", "cs_2", "tok_9", "cs_3", "u:p@"):
        assert secret not in err
    assert "https://***@h.example/x?consumer_key=***&consumer_secret=***&page=3" in err
    assert "access_token=***" in err
    assert "HTTP Request" not in err and "send_request_headers" not in err


def test_cli_at_debug_keeps_woocommerce_query_credentials_out_of_logs_and_output(app):
    # a site that sees TLS (query-string keys count only there, storefronts.md 2.1)
    with WooCommerceEmulator("ck_live_secretkey", "cs_live_secretvalue", send_ping=False, ssl=True) as emu:
        env = cli_env(app.settings, DROPBRIDGE_LOG_LEVEL="DEBUG")
        creds = json.dumps({"consumer_key": "ck_live_secretkey", "consumer_secret": "cs_live_secretvalue",
                            "webhook_secret": "whsec"})
        ran = run_cli(["store", "add", "shop", "--platform", "woocommerce", "--url", emu.url, "--credentials",
                       creds, "--config", '{"auth": "query"}', "--public-url", "http://127.0.0.1:9"], env)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0] == "store shop (id 1) saved"
    assert "webhook subscriptions in place" in ran.stdout
    assert "[debug" in ran.stderr and "http" in ran.stderr  # DEBUG did log the calls, to standard error
    for text in (ran.stdout, ran.stderr):
        assert "ck_live_secretkey" not in text and "cs_live_secretvalue" not in text


def test_cli_is_quiet_by_default(app):
    ran = run_cli(["alerts"], cli_env(app.settings))
    assert ran.returncode == 0 and ran.stderr == ""
