"""Configuration: config.yaml, then --config PATH, then MALL_* environment variables.

Every setting has a default in config.yaml; the environment wins so that an operator can run
several identical processes from one checkout and keep secrets out of files.
"""
from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = ROOT / "config.yaml"


@dataclasses.dataclass
class Config:
    port: int = 8888
    # listen address; empty = all interfaces
    host: str = ""
    database_url: str = "sqlite:///data/mall.db"
    redis_url: str = ""
    jwt_secret: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_pay_api_base: str = "https://api.mch.weixin.qq.com"
    tracking_api_base: str = "https://poll.kuaidi100.com"  # kuaidi100's query API (parcel tracking)
    job_interval_seconds: float = 10
    # how WeChat reaches this deployment (payment notification URLs are built from it)
    public_base_url: str = "http://127.0.0.1:8888"
    database_pool_size: int = 20
    redis_pool_size: int = 50
    max_body_bytes: int = 1024 * 1024
    admin_token_ttl_seconds: int = 12 * 3600
    merchant_token_ttl_seconds: int = 12 * 3600
    member_token_ttl_seconds: int = 30 * 24 * 3600
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 30
    login_window_seconds: int = 900
    # shopper registrations accepted from one client address per hour (429 beyond); 0 = no limit
    registrations_per_ip_per_hour: int = 20
    shutdown_grace_seconds: float = 10
    # server pings every WebSocket this often; a peer that does not answer in time is closed
    ws_ping_interval_seconds: float = 25
    # Prefix for every Redis key, so deployments (or test runs) can share one Redis.
    redis_prefix: str = "mall:"
    # 1 behind a reverse proxy (deploy/nginx): the client address comes from X-Real-IP /
    # X-Forwarded-For, which the proxy must overwrite. 0: never trust those headers.
    behind_proxy: int = 0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file; relative paths are relative to the repository root."""
        path = Path(self.database_url.split("sqlite:///", 1)[1])
        return path if path.is_absolute() else ROOT / path


# env var -> field; the names of API.md plus the other settings under the same MALL_ prefix
ENV_VARS = {f"MALL_{field.name.upper()}": field for field in dataclasses.fields(Config)}


# HS256 wants a key at least as long as its 32-byte output (RFC 7518 3.2)
MIN_JWT_SECRET_LENGTH = 32

_TYPES = {"int": int, "float": float, "str": str}


class ConfigError(Exception):
    """The configuration cannot run: the message says which setting and why."""


def load_config(path: str | os.PathLike | None = None, env: dict | None = None) -> Config:
    env = os.environ if env is None else env
    values: dict = {}
    for source in (DEFAULT_CONFIG_PATH, path):
        if source and Path(source).exists():
            values.update(yaml.safe_load(Path(source).read_text()) or {})
        elif source:
            raise ConfigError(f"config file not found: {source}")
    for name, field in ENV_VARS.items():
        if name in env:
            values[field.name] = env[name]
    known = {f.name: f for f in dataclasses.fields(Config)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    config = Config()
    for name, raw in values.items():
        kind = _TYPES[known[name].type]
        try:
            setattr(config, name, kind(raw) if raw is not None else getattr(config, name))
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name} must be a {kind.__name__}, got {raw!r}") from None
    return config


def resolve_jwt_secret(config: Config) -> str:
    """The HMAC secret. Embedded mode keeps a random one per data dir; MySQL requires one set."""
    if config.jwt_secret:
        if len(config.jwt_secret) < MIN_JWT_SECRET_LENGTH:
            raise ConfigError(f"MALL_JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters")
        return config.jwt_secret
    if not config.is_sqlite:
        raise ConfigError("MALL_JWT_SECRET must be set when a MySQL database is configured")
    secret_file = config.sqlite_path.parent / "jwt_secret"
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return secret_file.read_text().strip()


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "(an unparsable URL)"
    if password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
