"""AWS failures are worded by cfgc: error code and status, never botocore's text."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from cfgc.base.awserrors import describe


def test_a_client_error_gives_its_code_and_status_only() -> None:
    e = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "User arn:aws:iam::1:user/CANARY-user is not allowed"},
         "ResponseMetadata": {"HTTPStatusCode": 403}},
        "GetObject",
    )
    assert describe(e) == "AccessDenied (HTTP 403)"


def test_failures_before_a_response_are_named_by_kind() -> None:
    assert describe(NoCredentialsError()) == "no AWS credentials found"
    url = "http://user:CANARY-pass@127.0.0.1:1/"
    assert describe(EndpointConnectionError(endpoint_url=url)) == "the endpoint is unreachable"
    assert describe(ValueError("CANARY")) == "ValueError"
