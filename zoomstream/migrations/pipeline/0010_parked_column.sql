-- A webhook parked until its recording arrives (a transcript, trash, delete or recover before
-- `recording.completed`, defect 13) is marked by a column, no longer found by the prefix of its
-- error text. It stays `pending` (the spec's statuses) and is completed when the recording lands.
-- depends: 0009_match_event_probe

ALTER TABLE zoom_webhook_logs ADD COLUMN parked boolean NOT NULL DEFAULT false;

UPDATE zoom_webhook_logs SET parked = true
 WHERE processing_status = 'pending' AND error_message LIKE 'parked: waiting for recording%';

-- The lookup when a recording lands: its occurrence's parked webhooks, a few rows at most.
CREATE INDEX zoom_webhook_logs_parked_idx ON zoom_webhook_logs (zoom_meeting_uuid) WHERE parked;
