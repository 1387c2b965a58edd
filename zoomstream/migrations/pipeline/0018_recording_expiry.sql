-- Recordings expire on Zoom's auto-delete date (issue 17.1): zoom_recordings.zoom_expires_at,
-- there since 0002 but never written before, now holds the start (UTC) of the webhook's
-- auto_delete_date. The worker's leader marks due ones expired every minute: this index holds
-- only the recordings that can still expire, so that pass reads the few that are due.
-- depends: 0012_common_columns

CREATE INDEX zoom_recordings_expiring_idx ON zoom_recordings (zoom_expires_at)
    WHERE zoom_expires_at IS NOT NULL AND status NOT IN ('expired', 'trashed', 'deleted');
