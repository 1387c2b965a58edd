import hashlib
import hmac

import pytest

from ingest import SignatureError, url_validation_answer, verify_zoom_request, zoom_signature

SECRET = b"zoom-secret-token"
NOW = 1_739_923_528


def zoom_documented_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """Built independently from the documentation: v0=HMAC_SHA256(secret, 'v0:ts:body')."""
    return (
        "v0="
        + hmac.new(secret, b"v0:%s:%s" % (timestamp.encode(), body), hashlib.sha256).hexdigest()
    )


def verify(body: bytes, signature: str | None, timestamp: str | None, now: float = NOW) -> None:
    verify_zoom_request(
        secret=SECRET,
        signature=signature,
        timestamp=timestamp,
        body=body,
        now=now,
        tolerance_seconds=5400,
        future_skew_seconds=300,
    )


BODIES = [
    pytest.param(b'{"event":"meeting.started","payload":{"object":{"id":"1"}}}', id="ascii"),
    pytest.param(
        '{"event":"meeting.participant_joined","payload":{"object":{"participant":{"user_name":"Jan Šimonek"}}}}'.encode(),
        id="non-ascii-utf8",
    ),
    pytest.param(
        b'{ "payload" : {"object":{"id":85392858403}},\n  "event":"recording.completed", "x":"\\u0161", "n":1.0e2 }',
        id="not-reserialisable",
    ),
    pytest.param(b'{"event":"x","payload":{"raw":"\xff\xfe"}}', id="not-utf8"),
]


@pytest.mark.parametrize("body", BODIES)
def test_a_body_signed_as_zoom_documents_verifies(body: bytes) -> None:
    timestamp = str(NOW)
    signature = zoom_documented_signature(SECRET, timestamp, body)
    assert zoom_signature(SECRET, timestamp, body) == signature
    verify(body, signature, timestamp)


@pytest.mark.parametrize("body", BODIES)
def test_a_reserialised_or_altered_body_does_not_verify(body: bytes) -> None:
    signature = zoom_documented_signature(SECRET, str(NOW), body)
    with pytest.raises(SignatureError, match="does not match"):
        verify(body + b" ", signature, str(NOW))


def test_signature_with_another_secret_is_refused() -> None:
    body = b'{"event":"meeting.started"}'
    signature = zoom_documented_signature(b"other", str(NOW), body)
    with pytest.raises(SignatureError, match="does not match"):
        verify(body, signature, str(NOW))


def test_bare_hex_without_v0_prefix_is_refused() -> None:
    body = b'{"event":"meeting.started"}'
    signature = zoom_documented_signature(SECRET, str(NOW), body).removeprefix("v0=")
    with pytest.raises(SignatureError):
        verify(body, signature, str(NOW))


@pytest.mark.parametrize(
    ("signature", "timestamp", "message"),
    [
        (None, str(NOW), "missing x-zm-signature"),
        ("", str(NOW), "missing x-zm-signature"),
        ("v0=00", None, "missing x-zm-request-timestamp"),
        ("v0=00", "1739923528000", "not epoch seconds"),
        ("v0=00", "17399.5", "not epoch seconds"),
        ("v0=00", "-1", "not epoch seconds"),
        ("v0=00", "١٢٣", "not epoch seconds"),
        ("v0=ñ", str(NOW), "does not match"),
    ],
)
def test_missing_or_malformed_headers_are_refused(
    signature: str | None, timestamp: str | None, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(b"{}", signature, timestamp)


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        (0, True),
        (85 * 60, True),  # Zoom's last retry, +5 +20 +60 minutes, with the original timestamp
        (5400, True),
        (5401, False),
        (-300, True),
        (-301, False),
    ],
)
def test_tolerance_edges(age: int, accepted: bool) -> None:
    body = b'{"event":"meeting.started"}'
    timestamp = str(NOW - age)
    signature = zoom_documented_signature(SECRET, timestamp, body)
    if accepted:
        verify(body, signature, timestamp)
    else:
        with pytest.raises(SignatureError, match=r"old|future"):
            verify(body, signature, timestamp)


def test_url_validation_answer_is_hmac_of_the_plain_token() -> None:
    answer = url_validation_answer(SECRET, "qgg8vlvZRS6UYooatFL8Aw")
    assert answer == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": hmac.new(SECRET, b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest(),
    }
