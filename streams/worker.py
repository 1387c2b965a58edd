"""The composition root: the Faust app, each domain's agents, and what serves them all."""

from __future__ import annotations

import logging

import faust

from schemas.settings import Settings
from sinks import Database
from sinks.retention import cleanup
from streams.email.agents import install_email_agents
from streams.runtime import faust_internals
from streams.runtime.app import create_app, install_timers
from streams.runtime.attempts import STUCK_AFTER
from streams.runtime.clock import utc_now
from streams.runtime.seen_store import STORE_URL as SEEN_STORE_URL
from streams.runtime.seen_store import SeenStore
from streams.views.agents import install_view_agents
from streams.webhooks.agents import install_webhook_agents
from streams.webhooks.retry_failed import retry_failed

log = logging.getLogger(__name__)


def create_worker(settings: Settings) -> faust.App:
    """Build the worker app. Nothing connects until the worker starts."""
    faust_internals.install()  # refuses to run on a faust-streaming it was not read against
    faust_internals.register_store(SEEN_STORE_URL, SeenStore)
    app = create_app(settings)
    db = Database(settings.database_url)
    sources = [
        *install_webhook_agents(app, settings, db),
        *install_email_agents(app, settings, db),
        *install_view_agents(app, settings, db),
    ]
    install_timers(app, sources)

    @app.crontab("17 3 * * *", on_leader=True)
    async def daily_cleanup() -> None:
        """Retention, once a day, by one worker of the group."""
        await cleanup(db, utc_now())

    if settings.retry_failed_every_seconds > 0:

        @app.timer(interval=settings.retry_failed_every_seconds, on_leader=True)  # type: ignore[untyped-decorator]
        async def scheduled_retry_failed() -> None:
            """The spec's periodic retry of failed webhooks, by one worker of the group: the
            log's stuck and failed rows below their three attempts (never a parked one), as
            `zoomstream retry-failed --no-dead-letters` does. Beside the running agents it is
            safe: applying a webhook is idempotent, and a row is stuck only once it is older
            than any retry waits."""
            summary = await retry_failed(settings, STUCK_AFTER, dead_letters=False)
            for line in summary.lines():
                log.info("retry-failed (scheduled): %s", line)

    return app
