"""Start/stop a Tessera server process for the compatibility tests.

Contract (see the server's CLI):
  $TESSERA_BIN serve --listen 127.0.0.1:0 --data DIR [--tls self-signed --http-listen 127.0.0.1:0]
prints one `tessera: listening on http(s)://127.0.0.1:PORT` line per listener, then
`tessera: ready`; writes DIR/root-credentials.json on first start; DIR/tls/ca.pem with TLS;
exits 0 on SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

READY_LINE = "tessera: ready"
LISTEN_RE = re.compile(r"^tessera: listening on (https?)://(127\.0\.0\.1:\d+)\s*$")
READY_TIMEOUT = float(os.environ.get("TESSERA_READY_TIMEOUT", "20"))


class ServerStartError(RuntimeError):
    pass


def tessera_bin() -> str:
    path = os.environ.get("TESSERA_BIN", "")
    if not path:
        raise ServerStartError("TESSERA_BIN is not set (path to the built tessera binary)")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise ServerStartError(f"TESSERA_BIN={path!r} is not an executable file")
    return path


@dataclass
class TesseraServer:
    data_dir: str
    log_path: str
    tls: bool = True
    proc: Optional[subprocess.Popen] = None
    http_host: Optional[str] = None  # "127.0.0.1:PORT"
    https_host: Optional[str] = None
    account_id: str = ""
    root_ak: str = ""
    root_secret: str = ""
    _reader: Optional[threading.Thread] = field(default=None, repr=False)
    _log_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ca_path(self) -> str:
        return os.path.join(self.data_dir, "tls", "ca.pem")

    def host(self, scheme: str) -> str:
        h = self.https_host if scheme == "https" else self.http_host
        assert h, f"server has no {scheme} listener"
        return h

    def log_tail(self, n: int = 60) -> str:
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "<no log>"

    def start(self) -> "TesseraServer":
        os.makedirs(self.data_dir, exist_ok=True)
        args = [tessera_bin(), "serve", "--listen", "127.0.0.1:0", "--data", self.data_dir]
        if self.tls:
            args += ["--tls", "self-signed", "--http-listen", "127.0.0.1:0"]
        env = dict(os.environ)
        env["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"
        log = open(self.log_path, "ab", buffering=0)
        log.write(("$ " + " ".join(args) + "\n").encode())
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,  # stderr goes straight to the log file: never blocks
            env=env,
        )
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def drain(stream, sink):
            # Keep reading stdout for the life of the process so the pipe never fills.
            for raw in iter(stream.readline, b""):
                sink.write(b"[stdout] " + raw)
                lines.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            lines.put(None)
            stream.close()

        self._reader = threading.Thread(target=drain, args=(self.proc.stdout, log), daemon=True)
        self._reader.start()

        deadline = time.monotonic() + READY_TIMEOUT
        urls = {}
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise ServerStartError(
                    f"tessera did not print {READY_LINE!r} within {READY_TIMEOUT}s\n--- log ---\n"
                    + self.log_tail()
                )
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                rc = self.proc.wait(timeout=5)
                raise ServerStartError(
                    f"tessera exited (rc={rc}) before {READY_LINE!r}\n--- log ---\n" + self.log_tail()
                )
            m = LISTEN_RE.match(line)
            if m:
                scheme, hostport = m.group(1), m.group(2)
                if scheme in urls:
                    self._kill()
                    raise ServerStartError(f"two {scheme} listeners announced: {line!r}")
                urls[scheme] = hostport
            elif line.strip() == READY_LINE:
                break
        self.http_host = urls.get("http")
        self.https_host = urls.get("https")
        if self.tls and not (self.http_host and self.https_host):
            self._kill()
            raise ServerStartError(f"expected an http and an https listener, got {urls}")
        if not self.tls and not self.http_host:
            self._kill()
            raise ServerStartError(f"expected an http listener, got {urls}")
        if self.tls and not os.path.isfile(self.ca_path):
            self._kill()
            raise ServerStartError(f"TLS enabled but {self.ca_path} does not exist")
        self.load_root_credentials()
        return self

    def load_root_credentials(self) -> dict:
        path = os.path.join(self.data_dir, "root-credentials.json")
        with open(path, "r", encoding="utf-8") as f:
            creds = json.load(f)
        self.account_id = creds["AccountId"]
        self.root_ak = creds["AccessKeyId"]
        self.root_secret = creds["AccessKeySecret"]
        return creds

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code (the contract says 0)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise ServerStartError(
                    f"tessera did not exit within {timeout}s of SIGTERM\n" + self.log_tail()
                )
        if self._reader is not None:
            self._reader.join(timeout=5)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
