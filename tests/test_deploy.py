"""The deployment of deploy/: two `server.py` processes behind Debian's nginx with the shipped site
file (only its ports changed), no sticky sessions. Shoppers' orders and the shop's live order feed
go through nginx; one process is killed; its WebSocket clients reconnect through nginx to the other
and resume with `since` + `epoch`, missing nothing and seeing nothing twice.

Needs nginx and two processes sharing MariaDB and Redis (the MariaDB + Redis pass of CI, which
installs nginx and sets MALL_NGINX_REQUIRED=1 so that a missing nginx fails instead of skipping).
The shipped environment file is checked everywhere: the guide's command and systemd both read it.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from bench._common import nginx_config
from lib.config import ENV_VARS, load_config
from tests.builders import buyer, fast_members, new_goods
from tests.conftest import MYSQL_URL, REDIS_URL, Api, make_config
from tests.helpers import ROOT, free_port, server_env, start_server_process, wait_listening
from tests.ws_client import WsClient

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
behind_nginx = [
    pytest.mark.skipif(not (MYSQL_URL and REDIS_URL), reason="two processes share MariaDB and Redis: needs both URLs"),
    pytest.mark.skipif(NGINX is None and not os.environ.get("MALL_NGINX_REQUIRED"), reason="nginx is not installed"),
]


async def events_until(client: WsClient, order_ids: set[int], timeout: float = 15) -> list[dict]:
    """Events on the shop's order channel until order.paid came for every id (or None: closed)."""
    received, paid = [], set()
    deadline = asyncio.get_running_loop().time() + timeout
    while not order_ids <= paid:
        message = await client.recv(timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
        if message is None:
            return received + [None]
        if message.get("op") == "event":
            received.append(message)
            if message["type"] == "order.paid":
                paid.add(message["data"]["order_id"])
    return received


@behind_nginx[0]
@behind_nginx[1]
async def test_two_processes_behind_nginx_survive_a_kill_and_clients_resume(server, api, make_shop, database_url,
                                                                           tmp_path):
    assert NGINX, "MALL_NGINX_REQUIRED is set but nginx is not installed"
    env = server_env(make_config(database_url), MALL_BEHIND_PROXY=1)
    port_a, port_b, port_nginx = free_port(), free_port(), free_port()
    processes = [await start_server_process(env, port_a), await start_server_process(env, port_b)]
    nginx = subprocess.Popen([NGINX, "-g", "daemon off;", "-c", nginx_config(tmp_path, port_nginx, [port_a, port_b]),
                              "-e", str(tmp_path / "error.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients: list[WsClient] = []
    try:
        await wait_listening(port_nginx, nginx)
        front = Api(port_nginx)
        assert (await front.get("/api/health")).status == 200
        shop = await make_shop()
        goods = await new_goods(api, shop, stock=100)
        shopper, = await fast_members(shop.id, 1)
        address_id = await buyer(api, shop, shopper, balance_fen=100_000)

        async def order_and_pay() -> int:
            created = await front.post(f"/api/mobile/{shop.id}/orders", {
                "items": [{"goods_id": goods["id"], "quantity": 1}], "address_id": address_id}, token=shopper.token)
            assert created.status == 201, created.body
            paid = await front.post(f"/api/mobile/{shop.id}/orders/{created.body['id']}/pay", {"method": "balance"},
                                    token=shopper.token)
            assert paid.status == 200, paid.body
            return created.body["id"]

        # six merchant screens on the live order feed, spread by nginx over both processes
        channel, epochs = f"shop:{shop.id}:orders", []
        for _ in range(6):
            client = await WsClient.connect(port_nginx, shop.owner_token)
            await client.recv_op("authenticated")
            subscribed = await client.subscribe(channel)
            assert subscribed["op"] == "subscribed"
            clients.append(client)
            epochs.append(subscribed["epoch"])
        first = await order_and_pay()
        history = [await events_until(client, {first}) for client in clients]
        assert all(h and h[-1] is not None for h in history)

        processes[0].kill()  # process A dies with its sockets
        processes[0].wait()
        later = {await order_and_pay() for _ in range(3)}  # nginx sends the writes to B
        dropped = 0
        for index, client in enumerate(clients):
            seen = await events_until(client, later)
            if seen and seen[-1] is None:  # this screen was on A: reconnect through nginx, resume
                dropped += 1
                last = history[index][-1]
                client.close()
                client = clients[index] = await WsClient.connect(port_nginx, shop.owner_token)
                await client.recv_op("authenticated")
                resumed = await client.subscribe(channel, since=last["seq"], epoch=epochs[index])
                assert resumed["op"] == "subscribed" and resumed["epoch"] == epochs[index], resumed
                seen = seen[:-1] + await events_until(client, later)
            history[index] += seen
        assert 0 < dropped < len(clients)  # round robin put screens on both processes
        for events in history:
            seqs = [event["seq"] for event in events]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # no gap, nothing twice
            assert {e["data"]["order_id"] for e in events if e["type"] == "order.paid"} == {first} | later
    finally:
        for client in clients:
            client.close()
        nginx.terminate()
        nginx.wait(timeout=10)
        for process in processes:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)


# What systemd's EnvironmentFile= and a POSIX shell read alike: comment lines, blank lines and
# KEY=value with a value of these characters only (no quotes, spaces, backslashes or `$`, which
# the two treat differently). Anything else in the shipped file fails here.
_ENV_LINE = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[A-Za-z0-9_.,:/@%+=-]*)")


def read_like_systemd(text: str) -> dict:
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip()[0] in "#;":
            continue
        match = _ENV_LINE.fullmatch(line)
        assert match, f"line {number} is outside what systemd and sh read alike: {line!r}"
        values[match["key"]] = match["value"]
    return values


def test_the_env_example_loads_with_the_guides_command_and_as_systemd_reads_it(tmp_path):
    example = ROOT / "deploy" / "mall.env.example"
    guide = (ROOT / "deploy" / "README.md").read_text()
    command, = [line for line in guide.splitlines() if "create-admin --username" in line]
    assert "/etc/mall/mall.env" in command
    # the guide's command verbatim, but as this user, on the shipped file, with a stand-in for
    # server.py that prints what it was started with
    command = command.removeprefix("sudo -u mall ").replace("/etc/mall/mall.env", shlex.quote(str(example)))
    command = command.replace("venv/bin/python", shlex.quote(sys.executable))
    (tmp_path / "server.py").write_text("import json, os, sys\nprint(json.dumps({'argv': sys.argv[1:], "
                                        "'env': {k: v for k, v in os.environ.items() if k.startswith('MALL_')}}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALL_")}
    result = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 0, (command, result.stderr)
    started = json.loads(result.stdout)
    assert started["argv"][:3] == ["create-admin", "--username", "admin"]
    systemd = read_like_systemd(example.read_text())
    assert started["env"] == systemd and len(systemd) >= 8
    assert set(systemd) <= set(ENV_VARS)  # every name is a setting
    config = load_config(env=systemd)
    assert config.database_url.startswith("mysql://") and config.behind_proxy == 1
