-- The trace of every message, for the operators' console: each status event (dlr, from sms.status) and the
-- routing decision of each attempt (dlr, with the attempt's record). No body and no recipient: a message is
-- found by its id or client reference here, by its recipient's keyed hash in `attempts`.
-- `kind` is `status` or `routing`; `detail` is JSON (the receipt state, error and callback of a status; the
-- candidates and scores of a decision). A redelivered record writes the same key, and ReplacingMergeTree
-- keeps one (read with DISTINCT or LIMIT 1 BY before a merge). Works on ClickHouse 18.16.
CREATE TABLE IF NOT EXISTS message_events (
  message_id String,
  tenant_id String,
  client_reference String,
  kind String,
  status String,
  attempt UInt16,
  channel_id String,
  reason_code String,
  detail String,
  at DateTime,
  -- Milliseconds past `at`: orders the events of one second.
  at_ms UInt16,
  event_date Date
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_date)
ORDER BY (message_id, kind, attempt, status, at, at_ms);
