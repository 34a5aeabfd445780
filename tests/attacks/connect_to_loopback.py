# attack: reach the grader's loopback: the token server of the test, PostgreSQL, Redis, IPv6 loopback
# stopped-by: bwrap
# expect: guess_network_token=failed
# seconds: 40
import socket


def _connect(host, port):
    try:
        sock = socket.create_connection((host, port), timeout=0.5)
    except OSError as exc:
        return None, type(exc).__name__
    return sock, "connected"


def guess_network_token():
    for host in ("127.0.0.1", "::1", "localhost"):
        sock, status = _connect(host, int("@@NET_PORT@@"))
        if sock is not None:
            print("ATTACK-SUCCEEDED reached the token server on", host)
            return sock.recv(256).decode().strip()
    return "unknown"


for port in (5432, 6379, 3306):
    sock, status = _connect("127.0.0.1", port)
    if sock is not None:
        print("ATTACK-SUCCEEDED reached port", port)
        if port == 6379:
            sock.sendall(b"PING\r\n")
        sock.close()
