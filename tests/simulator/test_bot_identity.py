"""Tokens the Teams player mints must pass, and fail, botbuilder's OWN channel-token validation.

botbuilder fetches the OpenID metadata and keys with blocking ``requests.get``, so the metadata is served
by a connector running in a background thread (``ConnectorThread``).

Two hooks point botbuilder at the local metadata, both tested here:
- ``ChannelValidation.open_id_metadata_endpoint`` (a class attribute read by JwtTokenValidation.authenticate_request);
- ``TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL`` (+ ``TO_BOT_FROM_CHANNEL_TOKEN_ISSUER``) in the configuration given to
  ConfigurationBotFrameworkAuthentication, which is what CloudAdapter uses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jwt
import pytest
import requests
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity
from botframework.connector.auth import (
    ChannelValidation,
    JwtTokenValidation,
    SimpleCredentialProvider,
)

from simulator.bot_identity import CHANNEL_ISSUER, BotIdentity, SimulatedCredentialsFactory
from simulator.connector import ConnectorThread, JwksTokenVerifier, TokenRejected, app_id_of

APP_ID = "6a3c1f2e-7d4b-4c5a-9e8f-0b1c2d3e4f50"
OTHER_APP_ID = "0f9e8d7c-6b5a-4948-8372-6150a4b3c2d1"


@pytest.fixture(scope="module")
def identity() -> BotIdentity:
    return BotIdentity.generate()


@pytest.fixture(scope="module")
def metadata_server(identity, tmp_path_factory):
    with ConnectorThread(identity=identity, log_path=tmp_path_factory.mktemp("conn") / "log.jsonl") as handle:
        yield handle


@pytest.fixture
def channel_validation_metadata(metadata_server, monkeypatch):
    """Point the public-cloud channel validation at the local metadata, for this test only."""
    monkeypatch.setattr(ChannelValidation, "open_id_metadata_endpoint", metadata_server.openid_metadata_url)
    return metadata_server


def inbound(service_url: str) -> Activity:
    return Activity(type="message", channel_id="msteams", service_url=service_url, text="hi")


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_openid_metadata_and_keys_are_served_in_the_shape_botbuilder_reads(metadata_server, identity):
    metadata = requests.get(metadata_server.openid_metadata_url, timeout=5).json()
    assert metadata["issuer"] == CHANNEL_ISSUER
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["jwks_uri"] == metadata_server.url + "/_bot-identity/keys"
    keys = requests.get(metadata["jwks_uri"], timeout=5).json()["keys"]
    assert [(k["kid"], k["kty"], k["endorsements"]) for k in keys] == [(identity.kid, "RSA", ["msteams"])]


def test_channel_token_carries_the_claims_the_real_channel_sends(identity):
    token = identity.mint_channel_token(app_id=APP_ID, service_url="http://127.0.0.1:1/")
    assert jwt.get_unverified_header(token)["kid"] == identity.kid
    claims = jwt.decode(token, identity.private_key.public_key(), algorithms=["RS256"], audience=APP_ID)
    assert claims["iss"] == "https://api.botframework.com"
    assert claims["serviceurl"] == "http://127.0.0.1:1/"
    assert claims["nbf"] < claims["exp"]


async def test_player_token_verifies_with_jwt_token_validation_when_the_app_id_matches(
    channel_validation_metadata, identity
):
    service_url = channel_validation_metadata.url
    token = identity.mint_channel_token(app_id=APP_ID, service_url=service_url)
    claims = await JwtTokenValidation.authenticate_request(
        inbound(service_url), bearer(token), SimpleCredentialProvider(APP_ID, "secret")
    )
    assert claims.is_authenticated
    assert claims.get_claim_value("aud") == APP_ID


async def test_player_token_is_rejected_by_jwt_token_validation_for_another_app_id(
    channel_validation_metadata, identity
):
    service_url = channel_validation_metadata.url
    token = identity.mint_channel_token(app_id=OTHER_APP_ID, service_url=service_url)
    with pytest.raises(PermissionError, match="Invalid AppId"):
        await JwtTokenValidation.authenticate_request(
            inbound(service_url), bearer(token), SimpleCredentialProvider(APP_ID, "secret")
        )


async def test_expired_player_token_is_rejected_by_jwt_token_validation(channel_validation_metadata, identity):
    service_url = channel_validation_metadata.url
    # Expired 10 minutes ago: beyond botbuilder's 5 minute clock tolerance.
    issued = datetime.now(UTC) - timedelta(minutes=70)
    token = identity.mint_channel_token(app_id=APP_ID, service_url=service_url, now=issued)
    with pytest.raises(jwt.ExpiredSignatureError):
        await JwtTokenValidation.authenticate_request(
            inbound(service_url), bearer(token), SimpleCredentialProvider(APP_ID, "secret")
        )


async def test_token_signed_by_another_key_under_the_same_key_id_is_rejected(channel_validation_metadata, identity):
    service_url = channel_validation_metadata.url
    impostor = BotIdentity.generate(kid=identity.kid)
    token = impostor.mint_channel_token(app_id=APP_ID, service_url=service_url)
    with pytest.raises(jwt.InvalidSignatureError):
        await JwtTokenValidation.authenticate_request(
            inbound(service_url), bearer(token), SimpleCredentialProvider(APP_ID, "secret")
        )


async def test_token_signed_by_an_unpublished_key_is_rejected(channel_validation_metadata, identity):
    service_url = channel_validation_metadata.url
    good = identity.mint_channel_token(app_id=APP_ID, service_url=service_url)
    credentials = SimpleCredentialProvider(APP_ID, "secret")
    await JwtTokenValidation.authenticate_request(inbound(service_url), bearer(good), credentials)  # keys cached
    token = BotIdentity.generate().mint_channel_token(app_id=APP_ID, service_url=service_url)
    # botbuilder looks the kid up with `[...][0]`: an unknown kid fails with IndexError, not PermissionError.
    with pytest.raises(IndexError):
        await JwtTokenValidation.authenticate_request(inbound(service_url), bearer(token), credentials)


async def test_token_for_another_service_url_is_rejected(channel_validation_metadata, identity):
    token = identity.mint_channel_token(app_id=APP_ID, service_url="http://127.0.0.1:9/elsewhere")
    with pytest.raises(PermissionError, match="service_url"):
        await JwtTokenValidation.authenticate_request(
            inbound(channel_validation_metadata.url), bearer(token), SimpleCredentialProvider(APP_ID, "secret")
        )


def cloud_adapter_config(metadata_url: str, app_id: str) -> SimpleNamespace:
    """The configuration keys that point CloudAdapter's inbound validation at the local metadata."""
    return SimpleNamespace(
        APP_ID=app_id,
        APP_PASSWORD="unused-the-credentials-factory-mints-tokens",
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=CHANNEL_ISSUER,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE="https://api.botframework.com",
        TO_CHANNEL_FROM_BOT_LOGIN_URL="https://login.microsoftonline.com/botframework.com",
    )


async def test_configuration_bot_framework_authentication_accepts_the_player_token(metadata_server, identity):
    auth = ConfigurationBotFrameworkAuthentication(
        cloud_adapter_config(metadata_server.openid_metadata_url, APP_ID),
        credentials_factory=SimulatedCredentialsFactory(identity, APP_ID),
    )
    service_url = metadata_server.url
    token = identity.mint_channel_token(app_id=APP_ID, service_url=service_url)
    result = await auth.authenticate_request(inbound(service_url), bearer(token))
    assert result.claims_identity.get_claim_value("aud") == APP_ID


async def test_configuration_bot_framework_authentication_rejects_a_token_for_another_app(metadata_server, identity):
    auth = ConfigurationBotFrameworkAuthentication(
        cloud_adapter_config(metadata_server.openid_metadata_url, APP_ID),
        credentials_factory=SimulatedCredentialsFactory(identity, APP_ID),
    )
    service_url = metadata_server.url
    token = identity.mint_channel_token(app_id=OTHER_APP_ID, service_url=service_url)
    with pytest.raises(PermissionError, match="Invalid AppId"):
        await auth.authenticate_request(inbound(service_url), bearer(token))


async def test_simulated_credentials_give_the_bot_a_token_the_connector_verifier_accepts(identity):
    credentials = await SimulatedCredentialsFactory(identity, APP_ID).create_credentials(
        APP_ID, "https://api.botframework.com", "", True
    )
    claims = JwksTokenVerifier(identity.jwks()).verify(credentials.get_access_token())
    assert app_id_of(claims) == APP_ID


def test_connector_verifier_rejects_a_token_from_an_unknown_key(identity):
    stranger = BotIdentity.generate()
    with pytest.raises(TokenRejected, match="unknown key id"):
        JwksTokenVerifier(identity.jwks()).verify(stranger.mint_connector_token(app_id=APP_ID))


def test_connector_verifier_rejects_an_expired_token(identity):
    token = identity.mint_connector_token(app_id=APP_ID, now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(TokenRejected, match="expired"):
        JwksTokenVerifier(identity.jwks()).verify(token)
