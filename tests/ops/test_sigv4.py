"""The local IAM check: botocore-signed requests verify; unsigned, tampered or wrongly keyed ones are refused."""

from __future__ import annotations

from botocore.credentials import Credentials

from backout_dev import sigv4

URL = "http://127.0.0.1:3000/operator/holds?limit=5"
CREDS = Credentials("AKIDLOCAL", "local-secret")
KEYS = {"AKIDLOCAL": "local-secret"}


def test_a_signed_request_verifies_and_names_its_key() -> None:
    headers = sigv4.sign("POST", URL, b'{"a":1}', CREDS, "us-east-1", {"host": "127.0.0.1:3000"})
    assert sigv4.verify("POST", URL, headers, b'{"a":1}', KEYS, "us-east-1") == ("AKIDLOCAL", "")


def test_unsigned_tampered_and_wrong_key_requests_are_refused() -> None:
    headers = sigv4.sign("POST", URL, b'{"a":1}', CREDS, "us-east-1", {"host": "127.0.0.1:3000"})
    assert sigv4.verify("POST", URL, {"host": "127.0.0.1:3000"}, b"", KEYS, "us-east-1")[0] is None
    assert sigv4.verify("POST", URL, headers, b'{"a":2}', KEYS, "us-east-1")[0] is None  # body changed
    assert sigv4.verify("POST", URL.replace("5", "6"), headers, b'{"a":1}', KEYS, "us-east-1")[0] is None
    wrong = sigv4.sign("POST", URL, b'{"a":1}', Credentials("AKIDLOCAL", "guessed"), "us-east-1",
                       {"host": "127.0.0.1:3000"})
    key, reason = sigv4.verify("POST", URL, wrong, b'{"a":1}', KEYS, "us-east-1")
    assert key is None and reason == "signature does not match"
    assert sigv4.verify("POST", URL, headers, b'{"a":1}', KEYS, "eu-west-1")[0] is None
