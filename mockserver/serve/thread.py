"""A sandbox on a real socket, served by uvicorn from a background thread.

For the pytest plugin's `lcphone_server` and for anything else that wants a
URL without a separate process. The state is the `Sandbox` object's, shared
with in-process callers.
"""

from __future__ import annotations

import threading
import time

import uvicorn

from ..sandbox import Sandbox


class SandboxServer:
    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def base_url(self) -> str:
        if not self.running:
            raise RuntimeError("the sandbox server is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> str:
        if self.running:
            return self.base_url
        config = uvicorn.Config(
            self.sandbox.app,
            host=self.host,
            port=self.port,
            log_level="error",
            access_log=False,
            lifespan="off",
            server_header=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="lcphone-sandbox", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"the sandbox server could not start on {self.host}:{self.port}")
            time.sleep(0.002)
        self._server, self._thread = server, thread
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
