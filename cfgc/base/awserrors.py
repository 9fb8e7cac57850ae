"""One wording for failures of AWS calls (S3, KMS), in cfgc's words.

botocore's exception texts change between releases and may quote request
details (bucket keys, ARNs with session names, endpoint URLs with credentials
in a proxy setting).  cfgc reports the AWS error code and HTTP status, which are
part of the AWS API contract, or, for a failure before any response, the
kind of failure (no credentials, endpoint unreachable, timeout).
"""

from __future__ import annotations

from typing import Any

# botocore exception class names (stable API) -> what the user should look at.
_KINDS = {
    "NoCredentialsError": "no AWS credentials found",
    "PartialCredentialsError": "the AWS credentials are incomplete",
    "NoRegionError": "no AWS region configured",
    "EndpointConnectionError": "the endpoint is unreachable",
    "ConnectTimeoutError": "connecting timed out",
    "ReadTimeoutError": "reading the response timed out",
    "SSLError": "the TLS handshake failed",
    "ProxyConnectionError": "the proxy is unreachable",
    "TokenRetrievalError": "the SSO/OIDC token could not be retrieved",
}


def describe(e: BaseException) -> str:
    """``AccessDenied (HTTP 403)``-style summary of a boto3/botocore failure."""
    response: Any = getattr(e, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code") or "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        parts = [p for p in (code, f"HTTP {status}" if status else "") if p]
        return " ".join(parts[:1]) + (f" ({parts[1]})" if len(parts) > 1 else "") or "error response"
    for cls in type(e).__mro__:
        if cls.__name__ in _KINDS:
            return _KINDS[cls.__name__]
    return type(e).__name__
