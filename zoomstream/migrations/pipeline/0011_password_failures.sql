-- Failed recording-password attempts, counted per recording and per caller in fixed windows
-- (issue 15): after a few failures the API answers 429 without computing a hash. In PostgreSQL
-- so that every API process sees the same counts; one row per counter, its window starting at
-- `created_at` (a failure after the window starts it again). Retention deletes old windows.
-- depends: 0010_parked_column

CREATE TABLE recording_password_failures (
    id bigserial PRIMARY KEY,
    scope varchar(10) NOT NULL CHECK (scope IN ('recording', 'caller')),
    key varchar(200) NOT NULL,
    created_at timestamptz NOT NULL,
    failures integer NOT NULL CHECK (failures >= 0),
    UNIQUE (scope, key)
);
CREATE INDEX recording_password_failures_created_idx ON recording_password_failures (created_at);
