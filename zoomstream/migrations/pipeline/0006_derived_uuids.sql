-- Derived rows get uuids derived from their natural keys, so that a rebuild (wipe and replay)
-- gives back the same uuids, and API paths and links keep working (docs/design.md, "Replay").
-- Rows that exist already keep theirs.
-- depends: 0005_recording_views

CREATE FUNCTION zoomstream_key_uuid(kind text, natural_key text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$ SELECT md5(kind || ':' || natural_key)::uuid $$;

-- One statement per table: PL/pgSQL compiles each branch only when it runs, so NEW may name
-- only the columns of the table at hand.
CREATE FUNCTION zoomstream_set_key_uuid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'zoom_webhook_logs' THEN
        NEW.uuid := zoomstream_key_uuid('webhook', NEW.webhook_id);
    ELSIF TG_TABLE_NAME = 'zoom_recordings' THEN
        NEW.uuid := zoomstream_key_uuid('recording', NEW.zoom_recording_id);
    ELSIF TG_TABLE_NAME = 'zoom_recording_files' THEN
        NEW.uuid := zoomstream_key_uuid('recording-file',
            (SELECT zoom_recording_id FROM zoom_recordings WHERE id = NEW.recording_id)
            || '/' || NEW.zoom_file_id);
    ELSIF TG_TABLE_NAME = 'zoom_meetings' THEN
        NEW.uuid := zoomstream_key_uuid('meeting', NEW.zoom_meeting_uuid);
    ELSIF TG_TABLE_NAME = 'attendance_sessions' THEN
        NEW.uuid := zoomstream_key_uuid('session',
            NEW.zoom_meeting_uuid || '/' || NEW.session_id || '/' || NEW.join_time::text);
    ELSIF TG_TABLE_NAME = 'attendance_summaries' THEN
        NEW.uuid := zoomstream_key_uuid('summary', NEW.zoom_meeting_uuid || '/' || NEW.person_key);
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER zoom_webhook_logs_key_uuid BEFORE INSERT ON zoom_webhook_logs
    FOR EACH ROW EXECUTE FUNCTION zoomstream_set_key_uuid();
CREATE TRIGGER zoom_recordings_key_uuid BEFORE INSERT ON zoom_recordings
    FOR EACH ROW EXECUTE FUNCTION zoomstream_set_key_uuid();
CREATE TRIGGER zoom_recording_files_key_uuid BEFORE INSERT ON zoom_recording_files
    FOR EACH ROW EXECUTE FUNCTION zoomstream_set_key_uuid();
CREATE TRIGGER zoom_meetings_key_uuid BEFORE INSERT ON zoom_meetings
    FOR EACH ROW EXECUTE FUNCTION zoomstream_set_key_uuid();
CREATE TRIGGER attendance_sessions_key_uuid BEFORE INSERT ON attendance_sessions
    FOR EACH ROW EXECUTE FUNCTION zoomstream_set_key_uuid();
CREATE TRIGGER attendance_summaries_key_uuid BEFORE INSERT ON attendance_summaries
    FOR EACH ROW EXECUTE FUNCTION zoomstream_set_key_uuid();
