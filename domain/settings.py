"""Process settings from the environment (prefix ``TEMPODESK_``) or a ``.env`` file.

Everything about *where* Tempodesk runs lives here; everything about *whom* it serves
(clients, contracts, credentials) lives in the config file (:mod:`domain.tenants`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Once the default, published in the repository: a secret anyone can read signs nothing.
PUBLIC_SIGNING_SECRETS = frozenset({"tempodesk-dev-only-signing-secret-change-me"})
CODEC_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CODEC_KEY_HINT = ("make one with `python -c 'import base64, os; "
                  "print(base64.b64encode(os.urandom(32)).decode())'`")


def decode_codec_key(key_id: str, value: str) -> bytes:
    """A codec key from its base64 text; the error says which key and how to fix it."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"TEMPODESK_CODEC_KEYS[{key_id!r}] is not base64: "
                         f"{CODEC_KEY_HINT}") from None
    if len(key) != 32:
        raise ValueError(f"TEMPODESK_CODEC_KEYS[{key_id!r}] decodes to {len(key)} bytes; "
                         f"AES-256 needs exactly 32: {CODEC_KEY_HINT}")
    return key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TEMPODESK_", env_file=".env", extra="ignore")

    # Temporal: a local dev server, a self-hosted cluster or Temporal Cloud.
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = Field(False, description="use TLS even without a client certificate")
    temporal_tls_cert: Path | None = Field(None, description="mTLS client certificate (PEM)")
    temporal_tls_key: Path | None = Field(None, description="mTLS client private key (PEM)")
    temporal_tls_ca: Path | None = Field(None, description="CA bundle for the server (PEM)")
    temporal_api_key: SecretStr | None = Field(None, description="Temporal Cloud API key")
    task_queue: str = "tempodesk"
    max_cached_workflows: int = Field(
        2000, ge=0, description="tickets a worker keeps in memory (~270 KiB each, about 110 "
        "of it the SDK sandbox); evicted ones replay when they next wake")

    sticky_schedule_to_start_seconds: float = Field(
        1.0, gt=0, le=60, description="how long a ticket's next task waits for the worker "
        "that cached it before any worker takes it (bounds the delay after a worker crash)")
    graceful_shutdown_seconds: float = Field(
        30.0, ge=0, le=600, description="on SIGTERM, how long running activities may finish")

    config_path: Path = Path("tempodesk.yaml")

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_replicas: int = Field(1, ge=1, le=1000, description="API replicas behind the load "
                              "balancer: each enforces its share of every rate limit")
    api_request_seconds: float = Field(
        25.0, gt=0, le=300, description="longest a request waits on a ticket's answer; past "
        "it the API answers 503 with Retry-After (a ticket whose worker is down or failing "
        "must not hold the connection, nor a replica's shutdown, for ever)")
    public_url: str = Field("http://127.0.0.1:8000", description="base of links in e-mails")

    # `tempodesk dev` only: the embedded Temporal dev server.
    data_dir: Path = Path(".data")
    ui_port: int = 8233

    # Signs survey links and page cursors. `tempodesk api`/`worker` need it set (the same on
    # every replica); `tempodesk dev` makes a random one in its data directory.
    signing_secret: SecretStr | None = None

    # Payload encryption (PII in Temporal history): key id -> base64 32-byte AES key, as JSON
    # (TEMPODESK_CODEC_KEYS='{"2026-01": "..."}'); TEMPODESK_CODEC_KEY_ID names the one that
    # encrypts, the others only decrypt (rotation). No keys: payloads are stored in plain
    # text. Every worker, API replica and codec server needs the same keys.
    codec_keys: dict[str, SecretStr] = Field(default_factory=dict)
    codec_key_id: str | None = None
    # `tempodesk codec-server`: decodes payloads for the Temporal Web UI (staff only).
    codec_host: str = "127.0.0.1"
    codec_port: int = 8234
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8233"],
        description="Web UI origins allowed to call the codec server (JSON list)")

    # Outbound e-mail; with no host, e-mail notifications are skipped (and recorded so).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "Tempodesk Service Desk <servicedesk@tempodesk.invalid>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False

    # Providers an MSP drives (offboarding, onboarding). Base URLs are settings so tests
    # and `tempodesk dev` point the same adapters at local servers.
    graph_url: str = "https://graph.microsoft.com"
    graph_login_url: str = "https://login.microsoftonline.com"
    graph_client_id: str | None = Field(None, description="the MSP's multi-tenant app")
    graph_client_secret: SecretStr | None = None
    sentinelone_url: str | None = None
    sentinelone_token: SecretStr | None = None
    # Replaced by the config's `mail.escalations` (a full address at the MSP's domain): a
    # local part matched mail to any domain. Still read, only to refuse it with the fix.
    escalations_mailbox: str | None = Field(None, description="no longer used: set "
                                            "mail.escalations in tempodesk.yaml")
    # `tempodesk smtp`: where the inbound SMTP listener binds (put an MTA with TLS in front).
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int = Field(2525, ge=1, le=65535)
    # The MSP's procurement (distributor / purchasing) hook: approved quotes are ordered
    # through it, as a signed webhook (Standard Webhooks, whsec_ secret).
    procurement_url: str | None = None
    procurement_secret: SecretStr | None = None
    # Webhooks (clients', the generic provider's, procurement) may not reach loopback,
    # link-local or private addresses unless listed here: host names or CIDRs, as JSON
    # (TEMPODESK_OUTBOUND_ALLOW='["10.20.0.0/16", "hooks.internal"]').
    outbound_allow: list[str] = Field(default_factory=list, max_length=100)
    sandbox_port: int = Field(0, ge=0, le=65535, description="`tempodesk dev`'s provider "
                              "sandbox port (0: any free one)")
    mailbox_port: int = Field(0, ge=0, le=65535, description="`tempodesk dev`'s mailbox "
                              "page port (0: any free one)")
    datto_url: str | None = Field(None, description="Datto RMM API, e.g. "
                                  "https://merlot-api.centrastage.net")
    datto_api_key: str | None = None
    datto_api_secret: SecretStr | None = None

    # Ticket files: S3-compatible object storage (AWS S3, MinIO, Ceph, R2, B2, SeaweedFS),
    # sealed with the payload keys above. No bucket: files are refused (503).
    s3_bucket: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_endpoint: str | None = Field(None, description="e.g. http://127.0.0.1:8333 "
                                    "(SeaweedFS, MinIO); none for AWS S3")
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    # Optional OIDC: bearer JWTs validated against the issuer's JWKS.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_client_claim: str = "tempodesk_client"
    oidc_role_claim: str = "tempodesk_role"

    @field_validator("codec_keys")
    @classmethod
    def _codec_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for key_id, key in value.items():
            if not CODEC_KEY_ID.match(key_id):
                raise ValueError(f"TEMPODESK_CODEC_KEYS: key id {key_id[:70]!r} must be 1-64 "
                                 "letters, digits, '.', '_' or '-' (e.g. '2026-01')")
            decode_codec_key(key_id, key.get_secret_value())
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _outbound_allow(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})\.?", entry.strip()):
                    raise ValueError(f"TEMPODESK_OUTBOUND_ALLOW: {entry[:70]!r} is neither a "
                                     "host name nor an address or CIDR (e.g. "
                                     "'10.20.0.0/16')") from None
        return [entry.strip().lower() for entry in value]

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError(
                "TEMPODESK_TEMPORAL_TLS_CERT and TEMPODESK_TEMPORAL_TLS_KEY go together: "
                "set both for mTLS, or neither"
            )
        if (self.signing_secret is not None
                and self.signing_secret.get_secret_value() in PUBLIC_SIGNING_SECRETS):
            raise ValueError("TEMPODESK_SIGNING_SECRET is a value published in the repository: "
                             "set a long random one of your own")
        if self.codec_keys and self.codec_key_id is None:
            raise ValueError("TEMPODESK_CODEC_KEYS is set but TEMPODESK_CODEC_KEY_ID is not: "
                             "set it to the id of the key that encrypts, one of "
                             f"{', '.join(sorted(self.codec_keys))}")
        if self.codec_key_id is not None and self.codec_key_id not in self.codec_keys:
            raise ValueError(f"TEMPODESK_CODEC_KEY_ID {self.codec_key_id!r} is not a key id "
                             "in TEMPODESK_CODEC_KEYS: add that key there, or name one of "
                             f"{', '.join(sorted(self.codec_keys)) or '(none set)'}")
        if self.escalations_mailbox is not None:
            raise ValueError(
                "TEMPODESK_ESCALATIONS_MAILBOX is no longer read: mail to that local part at "
                "any domain escalated tickets. Set the full address at the MSP's own domain "
                "in tempodesk.yaml instead (mail: {escalations: "
                f"{self.escalations_mailbox[:64]}@<one of msp_domains>}}) and unset it")
        oidc = (self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url)
        if any(oidc) and not all(oidc):
            raise ValueError(
                "OIDC needs TEMPODESK_OIDC_ISSUER, TEMPODESK_OIDC_AUDIENCE and "
                "TEMPODESK_OIDC_JWKS_URL together"
            )
        return self

    @property
    def secret(self) -> str:
        """The signing secret (present once a command has started: see commands/common.py
        and dev_stack.py)."""
        if self.signing_secret is None:
            raise RuntimeError("TEMPODESK_SIGNING_SECRET is not set")
        return self.signing_secret.get_secret_value()

    @property
    def codec_key_bytes(self) -> dict[str, bytes]:
        """The codec keys, decoded (checked when the settings were made)."""
        return {key_id: decode_codec_key(key_id, key.get_secret_value())
                for key_id, key in self.codec_keys.items()}

    @property
    def encrypts(self) -> bool:
        return self.codec_key_id is not None

    @property
    def uses_tls(self) -> bool:
        return self.temporal_tls or self.temporal_tls_cert is not None or (
            self.temporal_api_key is not None)

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None
