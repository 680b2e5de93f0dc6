/**
 * The validity a sender may ask for (ingest refuses any other): every attempt at a message ends within its
 * validity, which bounds how far back a read of recent outcomes has to look for the attempts behind them.
 */
export const VALIDITY_LIMITS_MS = { min: 60_000, max: 72 * 3_600_000 } as const;
