#!/usr/bin/env python3
"""A Unix-socket relay to the Docker engine that a test can cut.

    docker_relay.py LISTEN_SOCKET [ENGINE_SOCKET]

Relays every connection on LISTEN_SOCKET to ENGINE_SOCKET (default
/var/run/docker.sock). On SIGUSR1 it closes every connection and the listening socket
and exits: to temps (DOCKER_HOST=unix://LISTEN_SOCKET) the engine went away in the
middle of an operation, while the real engine, shared with other tests, keeps running.
"""

import os
import signal
import socket
import sys
import threading

listen_path = sys.argv[1]
engine_path = sys.argv[2] if len(sys.argv) > 2 else "/var/run/docker.sock"
open_sockets = []
lock = threading.Lock()


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def cut(*_):
    with lock:
        for s in open_sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
    try:
        os.unlink(listen_path)
    except OSError:
        pass
    os._exit(0)


signal.signal(signal.SIGUSR1, cut)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(listen_path)
server.listen(64)
print("ready", flush=True)
with lock:
    open_sockets.append(server)
while True:
    client, _ = server.accept()
    engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    engine.connect(engine_path)
    with lock:
        open_sockets.extend([client, engine])
    threading.Thread(target=pump, args=(client, engine), daemon=True).start()
    threading.Thread(target=pump, args=(engine, client), daemon=True).start()
