"""A loopback HTTP/1.1 target fast enough to measure a client, not the server: one asyncio Protocol.

    python bench/http_target.py [--tls DIR]

Prints its port on the first line, then answers every request on a keep-alive connection with
`200 ok` (2 bytes), `GET /count` with how many requests it answered so far, and honours
`Connection: close`. One core of this machine answers well over 10,000 requests a second with it,
where uvicorn with the demo app manages ~1,500: a bench whose client probes 2,000 services a second
must not be measuring its server. With `--tls DIR` it serves HTTPS with a certificate for
127.0.0.1 made by `trustme`, and writes the CA that signed it to DIR/ca.pem (hand it to the client
as SSL_CERT_FILE). Requests are assumed to carry no body (GET), as every bench sends.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import ssl
from pathlib import Path

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class Target(asyncio.Protocol):
    answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            if head.startswith(b"GET /count "):
                body = str(Target.answered).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                Target.answered += 1
                self.transport.write(OK)
            if b"\r\nconnection: close" in head.lower():
                self.transport.close()
                return


def tls_context(directory: Path) -> ssl.SSLContext:
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls", type=Path, help="serve HTTPS; write the CA to DIR/ca.pem")
    options = parser.parse_args()
    context = tls_context(options.tls) if options.tls else None
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    server = await asyncio.get_running_loop().create_server(Target, sock=sock, ssl=context, backlog=4096)
    print(sock.getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
