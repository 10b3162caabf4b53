"""The simulated identity platform: grants, metadata, and tokens that the real azure-identity accepts."""

from __future__ import annotations

import asyncio
import time

import jwt
import msal
import pytest
import requests
from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient

from simulator.identity import GRAPH_RESOURCE, AuthError, TenantIdentity, demo_app
from tests.simulator.conftest import ANA, K1, T1, fetch_token, get_json, tls_context

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_client_credentials_grant_returns_an_app_only_token_with_roles(tenant):
    status, body = await fetch_token(
        tenant,
        {
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": GRAPH_DEFAULT,
        },
    )
    assert status == 200, body
    assert body["token_type"] == "Bearer" and body["expires_in"] > 3000
    claims = _claims(body["access_token"])
    assert claims["aud"] == GRAPH_RESOURCE and claims["tid"] == tenant.tenant_id and claims["appid"] == tenant.client_id
    assert claims["idtyp"] == "app" and "scp" not in claims
    assert {"ChannelMessage.Read.All", "EduRoster.Read.All", "EduAssignments.Read.All"} <= set(claims["roles"])


async def test_token_signature_verifies_against_the_served_jwks(tenant):
    status, body = await fetch_token(
        tenant,
        {
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": GRAPH_DEFAULT,
        },
    )
    status, config, _ = await get_json(
        tenant,
        f"{tenant.authority}/{tenant.tenant_id}/v2.0/.well-known/openid-configuration",
        None,
        ssl=tls_context(tenant),
    )
    assert status == 200 and config["token_endpoint"] == tenant.token_url
    jwks = jwt.PyJWKClient(config["jwks_uri"], ssl_context=tls_context(tenant))
    key = await asyncio.to_thread(jwks.get_signing_key_from_jwt, body["access_token"])
    claims = jwt.decode(body["access_token"], key.key, algorithms=["RS256"], audience=GRAPH_RESOURCE)
    assert claims["tid"] == tenant.tenant_id


async def test_a_wrong_client_secret_is_refused_with_the_aadsts_code(tenant):
    status, body = await fetch_token(
        tenant,
        {
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": "nope",
            "scope": GRAPH_DEFAULT,
        },
    )
    assert status == 401
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215:")


async def test_an_unknown_client_and_a_scope_without_default_are_refused(tenant):
    status, body = await fetch_token(
        tenant,
        {"grant_type": "client_credentials", "client_id": "someone-else", "client_secret": "x", "scope": GRAPH_DEFAULT},
    )
    assert (status, body["error"]) == (400, "unauthorized_client")
    status, body = await fetch_token(
        tenant,
        {
            "grant_type": "client_credentials",
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
            "scope": "User.Read",
        },
    )
    assert (status, body["error"]) == (400, "invalid_scope")


async def test_password_grant_gives_a_delegated_token_and_a_working_refresh_token(tenant):
    form = {
        "grant_type": "password",
        "client_id": tenant.client_id,
        "username": "maria.garcia@sim.example.edu",
        "password": tenant.user_password,
        "scope": "https://graph.microsoft.com/Notes.Read.All offline_access",
    }
    status, body = await fetch_token(tenant, form)
    assert status == 200, body
    claims = _claims(body["access_token"])
    assert claims["oid"] == T1 and claims["scp"] == "Notes.Read.All" and "roles" not in claims
    status, refreshed = await fetch_token(
        tenant, {"grant_type": "refresh_token", "client_id": tenant.client_id, "refresh_token": body["refresh_token"]}
    )
    assert status == 200, refreshed
    assert _claims(refreshed["access_token"])["oid"] == T1
    status, bad = await fetch_token(tenant, {**form, "password": "wrong"})
    assert (status, bad["error"], bad["error_codes"]) == (400, "invalid_grant", [50126])


async def test_a_scope_the_app_was_not_consented_for_is_refused(tenant):
    status, body = await fetch_token(
        tenant,
        {
            "grant_type": "password",
            "client_id": tenant.client_id,
            "username": "maria.garcia@sim.example.edu",
            "password": tenant.user_password,
            "scope": "https://graph.microsoft.com/Mail.Read",
        },
    )
    assert (status, body["error"], body["error_codes"]) == (400, "invalid_grant", [65001])


async def test_on_behalf_of_grant_exchanges_a_user_assertion_for_a_graph_token(tenant):
    assertion = tenant.identity.mint_user_assertion(ANA)
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
        "assertion": assertion,
        "requested_token_use": "on_behalf_of",
        "scope": "https://graph.microsoft.com/Notes.Read.All",
    }
    status, body = await fetch_token(tenant, form)
    assert status == 200, body
    assert _claims(body["access_token"])["oid"] == ANA
    forged = jwt.encode({**_claims(assertion)}, "a-different-signing-secret-of-32-bytes!", algorithm="HS256")
    status, body = await fetch_token(tenant, {**form, "assertion": forged})
    assert (status, body["error"]) == (400, "invalid_grant")


def test_graph_token_checks_reject_missing_forged_expired_and_foreign_tokens(district):
    identity = TenantIdentity(district.tenant_id, demo_app(district.tenant_id), {})
    other = TenantIdentity("another-tenant", identity.app, {})
    assert identity.principal_from_header(f"Bearer {identity.mint_app_token()}").app_only
    for header, message in [
        (None, "Access token is empty."),
        ("Bearer ", "Access token is empty."),
        ("Bearer not.a.jwt", "Access token validation failure"),
        (f"Bearer {other.mint_app_token()}", "Access token validation failure"),
    ]:
        with pytest.raises(AuthError) as err:
            identity.principal_from_header(header)
        assert err.value.status == 401 and err.value.code == "InvalidAuthenticationToken"
        assert message in err.value.message
    minted_hours_ago = TenantIdentity(district.tenant_id, identity.app, {}, wall_clock=lambda: time.time() - 4 * 3600)
    with pytest.raises(AuthError, match="expired"):  # checked by the identity that signed it, against real time
        minted_hours_ago.principal_from_header(f"Bearer {minted_hours_ago.mint_app_token()}")


async def test_real_azure_identity_client_secret_credential_gets_a_token_from_the_simulator(tenant):
    def sync_token():
        credential = ClientSecretCredential(
            tenant.tenant_id,
            tenant.client_id,
            tenant.client_secret,
            authority=tenant.authority,
            disable_instance_discovery=True,
            connection_verify=str(tenant.ca_file),
        )
        return credential.get_token(GRAPH_DEFAULT)

    token = await asyncio.to_thread(sync_token)
    assert _claims(token.token)["appid"] == tenant.client_id
    assert tenant.identity.principal_from_header(f"Bearer {token.token}").app_only


async def test_azure_identity_credential_drives_the_real_graph_sdk_against_the_simulator(tenant):
    credential = AsyncClientSecretCredential(
        tenant.tenant_id,
        tenant.client_id,
        tenant.client_secret,
        authority=tenant.authority,
        disable_instance_discovery=True,
        connection_verify=str(tenant.ca_file),
    )
    try:
        provider = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_DEFAULT], allowed_hosts=["127.0.0.1"])
        adapter = GraphRequestAdapter(provider)
        adapter.base_url = tenant.graph_base_url
        client = GraphServiceClient(request_adapter=adapter)
        cls = await client.education.classes.by_education_class_id(K1).get()
        assert cls.display_name == "Biology 9 P1"
    finally:
        await credential.close()


async def test_raw_msal_can_use_the_served_instance_discovery_endpoint(tenant):
    def acquire():
        http = requests.Session()
        http.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides Session.verify
        http.verify = str(tenant.ca_file)
        app = msal.ConfidentialClientApplication(
            tenant.client_id,
            client_credential=tenant.client_secret,
            authority=f"{tenant.authority}/{tenant.tenant_id}",
            http_client=http,
            instance_discovery=f"{tenant.authority}/common/discovery/instance",
        )
        return app.acquire_token_for_client([GRAPH_DEFAULT])

    result = await asyncio.to_thread(acquire)
    assert "access_token" in result, result
    assert _claims(result["access_token"])["roles"]
