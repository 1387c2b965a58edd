-- Each file keeps the download token of the webhook that brought it (issue 16.5): the files of
-- recording.transcript_completed come with a token of their own, which their download URLs
-- need, and which the recording's row (the recording.completed token) does not hold. Files
-- already there take their recording's token; a transcript's own token was not kept before,
-- and those tokens (24 hours) have expired anyway.
-- depends: 0012_common_columns

ALTER TABLE zoom_recording_files
    ADD COLUMN download_token text NOT NULL DEFAULT '',
    ADD COLUMN download_token_expires_at timestamptz;

UPDATE zoom_recording_files f
   SET download_token = r.download_token, download_token_expires_at = r.download_token_expires_at
  FROM zoom_recordings r
 WHERE r.id = f.recording_id AND r.download_token <> '';
