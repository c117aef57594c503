"""`dropbridge keys rotate`: every stored credential re-encrypted with the newest key, so the old key can be
removed; a credential no key opens stops it with nothing changed; a missing key file while encrypted
credentials exist stops start-up instead of a new key being made. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from dropbridge.bootstrap import bootstrap
from dropbridge.domain.errors import ConfigurationError
from dropbridge.domain.model import Store, Supplier
from dropbridge.secrets import Vault, read_key_file
from dropbridge.services.connections import add_store, add_supplier
from dropbridge.services.keys import rotate_credentials
from dropbridge.storage import tables as t

from ..conftest import make_settings
from .cli_tools import cli_env, run_cli


def blobs(app) -> dict[str, bytes]:
    with app.ctx.uow(read_only=True) as uow:
        out = {f"store:{s.id}": s.credentials for s in uow.session.scalars(select(Store))}
        out.update({f"supplier:{s.id}": s.credentials for s in uow.session.scalars(select(Supplier))})
    return out


def test_rotate_re_encrypts_every_credential_so_the_old_key_can_go(app, tmp_path, db_url):
    old_key = app.settings.secret_keys
    add_store(app.ctx, "shop", "headless", "http://x", {"webhook_secret": "s1"})
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k1"})
    add_supplier(app.ctx, "beta", "rest", "http://x", {"api_key": "k2"})
    add_supplier(app.ctx, "files", "feed", "", {})  # no credentials: nothing to rotate
    new_key = Fernet.generate_key().decode()
    rotated = bootstrap(make_settings(tmp_path, db_url, secret_keys=f"{new_key},{old_key}"))
    try:
        assert rotate_credentials(rotated.ctx) == {"store": 1, "supplier": 2, "runtime": 0}
    finally:
        rotated.close()
    only_new = Vault([new_key])
    stored = blobs(app)
    assert only_new.decrypt("store:1", stored["store:1"]) == {"webhook_secret": "s1"}
    assert {only_new.decrypt(owner, blob)["api_key"] for owner, blob in stored.items()
            if owner.startswith("supplier") and blob} == {"k1", "k2"}
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        Vault([old_key]).decrypt("store:1", stored["store:1"])


def test_a_credential_no_key_opens_stops_the_rotation_with_nothing_changed(app, tmp_path, db_url):
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k1"})
    add_supplier(app.ctx, "beta", "rest", "http://x", {"api_key": "k2"})
    foreign = Vault([Fernet.generate_key().decode()]).encrypt("supplier:2", {"api_key": "stranger"})
    with app.ctx.uow() as uow:
        uow.session.execute(update(t.suppliers).where(t.suppliers.c.name == "beta").values(credentials=foreign))
        uow.commit()
    before = blobs(app)
    rotated = bootstrap(make_settings(tmp_path, db_url,
                                      secret_keys=f"{Fernet.generate_key().decode()},{app.settings.secret_keys}"))
    try:
        with pytest.raises(ConfigurationError, match="credentials of supplier:2 cannot be decrypted"):
            rotate_credentials(rotated.ctx)
    finally:
        rotated.close()
    assert blobs(app) == before


def test_cli_rotate_with_the_key_file_new_key_then_prune(app, tmp_path):
    settings = app.settings
    env = cli_env(settings, DROPBRIDGE_SECRET_KEYS="")
    keys_file = settings.secret_keys_file
    keys_file.write_text(settings.secret_keys + "\n")
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k1"})
    ran = run_cli(["keys", "rotate", "--new-key"], env)
    assert ran.returncode == 0, ran.stderr
    assert ("re-encrypted 0 store and 1 supplier credentials and 0 runtime secrets (access tokens) with the newest "
            "key") in ran.stdout
    assert "1 older keys are no longer needed" in ran.stdout.replace("\n", " ")
    keys = read_key_file(keys_file)
    assert len(keys) == 2 and keys[1] == settings.secret_keys
    ran = run_cli(["keys", "rotate", "--prune"], env)
    assert ran.returncode == 0, ran.stderr
    assert f"removed 1 older keys from {keys_file}" in " ".join(ran.stdout.split())
    assert read_key_file(keys_file) == keys[:1]
    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
    assert Vault(keys[:1]).decrypt("supplier:1", blobs(app)["supplier:1"]) == {"api_key": "k1"}
    listed = run_cli(["supplier", "list"], env)
    assert listed.returncode == 0 and "acme" in listed.stdout
    refused = run_cli(["keys", "rotate", "--prune"], cli_env(settings))  # keys from the environment
    assert refused.returncode == 2 and "--new-key and --prune edit the key file" in refused.stderr


def test_a_missing_key_file_with_encrypted_credentials_stops_start_up(app, tmp_path):
    settings = app.settings
    env = cli_env(settings, DROPBRIDGE_SECRET_KEYS="")
    settings.secret_keys_file.write_text(settings.secret_keys + "\n")
    add_supplier(app.ctx, "acme", "rest", "http://x", {"api_key": "k1"})
    settings.secret_keys_file.unlink()
    ran = run_cli(["supplier", "list"], env)
    assert ran.returncode == 2
    assert ran.stderr.strip() == (f"error: the secret key file {settings.secret_keys_file} is missing, but 1 stored "
                                  "credentials are encrypted: restore the file (or set DROPBRIDGE_SECRET_KEYS to "
                                  "the keys); a new key would leave them unreadable")
    assert not settings.secret_keys_file.exists()  # no new key was made
    before = blobs(app)
    assert run_cli(["supplier", "list"], env).returncode == 2
    assert blobs(app) == before


def test_a_fresh_install_still_makes_its_key_file(tmp_path, db_url):
    settings = make_settings(tmp_path / "fresh", db_url, secret_keys=None)
    built = bootstrap(settings)
    try:
        assert len(read_key_file(settings.secret_keys_file)) == 1
    finally:
        built.close()
