"""Known problems: what they say (the setting at fault, never its value or a secret), their exit
status, and a bug left as a bug."""

import pytest
from confluent_kafka import KafkaError, KafkaException
from pydantic import ValidationError

from schemas.settings import Settings
from zoomstream import cli, problems
from zoomstream.problems import ExitStatus, Problem, classify, scrub
from zoomstream.topics import TopicMismatch


def settings_error(**values: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **values)  # type: ignore[arg-type]
    return caught.value


def test_a_malformed_setting_names_its_variable_not_its_value() -> None:
    problem = classify(settings_error(smtp_port="not-a-port-secret"))
    assert problem is not None
    assert problem.status is ExitStatus.SETTINGS
    assert str(problem).startswith("invalid setting: SMTP_PORT: Input should be a valid integer")
    assert "not-a-port-secret" not in str(problem)


def test_a_whole_object_check_says_why_without_the_values() -> None:
    problem = classify(settings_error(zoom_client_id="c", zoom_client_secret="client-secret-1"))
    assert problem is not None
    assert "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET go together" in str(problem)
    assert "client-secret-1" not in str(problem)
    assert "Value error" not in str(problem)


def test_library_errors_that_are_known_problems() -> None:
    mismatch = classify(TopicMismatch("topic t has 4 partitions, KAFKA_PARTITIONS is 8"))
    assert mismatch is not None and mismatch.status is ExitStatus.TOPICS
    down = classify(KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure")))
    assert down is not None and down.status is ExitStatus.KAFKA
    refused = KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "not allowed"))
    assert classify(refused) is None, "a request Kafka refused is not an outage"


def test_anything_else_is_a_bug() -> None:
    assert classify(ValueError("a bug")) is None
    assert classify(KeyError("x")) is None


def test_a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "app", broken)
    with pytest.raises(ZeroDivisionError):
        cli.main()


def test_a_known_problem_exits_with_its_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable() -> None:
        raise problems.kafka_unreachable("127.0.0.1:1", "Local: Broker transport failure")

    monkeypatch.setattr(cli, "app", unreachable)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == ExitStatus.KAFKA
    assert capsys.readouterr().err == (
        "zoomstream: cannot reach Kafka at 127.0.0.1:1 (Local: Broker transport failure) — start"
        " it with `zoomstream stack up` or set KAFKA_BOOTSTRAP_SERVERS\n"
    )


def test_scrub_blanks_url_passwords_and_every_secret_of_the_settings() -> None:
    settings = Settings(
        _env_file=None,
        zoom_webhook_secret="zoom-secret-1",
        smtp_password="smtp-secret-2",
        database_url="postgresql://app:db-secret-3@db:5432/zs",
    )
    text = "zoom-secret-1 smtp-secret-2 db-secret-3 redis://u:other-pw@h/0"
    assert scrub(text, settings) == "*** *** *** redis://u:***@h/0"
    assert scrub("postgresql://app:pw@db/zs") == "postgresql://app:***@db/zs"


def test_a_short_secret_is_not_scrubbed_out_of_every_word() -> None:
    settings = Settings(_env_file=None, zoom_webhook_secret="x")
    assert scrub("0018_recording_expiry", settings) == "0018_recording_expiry"


def test_where_a_database_is_says_no_user_or_password() -> None:
    assert problems.database_location("postgresql://app:pw@db.internal:6543/zs") == (
        "db.internal:6543/zs"
    )
    assert problems.database_location("postgresql:///zs") == "localhost:5432/zs"


def test_every_status_is_distinct() -> None:
    assert len({status.value for status in ExitStatus}) == len(ExitStatus)
    assert Problem(ExitStatus.SMTP, "what", "todo").status == 6
