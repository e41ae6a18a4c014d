"""Helpers for tests that run `server.py` as a real subprocess, or stop and start the MariaDB and
Redis they share (only the fault and soak tests do that; see their module docstrings)."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs MALL_TEST_REDIS_URL: several processes share Redis")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(config, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALL_")}
    env.update({
        "MALL_DATABASE_URL": config.database_url, "MALL_REDIS_URL": config.redis_url,
        "MALL_JWT_SECRET": config.jwt_secret, "MALL_REDIS_PREFIX": config.redis_prefix,
        "MALL_HOST": "127.0.0.1", "MALL_JOB_INTERVAL_SECONDS": str(config.job_interval_seconds),
        "MALL_REGISTRATIONS_PER_IP_PER_HOUR": str(config.registrations_per_ip_per_hour),
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "server.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


async def start_server_process(env: dict, port: int) -> subprocess.Popen:
    """`python server.py` on `port`; returns once it listens. Its log goes to a file
    (`process.log_path`), never to a pipe: a pipe nobody drains fills up under load and then
    blocks the server on its next log line."""
    log = tempfile.NamedTemporaryFile("w", prefix=f"mall-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env={**env, "MALL_PORT": str(port)},
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    process.log_path = log.name
    try:
        await wait_listening(port, process)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"server did not start: {Path(log.name).read_text()}") from None
    return process


async def wait_listening(port: int, process: subprocess.Popen, attempts: int = 200) -> None:
    """Return once something accepts connections on `port`; fail if `process` exits first."""
    for _ in range(attempts):
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def redis_cli(*args) -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", *args], capture_output=True, timeout=10)


def start_redis() -> None:
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                    "--save", "", "--appendonly", "no"], check=True, capture_output=True, timeout=10)


async def run(*command: str) -> None:
    """A command without blocking the event loop the in-process server runs on."""
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.DEVNULL)
    await process.wait()


async def mariadb_up() -> bool:
    process = await asyncio.create_subprocess_exec("mysqladmin", "-uroot", "--connect-timeout=1", "ping",
                                                   stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return await process.wait() == 0
