"""The HTTP edge: signature checks, the URL challenge, the Kafka producer, health."""

from ingest.app import create_app
from ingest.email_signatures import (
    EmailSignatureError,
    verify_basic_auth,
    verify_mailgun,
    verify_sendgrid,
    verify_svix,
)
from ingest.envelope import build_envelope, delivery_id
from ingest.publisher import InMemoryPublisher, KafkaPublisher, Publisher, PublishError
from ingest.signature import (
    SignatureError,
    url_validation_answer,
    verify_zoom_request,
    zoom_signature,
)

__all__ = [
    "EmailSignatureError",
    "InMemoryPublisher",
    "KafkaPublisher",
    "PublishError",
    "Publisher",
    "SignatureError",
    "build_envelope",
    "create_app",
    "delivery_id",
    "url_validation_answer",
    "verify_basic_auth",
    "verify_mailgun",
    "verify_sendgrid",
    "verify_svix",
    "verify_zoom_request",
    "zoom_signature",
]
