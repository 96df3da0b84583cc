"""What the process supervisor does with real sockets: ports and HTTP readiness."""

import socket
import sys
import time

from helixq.processes import Supervisor, answers, free_port
from helixq.settings import inherited_environment

SERVER = (
    "import http.server, sys; "
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()"
)


def test_free_port_gives_a_port_nothing_listens_on() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if something holds it


def test_answers_is_false_while_nothing_listens() -> None:
    assert answers(f"http://127.0.0.1:{free_port()}/") is False


def test_a_server_child_is_ready_once_it_answers() -> None:
    port = free_port()
    supervisor = Supervisor(lambda _name, _line: None)
    supervisor.start(
        "server", (sys.executable, "-c", SERVER, str(port)), inherited_environment({})
    )
    try:
        started = time.monotonic()
        supervisor.wait_until_ready(
            lambda: answers(f"http://127.0.0.1:{port}/"), timeout_s=20, what="server"
        )
        assert time.monotonic() - started < 20
        assert answers(f"http://127.0.0.1:{port}/")
    finally:
        supervisor.stop_all(grace_s=2)
    assert answers(f"http://127.0.0.1:{port}/") is False
