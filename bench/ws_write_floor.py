"""What one fan-out frame costs the server, by write path, on this machine: the floor under
bench/ws_fanout.py's server-side figure.

    python bench/ws_write_floor.py [--sockets 2000] [--rounds 7]

A bare Tornado WebSocket server (in this process) holds `--sockets` connections from a picows
client process that reads every frame; then the same pre-encoded event frame is written once to
every socket, `--rounds` times per path, interleaved:
- `IOStream.write`: what Tornado offers (a Future and two loop callbacks per write);
- mall's `WsHandler.send_frame` (handlers/ws.py), the function itself on these handlers;
- `socket.send`: the bare system call from Python, no checks at all (the floor: what the
  kernel costs to take 100 bytes and hand them to a loopback peer).
Reported: the median round's wall and CPU time (this process, user + system) per frame, and
those times 5,000 (issue 21's goal is 25 ms for 5,000 subscribers). Writes the "WebSocket write
floor" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine, raise_fd_limit, write_section  # noqa: E402

CLIENT = r'''
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
from picows import WSListener, ws_connect

class Reader(WSListener):
    def on_ws_frame(self, transport, frame):
        pass

async def main():
    transports = [await ws_connect(Reader, f"ws://127.0.0.1:{sys.argv[1]}/ws") for _ in range(int(sys.argv[2]))]
    print(len(transports), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
'''


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    raise_fd_limit()
    import tornado.httpserver
    import tornado.netutil
    import tornado.web
    import tornado.websocket

    from events.bus import event_frame
    from handlers.ws import WsHandler, _wire

    sockets: list = []

    class Ws(tornado.websocket.WebSocketHandler):
        unflushed = 0
        send_frame, _flushed, _drop_slow = WsHandler.send_frame, WsHandler._flushed, WsHandler._drop_slow

        def open(self):
            sockets.append(self)

    frame = event_frame("team:1", 1, "system.test", '{"t": 1764470000.123456, "i": 1}')
    wire = _wire(frame)

    def tornado_write(ws):
        ws.ws_connection.stream.write(wire).add_done_callback(lambda f: f.exception())

    def mall_send_frame(ws):
        ws.send_frame(frame)

    def socket_send(ws):
        ws.ws_connection.stream.socket.send(wire)

    paths = [("Tornado `IOStream.write`", tornado_write), ("mall `WsHandler.send_frame`", mall_send_frame),
             ("bare `socket.send` (floor)", socket_send)]

    async def run() -> dict:
        bound = tornado.netutil.bind_sockets(0, "127.0.0.1")
        port = bound[0].getsockname()[1]
        tornado.httpserver.HTTPServer(tornado.web.Application([(r"/ws", Ws)])).add_sockets(bound)
        client = subprocess.Popen([sys.executable, "-c", CLIENT, str(port), str(args.sockets)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            await asyncio.get_running_loop().run_in_executor(None, client.stdout.readline)
            while len(sockets) < args.sockets:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1)
            timings: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in paths}
            for _ in range(args.rounds):
                for name, write in paths:
                    wall, cpu = time.perf_counter(), time.process_time()
                    for ws in sockets:
                        write(ws)
                    timings[name].append((1e6 * (time.perf_counter() - wall) / len(sockets),
                                          1e6 * (time.process_time() - cpu) / len(sockets)))
                    await asyncio.sleep(0.3)  # the client reads them all; Tornado's callbacks run
            return timings
        finally:
            client.kill()

    timings = asyncio.run(run())
    rows = []
    for name, _ in paths:
        wall = statistics.median(t[0] for t in timings[name])
        cpu = statistics.median(t[1] for t in timings[name])
        rows.append(f"| {name} | {wall:.1f} us | {cpu:.1f} us | {wall * 5000 / 1000:.0f} ms |")
        print(rows[-1], flush=True)
    write_section("WebSocket write floor", f"""
Machine: {machine()}.
Command: `{' '.join(['python bench/ws_write_floor.py', *sys.argv[1:]])}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

One {len(wire)}-byte event frame written to each of {args.sockets:,} WebSocket connections held by
a bare Tornado server, read by a picows client process on the same machine; median of
{args.rounds} rounds per write path (interleaved). CPU: this process's user + system time, so
the kernel's work for the send is in it; wall includes waiting for a core the client is using.

| write path | wall per frame | CPU per frame | wall for 5,000 frames |
| --- | ---: | ---: | ---: |
{chr(10).join(rows)}

The bare system call is the floor for one process: whatever Python does around it, a fan-out to
5,000 sockets on this machine cannot take less than 5,000 of those sends.
""")


if __name__ == "__main__":
    main()
