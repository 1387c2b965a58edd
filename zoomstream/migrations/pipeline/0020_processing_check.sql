-- Files still processing when no later webhook completed them (issue 17.3): the worker's leader
-- asks Zoom's API about a few recordings per run. zoom_checked_at is when it last asked, so a
-- recording is asked about at most once an hour; the partial index holds only the files still
-- processing, so a run reads those few, however many recordings there are.
-- depends: 0018_recording_expiry

ALTER TABLE zoom_recordings ADD COLUMN zoom_checked_at timestamptz;
CREATE INDEX zoom_recording_files_processing_idx ON zoom_recording_files (source_event_at)
    WHERE processing_status = 'processing';
