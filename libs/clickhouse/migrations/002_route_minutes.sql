-- Per-minute figures of every route (country, carrier, channel) and message type, kept up to date by a
-- materialized view on `attempts`: analytics reads these, never the attempts themselves, to weigh routes.
-- A minute is the minute an attempt ended. Every row written to `attempts` counts, so an attempt reported
-- again (a late receipt after a missing one, version 2) counts twice: once failed, once delivered; that is
-- what the route did on time and late. Works on 18.16 (-State/-Merge combinators, AggregatingMergeTree).
CREATE TABLE IF NOT EXISTS route_minutes (
  minute DateTime,
  country String,
  mcc_mnc String,
  channel_id String,
  tier String,
  message_type String,
  attempts AggregateFunction(count),
  delivered AggregateFunction(sum, UInt64),
  failed AggregateFunction(sum, UInt64),
  -- What the attempts cost (price per segment x segments), delivered or not.
  cost AggregateFunction(sum, Float64),
  -- Submission to receipt of the delivered ones.
  latency AggregateFunction(quantilesTDigestIf(0.5, 0.95), UInt32, UInt8)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (country, channel_id, mcc_mnc, message_type, tier, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.route_minutes_mv TO {database}.route_minutes AS
SELECT
  toStartOfMinute(done_at) AS minute,
  country,
  mcc_mnc,
  channel_id,
  tier,
  message_type,
  countState() AS attempts,
  sumState(toUInt64(status = 'DELIVERED')) AS delivered,
  sumState(toUInt64(status != 'DELIVERED')) AS failed,
  sumState(price_per_segment * segments) AS cost,
  quantilesTDigestIfState(0.5, 0.95)(delivery_latency_ms, status = 'DELIVERED') AS latency
FROM {database}.attempts
GROUP BY minute, country, mcc_mnc, channel_id, tier, message_type;
