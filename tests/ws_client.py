"""A real WebSocket client for tests (Tornado's), with JSON helpers."""
from __future__ import annotations

import asyncio
import json

import tornado.websocket


class WsClient:
    def __init__(self, connection):
        self.connection = connection

    @classmethod
    async def connect(cls, port: int, token: str | None = None) -> "WsClient":
        url = f"ws://127.0.0.1:{port}/ws" + (f"?token={token}" if token else "")
        connection = await tornado.websocket.websocket_connect(url)
        return cls(connection)

    async def send(self, message) -> None:
        await self.connection.write_message(message if isinstance(message, (str, bytes)) else json.dumps(message))

    async def recv(self, timeout: float = 5.0) -> dict | None:
        """The next message as JSON, or None if the server closed the connection."""
        raw = await asyncio.wait_for(self.connection.read_message(), timeout)
        return None if raw is None else json.loads(raw)

    async def recv_op(self, op: str, timeout: float = 5.0) -> dict:
        """Skip messages until one with this op arrives."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - asyncio.get_running_loop().time()))
            assert message is not None, f"connection closed while waiting for {op}"
            if message.get("op") == op:
                return message

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await asyncio.wait_for(self.connection.read_message(), seconds)
        except asyncio.TimeoutError:
            return True
        raise AssertionError(f"unexpected message: {message!r}")

    async def subscribe(self, channel: str, since: int | None = None, epoch: str | None = None) -> dict:
        request = {"op": "subscribe", "channel": channel}
        if since is not None:
            request["since"] = since
        if epoch is not None:
            request["epoch"] = epoch
        await self.send(request)
        return await self.recv()

    def close(self) -> None:
        self.connection.close()
