-- Conversions the tenants reported (ReportConversion; dlr writes them from sms.conversions): the user used what
-- the message carried. Analytics joins them to `attempts` by message id to weigh each route's receipts by how
-- often its OTPs convert. A report repeated, or redelivered, writes the same message id again: readers take
-- min(converted_at) per message. Works on ClickHouse 18.16.
CREATE TABLE IF NOT EXISTS conversions (
  message_id String,
  tenant_id String,
  message_type String,
  country String,
  accepted_at DateTime,
  converted_at DateTime,
  reported_at DateTime,
  reported_date Date
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(reported_date)
ORDER BY (message_id);
