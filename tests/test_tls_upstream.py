"""An HTTPS upstream: meta-mcp verifies its certificate against the trusted CAs (`SSL_CERT_FILE` honoured),
with one TLS context built once for every HTTP(S) upstream (`providers.connect._trusted_tls`).

A real echo upstream over HTTPS (uvicorn with a self-signed certificate for 127.0.0.1, made here with
`cryptography`), and a real meta-mcp over HTTP in front of it: trusted through SSL_CERT_FILE, two upstreams
on it are called; not trusted, the upstream is reported failed with the verification error, and
meta-mcp keeps serving.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support import list_servers, make_client, meta_mcp_http, text_of, upstream_http, wait_for_tools

pytestmark = pytest.mark.anyio


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture(scope="module")
async def https_echo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, Path]]:
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    async with upstream_http("echo", "--tls", str(cert), str(key)) as url:
        yield str(url).replace("http://", "https://", 1), cert


async def test_https_upstreams_trusted_through_ssl_cert_file(https_echo: tuple[str, Path]) -> None:
    url, cert = https_echo
    servers = {"one": {"url": url}, "two": {"url": url}}
    async with meta_mcp_http(servers, env={"SSL_CERT_FILE": str(cert)}) as meta:
        async with make_client(str(meta)) as client:
            await wait_for_tools(client, ["one", "two"], timeout=30)
            for name in ("one", "two"):
                result = await client.call_tool(f"{name}__echo", {"text": f"over tls to {name}"})
                assert not result.is_error and text_of(result) == f"over tls to {name}"


async def test_an_untrusted_certificate_fails_that_upstream_and_nothing_else(https_echo: tuple[str, Path]) -> None:
    url, _ = https_echo
    async with meta_mcp_http({"untrusted": {"url": url}}, env={"SSL_CERT_FILE": ""}) as meta:
        async with make_client(str(meta)) as client:
            for _ in range(100):
                status = (await list_servers(client))["untrusted"]
                if status["status"] != "starting":
                    break
                await anyio.sleep(0.1)
            assert status["status"] != "ready", status
            assert "CERTIFICATE_VERIFY_FAILED" in str(status) or "certificate verify failed" in str(status), status
            assert "list_servers" in {t.name for t in (await client.list_tools()).tools}
        assert "CERTIFICATE_VERIFY_FAILED" in meta.stderr_text() or "certificate verify" in meta.stderr_text()
