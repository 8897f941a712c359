"""HTTP servers that try to exhaust or fool Lookout: huge bodies and gzip bombs against the body
cap, and a certificate no retry can fix.

The server is a raw asyncio one (tests/fixtures_http.py) that writes its body lazily and
counts what it managed to send before the client hung up, so "the probe stopped reading" is
proven by the server, not by the probe's word.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from helpers import idle_engine, lookout_measuring_peak, make_config, peak_mib

from core.results import Status

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
HUGE = {"identity": 256 * MIB, "gzip": 32 * MIB, "deflate": 32 * MIB, "rawdeflate": 32 * MIB}
"""Far past the cap, yet cheap for a loaded CI box (the server compresses on the fly; the 1 GiB
cases are in the RSS test)."""
SLOW_SERVER = {"timeout": "30s"}
"""The server spends CPU compressing: its slowness is not what these tests are about."""

ENCODINGS = ["identity", "gzip", "deflate", "rawdeflate"]


def http(url: str, **extra) -> dict:
    return {"kind": "http", "url": url, **extra}


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_huge_body_is_cut_at_the_cap_and_a_status_check_stays_up(hostile_http, encoding: str) -> None:
    key = f"huge-{encoding}"
    url = f"{hostile_http.url}/body/{key}?size={HUGE[encoding]}&encoding={encoding}"
    config = make_config({"api": http(url, **SLOW_SERVER)})
    async with idle_engine(config) as engine:
        snapshot = await asyncio.wait_for(engine.run_once(), 60)
    service = snapshot.get("api")
    assert (service.status, service.reason) == (Status.UP, "")
    assert service.last_result.details.body_truncated_at == MIB
    if encoding == "identity":
        # The client hung up long before the end: the server saw it and stopped writing. (A compressed
        # body is small enough on the wire to fit in the socket buffers: the RSS test covers those.)
        await _until(lambda: key in hostile_http.disconnected)
        assert hostile_http.sent[key] < HUGE[encoding] // 4


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_a_body_expectation_on_a_cut_body_fails_with_the_cap(hostile_http, encoding: str) -> None:
    url = f"{hostile_http.url}/body/expect-{encoding}?size={HUGE[encoding]}&encoding={encoding}"
    config = make_config(
        {
            "default-cap": http(url, expect={"body": {"status": "ok"}}, **SLOW_SERVER),
            "small-cap": http(url, expect={"body": {"status": "ok"}}, max_body="64KiB", **SLOW_SERVER),
            "status-only": http(url, max_body="64KiB", **SLOW_SERVER),
        }
    )
    async with idle_engine(config) as engine:
        snapshot = await asyncio.wait_for(engine.run_once(), 60)
    assert (snapshot.get("default-cap").status, snapshot.get("default-cap").reason) == (
        Status.DOWN,
        "body larger than 1 MiB",
    )
    assert snapshot.get("small-cap").reason == "body larger than 64 KiB"
    assert snapshot.get("small-cap").last_result.attempts == 1  # a longer read next time would not help
    assert snapshot.get("status-only").status is Status.UP
    assert snapshot.get("status-only").last_result.details.body_truncated_at == 64 * 1024


@pytest.mark.parametrize("encoding", ENCODINGS)
async def test_bodies_within_the_cap_are_decoded_and_judged(hostile_http, encoding: str) -> None:
    # Exactly the cap is still whole: only a body that goes past it is cut.
    config = make_config(
        {
            "small": http(f"{hostile_http.url}/body/s-{encoding}?size=300&encoding={encoding}", expect={"body": {}}),
            "exact": http(
                f"{hostile_http.url}/body/e-{encoding}?size={64 * 1024}&encoding={encoding}",
                expect={"body": {"status": "ok"}},
                max_body="64KiB",
            ),
        }
    )
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    for name in ("small", "exact"):
        service = snapshot.get(name)
        assert (service.status, service.reason) == (Status.UP, ""), name
        assert service.last_result.details.body_truncated_at is None


async def test_an_encoding_lookout_did_not_ask_for_cannot_satisfy_a_body_check(hostile_http) -> None:
    url = f"{hostile_http.url}/body/br?size=300&encoding=br"
    config = make_config({"body": http(url, expect={"body": {"status": "ok"}}), "status": http(url)})
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    assert (snapshot.get("body").status, snapshot.get("body").reason) == (
        Status.DOWN,
        "response body: unsupported Content-Encoding 'br'",
    )
    assert snapshot.get("status").status is Status.UP


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB is Linux's unit")
async def test_peak_rss_of_once_against_a_1_gib_body_and_a_gzip_bomb(hostile_http, tmp_path) -> None:
    gib = 1024 * MIB
    config = tmp_path / "services.yaml"
    services = {
        "huge": http(f"{hostile_http.url}/body/rss-huge?size={gib}"),
        "bomb": http(f"{hostile_http.url}/body/rss-bomb?size={gib}&encoding=gzip", expect={"body": {"status": "ok"}}),
    }
    defaults = {"retry": {"attempts": 1}, **SLOW_SERVER}
    config.write_text(yaml.safe_dump({"defaults": defaults, "services": services}))
    peak_file = tmp_path / "peak"
    argv = lookout_measuring_peak(peak_file, "--once", "--format", "json", "--timeout", "60s", "-c", str(config))
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert b"Traceback" not in err
    report = {service["name"]: service for service in json.loads(out)["services"]}
    assert (report["huge"]["status"], report["bomb"]["status"]) == ("up", "down")
    assert report["bomb"]["reason"] == "body larger than 1 MiB"
    peak = peak_mib(peak_file)
    assert peak < 150, f"lookout --once peaked at {peak:.0f} MiB"


async def _until(condition, timeout: float = 10.0) -> None:
    """Wait for the server's side of the story (its handler notices the hang-up a moment later)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    assert condition()


@pytest.fixture
def untrusted_tls(tmp_path) -> Iterator[tuple[str, list[int]]]:
    """A TLS server on 127.0.0.1 with a self-signed certificate; counts the connections it accepts."""
    crypto = pytest.importorskip("cryptography")  # present with mcp (pyjwt[crypto])
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[int] = []
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(1)
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1024)
            conn.close()

    thread = threading.Thread(target=serve, name="untrusted-tls", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/", accepted
    finally:
        stopping.set()
        thread.join(5)
        listener.close()


async def test_a_certificate_that_fails_verification_is_not_retried(untrusted_tls) -> None:
    url, accepted = untrusted_tls
    config = make_config({"api": http(url)}, retry={"attempts": 3, "initial": "10ms", "max": "20ms", "jitter": 0})
    async with idle_engine(config) as engine:
        snapshot = await engine.run_once()
    service = snapshot.get("api")
    assert service.status is Status.DOWN and service.reason.startswith("TLS error")
    assert "certificate" in service.reason.lower()
    assert service.last_result.attempts == 1
    assert len(accepted) == 1


async def test_a_redirect_to_an_unparseable_location_is_down_with_a_reason_not_a_crash() -> None:
    """A Location header httpx cannot parse is the server's fault: "down: ...", once, no "probe crashed"."""
    requests = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            requests += 1
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = make_config({"api": http(f"http://127.0.0.1:{port}/")}, retry={"attempts": 3, "initial": "10ms"})
        async with idle_engine(config) as engine:
            snapshot = await engine.run_once()
    finally:
        server.close()
        await server.wait_closed()
    service = snapshot.get("api")
    assert service.status is Status.DOWN
    assert service.reason == "HTTP 302 redirect to an invalid URL"
    assert requests == 1
