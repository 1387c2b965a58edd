"""The recording API (spec paths), served beside ingest. Reads PostgreSQL; views and progress go
to Kafka (`recordings.view-events`) and are answered only once Kafka has them.

By role: `attendee` and `organizer` hold the endpoints, `viewer` who asks and whether they may,
`announce` what goes to Kafka, `rows` the rows a path names, `links` the links that work, `passwords` the guard against
guessing, `common` the refusal, the body reader and the transaction wrapper every endpoint runs
in."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from starlette.routing import Route

from ingest.limits import ApiLimits
from ingest.metrics import IngestMetrics
from ingest.publisher import Publisher
from ingest.recording_api.announce import Announcer
from ingest.recording_api.attendee import AttendeeEndpoints, guarded
from ingest.recording_api.common import ApiError, Endpoint, transactional
from ingest.recording_api.links import LinkRefresher
from ingest.recording_api.organizer import OrganizerEndpoints
from ingest.recording_api.passwords import PasswordGuard
from ingest.recording_api.viewer import Viewers
from schemas.settings import Settings
from sinks import Database

__all__ = ["ApiError", "recording_routes"]


def recording_routes(
    settings: Settings,
    publisher: Publisher,
    db: Database,
    counters_db: Database,
    metrics: IngestMetrics,
    limits: ApiLimits,
    links: LinkRefresher,
    clock: Callable[[], float] = time.time,
) -> list[Route]:
    """`counters_db`: the password guard's own pool (see `passwords`); `links` refreshes expired
    download links (see `links`)."""
    secret = settings.platform_jwt_secret
    viewers = Viewers(secret.get_secret_value() if secret else None)
    announcer = Announcer(settings, publisher, clock)
    guard = PasswordGuard(
        counters_db,
        metrics,
        per_recording=settings.password_failures_per_recording,
        per_caller=settings.password_failures_per_caller,
        window=timedelta(seconds=settings.password_failure_window_seconds),
        hashing=limits.hashing,
        clock=clock,
    )
    attendee = AttendeeEndpoints(viewers, announcer, guard, links, clock)
    organizer = OrganizerEndpoints(viewers, announcer, limits)

    def route(path: str, endpoint: Endpoint, method: str) -> Route:
        return Route(path, transactional(db, endpoint, metrics, limits), methods=[method])

    return [
        route("/api/events/{uuid}/recordings/", attendee.event_list, "GET"),
        route("/api/recordings/{uuid}/", attendee.detail, "GET"),
        route("/api/recordings/{uuid}/", organizer.update, "PUT"),
        Route(
            "/api/recordings/{uuid}/access/",
            guarded(guard, viewers, limits, transactional(db, attendee.access, metrics, limits)),
            methods=["GET"],
        ),
        route("/api/recordings/{uuid}/progress/", attendee.progress, "POST"),
        route("/api/recordings/{uuid}/publish/", organizer.publish, "POST"),
        route("/api/recordings/{uuid}/unpublish/", organizer.unpublish, "POST"),
        route("/api/organizer/events/{uuid}/recordings/", organizer.event_list, "GET"),
    ]
