-- Email events are deduplicated by what the event is, not by the provider's id of one delivery of
-- it (issue 18): SendGrid's sg_event_id and Mailgun's signature token change when the provider
-- retries, so each retry was stored again and opens and clicks were counted again.
-- content_key is schemas.email_event.EmailEvent.content_key, computed here from the stored
-- columns by the same rule (sha256 hex of provider, kind, provider_message_id, message_id,
-- recipient, occurred_at in UTC with microseconds, the url of a click and the reason of a
-- bounce, drop, failure or deferral, joined by U+001F; tests/integration/test_email_dedup.py holds
-- the two to the same digest). Duplicates already stored are merged into the earliest (its link
-- to an email kept, else a duplicate's), and the counters of the emails they touched recounted
-- (delivery_fields counts one event per key; the times and the status do not change, since
-- duplicates share the kind, time and reason). event_id stays, for tracing; the row's uuid now
-- derives from the content key. Running it again finds every row keyed and nothing to merge.
-- depends: 0014_email_retries

ALTER TABLE email_events ADD COLUMN IF NOT EXISTS content_key char(64);

UPDATE email_events SET content_key = encode(sha256(convert_to(concat_ws(E'\x1f',
    provider, kind, provider_message_id, COALESCE(message_id, ''), COALESCE(recipient, ''),
    to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
    CASE WHEN kind = 'clicked' THEN COALESCE(url, '') ELSE '' END,
    CASE WHEN kind IN ('bounced', 'dropped', 'failed', 'deferred') THEN reason ELSE '' END
), 'UTF8')), 'hex')
WHERE content_key IS NULL;

CREATE TEMPORARY TABLE email_event_merge ON COMMIT DROP AS
SELECT id, content_key, email_log_id,
       first_value(id) OVER (PARTITION BY content_key ORDER BY created_at, id) AS keeper
  FROM email_events;

-- The keeper keeps its email; one that matched none takes a duplicate's.
UPDATE email_events e SET email_log_id = m.email_log_id, updated_at = now()
  FROM (SELECT keeper, min(email_log_id) AS email_log_id FROM email_event_merge
         WHERE id <> keeper AND email_log_id IS NOT NULL GROUP BY keeper) m
 WHERE e.id = m.keeper AND e.email_log_id IS NULL;

CREATE TEMPORARY TABLE email_event_recount ON COMMIT DROP AS
SELECT DISTINCT email_log_id FROM email_event_merge
 WHERE id <> keeper AND email_log_id IS NOT NULL;

DELETE FROM email_events e USING email_event_merge m WHERE e.id = m.id AND m.id <> m.keeper;

UPDATE email_logs l SET
    open_count = (SELECT count(*) FROM email_events e WHERE e.email_log_id = l.id AND e.kind = 'opened'),
    click_count = (SELECT count(*) FROM email_events e WHERE e.email_log_id = l.id AND e.kind = 'clicked'),
    updated_at = now()
  FROM email_event_recount r WHERE l.id = r.email_log_id;

ALTER TABLE email_events ALTER COLUMN content_key SET NOT NULL;
ALTER TABLE email_events DROP CONSTRAINT IF EXISTS email_events_provider_event_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS email_events_content_key_idx ON email_events (content_key);
CREATE INDEX IF NOT EXISTS email_events_provider_event_idx ON email_events (provider, event_id);
ALTER TABLE email_events DROP COLUMN IF EXISTS uuid;
ALTER TABLE email_events ADD COLUMN uuid uuid NOT NULL UNIQUE
    GENERATED ALWAYS AS (zoomstream_key_uuid('email-event', content_key)) STORED;
