"""The simulated tenant's Microsoft identity platform: token endpoint, OpenID metadata, JWKS, token checks.

Tokens are real RS256 JWTs signed with a per-tenant key (PyJWT + cryptography), shaped like Graph's v1 access
tokens: ``aud`` https://graph.microsoft.com, ``iss`` https://sts.windows.net/{tid}/, ``tid``, ``appid``, ``oid``,
``idtyp``, and ``roles`` (app-only) or ``scp`` (delegated). Graph routes verify every token with PyJWT.

Grants on ``POST /{tenant}/oauth2/v2.0/token``:
- ``client_credentials`` with the demo client id/secret (form fields or HTTP Basic) and a ``…/.default`` scope:
  app-only token with the app's ``roles``.
- ``password`` (ROPC; username = a district UPN, password = the tenant's demo user password),
  ``refresh_token`` (from a previous delegated grant) and the on-behalf-of
  ``urn:ietf:params:oauth:grant-type:jwt-bearer`` grant (``assertion`` = a user token minted by
  ``TenantIdentity.mint_user_assertion``, as a bot's SSO token would be): delegated token with ``scp``.

Where a grant authenticates the client (``client_credentials``, on-behalf-of), a certificate may stand in for the
secret, as Entra's ``private_key_jwt``: ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``
and a ``client_assertion`` JWT whose ``x5t#S256`` (or legacy ``x5t``) names a certificate registered on the app
(``AppRegistration.certificates``), signed PS256 or RS256 with its key, ``aud`` = the token endpoint the request went
to, ``iss`` = ``sub`` = client id, ``exp``/``nbf`` current, ``jti`` present. Failures carry Entra's AADSTS codes.
The real azure-identity ``CertificateCredential`` passes: the async one signs PS256 with ``x5t#S256`` (its own code,
with padded base64url), the sync one goes through MSAL, which signs RS256 with ``x5t`` when given a thumbprint.

A managed identity (an app registration without a secret) gets tokens from ``GET /msi/token``, the App Service
protocol azure-identity's ``ManagedIdentityCredential`` speaks when ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` are
set: ``api-version=2019-08-01``, ``resource``, optional ``client_id`` (user-assigned), header ``X-IDENTITY-HEADER``;
the answer is ``{access_token, expires_on, resource, token_type, client_id}`` with ``expires_on`` in epoch seconds.

Using the real azure-identity against it (verified by tests/simulator/test_identity.py)::

    ClientSecretCredential(tenant_id, client_id, client_secret,
                           authority=handle.authority,          # "https://127.0.0.1:<tls port>"
                           disable_instance_discovery=True,     # else MSAL asks login.microsoftonline.com
                           connection_verify=str(handle.ca_file))  # or REQUESTS_CA_BUNDLE / SSL_CERT_FILE
    credential.get_token("https://graph.microsoft.com/.default")

azure-identity/MSAL insist on an ``https`` authority, hence the loopback TLS listener (simulator/tls.py).
MSAL fetches ``{authority}/{tenant}/v2.0/.well-known/openid-configuration`` and takes ``token_endpoint`` from it.
Without ``disable_instance_discovery=True`` MSAL sends instance discovery for any host it does not know to
login.microsoftonline.com (network!). azure-identity only takes that boolean. Raw MSAL also accepts a URL:
``instance_discovery=f"{authority}/common/discovery/instance"``, which this module serves.
Trusting the CA: ``connection_verify`` works even when the environment sets ``REQUESTS_CA_BUNDLE`` (azure-core passes
``verify`` per request). A plain ``requests.Session`` handed to MSAL as ``http_client`` needs ``trust_env = False``
besides ``verify = ca_file``, because requests lets ``REQUESTS_CA_BUNDLE`` override ``Session.verify``.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.exceptions import InvalidSubjectError

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("PS256", "RS256")
ASSERTION_CLOCK_SKEW = 300  # seconds of clock difference Entra tolerates on a client assertion
MSI_API_VERSION = "2019-08-01"
TOKEN_LIFETIME = 3599
REFRESH_LIFETIME = 90 * 24 * 3600

DEFAULT_APP_ROLES = (
    "ChannelMessage.Read.All",
    "Channel.ReadBasic.All",
    "Team.ReadBasic.All",
    "Group.Read.All",
    "EduRoster.Read.All",
    "EduAssignments.Read.All",
    "Reports.Read.All",
    "AuditLogsQuery.Read.All",
)
DEFAULT_DELEGATED_SCOPES = (
    "Notes.Read.All",
    "User.Read",
    "ChannelMessage.Read.All",
    "EduRoster.ReadBasic",
    "EduAssignments.Read",
    "offline_access",
    "openid",
    "profile",
)
_OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass(frozen=True, slots=True)
class AppRegistration:
    client_id: str
    client_secret: str
    roles: tuple[str, ...] = DEFAULT_APP_ROLES  # admin-consented application permissions
    delegated_scopes: tuple[str, ...] = DEFAULT_DELEGATED_SCOPES  # consented delegated permissions
    certificates: tuple[bytes, ...] = ()  # PEM public certificates uploaded under "Certificates & secrets"


@dataclass(frozen=True, slots=True)
class AppCertificate:
    """A certificate and its private key, as an admin would make one to register on the app."""

    cert_pem: bytes  # what gets registered (public)
    key_pem: bytes

    @property
    def pem_with_key(self) -> bytes:
        """One PEM holding both, the form azure-identity's ``CertificateCredential(certificate_path=...)`` reads."""
        return self.cert_pem + self.key_pem


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    id: str
    upn: str
    display_name: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling Graph: the app, and the signed-in user for delegated tokens."""

    app_id: str
    user_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def app_only(self) -> bool:
        return self.user_id is None

    def granted(self) -> frozenset[str]:
        return self.roles if self.app_only else self.scopes


class AuthError(Exception):
    """A Graph request failed authentication (401) or authorization (403)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class TokenError(Exception):
    """An OAuth error from the token endpoint, in the identity platform's JSON shape."""

    def __init__(self, status: int, error: str, aadsts: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.aadsts, self.description = status, error, aadsts, description

    def body(self) -> dict[str, object]:
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.aadsts}: {self.description}",
            "error_codes": [self.aadsts],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        }


class ManagedIdentityError(Exception):
    """A refusal from the App Service managed identity endpoint, in its ``{statusCode, message}`` shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def body(self) -> dict[str, object]:
        return {"statusCode": self.status, "message": self.message, "correlationId": str(uuid.uuid4())}


def demo_app(tenant_id: str) -> AppRegistration:
    """The demo app registration; deterministic per tenant so demos and docs can quote it."""
    client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pli-pulse-simulator/{tenant_id}/app"))
    secret = "sim~" + uuid.uuid5(uuid.NAMESPACE_URL, f"pli-pulse-simulator/{tenant_id}/secret").hex
    return AppRegistration(client_id=client_id, client_secret=secret)


def demo_managed_identity(tenant_id: str) -> AppRegistration:
    """The host's managed identity: an app without a secret, deterministic per tenant, with the app's roles."""
    client_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"pli-pulse-simulator/{tenant_id}/managed-identity"))
    return AppRegistration(client_id=client_id, client_secret="")


def make_app_certificate(
    common_name: str = "PLI Pulse Graph ingest", *, valid_for: timedelta = timedelta(days=1)
) -> AppCertificate:
    """A self-signed RSA 2048 certificate, the kind an admin uploads for certificate sign-in (short-lived here)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        .sign(key, hashes.SHA256())
    )
    return AppCertificate(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _certificate_index(pems: tuple[bytes, ...]) -> dict[tuple[str, str], x509.Certificate]:
    """Registered certificates by how an assertion header names them: ("x5t", sha1) and ("x5t#S256", sha256)."""
    index: dict[tuple[str, str], x509.Certificate] = {}
    for pem in pems:
        for cert in x509.load_pem_x509_certificates(pem):
            index["x5t", _b64url(cert.fingerprint(hashes.SHA1()))] = cert  # x5t is SHA-1 by definition
            index["x5t#S256", _b64url(cert.fingerprint(hashes.SHA256()))] = cert
    return index


def _thumbprint_hex(value: str) -> str:
    """Entra quotes the thumbprint the client used in hex, as the portal shows it."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex().upper()
    except (binascii.Error, ValueError):
        return value


class TenantIdentity:
    """Issues and checks tokens for one simulated tenant."""

    def __init__(
        self,
        tenant_id: str,
        app: AppRegistration,
        users: Mapping[str, DirectoryUser],
        *,
        user_password: str = "pli-sim-password",
        wall_clock: Callable[[], float] = time.time,
        managed_identity: AppRegistration | None = None,
        msi_header: str | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.app = app
        self.user_password = user_password
        self.managed_identity = managed_identity or demo_managed_identity(tenant_id)
        # What App Service puts in IDENTITY_HEADER: a per-host secret that keeps other local processes out.
        self.msi_header = msi_header or secrets.token_urlsafe(24)
        self._certificates = _certificate_index(app.certificates)
        self._users_by_upn = {u.upn.lower(): u for u in users.values()}
        self._users_by_id = dict(users)
        self._time = wall_clock
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public = self._key.public_key()
        self.kid = base64.urlsafe_b64encode(uuid.uuid4().bytes[:12]).decode().rstrip("=")
        self.issuer = f"https://sts.windows.net/{tenant_id}/"
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    # ----- minting -----------------------------------------------------------------------------------------------
    def mint_app_token(
        self, roles: tuple[str, ...] | None = None, *, client_id: str | None = None, appidacr: str = "1"
    ) -> str:
        """``appidacr`` says how the app proved itself, as in Entra: "1" a secret, "2" a certificate or managed
        identity."""
        app_id = client_id or self.app.client_id
        claims = self._base_claims(app_id)
        claims["appidacr"] = appidacr
        claims.update(
            oid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp/{app_id}")),
            sub=str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp/{app_id}")),
            idtyp="app",
            roles=list(self.app.roles if roles is None else roles),
        )
        return self._sign(claims)

    def mint_delegated_token(self, user_id: str, scopes: tuple[str, ...] | None = None) -> str:
        user = self._users_by_id.get(user_id)
        if user is None:
            raise KeyError(f"no user {user_id} in the simulated directory")
        granted = [s for s in (scopes or self.app.delegated_scopes) if s not in _OIDC_SCOPES]
        claims = self._base_claims(self.app.client_id)
        claims.update(
            oid=user.id, sub=user.id, idtyp="user", upn=user.upn, name=user.display_name, scp=" ".join(granted)
        )
        return self._sign(claims)

    def mint_user_assertion(self, user_id: str) -> str:
        """A user token addressed to our app (aud = client id): what a bot receives via SSO, input to OBO."""
        user = self._users_by_id[user_id]
        now = int(self._time())
        claims = {
            "aud": self.app.client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "tid": self.tenant_id,
            "oid": user.id,
            "sub": user.id,
            "upn": user.upn,
            "scp": "access_as_user",
            "ver": "1.0",
        }
        return self._sign(claims)

    def jwks(self) -> dict[str, object]:
        numbers = self._public.public_numbers()

        def b64(n: int) -> str:
            return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode().rstrip("=")

        cert_hint = base64.b64encode(
            self._public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ).decode()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                    "issuer": f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
                    "x5t": self.kid,
                    "spki": cert_hint,
                }
            ]
        }

    # ----- checking ----------------------------------------------------------------------------------------------
    def principal_from_header(self, authorization: str | None) -> Principal:
        """Verify a Graph bearer token like Graph does; raises AuthError(401) with Graph's wording."""
        if not authorization:
            raise AuthError(401, "InvalidAuthenticationToken", "Access token is empty.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "InvalidAuthenticationToken", "Access token is empty.")
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():  # PyJWT checks exp against real time too
            self._verified.move_to_end(token)
            return cached[0]
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=["RS256"],
                audience=[GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "aud", "iss", "tid"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(
                401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(
                401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience."
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError(
                401, "InvalidAuthenticationToken", f"Access token validation failure. {type(exc).__name__}: {exc}"
            ) from exc
        if claims.get("tid") != self.tenant_id:
            raise AuthError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.")
        if claims.get("idtyp") == "user" or "scp" in claims:
            principal = Principal(
                app_id=str(claims.get("appid", "")),
                user_id=str(claims["oid"]),
                scopes=frozenset(str(claims.get("scp", "")).split()),
            )
        else:
            principal = Principal(
                app_id=str(claims.get("appid", "")), user_id=None, roles=frozenset(claims.get("roles", []))
            )
        self._verified[token] = (principal, float(claims["exp"]))
        if len(self._verified) > 4096:
            self._verified.popitem(last=False)
        return principal

    # ----- token endpoint ----------------------------------------------------------------------------------------
    def grant(
        self, form: Mapping[str, str], basic_auth: str | None = None, *, token_url: str = ""
    ) -> dict[str, object]:
        """``token_url`` is the URL the request was sent to: a client assertion must name it as its audience."""
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if basic_auth:
            client_id, client_secret = _basic(basic_auth)
        grant_type = form.get("grant_type", "")
        if client_id != self.app.client_id:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{self.tenant_id}'. "
                "Use the client_id printed by `pli-pulse simulate serve`.",
            )
        if grant_type == "client_credentials":
            appidacr = self._authenticate_client(form, client_secret, token_url)
            resource = _default_scope_resource(form.get("scope", ""))
            return self._token_response(self.mint_app_token(appidacr=appidacr), scope=f"{resource}/.default")
        if grant_type == "password":
            user = self._users_by_upn.get(form.get("username", "").lower())
            if user is None or form.get("password") != self.user_password:
                raise TokenError(
                    400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."
                )
            return self._delegated_response(user, self._requested_scopes(form.get("scope", "")))
        if grant_type == "refresh_token":
            try:
                claims = jwt.decode(
                    form.get("refresh_token", ""), self._public, algorithms=["RS256"], audience="refresh:" + client_id
                )
            except jwt.InvalidTokenError as exc:
                raise TokenError(400, "invalid_grant", 9002313, f"Invalid refresh token: {exc}.") from exc
            user = self._users_by_id.get(str(claims["oid"]))
            if user is None:
                raise TokenError(400, "invalid_grant", 50034, "The user account does not exist in this directory.")
            scopes = (
                self._requested_scopes(form.get("scope", "")) if form.get("scope") else tuple(claims["scp"].split())
            )
            return self._delegated_response(user, scopes)
        if grant_type == JWT_BEARER:
            self._authenticate_client(form, client_secret, token_url)
            if form.get("requested_token_use") != "on_behalf_of":
                raise TokenError(
                    400, "invalid_request", 900144, "The request body must contain 'requested_token_use=on_behalf_of'."
                )
            try:
                claims = jwt.decode(
                    form.get("assertion", ""),
                    self._public,
                    algorithms=["RS256"],
                    audience=client_id,
                    issuer=self.issuer,
                )
            except jwt.InvalidTokenError as exc:
                raise TokenError(
                    400, "invalid_grant", 50013, f"Assertion failed signature or claim validation: {exc}."
                ) from exc
            user = self._users_by_id.get(str(claims["oid"]))
            if user is None:
                raise TokenError(400, "invalid_grant", 50034, "The user account does not exist in this directory.")
            return self._delegated_response(user, self._requested_scopes(form.get("scope", "")))
        raise TokenError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type}'. "
            "Use client_credentials, password, refresh_token or the on-behalf-of jwt-bearer grant.",
        )

    def openid_configuration(self, base: str, tenant: str) -> dict[str, object]:
        root = f"{base}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{self.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "tid", "ver", "upn"],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }

    def managed_identity_token(self, query: Mapping[str, str], identity_header: str | None) -> dict[str, object]:
        """The App Service managed identity endpoint: an app-only token for the host's identity."""
        if not identity_header or not secrets.compare_digest(identity_header, self.msi_header):
            raise ManagedIdentityError(
                401,
                "The X-IDENTITY-HEADER header is missing or does not match. Send the value of the IDENTITY_HEADER "
                "environment variable this host was given (it changes when the host restarts).",
            )
        if query.get("api-version") != MSI_API_VERSION:
            raise ManagedIdentityError(
                400,
                f"api-version '{query.get('api-version', '')}' is not supported. Use api-version={MSI_API_VERSION}.",
            )
        identity = self.managed_identity
        asked_for = query.get("client_id") or query.get("clientid")
        if asked_for and asked_for != identity.client_id:
            raise ManagedIdentityError(
                400,
                f"Unable to load the proper Managed Identity. No identity with client_id '{asked_for}' is assigned "
                f"to this host; the assigned identity is '{identity.client_id}'.",
            )
        if query.get("object_id") or query.get("principal_id") or query.get("mi_res_id"):
            raise ManagedIdentityError(
                400, "Unable to load the proper Managed Identity. Name the identity by client_id on this host."
            )
        resource = query.get("resource", "")
        if not resource:
            raise ManagedIdentityError(
                400, "The 'resource' query parameter is required, e.g. resource=" + GRAPH_RESOURCE
            )
        try:
            _default_scope_resource(resource.rstrip("/") + "/.default")
        except TokenError as exc:
            raise ManagedIdentityError(400, f"AADSTS{exc.aadsts}: {exc.description}") from exc
        token = self.mint_app_token(identity.roles, client_id=identity.client_id, appidacr="2")
        return {
            "access_token": token,
            "expires_on": str(int(self._time()) + TOKEN_LIFETIME),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }

    # ----- internals ---------------------------------------------------------------------------------------------
    def _authenticate_client(self, form: Mapping[str, str], secret: str, token_url: str) -> str:
        """Check the client's secret or certificate assertion; returns ``appidacr`` for the token it earns."""
        assertion = form.get("client_assertion", "")
        if not assertion:
            self._check_secret(secret)
            return "1"
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise TokenError(
                400,
                "invalid_request",
                7000216,
                f"'client_assertion_type' must be '{CLIENT_ASSERTION_TYPE}' when a client_assertion is sent.",
            )
        self._check_client_assertion(assertion, token_url)
        return "2"

    def _check_client_assertion(self, assertion: str, token_url: str) -> None:
        """Validate a certificate-signed client assertion the way Entra does (private_key_jwt)."""
        client_id = self.app.client_id
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError as exc:
            raise _assertion_error(50027, f"JWT token is invalid or malformed: {exc}.") from exc
        named = [(kind, str(header[kind]).rstrip("=")) for kind in ("x5t#S256", "x5t") if header.get(kind)]
        if not named:
            raise _assertion_error(
                700027,
                "Client assertion contains an invalid signature. [Reason - The assertion header names no "
                "certificate.] Put the base64url SHA-256 thumbprint of the signing certificate in 'x5t#S256'.",
            )
        cert = next((self._certificates[k] for k in named if k in self._certificates), None)
        thumbprint = _thumbprint_hex(named[0][1])
        if cert is None:
            raise _assertion_error(
                700027,
                "The certificate with identifier used to sign the client assertion is not registered on application. "
                f"[Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}'] Upload this "
                f"certificate's public key under Certificates & secrets of app '{client_id}', or sign with a "
                "certificate that is registered there.",
            )
        now = datetime.fromtimestamp(self._time(), UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise _assertion_error(
                700027,
                "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of "
                f"key used by client: '{thumbprint}', valid {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} to "
                f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}] Create a new certificate, upload it to app "
                f"'{client_id}' and sign with it.",
            )
        try:
            jwt.decode(
                assertion,
                cert.public_key(),
                algorithms=list(ASSERTION_ALGORITHMS),
                audience=token_url,
                issuer=client_id,
                subject=client_id,
                options={"require": ["aud", "iss", "sub", "exp", "jti"]},
                leeway=ASSERTION_CLOCK_SKEW,
            )
        except jwt.InvalidSignatureError as exc:
            raise _assertion_error(
                700027,
                "Client assertion failed signature validation. [Reason - The signature does not verify with the key "
                f"of certificate '{thumbprint}'.] Sign with the private key that belongs to the registered "
                "certificate.",
            ) from exc
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
            raise _assertion_error(
                700024,
                f"Client assertion is not within its valid time range. Current time: {now:%Y-%m-%dT%H:%M:%SZ} "
                f"({exc}). Check the signing machine's clock and create a fresh assertion for each request.",
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise _assertion_error(
                700023,
                f"Client assertion audience claim does not match Realm issuer. Set 'aud' to the token endpoint the "
                f"assertion is sent to: {token_url}.",
            ) from exc
        except (jwt.InvalidIssuerError, InvalidSubjectError) as exc:
            raise _assertion_error(
                700021,
                f"Client assertion application identifier doesn't match 'client_id' parameter. Set both 'iss' and "
                f"'sub' to '{client_id}'.",
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise _assertion_error(
                50027, f"Invalid JWT token. The client assertion has no '{exc.claim}' claim; add it."
            ) from exc
        except jwt.InvalidAlgorithmError as exc:
            raise _assertion_error(
                50027,
                f"Invalid JWT token. '{header.get('alg')}' is not a supported signature algorithm for a client "
                f"assertion; sign with {' or '.join(ASSERTION_ALGORITHMS)}.",
            ) from exc
        except jwt.PyJWTError as exc:
            raise _assertion_error(50027, f"Invalid JWT token: {type(exc).__name__}: {exc}.") from exc

    def _check_secret(self, secret: str) -> None:
        if not secret or secret != self.app.client_secret:
            raise TokenError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{self.app.client_id}'.",
            )

    def _requested_scopes(self, scope_param: str) -> tuple[str, ...]:
        consented = set(self.app.delegated_scopes)
        granted: list[str] = []
        for raw in scope_param.split():
            if raw.endswith("/.default"):
                _default_scope_resource(raw)
                granted.extend(s for s in self.app.delegated_scopes if s not in _OIDC_SCOPES)
                continue
            name = raw.rsplit("/", 1)[-1] if raw.startswith(("https://", "http://")) else raw
            if name in _OIDC_SCOPES:
                continue
            if name not in consented:
                raise TokenError(
                    400,
                    "invalid_grant",
                    65001,
                    f"The user or administrator has not consented to use the application '{self.app.client_id}' "
                    f"for scope '{name}'. Consented scopes: {' '.join(sorted(consented))}.",
                )
            granted.append(name)
        if not granted:
            raise TokenError(
                400, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter."
            )
        return tuple(dict.fromkeys(granted))

    def _delegated_response(self, user: DirectoryUser, scopes: tuple[str, ...]) -> dict[str, object]:
        now = int(self._time())
        refresh = self._sign(
            {
                "aud": "refresh:" + self.app.client_id,
                "iss": self.issuer,
                "iat": now,
                "exp": now + REFRESH_LIFETIME,
                "oid": user.id,
                "scp": " ".join(scopes),
                "jti": str(uuid.uuid4()),
            }
        )
        response = self._token_response(self.mint_delegated_token(user.id, scopes), scope=" ".join(scopes))
        response["refresh_token"] = refresh
        return response

    def _token_response(self, token: str, *, scope: str) -> dict[str, object]:
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME,
            "access_token": token,
        }

    def _base_claims(self, app_id: str) -> dict[str, object]:
        now = int(self._time())
        return {
            "aud": GRAPH_RESOURCE,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "appid": app_id,
            "appidacr": "1",  # a secret; app tokens proved otherwise override it
            "tid": self.tenant_id,
            "uti": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
            "ver": "1.0",
        }

    def _sign(self, claims: dict[str, object]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})


def _assertion_error(aadsts: int, description: str) -> TokenError:
    return TokenError(401, "invalid_client", aadsts, description)


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


def _default_scope_resource(scope: str) -> str:
    """Map a ``<resource>/.default`` scope to Graph; loopback resources count as Graph (kiota derives the scope
    from the request host when none is configured)."""
    for raw in scope.split():
        if raw.endswith("/.default"):
            resource = raw[: -len("/.default")].rstrip("/")
            if resource in (GRAPH_RESOURCE, GRAPH_APP_ID) or resource.split("://")[-1].split(":")[0] in (
                "127.0.0.1",
                "localhost",
            ):
                return resource
            raise TokenError(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant. Ask for "
                f"'{GRAPH_RESOURCE}/.default'.",
            )
    raise TokenError(
        400,
        "invalid_scope",
        1002012,
        "The provided value for scope is not valid. Client credential flows must have a scope value with /.default "
        f"suffixed to the resource identifier (application ID URI), e.g. '{GRAPH_RESOURCE}/.default'.",
    )


# ----- aiohttp routes --------------------------------------------------------------------------------------------
IDENTITY = web.AppKey("identity", TenantIdentity)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def token_endpoint(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    tenant = request.match_info["tenant"]
    if tenant not in (identity.tenant_id, "organizations", "common") and "." not in tenant:
        return web.json_response(
            TokenError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.").body(), status=400
        )
    form = await request.post()
    fields = {k: str(v) for k, v in form.items()}
    try:
        body = identity.grant(fields, request.headers.get("Authorization"), token_url=_base(request) + request.path)
    except TokenError as exc:
        return web.json_response(exc.body(), status=exc.status)
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def msi_token(request: web.Request) -> web.Response:
    """App Service's managed identity endpoint (what ``IDENTITY_ENDPOINT`` points at on a real host)."""
    try:
        body = request.app[IDENTITY].managed_identity_token(request.query, request.headers.get("X-IDENTITY-HEADER"))
    except ManagedIdentityError as exc:
        return web.json_response(exc.body(), status=exc.status)
    return web.json_response(body)


async def openid_configuration(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    return web.json_response(identity.openid_configuration(_base(request), request.match_info["tenant"]))


async def jwks(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].jwks())


async def instance_discovery(request: web.Request) -> web.Response:
    """What MSAL's instance discovery expects, for clients that do not disable it and point it here."""
    authority = request.query.get("authorization_endpoint", "")
    host = request.host
    tenant = request.app[IDENTITY].tenant_id
    if authority:
        parts = authority.split("/")
        tenant = parts[3] if len(parts) > 3 else tenant
    return web.json_response(
        {
            "tenant_discovery_endpoint": f"{_base(request)}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )


def identity_routes() -> list[web.RouteDef]:
    return [
        web.post("/{tenant}/oauth2/v2.0/token", token_endpoint),
        web.get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        web.get("/{tenant}/discovery/v2.0/keys", jwks),
        web.get("/common/discovery/instance", instance_discovery),
        web.get("/msi/token", msi_token),
    ]
