-- Email: the spec's email_logs, and every provider event as a fact (docs/design.md, "Email").
-- depends: 0003_attendance

CREATE TABLE email_logs (
    id bigserial PRIMARY KEY,
    -- The send request's id: a request delivered or replayed twice is one row.
    uuid uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    recipient_email varchar(254) NOT NULL CHECK (recipient_email = lower(recipient_email)),
    recipient_name varchar(255) NOT NULL DEFAULT '',
    recipient_user_id bigint,
    email_type varchar(50) NOT NULL,
    subject varchar(500) NOT NULL,
    body_html text NOT NULL DEFAULT '',
    body_text text NOT NULL DEFAULT '',
    event_id bigint,
    registration_id bigint,
    certificate_id bigint,
    invitation_id bigint,
    sent_by_id bigint,
    from_email varchar(254) NOT NULL,
    from_name varchar(255) NOT NULL DEFAULT '',
    reply_to varchar(254) NOT NULL DEFAULT '',
    delivery_status varchar(20) NOT NULL DEFAULT 'pending' CHECK (delivery_status IN (
        'pending', 'sent', 'delivered', 'opened', 'clicked', 'bounced', 'failed', 'spam', 'unsubscribed')),
    sent_at timestamptz,
    delivered_at timestamptz,
    opened_at timestamptz,
    clicked_at timestamptz,
    bounced_at timestamptz,
    failed_at timestamptz,
    open_count integer NOT NULL DEFAULT 0 CHECK (open_count >= 0),
    click_count integer NOT NULL DEFAULT 0 CHECK (click_count >= 0),
    provider varchar(50) NOT NULL DEFAULT '',
    provider_message_id varchar(200) NOT NULL DEFAULT '',
    error_message text NOT NULL DEFAULT '',
    error_code varchar(50) NOT NULL DEFAULT '',
    bounce_type varchar(50) NOT NULL DEFAULT '',
    send_attempts integer NOT NULL DEFAULT 0 CHECK (send_attempts >= 0),
    last_attempt_at timestamptz,
    -- Added: the request's time (the duplicate window's clock), the sender's own state and
    -- error (delivery_status also follows provider events), and the Message-ID we set.
    requested_at timestamptz NOT NULL,
    send_state varchar(10) NOT NULL DEFAULT 'pending' CHECK (send_state IN ('pending', 'sent', 'failed')),
    send_error text NOT NULL DEFAULT '',
    message_id varchar(300) NOT NULL UNIQUE
);
CREATE INDEX email_logs_recipient_idx ON email_logs (recipient_email, created_at DESC);
CREATE INDEX email_logs_type_idx ON email_logs (email_type, created_at DESC);
CREATE INDEX email_logs_status_idx ON email_logs (delivery_status, created_at DESC);
CREATE INDEX email_logs_event_idx ON email_logs (event_id, created_at DESC);
CREATE INDEX email_logs_provider_message_idx ON email_logs (provider_message_id) WHERE provider_message_id <> '';
CREATE INDEX email_logs_created_idx ON email_logs (created_at);
CREATE INDEX email_logs_duplicate_idx ON email_logs (recipient_email, email_type, requested_at);

-- What each provider event said; the same event delivered again is one row (the provider's
-- event id is the key). email_log_id is set once the event's email is known, which can be
-- after the event arrives.
CREATE TABLE email_events (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    provider varchar(20) NOT NULL,
    event_id varchar(200) NOT NULL,
    kind varchar(20) NOT NULL,
    bounce_type varchar(4) CHECK (bounce_type IN ('hard', 'soft')),
    provider_message_id varchar(200) NOT NULL DEFAULT '',
    message_id varchar(300),
    recipient varchar(254),
    occurred_at timestamptz NOT NULL,
    url text,
    reason text NOT NULL DEFAULT '',
    email_log_id bigint REFERENCES email_logs(id) ON DELETE SET NULL,
    UNIQUE (provider, event_id)
);
CREATE INDEX email_events_log_idx ON email_events (email_log_id);
CREATE INDEX email_events_unmatched_pmid_idx ON email_events (provider_message_id) WHERE email_log_id IS NULL;
CREATE INDEX email_events_unmatched_mid_idx ON email_events (message_id) WHERE email_log_id IS NULL;
CREATE INDEX email_events_created_idx ON email_events (created_at);
