"""The recording API over HTTP, on the real PostgreSQL and Kafka: every endpoint, its auth
failures, and what reaches Kafka."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import psycopg
import pytest
from confluent_kafka import Consumer
from starlette.testclient import TestClient

from ingest import KafkaPublisher, create_app
from schemas.settings import Settings
from schemas.topics import RECORDING_VIEWS, ZOOM_RECORDINGS
from tests.conftest import SECRET
from tests.integration.conftest import BOOTSTRAP, messages_in_topic
from tests.integration.zoom_server import (
    RECORDINGS,
    TOKEN,
    FakeZoom,
    Fault,
    running_fake_zoom,
)
from tests.polling import poll
from zoomstream.topics import ensure_topics

pytestmark = pytest.mark.integration
JWT_SECRET = "platform-jwt-secret-for-the-api-tests-0123456789abcdef"
ZOOM_URL = "https://us06web.zoom.us/rec/play/secret-play-url"


@dataclass
class World:
    client: TestClient
    settings: Settings
    database_url: str
    event: str
    users: dict[str, str]
    recordings: dict[str, str]

    def token(self, who: str, **claims: Any) -> dict[str, str]:
        values: dict[str, Any] = {"sub": self.users[who], "exp": int(time.time()) + 300}
        values.update(claims)
        return {"Authorization": f"Bearer {jwt.encode(values, JWT_SECRET, algorithm='HS256')}"}

    def topic_count(self, name: str) -> int:
        return messages_in_topic(self.settings.topic(name))


def insert_world(database_url: str) -> tuple[str, dict[str, str], dict[str, str]]:
    users: dict[str, str] = {}
    recordings: dict[str, str] = {}
    with psycopg.connect(database_url) as conn:
        for name in ("organizer", "confirmed", "pending", "attended", "stranger"):
            row = conn.execute(
                "INSERT INTO users (email, name) VALUES (%s, %s) RETURNING id, uuid",
                (f"{name}@x.org", name),
            ).fetchone()
            assert row is not None
            users[name] = str(row[1])
        ids: dict[str, int] = dict(conn.execute("SELECT name, id FROM users").fetchall())
        event_row = conn.execute(
            "INSERT INTO events (title, zoom_meeting_id, organizer_id) VALUES"
            " ('Ethics in Practice', '81234567890', %s) RETURNING id, uuid",
            (ids["organizer"],),
        ).fetchone()
        assert event_row is not None
        event_id, event_uuid = event_row
        for name, status, attended in (
            ("confirmed", "confirmed", False),
            ("pending", "pending", False),
            ("attended", "confirmed", True),
        ):
            conn.execute(
                "INSERT INTO registrations (event_id, user_id, email, status, attended)"
                " VALUES (%s, %s, %s, %s, %s)",
                (event_id, ids[name], f"{name}@x.org", status, attended),
            )
        for name, level, published, status in (
            ("registrants", "registrants", True, "available"),
            ("attendees", "attendees", True, "available"),
            ("public", "public", True, "available"),
            ("draft", "registrants", False, "available"),
            ("processing", "registrants", True, "processing"),
        ):
            row = conn.execute(
                "INSERT INTO zoom_recordings (event_id, zoom_meeting_id, zoom_meeting_uuid,"
                " zoom_recording_id, recording_start, recording_end, duration_seconds, status,"
                " access_level, is_published, share_url, zoom_password, source_event_at)"
                " VALUES (%s, '81234567890', %s, %s, now() - interval '1 hour', now(), 3600,"
                " %s, %s, %s, 'https://zoom.us/rec/share/x', 'zoompw', now()) RETURNING id, uuid",
                (event_id, f"occ-{name}", f"occ-{name}", status, level, published),
            ).fetchone()
            assert row is not None
            recordings[name] = str(row[1])
            conn.execute(
                "INSERT INTO zoom_recording_files (recording_id, zoom_file_id, file_type,"
                " recording_type, play_url, download_url, source_event_at)"
                " VALUES (%s, %s, 'video', 'shared_screen_with_speaker_view', %s,"
                " 'https://zoom.us/rec/webhook_download/x', now())",
                (row[0], f"file-{name}", ZOOM_URL),
            )
    return str(event_uuid), users, recordings


@contextmanager
def open_world(database_url: str, topic_prefix: str, **settings: Any) -> Iterator[World]:
    configured = Settings(
        _env_file=None,
        zoom_webhook_secret=SECRET,
        platform_jwt_secret=JWT_SECRET,
        kafka_bootstrap_servers=BOOTSTRAP,
        database_url=database_url,
        topic_prefix=topic_prefix,
        **settings,
    )
    ensure_topics(configured)
    event, users, recordings = insert_world(database_url)
    app = create_app(configured, KafkaPublisher(BOOTSTRAP, 5.0))
    with TestClient(app) as client:
        yield World(client, configured, database_url, event, users, recordings)


@pytest.fixture
def world(database_url: str, topic_prefix: str) -> Iterator[World]:
    with open_world(database_url, topic_prefix) as opened:
        yield opened


def test_attendee_list_shows_published_available_recordings_with_access(world: World) -> None:
    anonymous = world.client.get(f"/api/events/{world.event}/recordings/")
    assert anonymous.status_code == 200
    listed = {item["uuid"]: item["can_access"] for item in anonymous.json()}
    r = world.recordings
    assert listed == {r["registrants"]: False, r["attendees"]: False, r["public"]: True}
    mine = world.client.get(
        f"/api/events/{world.event}/recordings/", headers=world.token("confirmed")
    ).json()
    assert {item["uuid"]: item["can_access"] for item in mine}[r["registrants"]] is True
    assert ZOOM_URL not in anonymous.text and "zoompw" not in anonymous.text
    assert world.client.get(f"/api/events/{uuid.uuid4()}/recordings/").status_code == 404
    bad_token = {"Authorization": "Bearer not-a-token"}
    listing = world.client.get(f"/api/events/{world.event}/recordings/", headers=bad_token)
    assert listing.status_code == 401
    assert world.client.get("/api/events/not-a-uuid/recordings/").status_code == 404


@pytest.mark.parametrize(
    ("who", "recording", "status"),
    [
        (None, "registrants", 401),
        (None, "public", 200),
        ("stranger", "registrants", 403),
        ("pending", "registrants", 403),
        ("confirmed", "registrants", 200),
        ("confirmed", "attendees", 403),
        ("attended", "attendees", 200),
        ("confirmed", "draft", 403),
        ("confirmed", "processing", 403),
        ("organizer", "draft", 200),
    ],
)
def test_detail_follows_the_access_rules(
    world: World, who: str | None, recording: str, status: int
) -> None:
    headers = world.token(who) if who else {}
    response = world.client.get(f"/api/recordings/{world.recordings[recording]}/", headers=headers)
    assert response.status_code == status, response.text
    if status == 200:
        assert [f["file_type"] for f in response.json()["files"]] == ["video"]
    assert ZOOM_URL not in response.text  # the detail never carries URLs


def test_bad_tokens_and_unknown_ids(world: World) -> None:
    path = f"/api/recordings/{world.recordings['public']}/"
    for headers in (
        {"Authorization": "Bearer not-a-token"},
        world.token("confirmed", exp=int(time.time()) - 5),
        {"Authorization": "Basic dXNlcjpwdw=="},
        {
            "Authorization": "Bearer "
            + jwt.encode({"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60}, JWT_SECRET)
        },
    ):
        response = world.client.get(path, headers=headers)
        assert response.status_code == 401, response.text
        assert "error" in response.json()
    assert world.client.get(f"/api/recordings/{uuid.uuid4()}/").status_code == 404


def test_recordings_of_a_soft_deleted_event_are_not_found(world: World) -> None:
    """Issue 16.7: as the event's list already was, every recording endpoint answers 404."""
    recording = world.recordings["public"]
    assert world.client.get(f"/api/recordings/{recording}/").status_code == 200
    with psycopg.connect(world.database_url) as conn:
        conn.execute("UPDATE events SET deleted_at = now() WHERE uuid = %s", (world.event,))
    organizer = world.token("organizer")
    for method, path, headers, body in (
        ("GET", f"/api/recordings/{recording}/", {}, None),
        ("GET", f"/api/recordings/{recording}/access/", {}, None),
        ("POST", f"/api/recordings/{recording}/progress/", world.token("confirmed"), {}),
        ("PUT", f"/api/recordings/{recording}/", organizer, {"title": "x"}),
        ("POST", f"/api/recordings/{recording}/publish/", organizer, None),
        ("POST", f"/api/recordings/{recording}/unpublish/", organizer, None),
        ("GET", f"/api/events/{world.event}/recordings/", {}, None),
        ("GET", f"/api/organizer/events/{world.event}/recordings/", organizer, None),
    ):
        response = world.client.request(method, path, headers=headers, json=body)
        assert response.status_code == 404, (method, path, response.text)


def test_access_gives_urls_records_a_view_and_checks_the_password(world: World) -> None:
    registrants = world.recordings["registrants"]
    before = world.topic_count(RECORDING_VIEWS)
    refused = world.client.get(f"/api/recordings/{registrants}/access/")
    assert refused.status_code == 401 and ZOOM_URL not in refused.text
    granted = world.client.get(
        f"/api/recordings/{registrants}/access/", headers=world.token("confirmed")
    )
    assert granted.status_code == 200
    body = granted.json()
    assert [f["url"] for f in body["files"]] == [ZOOM_URL]
    assert body["zoom_password"] == "zoompw"
    assert world.topic_count(RECORDING_VIEWS) == before + 1

    organizer = world.token("organizer")
    put = world.client.put(
        f"/api/recordings/{registrants}/", json={"access_password": "s3same"}, headers=organizer
    )
    assert put.status_code == 200 and put.json()["requires_password"] is True
    with psycopg.connect(world.database_url) as conn:
        stored = conn.execute(
            "SELECT access_password, access_password_hash FROM zoom_recordings WHERE uuid = %s",
            (registrants,),
        ).fetchone()
    assert stored is not None and stored[0] == "" and stored[1].startswith("scrypt$")
    assert "s3same" not in stored[1]
    headers = world.token("confirmed")
    no_password = world.client.get(f"/api/recordings/{registrants}/access/", headers=headers)
    assert no_password.status_code == 403 and ZOOM_URL not in no_password.text
    wrong = world.client.get(
        f"/api/recordings/{registrants}/access/",
        headers={**headers, "X-Recording-Password": "guess"},
    )
    assert wrong.status_code == 403
    right = world.client.get(
        f"/api/recordings/{registrants}/access/",
        headers={**headers, "X-Recording-Password": "s3same"},
    )
    assert right.status_code == 200
    # The organizer previews without the password, even unpublished, and that is no view.
    views = world.topic_count(RECORDING_VIEWS)
    for name in ("registrants", "draft"):
        preview = world.client.get(
            f"/api/recordings/{world.recordings[name]}/access/", headers=organizer
        )
        assert preview.status_code == 200
    assert world.topic_count(RECORDING_VIEWS) == views


def test_progress_is_accepted_into_kafka_or_refused_with_reasons(world: World) -> None:
    path = f"/api/recordings/{world.recordings['registrants']}/progress/"
    headers = world.token("confirmed")
    before = world.topic_count(RECORDING_VIEWS)
    accepted = world.client.post(
        path, json={"position_seconds": 30, "watch_seconds": 10, "beacon_id": "b1"}, headers=headers
    )
    assert accepted.status_code == 202 and accepted.json()["status"] == "accepted"
    assert world.topic_count(RECORDING_VIEWS) == before + 1
    invalid = world.client.post(
        path, json={"position_seconds": -1, "watch_seconds": "ten"}, headers=headers
    )
    assert invalid.status_code == 422
    assert {tuple(f["loc"]) for f in invalid.json()["fields"]} == {
        ("position_seconds",),
        ("watch_seconds",),
    }
    extra = world.client.post(
        path, json={"position_seconds": 1, "watch_seconds": 1, "completed": True}, headers=headers
    )
    assert extra.status_code == 422
    not_json = world.client.post(path, content=b"{nope", headers=headers)
    assert not_json.status_code == 400
    public = f"/api/recordings/{world.recordings['public']}/progress/"
    beacon = {"position_seconds": 1, "watch_seconds": 1}
    assert world.client.post(public, json=beacon).status_code == 401
    assert (
        world.client.post(public, json=beacon, headers=world.token("stranger")).status_code == 403
    )
    assert world.client.post(path, json=beacon, headers=world.token("pending")).status_code == 403
    assert world.topic_count(RECORDING_VIEWS) == before + 1  # nothing refused reached Kafka


def test_organizer_list_update_publish_and_unpublish(world: World) -> None:
    organizer = world.token("organizer")
    path = f"/api/organizer/events/{world.event}/recordings/"
    assert world.client.get(path).status_code == 401
    assert world.client.get(path, headers=world.token("confirmed")).status_code == 403
    listed = world.client.get(path, headers=organizer)
    assert listed.status_code == 200
    items = {item["uuid"]: item for item in listed.json()}
    assert set(items) == set(world.recordings.values())  # unpublished and processing included
    draft = items[world.recordings["draft"]]
    assert (draft["view_count"], draft["completions"], draft["completion_rate"]) == (0, 0, 0.0)

    target = world.recordings["draft"]
    forbidden = world.client.put(
        f"/api/recordings/{target}/", json={"title": "Mine"}, headers=world.token("confirmed")
    )
    assert forbidden.status_code == 403
    bad = world.client.put(
        f"/api/recordings/{target}/", json={"access_level": "everyone"}, headers=organizer
    )
    assert bad.status_code == 422 and bad.json()["fields"][0]["loc"] == ["access_level"]
    updated = world.client.put(
        f"/api/recordings/{target}/",
        json={"title": "Ethics, recorded", "access_level": "public"},
        headers=organizer,
    )
    assert updated.status_code == 200
    assert (updated.json()["title"], updated.json()["access_level"]) == (
        "Ethics, recorded",
        "public",
    )

    states = world.topic_count(ZOOM_RECORDINGS)
    assert world.client.post(f"/api/recordings/{target}/publish/").status_code == 401
    assert (
        world.client.post(
            f"/api/recordings/{target}/publish/", headers=world.token("attended")
        ).status_code
        == 403
    )
    published = world.client.post(f"/api/recordings/{target}/publish/", headers=organizer)
    assert published.status_code == 200 and published.json()["is_published"] is True
    again = world.client.post(f"/api/recordings/{target}/publish/", headers=organizer)
    assert again.status_code == 200
    assert world.topic_count(ZOOM_RECORDINGS) == states + 1  # published once, announced once
    assert world.client.get(f"/api/recordings/{target}/").status_code == 200  # public now
    hidden = world.client.post(f"/api/recordings/{target}/unpublish/", headers=organizer)
    assert hidden.status_code == 200 and hidden.json()["is_published"] is False
    assert world.client.get(f"/api/recordings/{target}/").status_code == 403
    state = last_message(world.settings.topic(ZOOM_RECORDINGS))
    assert (state["recording_uuid"], state["is_published"]) == (target, False)


def test_auto_publish_set_by_the_organizer_publishes_an_available_recording_once(
    world: World,
) -> None:
    organizer = world.token("organizer")
    draft, processing = world.recordings["draft"], world.recordings["processing"]
    with psycopg.connect(world.database_url) as conn:
        conn.execute(
            "UPDATE zoom_recordings SET is_published = false WHERE uuid = %s", (processing,)
        )
    states = world.topic_count(ZOOM_RECORDINGS)
    for target in (draft, processing):
        put = world.client.put(
            f"/api/recordings/{target}/", json={"auto_publish": True}, headers=organizer
        )
        assert put.status_code == 200, put.text
    published = {
        item["uuid"]: (item["is_published"], item["auto_publish"])
        for item in world.client.get(
            f"/api/organizer/events/{world.event}/recordings/", headers=organizer
        ).json()
    }
    # available: published now; still processing: when the worker makes it available
    assert published[draft] == (True, True) and published[processing] == (False, True)
    assert world.topic_count(ZOOM_RECORDINGS) == states + 1
    assert last_message(world.settings.topic(ZOOM_RECORDINGS))["recording_uuid"] == draft

    # unpublished by the organizer: auto_publish never publishes it again
    world.client.post(f"/api/recordings/{draft}/unpublish/", headers=organizer)
    for value in (False, True):
        world.client.put(
            f"/api/recordings/{draft}/", json={"auto_publish": value}, headers=organizer
        )
    assert (
        world.client.get(f"/api/recordings/{draft}/", headers=organizer).json()["is_published"]
        is False
    )


def test_access_gives_each_file_its_own_token_while_it_is_valid(world: World) -> None:
    target = world.recordings["public"]
    with psycopg.connect(world.database_url) as conn:
        conn.execute(
            "UPDATE zoom_recordings SET download_token = 'tok-rec',"
            " download_token_expires_at = now() + interval '1 hour' WHERE uuid = %s",
            (target,),
        )
        conn.execute(
            "INSERT INTO zoom_recording_files (recording_id, zoom_file_id, file_type,"
            " recording_type, download_url, source_event_at, download_token,"
            " download_token_expires_at)"
            " SELECT id, 'file-vtt', 'transcript', 'audio_transcript',"
            " 'https://zoom.us/rec/webhook_download/t', now(), 'tok-vtt', now() + interval '1 hour'"
            " FROM zoom_recordings WHERE uuid = %s",
            (target,),
        )
        conn.execute(
            "UPDATE zoom_recording_files SET download_token = 'tok-old',"
            " download_token_expires_at = now() - interval '1 minute' WHERE zoom_file_id = 'file-public'"
        )
    body = world.client.get(f"/api/recordings/{target}/access/").json()
    tokens = {f["file_type"]: f["download_token"] for f in body["files"]}
    assert tokens == {"video": None, "transcript": "tok-vtt"}  # the video's token expired
    assert body["download_token"] == "tok-rec"


REFUSED_SETTINGS = [  # each answered 500 before the fields were held to their columns
    ('{"title": "a\\u0000b"}', "title", "string_nul"),
    ('{"description": "line\\u0000"}', "description", "string_nul"),
    ('{"access_password": "pw\\u0000"}', "access_password", "string_nul"),
    ('{"title": "\\ud800"}', "title", "string_unicode"),
    ('{"description": "\\udfff"}', "description", "string_unicode"),
    ('{"thumbnail_url": "https://x.org/%s"}' % ("a" * 190), "thumbnail_url", "string_too_long"),
    ('{"thumbnail_url": "https://x.org/%s"}' % ("é" * 40), "thumbnail_url", "string_too_long"),
]


def test_settings_that_do_not_fit_their_columns_are_422_naming_the_field(world: World) -> None:
    target = world.recordings["draft"]
    organizer = {**world.token("organizer"), "content-type": "application/json"}
    before = world.client.get(f"/api/organizer/events/{world.event}/recordings/", headers=organizer)
    for body, field, error in REFUSED_SETTINGS:
        refused = world.client.put(f"/api/recordings/{target}/", content=body, headers=organizer)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"] == "invalid body"
        assert [(f["loc"], f["type"]) for f in refused.json()["fields"]] == [([field], error)]
    deep = world.client.put(
        f"/api/recordings/{target}/",
        content=b'{"title": ' + b"[" * 60_000 + b"}",
        headers=organizer,
    )
    assert deep.status_code == 400
    after = world.client.get(f"/api/organizer/events/{world.event}/recordings/", headers=organizer)
    assert after.json() == before.json()  # nothing changed
    fits = world.client.put(
        f"/api/recordings/{target}/",
        json={"title": "t" * 200, "thumbnail_url": "https://x.org/" + "a" * 186},
        headers=organizer,
    )
    assert fits.status_code == 200
    assert (len(fits.json()["title"]), len(fits.json()["thumbnail_url"])) == (200, 200)


def test_an_expired_recording_is_shown_expired_and_serves_no_links(world: World) -> None:
    target = world.recordings["public"]
    with psycopg.connect(world.database_url) as conn:
        conn.execute(
            "UPDATE zoom_recordings SET zoom_expires_at = '2026-11-01T00:00:00Z' WHERE uuid = %s",
            (target,),
        )
    listed = {
        item["uuid"]: item
        for item in world.client.get(f"/api/events/{world.event}/recordings/").json()
    }
    assert (listed[target]["status"], listed[target]["can_access"]) == ("expired", False)
    assert listed[target]["expires_at"] == "2026-11-01T00:00:00Z"
    detail = world.client.get(f"/api/recordings/{target}/", headers=world.token("organizer"))
    assert detail.status_code == 200 and detail.json()["status"] == "expired"
    organizer = {
        item["uuid"]: item["status"]
        for item in world.client.get(
            f"/api/organizer/events/{world.event}/recordings/", headers=world.token("organizer")
        ).json()
    }
    assert organizer[target] == "expired"
    for headers in ({}, world.token("organizer")):
        gone = world.client.get(f"/api/recordings/{target}/access/", headers=headers)
        assert gone.status_code == 410 and "2026-11-01" in gone.text, gone.text
        assert ZOOM_URL not in gone.text
    spec = world.client.get("/openapi.json").json()
    assert "expired" in json.dumps(spec["components"]["schemas"]["RecordingSummary"])


def test_openapi_lists_every_path(world: World) -> None:
    document = world.client.get("/openapi.json").json()
    assert set(document["paths"]) >= {
        "/api/events/{uuid}/recordings/",
        "/api/recordings/{uuid}/",
        "/api/recordings/{uuid}/access/",
        "/api/recordings/{uuid}/progress/",
        "/api/recordings/{uuid}/publish/",
        "/api/recordings/{uuid}/unpublish/",
        "/api/organizer/events/{uuid}/recordings/",
    }
    assert set(document["paths"]["/api/recordings/{uuid}/"]) == {"get", "put"}


def last_message(topic: str) -> dict[str, Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"probe-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[tuple[int, dict[str, Any]]] = []

    def drained() -> bool:
        """Read one message; whether the topic has gone quiet after some."""
        message = consumer.poll(1.0)
        if message is None:
            return bool(found)
        raw = message.value()
        if message.error() is None and raw is not None:
            value = json.loads(raw)
            found.append((value["version"], value))
        return False

    poll(
        drained,
        what=f"the messages on {topic}",
        timeout=15,
        interval=0,  # the consumer's poll waits
        raise_on_timeout=False,
    )
    consumer.close()
    assert found
    return max(found, key=lambda pair: pair[0])[1]


# Links that work (issue 17): a download link whose token ran out is refreshed through Zoom's API
# (a fake Zoom: a real HTTP server), or else left out with the reason; never served broken.

EXPIRED_LINK = "https://zoom.us/rec/webhook_download/expired"
API_FILES = [
    {
        "id": "file-vtt",
        "file_type": "TRANSCRIPT",
        "download_url": "https://example.zoom.us/rec/download/vtt",
        "status": "completed",
        "recording_type": "audio_transcript",
    },
    {
        "id": "file-registrants",
        "file_type": "MP4",
        "download_url": "https://example.zoom.us/rec/download/mp4",
        "status": "completed",
        "recording_type": "shared_screen_with_speaker_view",
    },
]
LINK_TTL = 3600


def add_expired_transcript(world: World, recording: str) -> None:
    """A transcript whose link is the webhook's download URL, with the webhook's token gone."""
    with psycopg.connect(world.database_url) as conn:
        conn.execute(
            "INSERT INTO zoom_recording_files (recording_id, zoom_file_id, file_type,"
            " recording_type, download_url, source_event_at, download_token,"
            " download_token_expires_at)"
            " SELECT id, 'file-vtt', 'transcript', 'audio_transcript', %s, now(), 'tok-gone',"
            " now() - interval '1 minute' FROM zoom_recordings WHERE uuid = %s",
            (EXPIRED_LINK, recording),
        )


def only_download_links(world: World, recording: str) -> None:
    """The recording's video without a player URL: its only link is the expired download URL."""
    with psycopg.connect(world.database_url) as conn:
        conn.execute(
            "UPDATE zoom_recording_files f SET play_url = '', download_url = %s"
            " FROM zoom_recordings r WHERE r.id = f.recording_id AND r.uuid = %s",
            (EXPIRED_LINK, recording),
        )


@dataclass
class Linked:
    world: World
    zoom: FakeZoom


@pytest.fixture
def linked(database_url: str, topic_prefix: str) -> Iterator[Linked]:
    with running_fake_zoom() as zoom:
        for name in ("public", "registrants"):
            zoom.add_recording(f"occ-{name}", recording_files=API_FILES)
        with open_world(
            database_url,
            topic_prefix,
            **zoom.client_settings(),
            zoom_api_attempts=2,
            zoom_api_backoff_seconds=0.01,
            zoom_api_max_retry_after_seconds=1.0,
            zoom_api_read_timeout_seconds=5.0,
            zoom_link_token_ttl_seconds=LINK_TTL,
            zoom_link_wait_seconds=1.0,
        ) as world:
            yield Linked(world, zoom)


def test_an_expired_link_is_left_out_with_its_reason_when_zoom_api_is_off(world: World) -> None:
    public = world.recordings["public"]
    add_expired_transcript(world, public)
    before = world.topic_count(RECORDING_VIEWS)
    response = world.client.get(f"/api/recordings/{public}/access/")
    assert response.status_code == 200
    body = response.json()
    assert [f["url"] for f in body["files"]] == [ZOOM_URL]  # the player needs no token
    [left_out] = body["unavailable"]
    assert left_out["file_type"] == "transcript" and "ZOOM_CLIENT_ID" in left_out["reason"]
    assert EXPIRED_LINK not in response.text and "tok-gone" not in response.text
    assert world.topic_count(RECORDING_VIEWS) == before + 1


def test_an_expired_link_is_refreshed_through_zoom_once_for_many_viewers(linked: Linked) -> None:
    world, zoom = linked.world, linked.zoom
    public = world.recordings["public"]
    add_expired_transcript(world, public)
    started = time.time()
    answers = [world.client.get(f"/api/recordings/{public}/access/") for _ in range(5)]
    assert {answer.status_code for answer in answers} == {200}
    for answer in answers:
        body = answer.json()
        links = {f["file_type"]: f for f in body["files"]}
        assert links["video"]["url"] == ZOOM_URL and links["video"]["download_token"] is None
        transcript = links["transcript"]
        assert transcript["url"] == "https://example.zoom.us/rec/download/vtt"
        assert transcript["download_token"].startswith("dl-token-")
        expires = datetime.fromisoformat(transcript["download_token_expires_at"]).timestamp()
        assert started + LINK_TTL - 5 <= expires <= time.time() + LINK_TTL
        assert body["unavailable"] == [] and EXPIRED_LINK not in answer.text
    assert zoom.calls(RECORDINGS) == 1 and zoom.calls(TOKEN) == 1  # one call for five viewers

    registrants = world.recordings["registrants"]
    only_download_links(world, registrants)
    body = world.client.get(
        f"/api/recordings/{registrants}/access/", headers=world.token("confirmed")
    ).json()
    assert [f["url"] for f in body["files"]] == ["https://example.zoom.us/rec/download/mp4"]
    assert zoom.calls(RECORDINGS) == 2 and zoom.calls(TOKEN) == 1  # the OAuth token is reused


def test_a_file_zoom_no_longer_lists_is_left_out_with_its_reason(linked: Linked) -> None:
    world, zoom = linked.world, linked.zoom
    registrants = world.recordings["registrants"]
    only_download_links(world, registrants)
    zoom.add_recording("occ-registrants", recording_files=API_FILES[:1])
    body = world.client.get(
        f"/api/recordings/{registrants}/access/", headers=world.token("confirmed")
    ).json()
    assert body["files"] == []
    assert [f["reason"] for f in body["unavailable"]] == ["Zoom no longer lists this file"]


ZOOM_FAILURES = {  # (what Zoom does, Retry-After of our 503 when no link is left)
    "rate limited": ((RECORDINGS, Fault(429, {"Retry-After": "7"}), 1), "7"),
    "5xx": ((RECORDINGS, Fault(503), 2), "10"),
    "slow": ((RECORDINGS, Fault(delay_seconds=3.0), 1), "1"),
    "bad JSON": ((RECORDINGS, Fault(bad_json=True), 1), "10"),
    "credentials refused": ((TOKEN, Fault(401), 1), "10"),
}


@pytest.mark.parametrize("failure", list(ZOOM_FAILURES))
def test_a_failing_zoom_leaves_the_links_that_work_or_answers_503(
    linked: Linked, failure: str
) -> None:
    world, zoom = linked.world, linked.zoom
    (endpoint, fault, times), retry_after = ZOOM_FAILURES[failure]
    registrants = world.recordings["registrants"]
    only_download_links(world, registrants)
    headers = world.token("confirmed")
    views = world.topic_count(RECORDING_VIEWS)
    zoom.fail_next(endpoint, fault, times)

    refused = world.client.get(f"/api/recordings/{registrants}/access/", headers=headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == retry_after
    assert refused.json()["error"].startswith("no link to serve now: Zoom")
    assert EXPIRED_LINK not in refused.text
    assert world.topic_count(RECORDING_VIEWS) == views  # nothing served, no view

    public = world.recordings["public"]
    add_expired_transcript(world, public)
    zoom.fail_next(endpoint, fault, times)
    partial = world.client.get(f"/api/recordings/{public}/access/")
    assert partial.status_code == 200
    body = partial.json()
    assert [f["url"] for f in body["files"]] == [ZOOM_URL]
    [left_out] = body["unavailable"]
    assert left_out["reason"].startswith("Zoom") and EXPIRED_LINK not in partial.text


def test_a_recording_deleted_at_zoom_meanwhile_is_gone(linked: Linked) -> None:
    world, zoom = linked.world, linked.zoom
    registrants = world.recordings["registrants"]
    only_download_links(world, registrants)
    with zoom.state.lock:
        del zoom.state.recordings["occ-registrants"]
    gone = world.client.get(
        f"/api/recordings/{registrants}/access/", headers=world.token("confirmed")
    )
    assert gone.status_code == 410
    assert gone.json()["error"] == "no link to serve: Zoom no longer has this recording"


def test_each_attempt_of_an_access_refresh_is_in_the_call_log(linked: Linked) -> None:
    """Issue 17.4 through the app: the API process's client writes every attempt, failed ones
    too, to external_api_calls within a second or so, with the meeting it was about."""
    world, zoom = linked.world, linked.zoom
    registrants = world.recordings["registrants"]
    only_download_links(world, registrants)
    zoom.fail_next(RECORDINGS, Fault(503), 1)
    answer = world.client.get(
        f"/api/recordings/{registrants}/access/", headers=world.token("confirmed")
    )
    assert answer.status_code == 200, answer.text  # the second attempt answered

    def logged() -> list[tuple[Any, ...]]:
        with psycopg.connect(world.database_url) as conn:
            return conn.execute(
                "SELECT operation, attempt, status_code, meeting_uuid, recording_id"
                " FROM external_api_calls"
                " ORDER BY id"
            ).fetchall()

    assert poll(logged, until=lambda rows: len(rows) == 3, what="3 call rows", timeout=10) == [
        ("oauth_token", 1, 200, None, None),
        ("get_meeting_recordings", 1, 503, "occ-registrants", "occ-registrants"),
        ("get_meeting_recordings", 2, 200, "occ-registrants", "occ-registrants"),
    ]
