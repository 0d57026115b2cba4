"""Settings come from TEMPODESK_* environment variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.settings import Settings
from temporal_client import tls_config


def test_defaults_point_at_the_local_dev_server(monkeypatch):
    for name in ("TEMPODESK_TEMPORAL_ADDRESS", "TEMPODESK_TASK_QUEUE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert (settings.temporal_address, settings.temporal_namespace, settings.task_queue) == (
        "127.0.0.1:7233", "default", "tempodesk")
    assert tls_config(settings) is False


def test_values_from_environment(monkeypatch, tmp_path):
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    monkeypatch.setenv("TEMPODESK_TEMPORAL_ADDRESS", "acme.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPODESK_TEMPORAL_NAMESPACE", "acme.a1b2c")
    monkeypatch.setenv("TEMPODESK_TEMPORAL_TLS_CERT", str(cert))
    monkeypatch.setenv("TEMPODESK_TEMPORAL_TLS_KEY", str(key))
    monkeypatch.setenv("TEMPODESK_TASK_QUEUE", "desk-eu")
    monkeypatch.setenv("TEMPODESK_MAX_CACHED_WORKFLOWS", "500")
    monkeypatch.setenv("TEMPODESK_CONFIG_PATH", "/etc/tempodesk/clients.yaml")
    settings = Settings(_env_file=None)
    assert settings.temporal_address == "acme.a1b2c.tmprl.cloud:7233"
    assert settings.temporal_namespace == "acme.a1b2c"
    assert settings.task_queue == "desk-eu"
    assert settings.max_cached_workflows == 500
    assert settings.config_path == Path("/etc/tempodesk/clients.yaml")
    tls = tls_config(settings)
    assert tls.client_cert == b"CERT" and tls.client_private_key == b"KEY"


def test_api_key_turns_tls_on(monkeypatch):
    monkeypatch.setenv("TEMPODESK_TEMPORAL_API_KEY", "cloud-key")
    settings = Settings(_env_file=None)
    assert settings.temporal_api_key.get_secret_value() == "cloud-key"
    assert settings.uses_tls


def test_cert_without_key_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("TEMPODESK_TEMPORAL_TLS_CERT", str(tmp_path / "c.pem"))
    monkeypatch.delenv("TEMPODESK_TEMPORAL_TLS_KEY", raising=False)
    with pytest.raises(ValidationError, match="TLS_CERT and TEMPODESK_TEMPORAL_TLS_KEY go"):
        Settings(_env_file=None)


def test_partial_oidc_is_refused(monkeypatch):
    monkeypatch.setenv("TEMPODESK_OIDC_ISSUER", "https://login.example")
    with pytest.raises(ValidationError, match="OIDC needs"):
        Settings(_env_file=None)


@pytest.mark.parametrize("command", ["api", "worker"])
def test_production_commands_refuse_the_dev_signing_secret(command):
    env = {k: v for k, v in os.environ.items() if k != "TEMPODESK_SIGNING_SECRET"}
    done = subprocess.run([str(Path(sys.executable).parent / "tempodesk"), command], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "TEMPODESK_SIGNING_SECRET is not set" in done.stderr


def test_the_once_published_secret_is_refused_everywhere():
    with pytest.raises(ValidationError, match="published in the repository"):
        Settings(_env_file=None, signing_secret="tempodesk-dev-only-signing-secret-change-me")
