"""The simulated identity platform: grants, metadata, and tokens that the real azure-identity accepts."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
import uuid
from datetime import timedelta

import aiohttp
import jwt
import msal
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential
from azure.identity.aio import CertificateCredential as AsyncCertificateCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient

from simulator.identity import (
    CLIENT_ASSERTION_TYPE,
    GRAPH_RESOURCE,
    AppCertificate,
    AuthError,
    TenantIdentity,
    demo_app,
    make_app_certificate,
)
from tests.simulator.conftest import ANA, K1, T1, TENANT_ID, fetch_token, get_json, tls_context

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


# ----- certificate credentials (client assertions) and managed identity ------------------------------------------


@pytest.fixture(scope="module")
def registered() -> AppCertificate:
    return make_app_certificate("registered")


@pytest.fixture(scope="module")
def stranger() -> AppCertificate:
    return make_app_certificate("never uploaded")


@pytest.fixture
async def cert_tenant(make_tenant, registered):
    return await make_tenant(app=dataclasses.replace(demo_app(TENANT_ID), certificates=(registered.cert_pem,)))


def _pem_file(tmp_path, cert: AppCertificate, name: str = "graph.pem") -> str:
    path = tmp_path / name
    path.write_bytes(cert.pem_with_key)
    return str(path)


def _login(tenant) -> dict:
    return {"authority": tenant.authority, "disable_instance_discovery": True, "connection_verify": str(tenant.ca_file)}


def _assertion(cert: AppCertificate, tenant, *, headers: dict | None = None, alg: str = "PS256", **claims) -> str:
    """A client assertion built by hand with PyJWT, defaulting to what Entra accepts; ``claims`` override."""
    x509_cert = x509.load_pem_x509_certificate(cert.cert_pem)
    thumbprint = base64.urlsafe_b64encode(x509_cert.fingerprint(hashes.SHA256())).decode().rstrip("=")
    now = int(time.time())
    payload = {
        "aud": tenant.token_url,
        "iss": tenant.client_id,
        "sub": tenant.client_id,
        "jti": str(uuid.uuid4()),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    key = serialization.load_pem_private_key(cert.key_pem, password=None)
    return jwt.encode(payload, key, algorithm=alg, headers=headers or {"x5t#S256": thumbprint})


def _assertion_form(tenant, assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": tenant.client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": GRAPH_DEFAULT,
    }


async def test_real_async_certificate_credential_gets_a_graph_token_with_a_registered_certificate(
    cert_tenant, registered, tmp_path
):
    """azure.identity.aio signs PS256 with x5t#S256 itself (the product's path)."""
    credential = AsyncCertificateCredential(
        cert_tenant.tenant_id,
        cert_tenant.client_id,
        certificate_path=_pem_file(tmp_path, registered),
        **_login(cert_tenant),
    )
    try:
        token = await credential.get_token(GRAPH_DEFAULT)
    finally:
        await credential.close()
    claims = _claims(token.token)
    assert claims["appid"] == cert_tenant.client_id and claims["appidacr"] == "2"  # "2": proved by certificate
    principal = cert_tenant.identity.principal_from_header(f"Bearer {token.token}")
    assert principal.app_only and "EduRoster.Read.All" in principal.roles


async def test_real_msal_backed_certificate_credential_gets_a_graph_token_with_a_registered_certificate(
    cert_tenant, registered, tmp_path
):
    """The sync credential goes through MSAL, which signs RS256 with the SHA-1 ``x5t`` when given a thumbprint."""
    path = _pem_file(tmp_path, registered)

    def sync_token():
        credential = CertificateCredential(
            cert_tenant.tenant_id, cert_tenant.client_id, certificate_path=path, **_login(cert_tenant)
        )
        return credential.get_token(GRAPH_DEFAULT)

    token = await asyncio.to_thread(sync_token)
    assert _claims(token.token)["appidacr"] == "2"
    assert cert_tenant.identity.principal_from_header(f"Bearer {token.token}").app_only


async def test_a_certificate_that_is_not_registered_is_refused_with_aadsts_700027(cert_tenant, stranger, tmp_path):
    credential = AsyncCertificateCredential(
        cert_tenant.tenant_id,
        cert_tenant.client_id,
        certificate_path=_pem_file(tmp_path, stranger),
        **_login(cert_tenant),
    )
    try:
        with pytest.raises(ClientAuthenticationError, match="AADSTS700027") as err:
            await credential.get_token(GRAPH_DEFAULT)
    finally:
        await credential.close()
    assert "not registered on application" in str(err.value) and "Certificates & secrets" in str(err.value)
    status, body = await fetch_token(cert_tenant, _assertion_form(cert_tenant, _assertion(stranger, cert_tenant)))
    assert (status, body["error"], body["error_codes"]) == (401, "invalid_client", [700027])


async def test_an_expired_assertion_is_refused_with_aadsts_700024(cert_tenant, registered):
    hour_ago = int(time.time()) - 3600
    expired = _assertion(registered, cert_tenant, nbf=hour_ago - 600, iat=hour_ago - 600, exp=hour_ago)
    status, body = await fetch_token(cert_tenant, _assertion_form(cert_tenant, expired))
    assert (status, body["error"], body["error_codes"]) == (401, "invalid_client", [700024])
    assert "valid time range" in body["error_description"] and "clock" in body["error_description"]


async def test_an_assertion_for_another_audience_is_refused_with_aadsts_700023(cert_tenant, registered):
    elsewhere = f"https://login.microsoftonline.com/{cert_tenant.tenant_id}/oauth2/v2.0/token"
    status, body = await fetch_token(
        cert_tenant, _assertion_form(cert_tenant, _assertion(registered, cert_tenant, aud=elsewhere))
    )
    assert (status, body["error"], body["error_codes"]) == (401, "invalid_client", [700023])
    assert cert_tenant.token_url in body["error_description"]  # says which audience to use


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("signed with another key", 700027),
        ("issuer is not the client", 700021),
        ("subject is not the client", 700021),
        ("no jti", 50027),
        ("HS256", 50027),
        ("no thumbprint header", 700027),
        ("sent without its assertion type", 7000216),
    ],
)
async def test_a_forged_or_malformed_assertion_is_refused_with_its_aadsts_code(
    cert_tenant, registered, stranger, case, code
):
    names_registered = {"x5t#S256": jwt.get_unverified_header(_assertion(registered, cert_tenant))["x5t#S256"]}
    if case == "signed with another key":
        assertion = _assertion(stranger, cert_tenant, headers=names_registered)  # names the registered certificate
    elif case == "issuer is not the client":
        assertion = _assertion(registered, cert_tenant, iss="someone-else")
    elif case == "subject is not the client":
        assertion = _assertion(registered, cert_tenant, sub="someone-else")
    elif case == "no jti":
        assertion = _assertion(registered, cert_tenant, jti=None)
    elif case == "HS256":
        claims = _claims(_assertion(registered, cert_tenant))
        assertion = jwt.encode(
            claims, "a-shared-secret-that-is-at-least-32-bytes", algorithm="HS256", headers=names_registered
        )
    elif case == "no thumbprint header":
        assertion = _assertion(registered, cert_tenant, headers={"kid": "k"})
    else:
        assertion = _assertion(registered, cert_tenant)
    form = _assertion_form(cert_tenant, assertion)
    if case == "sent without its assertion type":
        del form["client_assertion_type"]
    status, body = await fetch_token(cert_tenant, form)
    assert status in (400, 401) and body["error_codes"] == [code], body
    assert "access_token" not in body


async def test_a_registered_certificate_past_its_end_date_is_refused(make_tenant, tmp_path):
    lapsed = make_app_certificate("lapsed", valid_for=-timedelta(minutes=1))
    tenant = await make_tenant(app=dataclasses.replace(demo_app(TENANT_ID), certificates=(lapsed.cert_pem,)))
    status, body = await fetch_token(tenant, _assertion_form(tenant, _assertion(lapsed, tenant)))
    assert (status, body["error_codes"]) == (401, [700027])
    assert "expired" in body["error_description"]


async def test_on_behalf_of_accepts_a_certificate_assertion_in_place_of_the_secret(cert_tenant, registered):
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_id": cert_tenant.client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": _assertion(registered, cert_tenant),
        "assertion": cert_tenant.identity.mint_user_assertion(ANA),
        "requested_token_use": "on_behalf_of",
        "scope": "https://graph.microsoft.com/Notes.Read.All",
    }
    status, body = await fetch_token(cert_tenant, form)
    assert status == 200, body
    assert _claims(body["access_token"])["oid"] == ANA
    status, body = await fetch_token(
        cert_tenant, {**form, "client_assertion": _assertion(registered, cert_tenant, exp=1)}
    )
    assert (status, body["error_codes"]) == (401, [700024])


async def test_real_managed_identity_credential_gets_a_token_through_the_app_service_endpoint(tenant, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", tenant.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", tenant.msi_header)
    for client_id in (tenant.msi_client_id, None):  # user-assigned by client id, and the host's (system) identity
        credential = AsyncManagedIdentityCredential(client_id=client_id)
        try:
            token = await credential.get_token(GRAPH_DEFAULT)
        finally:
            await credential.close()
        claims = _claims(token.token)
        assert claims["appid"] == tenant.msi_client_id != tenant.client_id and claims["appidacr"] == "2"
        assert token.expires_on > time.time() + 3000
        status, body, _ = await get_json(tenant, f"/education/classes/{K1}", token.token)  # Graph accepts it
        assert status == 200 and body["displayName"] == "Biology 9 P1"


async def test_the_msal_backed_managed_identity_credential_reads_the_same_endpoint(tenant, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", tenant.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", tenant.msi_header)
    token = await asyncio.to_thread(
        lambda: ManagedIdentityCredential(client_id=tenant.msi_client_id).get_token(GRAPH_DEFAULT)
    )
    assert tenant.identity.principal_from_header(f"Bearer {token.token}").app_only


async def test_a_wrong_or_missing_identity_header_is_refused(tenant, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", tenant.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", "a-header-from-before-the-host-restarted")
    credential = AsyncManagedIdentityCredential(client_id=tenant.msi_client_id)
    try:
        with pytest.raises(ClientAuthenticationError, match="X-IDENTITY-HEADER"):
            await credential.get_token(GRAPH_DEFAULT)
    finally:
        await credential.close()
    query = f"?api-version=2019-08-01&resource={GRAPH_RESOURCE}"
    async with aiohttp.ClientSession() as http:
        async with http.get(tenant.msi_endpoint + query) as r:
            missing = (r.status, await r.json())
        async with http.get(tenant.msi_endpoint + query, headers={"X-IDENTITY-HEADER": tenant.msi_header}) as r:
            right = (r.status, await r.json())
        async with http.get(
            tenant.msi_endpoint + query + "&client_id=not-assigned", headers={"X-IDENTITY-HEADER": tenant.msi_header}
        ) as r:
            other_identity = (r.status, await r.json())
    assert missing[0] == 401 and missing[1]["statusCode"] == 401 and "IDENTITY_HEADER" in missing[1]["message"]
    assert right[0] == 200 and set(right[1]) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert right[1]["resource"] == GRAPH_RESOURCE and right[1]["client_id"] == tenant.msi_client_id
    assert other_identity[0] == 400 and "Unable to load the proper Managed Identity" in other_identity[1]["message"]
