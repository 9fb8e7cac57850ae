"""AWS KMS master keys, via boto3.

Credentials follow the standard AWS chain (environment, profile, instance role);
``AWS_ENDPOINT_URL_KMS`` / ``AWS_ENDPOINT_URL`` point at another endpoint (a
local moto server in tests).  The region comes from the key ARN, as in sops.
The encryption context is bound to the ciphertext and must match on decrypt.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import socket
from dataclasses import replace
from typing import Any

from cfgc.base.awserrors import describe as describe_aws
from cfgc.secrets.keysources import KeyUnavailable
from cfgc.secrets.metadata import KmsKey, MasterKey

_ARN_RE = re.compile(r"^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$")


def region_of(arn: str) -> str:
    m = _ARN_RE.match(arn)
    if m is None:
        raise KeyUnavailable(f"not a KMS key ARN: {arn!r}")
    return m.group(1)


class KmsSource:
    """Encrypts/decrypts data keys with KMS; clients are cached per region/profile/role."""

    kind = "kms"

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, str], Any] = {}

    def __repr__(self) -> str:
        return "KmsSource()"

    def _client(self, key: KmsKey) -> Any:
        cache_key = (region_of(key.arn), key.aws_profile, key.role)
        if cache_key not in self._clients:
            import boto3

            try:
                session = boto3.session.Session(profile_name=key.aws_profile or None)
                if key.role:
                    creds = session.client("sts").assume_role(
                        RoleArn=key.role, RoleSessionName=f"sops@{socket.gethostname()}"[:64]
                    )["Credentials"]
                    session = boto3.session.Session(
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                    )
                self._clients[cache_key] = session.client("kms", region_name=cache_key[0])
            except Exception as e:  # noqa: BLE001 - botocore raises many kinds
                raise KeyUnavailable(
                    f"cannot set up a KMS client: {type(e).__name__}", external=True
                ) from None
        return self._clients[cache_key]

    def encrypt(self, key: MasterKey, data_key: bytes) -> MasterKey:
        assert isinstance(key, KmsKey)
        try:
            out = self._client(key).encrypt(
                KeyId=key.arn, Plaintext=data_key, EncryptionContext=dict(key.context)
            )
        except KeyUnavailable:
            raise
        except Exception as e:  # noqa: BLE001
            raise KeyUnavailable(f"KMS Encrypt failed: {describe_aws(e)}", external=True) from None
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        enc = base64.b64encode(out["CiphertextBlob"]).decode("ascii")
        return replace(key, enc=enc, created_at=created)

    def decrypt(self, key: MasterKey) -> bytes:
        assert isinstance(key, KmsKey)
        try:
            blob = base64.b64decode(key.enc, validate=True)
        except (binascii.Error, ValueError):
            raise KeyUnavailable("the KMS-encrypted data key is not valid base64") from None
        try:
            out = self._client(key).decrypt(
                CiphertextBlob=blob, EncryptionContext=dict(key.context)
            )
        except KeyUnavailable:
            raise
        except Exception as e:  # noqa: BLE001
            raise KeyUnavailable(f"KMS Decrypt failed: {describe_aws(e)}", external=True) from None
        return bytes(out["Plaintext"])
