-- Failed sends are retried later, not waited for in the send agent (issue 16.12): an email's
-- next attempt is due at next_attempt_at, which the worker group's leader sweeps for (every
-- second) and publishes to email.send-retry (docs/design.md, "Email"). It is set after a
-- transient failure (the backoff) and while an attempt is under way (the stuck bound: a crash
-- mid-attempt is picked up then), and cleared once the sender is done with the email. The
-- index holds only emails the sender still owes an attempt, so the sweep reads the few due.
-- depends: 0013_stable_recording_keys

ALTER TABLE email_logs ADD COLUMN next_attempt_at timestamptz;
CREATE INDEX email_logs_next_attempt_idx ON email_logs (next_attempt_at)
    WHERE send_state = 'pending' AND next_attempt_at IS NOT NULL;

-- An email the previous sender left mid-way (a crash inside its attempt loop: pending, with
-- attempts made) has no due time; it is due now, and the sweep takes it from there.
UPDATE email_logs SET next_attempt_at = now()
    WHERE send_state = 'pending' AND send_attempts > 0 AND next_attempt_at IS NULL;
