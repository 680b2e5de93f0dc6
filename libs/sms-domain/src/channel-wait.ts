/**
 * How long submissions to a channel wait in the connectors now before its SMSC takes them, urgent (OTP,
 * transactional) and bulk (marketing, which also waits for every urgent one). The connectors report it;
 * the routers add it to a route's latency.
 */
export interface ChannelWait {
  urgentMs: number;
  bulkMs: number;
}
