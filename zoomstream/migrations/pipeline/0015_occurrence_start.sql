-- An occurrence starts at its started webhook's start_time (issue 16.1). Before, its start was
-- the earliest start_time of any of its webhooks, participant events included; for a recurring
-- meeting these can carry the series' start, weeks before, which made a one-hour occurrence
-- weeks long and nobody attended. Occurrences whose webhooks are still logged get the start
-- their started webhook gives (none: their earliest join counts, as for new ones) and are
-- settled again by the worker (settle_due), which recomputes their people's thresholds. Those
-- whose webhooks are past the log's retention keep the start they have.
-- depends: 0012_common_columns

WITH logged AS (
    SELECT zoom_meeting_uuid,
           min(CASE WHEN payload #>> '{payload,object,start_time}'
                         ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
                    THEN (payload #>> '{payload,object,start_time}')::timestamptz END)
               FILTER (WHERE event_type IN ('meeting.started', 'webinar.started')
                         AND processing_status = 'completed') AS started
      FROM zoom_webhook_logs
     WHERE zoom_meeting_uuid <> ''
       AND (event_type LIKE 'meeting.%' OR event_type LIKE 'webinar.%')
     GROUP BY zoom_meeting_uuid
)
UPDATE zoom_meetings m
   SET start_time = logged.started, settle_due = true, updated_at = now()
  FROM logged
 WHERE logged.zoom_meeting_uuid = m.zoom_meeting_uuid
   AND m.start_time IS DISTINCT FROM logged.started;
