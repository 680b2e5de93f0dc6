-- The audit log of dead letters replayed by operators (analytics' ReplayDeadLetters): who sent which record of
-- which DLQ back to which topic, when, and why. A dead letter found here is not replayed again. Works on 18.16.
CREATE TABLE IF NOT EXISTS dlq_replays (
  replayed_at DateTime,
  operator_id String,
  dlq_topic String,
  partition UInt32,
  offset UInt64,
  source_topic String,
  reason String,
  replays UInt16,
  note String
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(replayed_at)
ORDER BY (dlq_topic, partition, offset);
