"""A TCP proxy on loopback that can take a real server "down" and bring it back.

Fault-injection tests put it between the bot and Redis or PostgreSQL: ``down()``
resets every open connection and refuses new ones, exactly as a crashed or
unreachable server looks to a client; ``up()`` lets traffic through again.
"""

from __future__ import annotations

import asyncio
import contextlib


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to a target until told to fail."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.is_up = True
        self.port = 0
        # While set, the server's replies are swallowed: a request reaches the server
        # but its answer never reaches the client (``reply_dropped`` is then set).
        self.drop_replies = False
        self.reply_dropped = asyncio.Event()

    async def start(self) -> FlakyProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.is_up:
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(writer)
            return
        self._conns |= {writer, up_writer}
        for src, dst, is_reply in ((reader, up_writer, False), (up_reader, writer, True)):
            task = asyncio.create_task(self._pipe(src, dst, is_reply))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, is_reply: bool) -> None:
        try:
            while data := await src.read(65536):
                if not self.is_up:
                    break
                if is_reply and self.drop_replies:
                    self.reply_dropped.set()
                    continue
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            _reset(dst)
            self._conns.discard(dst)

    def down(self) -> None:
        """Reset every connection and refuse new ones."""
        self.is_up = False
        for w in list(self._conns):
            _reset(w)
        self._conns.clear()

    def up(self) -> None:
        self.is_up = True
        self.drop_replies = False
        self.reply_dropped.clear()

    async def close(self) -> None:
        self.down()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _reset(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        transport = writer.transport
        if isinstance(transport, asyncio.Transport):
            transport.abort()
        else:
            writer.close()
