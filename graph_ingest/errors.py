"""Graph failures grouped by what to do about them: retry, skip the scope, or stop the run."""

from __future__ import annotations


class IngestError(Exception):
    """Base class. ``user_message`` is what an admin reads: what happened and what to do."""

    user_message = "The ingest failed."


class Retriable(IngestError):
    """Worth trying again after a wait: throttling, 5xx, dropped connections, truncated bodies."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


class Skippable(IngestError):
    """This one scope cannot be read (a deleted team, a channel we may not see); the run goes on."""


class Fatal(IngestError):
    """Nothing will work until someone changes something: credentials, consent, permissions."""

    def __init__(self, reason: str, user_message: str):
        super().__init__(reason)
        self.user_message = user_message


class DelegatedTokenRequired(Fatal):
    """OneNote no longer accepts app-only tokens (graph.md §1d)."""

    def __init__(self, reason: str = "OneNote refused an app-only token"):
        super().__init__(
            reason,
            "OneNote class notebooks can only be read with a teacher's delegated sign-in since March 2025. "
            "Ask a teacher to open the PLI Pulse tab and sign in, then run the ingest again; "
            "the other sources were collected normally.",
        )


class ManagedIdentityCannotActForTeachers(DelegatedTokenRequired):
    """A teacher granted OneNote access, but a managed identity has no secret or certificate for on-behalf-of."""

    def __init__(self):
        Fatal.__init__(
            self,
            "on-behalf-of needs a client secret or certificate; the app signs in with a managed identity",
            "OneNote class notebooks need a teacher's delegated sign-in, exchanged on the teacher's behalf, and a "
            "managed identity cannot make that exchange. To include OneNote, add a certificate to the app "
            "registration and set PLI_GRAPH_CREDENTIALS=certificate; the other sources were collected normally.",
        )


class SignInFailed(Fatal):
    """The credential got no Graph token at all, so no request can succeed until an admin changes something."""


#: What to do, by the AADSTS code Microsoft Entra ID answered with.
_ENTRA_ADVICE = {
    700027: (
        "Upload the certificate in PLI_GRAPH_CERTIFICATE_PATH (its public part, .cer/.pem/.crt) under "
        "Certificates & secrets > Certificates of the app registration PLI_GRAPH_CLIENT_ID, or point "
        "PLI_GRAPH_CERTIFICATE_PATH at the PEM file (certificate and private key) of a certificate that is "
        "registered there and not expired"
    ),
    700024: (
        "Correct this server's clock (enable time synchronisation): the signed certificate sign-in is only valid "
        "for a few minutes"
    ),
    700023: "Check PLI_TENANT_ID and PLI_GRAPH_AUTHORITY: the certificate sign-in was addressed to another endpoint",
    700021: "Check that PLI_GRAPH_CLIENT_ID is the Application (client) ID of the app the certificate belongs to",
    7000215: "Create a new client secret under Certificates & secrets and set PLI_GRAPH_CLIENT_SECRET to its Value",
    7000222: "The client secret has expired: create a new one under Certificates & secrets and set "
    "PLI_GRAPH_CLIENT_SECRET to its Value",
    700016: "Check PLI_TENANT_ID and PLI_GRAPH_CLIENT_ID: the app registration was not found in that tenant",
}


def sign_in_failed(detail: str, *, code: int | None, managed_identity: bool) -> SignInFailed:
    """The admin's message for a refused sign-in: Microsoft's own words (for a support ticket) and what to do."""
    if managed_identity:
        advice = (
            "Check that a managed identity is assigned to this host and that PLI_GRAPH_CLIENT_ID is its client ID "
            "(empty for the system-assigned one), then restart PLI Pulse so it reads the host's current "
            "IDENTITY_ENDPOINT and IDENTITY_HEADER"
        )
        what = "PLI Pulse could not get a Microsoft Graph token from this host's managed identity"
    else:
        advice = _ENTRA_ADVICE.get(code or 0, "Check PLI_TENANT_ID, PLI_GRAPH_CLIENT_ID and PLI_GRAPH_CREDENTIALS")
        what = "Microsoft Entra ID refused PLI Pulse's sign-in"
    return SignInFailed(
        f"sign-in failed: {detail}", f"{what}: {detail.rstrip('.')}. {advice}; then run: pli-pulse doctor"
    )
