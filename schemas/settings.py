"""The one configuration object, read from the environment (and a local `.env`) by each entry point."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/zoomstream"


class Settings(BaseSettings):
    """Everything configurable. Built once per process and passed down; nothing else reads os.environ."""

    # hide_input_in_errors: a failed check of the whole object (the validators below) would
    # otherwise quote every input in its message, secrets included.
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    zoom_webhook_secret: SecretStr | None = Field(
        default=None, description="Zoom app's secret token: signs webhooks and the URL challenge."
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str = Field(
        default=LOCAL_DATABASE_URL,
        description="libpq URL. Unset means the local PostgreSQL that `zoomstream stack up` runs.",
    )
    platform_jwt_secret: SecretStr | None = None
    analytics_token: SecretStr | None = Field(
        default=None, description="Enables /dashboard; its data needs this bearer token"
    )
    # Email providers: a provider without its secret is not enabled (its endpoint answers 404).
    resend_webhook_secret: SecretStr | None = Field(default=None, description="whsec_… (Svix)")
    sendgrid_verification_key: str | None = Field(
        default=None, description="SendGrid's signed-webhook public key, base64 DER"
    )
    postmark_webhook_user: str | None = None
    postmark_webhook_password: SecretStr | None = None
    mailgun_signing_key: SecretStr | None = None
    # Outbound email: the SMTP relay (the provider's, or a local one) and how sends are tracked.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool | None = Field(
        default=None, description="None: STARTTLS when the relay offers it"
    )
    smtp_timeout_seconds: float = 30.0
    email_provider: str = Field(
        default="smtp", description="Recorded in email_logs.provider: the relay's provider name"
    )
    email_message_id_domain: str = Field(
        default="zoomstream.local", description="Right-hand side of the Message-IDs we set"
    )
    email_duplicate_window_minutes: int = 60
    email_send_backoff_seconds: tuple[float, ...] = Field(
        default=(5.0, 30.0),
        description="How long after a transient failure the 2nd and 3rd attempt at a send are due",
    )
    topic_prefix: str = Field(default="", description="Prefix of every topic and consumer group.")
    # Zoom's REST API (a server-to-server OAuth app): off while the three credentials are unset.
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_api_base_url: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = "https://zoom.us/oauth/token"
    zoom_api_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    zoom_api_read_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Longest wait for Zoom's answer to one attempt."
    )
    zoom_api_attempts: int = Field(
        default=4,
        ge=1,
        description="Attempts at one call when Zoom answers 429 or 5xx, times out or is unreachable.",
    )
    zoom_api_backoff_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Wait before the 2nd attempt, doubled before each next one (at most 30 s);"
        " a 429 or 503 with Retry-After waits what it says instead.",
    )
    zoom_api_max_retry_after_seconds: float = Field(
        default=60.0,
        ge=0,
        description="A Retry-After longer than this is not waited for: the call fails at once.",
    )
    zoom_link_token_ttl_seconds: int = Field(
        default=3600,
        ge=600,
        le=604800,
        description="The life asked of a download token fetched to refresh expired links; the"
        " answer is reused for half of it.",
    )
    zoom_link_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        description="The longest a viewer's access request waits for Zoom's fresh links.",
    )

    ingest_host: str = "0.0.0.0"
    ingest_port: int = 8000
    max_body_bytes: int = 1024 * 1024
    api_port: int = Field(
        default=8001,
        description="Port of `zoomstream ingest --only api`: the recording API and the dashboard,"
        " run apart from the webhooks so that no API request can slow down Zoom's answers.",
    )
    api_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="The niceness `zoomstream ingest --only api` gives itself: where it shares a"
        " host's CPU with the webhooks, they come first; 0 leaves it as it is.",
    )
    password_failures_per_caller: int = Field(
        default=5,
        ge=1,
        description="Wrong recording passwords a caller (a signed-in user, else an address) may"
        " give within the window; past it every attempt is answered 429 without a hash.",
    )
    password_failures_per_recording: int = Field(
        default=20,
        ge=1,
        description="Wrong passwords for one recording within the window, from anyone (several"
        " addresses guessing together); past it the recording answers 429 to everyone.",
    )
    password_failure_window_seconds: int = Field(
        default=15 * 60,
        gt=0,
        description="How long failures count; the window starts at the first.",
    )
    password_check_concurrency: int = Field(
        default=2,
        ge=1,
        description="Password checks (an scrypt hash each, off the event loop) at once per API"
        " process; more wait, API_QUEUE at most, then 503.",
    )
    heavy_read_concurrency: int = Field(
        default=4,
        ge=1,
        description="Organizer lists with analytics and dashboard queries at once per API"
        " process; more wait, API_QUEUE at most, then 503.",
    )
    heavy_read_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Their statement timeout; past it they answer 503."
    )
    heavy_read_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long an API process reuses a heavy read's answer (an event's"
        " engagement figures, a dashboard query); 0: never.",
    )
    heavy_reads_per_caller_per_second: float = Field(
        default=2.0,
        gt=0,
        description="Heavy reads a caller may ask for per second (bursts of 5); more: 429.",
    )
    refusal_delay_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long a 429 of the API waits before it is sent: a caller held off waits"
        " instead of asking again at once (a thousand such waits at most).",
    )
    api_queue: int = Field(
        default=16, ge=0, description="Requests that may wait for a bounded piece of work."
    )
    # Zoom retries a failed delivery at +5, +20 and +60 minutes and may keep the original
    # x-zm-request-timestamp: 85 minutes after the first attempt. A 4xx makes Zoom give up for
    # good, so the window must admit the last retry; 90 minutes does, with margin.
    signature_tolerance_seconds: int = 90 * 60
    # Clock skew allowed for timestamps from the future.
    signature_future_skew_seconds: int = 5 * 60
    # Deliveries are deduplicated on a digest of the raw body for at least this long; it must cover
    # the whole tolerance so that a replayed signed request is either stale or a duplicate.
    dedup_window_seconds: int = 2 * 60 * 60
    publish_timeout_seconds: float = Field(
        default=2.0, description="How long ingest waits for Kafka's ack before answering 503."
    )

    retry_backoff_seconds: tuple[float, ...] = Field(
        default=(5.0, 30.0),
        description="Waits before the 2nd and 3rd attempt at a webhook whose handling failed.",
    )

    retry_failed_every_seconds: float = Field(
        default=15 * 60,
        ge=0,
        description="How often the group's leader runs retry-failed over the log (stuck and"
        " failed rows below their three attempts, never a parked one, no dead letters); 0: never.",
    )

    recording_expiry_check_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the worker group's leader marks expired the recordings whose"
        " Zoom auto-delete date has come (reads show them expired at once).",
    )
    zoom_processing_check_seconds: float = Field(
        default=900.0,
        gt=0,
        description="How often the worker group's leader asks Zoom's API about recording files"
        " still processing an hour after their last webhook (with the Zoom API configured).",
    )
    zoom_processing_check_limit: int = Field(
        default=20,
        ge=1,
        description="Recordings asked about per run of the processing check (one call each).",
    )

    attendance_min_fraction: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="Attended when present (sessions merged) for this fraction of the occurrence.",
    )
    attendance_settle_seconds: float = Field(
        default=60.0,
        gt=0,
        description="While an occurrence has no ended webhook and its facts move its bounds,"
        " how long the people untouched by later webhooks may keep their earlier threshold"
        " before all of its people are brought up to date.",
    )

    service_wait_seconds: float = Field(
        default=0.0,
        ge=0,
        description="How long ingest and the worker, started before Kafka or PostgreSQL answer,"
        " wait for them (capped backoff, a log line per attempt) before they exit; 0: as long"
        " as it takes.",
    )

    kafka_partitions: int = 8
    kafka_replication_factor: int = 1
    raw_retention_ms: int = Field(
        default=14 * 24 * 60 * 60 * 1000,
        description="Retention of the raw topics: the replay horizon.",
    )
    worker_batch_size: int = Field(
        default=2_000,
        gt=0,
        description=(
            "Webhooks per batch at most (one transaction each; a batch closes sooner after "
            "WORKER_BATCH_SECONDS). 2,000 applied 40% more per second than 500 under the "
            "pipeline bench; 5,000 no more than 2,000."
        ),
    )
    worker_batch_seconds: float = 0.5
    worker_max_fetch_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="The most the worker fetches from one partition per request.",
    )
    worker_datadir: str = ".stack/faust"
    worker_session_timeout_seconds: float = Field(
        default=60.0,
        gt=0.0,
        description=(
            "The consumer group's session: how long a silent worker keeps its partitions before "
            "the group gives them to the others (the broker allows 6 s to 30 min by default)."
        ),
    )
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(
        default=9101, description="Prometheus /metrics of the worker; 0: off."
    )

    @model_validator(mode="after")
    def _dedup_window_covers_tolerance(self) -> Settings:
        needed = self.signature_tolerance_seconds + self.signature_future_skew_seconds
        if self.dedup_window_seconds < needed:
            raise ValueError(
                f"DEDUP_WINDOW_SECONDS ({self.dedup_window_seconds}) must be at least the signature "
                f"tolerance plus future skew ({needed}): otherwise a replayed request could be "
                "neither stale nor a duplicate"
            )
        return self

    @model_validator(mode="after")
    def _zoom_credentials_all_or_none(self) -> Settings:
        given = [
            name
            for name, value in (
                ("ZOOM_ACCOUNT_ID", self.zoom_account_id),
                ("ZOOM_CLIENT_ID", self.zoom_client_id),
                ("ZOOM_CLIENT_SECRET", self.zoom_client_secret),
            )
            if value
        ]
        if given and len(given) < 3:
            raise ValueError(
                "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET go together: only "
                + ", ".join(given)
                + " set"
            )
        return self

    def zoom_api_enabled(self) -> bool:
        """The Zoom API client runs only with all three server-to-server OAuth credentials."""
        return bool(self.zoom_account_id and self.zoom_client_id and self.zoom_client_secret)

    def topic(self, name: str) -> str:
        """The full name of a topic, with this deployment's prefix."""
        return f"{self.topic_prefix}{name}"

    def secret_bytes(self) -> bytes:
        if self.zoom_webhook_secret is None:
            raise ValueError("ZOOM_WEBHOOK_SECRET is not set")
        return self.zoom_webhook_secret.get_secret_value().encode()
