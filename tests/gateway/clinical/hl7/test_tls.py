"""MLLP over TLS: with `WARDLINK_HL7_TLS_CLIENT_CA` set, only a laboratory system with a certificate from that CA
is answered; without a certificate the handshake fails and nothing is stored."""

import ssl
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.clinical_tables import hl7_orders
from tests.gateway.clinical.hl7.rig import ack_code, message, send
from wardlink.security.ca import DevelopmentCA


@pytest.fixture
def ca(tmp_path: Path) -> DevelopmentCA:
    authority = DevelopmentCA.create()
    (tmp_path / "ca.pem").write_bytes(authority.issued.certificate_pem)
    authority.issue_server(["127.0.0.1"]).write(tmp_path / "server.pem", tmp_path / "server.key")
    authority.issue_client("lis").write(tmp_path / "lis.pem", tmp_path / "lis.key")
    return authority


def client_tls(tmp_path: Path, *, certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=tmp_path / "ca.pem")
    if certificate:
        context.load_cert_chain(tmp_path / "lis.pem", tmp_path / "lis.key")
    return context


async def test_only_a_client_with_a_certificate_from_the_ca_is_answered(
    gateway_settings: GatewaySettings, tmp_path: Path, ca: DevelopmentCA
) -> None:
    settings = gateway_settings.model_copy(
        update={
            "hl7_port": 0,
            "hl7_tls_cert": tmp_path / "server.pem",
            "hl7_tls_key": tmp_path / "server.key",
            "hl7_tls_client_ca": tmp_path / "ca.pem",
        }
    )
    async with Gateway(settings) as gateway:
        assert gateway.hl7_url is not None

        reply = await send(gateway.hl7_url, message("oml_o21_collected"), tls=client_tls(tmp_path, certificate=True))
        assert ack_code(reply) == "AA"

        with pytest.raises((ssl.SSLError, ConnectionError, EOFError)):
            await send(gateway.hl7_url, message("orm_o01_ordered"), tls=client_tls(tmp_path, certificate=False))
        with pytest.raises((ssl.SSLError, ConnectionError, EOFError)):
            await send(gateway.hl7_url, message("orm_o01_ordered"))  # plain TCP to a TLS listener
        assert gateway.store is not None
        assert await gateway.store.specimens.get("BC-100231") is not None
        async with gateway.store.db.engine.connect() as connection:
            assert (await connection.execute(sa.select(hl7_orders.c.barcode))).scalars().all() == ["BC-100231"]


def test_a_certificate_without_its_key_is_refused(gateway_settings: GatewaySettings, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WARDLINK_HL7_TLS_CERT and WARDLINK_HL7_TLS_KEY go together"):
        GatewaySettings.model_validate({**gateway_settings.model_dump(), "hl7_tls_cert": tmp_path / "server.pem"})
