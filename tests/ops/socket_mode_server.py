"""A stand-in for Slack's Socket Mode WebSocket endpoint, just enough for one test.

It accepts the WebSocket handshake (RFC 6455) on 127.0.0.1 over plain TCP (slack_sdk's built-in
client uses plain sockets for any port but 443, for testing), says hello, sends envelopes, answers
pings, and keeps every JSON message the client sends (the acknowledgements).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class SocketModeServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._connection: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self.received: list[dict] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake-socket-mode")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=test"

    def __enter__(self) -> SocketModeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        if self._connection:
            self._connection.close()
        self._listener.close()

    def send(self, message: dict) -> None:
        assert self._connection is not None, "no client connected"
        self._frame(TEXT, json.dumps(message).encode())

    def acknowledgement(self, envelope_id: str) -> dict | None:
        return next((m for m in self.received if m.get("envelope_id") == envelope_id), None)

    # -- the socket ----------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            connection.settimeout(0.2)
            self._handshake(connection)
            self._connection, self.connections = connection, self.connections + 1
            self.send({"type": "hello", "num_connections": 1,
                       "connection_info": {"app_id": "A0LATCHKEY"}})
            self._read(connection)

    def _handshake(self, connection: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            try:
                request += connection.recv(4096)
            except TimeoutError:
                continue
        headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
        accept = base64.b64encode(hashlib.sha1((headers["Sec-WebSocket-Key"] + _GUID).encode()).digest())
        connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")

    def _read(self, connection: socket.socket) -> None:
        buffer = b""
        while not self._stopping.is_set():
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while (frame := _parse(buffer)) is not None:
                opcode, payload, used = frame
                buffer = buffer[used:]
                if opcode == TEXT:
                    self.received.append(json.loads(payload))
                elif opcode == PING:
                    self._frame(PONG, payload)
                elif opcode == CLOSE:
                    return

    def _frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([len(payload)])
        elif len(payload) < 65536:
            header += bytes([126]) + struct.pack("!H", len(payload))
        else:
            header += bytes([127]) + struct.pack("!Q", len(payload))
        with self._send_lock:
            self._connection.sendall(header + payload)


def _parse(buffer: bytes):
    """(opcode, unmasked payload, bytes used) of the first whole frame, or None."""
    if len(buffer) < 2:
        return None
    opcode, masked, length = buffer[0] & 0x0F, buffer[1] & 0x80, buffer[1] & 0x7F
    offset = 2
    if length == 126:
        if len(buffer) < 4:
            return None
        length, offset = struct.unpack("!H", buffer[2:4])[0], 4
    elif length == 127:
        if len(buffer) < 10:
            return None
        length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
    mask = buffer[offset:offset + 4] if masked else b""
    offset += 4 if masked else 0
    if len(buffer) < offset + length:
        return None
    payload = buffer[offset:offset + length]
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload, offset + length
