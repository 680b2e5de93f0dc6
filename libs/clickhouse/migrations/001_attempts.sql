-- One row per attempt of a message (dlr's attempt writer). No body, and the recipient only as a keyed hash.
-- (message_id, attempt) identifies an attempt; `version` orders its rows: a receipt arriving after the
-- attempt was reported without one writes version 2, and ReplacingMergeTree keeps the newest once merged
-- (read with FINAL, or argMax by version, for exact figures before a merge).
-- Works on ClickHouse 18.16: no DateTime64 (times are seconds, latencies milliseconds), no LowCardinality,
-- no TTL; writers give every column (18.16 fills a JSONEachRow field left out with zero, not its DEFAULT).
CREATE TABLE IF NOT EXISTS attempts (
  message_id String,
  attempt UInt16,
  version UInt32,
  tenant_id String,
  country String,
  mcc_mnc String,
  channel_id String,
  tier String,
  message_type String,
  segments UInt16,
  price_per_segment Float64,
  recipient_hash String,
  status String,
  reason_code String,
  retryable UInt8,
  receipt_state String,
  error_code String,
  accepted_at DateTime,
  submitted_at DateTime,
  done_at DateTime,
  submit_latency_ms UInt32,
  delivery_latency_ms UInt32,
  end_to_end_latency_ms UInt32,
  submitted_date Date,
  written_at DateTime
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(submitted_date)
ORDER BY (submitted_date, message_id, attempt);
