-- One row per distinct accepted Zoom delivery (spec: ZoomWebhookLog).
-- webhook_id is the hex SHA-256 of the raw body: an exact redelivery has the same id, and the
-- unique constraint makes concurrent or replayed inserts of it a no-op (spec defects 2 and 3).
-- event_id names the matched platform event; it carries no foreign key because the platform's
-- tables are not this pipeline's to constrain (they are created by a separate, optional set).
-- depends:

CREATE TABLE zoom_webhook_logs (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    webhook_id varchar(100) NOT NULL UNIQUE,
    event_type varchar(50) NOT NULL DEFAULT 'other',
    event_timestamp timestamptz NOT NULL,
    zoom_meeting_id varchar(20) NOT NULL DEFAULT '',
    zoom_meeting_uuid varchar(100) NOT NULL DEFAULT '',
    event_id bigint,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    processing_status varchar(20) NOT NULL DEFAULT 'pending'
        CHECK (processing_status IN ('pending', 'processing', 'completed', 'failed', 'skipped')),
    processed_at timestamptz,
    processing_attempts integer NOT NULL DEFAULT 0 CHECK (processing_attempts >= 0),
    last_attempt_at timestamptz,
    error_message text NOT NULL DEFAULT '',
    error_traceback text NOT NULL DEFAULT '',
    attendance_records_created integer NOT NULL DEFAULT 0 CHECK (attendance_records_created >= 0),
    received_at timestamptz NOT NULL
);

CREATE INDEX zoom_webhook_logs_type_ts_idx ON zoom_webhook_logs (event_type, event_timestamp DESC);
CREATE INDEX zoom_webhook_logs_meeting_idx ON zoom_webhook_logs (zoom_meeting_id);
CREATE INDEX zoom_webhook_logs_status_created_idx ON zoom_webhook_logs (processing_status, created_at DESC);
CREATE INDEX zoom_webhook_logs_event_ts_idx ON zoom_webhook_logs (event_id, event_timestamp DESC);
CREATE INDEX zoom_webhook_logs_created_idx ON zoom_webhook_logs (created_at DESC);
