-- Views for dashboards (docs/operations.md, "Dashboards"). Plain views: always current, and
-- cheap at the volumes they aggregate (one row per webhook, per registration, per viewer).
-- depends: 0006_derived_uuids

CREATE VIEW analytics_webhook_volume_hourly AS
SELECT date_trunc('hour', received_at) AS hour, event_type, processing_status, count(*) AS webhooks
  FROM zoom_webhook_logs
 GROUP BY 1, 2, 3;

CREATE INDEX zoom_webhook_logs_received_idx ON zoom_webhook_logs (received_at);

-- Per event: confirmed registrations, how many attended (the flag), and what the summaries say.
CREATE VIEW analytics_attendance_rate AS
SELECT e.id AS event_id, e.uuid AS event_uuid, e.title,
       count(r.id) FILTER (WHERE r.status = 'confirmed') AS registrations,
       count(r.id) FILTER (WHERE r.status = 'confirmed' AND r.attended) AS attended,
       COALESCE(round(100.0 * count(r.id) FILTER (WHERE r.status = 'confirmed' AND r.attended)
             / NULLIF(count(r.id) FILTER (WHERE r.status = 'confirmed'), 0), 1), 0) AS attendance_rate_percent,
       (SELECT count(*) FROM attendance_summaries s WHERE s.event_id = e.id) AS participants,
       (SELECT COALESCE(round(avg(s.total_seconds) / 60.0, 1), 0)
          FROM attendance_summaries s WHERE s.event_id = e.id) AS average_minutes
  FROM events e LEFT JOIN registrations r ON r.event_id = e.id
 WHERE e.deleted_at IS NULL
 GROUP BY e.id, e.uuid, e.title;

CREATE VIEW analytics_recording_engagement AS
SELECT z.id AS recording_id, z.uuid AS recording_uuid, z.event_id,
       COALESCE(NULLIF(z.title, ''), e.title) AS title, z.status, z.is_published,
       z.view_count, z.unique_viewers,
       count(v.id) FILTER (WHERE v.completed) AS completions,
       COALESCE(round(100.0 * count(v.id) FILTER (WHERE v.completed) / NULLIF(z.unique_viewers, 0), 1), 0)
           AS completion_rate_percent,
       COALESCE(round(avg(v.watch_seconds_exact)::numeric, 1), 0) AS average_watch_seconds
  FROM zoom_recordings z
  JOIN events e ON e.id = z.event_id
  LEFT JOIN recording_views v ON v.recording_id = z.id
 GROUP BY z.id, e.title;

CREATE VIEW analytics_email_delivery_daily AS
SELECT date_trunc('day', created_at) AS day, email_type, delivery_status, count(*) AS emails
  FROM email_logs
 GROUP BY 1, 2, 3;
