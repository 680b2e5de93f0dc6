import { loadDataFile, watchDataFile } from '@tern/config';
import { NumberRanges } from '@tern/sms-domain';
import type { Logger } from '@tern/telemetry';
import { z } from 'zod';

const numberRangesSchema = z.object({
  ranges: z.array(
    z.object({
      prefix: z.string().regex(/^\d{1,15}$/, 'digits after "+"'),
      mccMnc: z.string().regex(/^\d{5,6}$/, 'MCC+MNC, 5 or 6 digits'),
      name: z.string().min(1),
    }),
  ),
});

/** Number ranges to carriers, from a deployment's data file (or none: carriers stay unknown). */
export function loadNumberRanges(path: string | undefined): NumberRanges | undefined {
  return path ? new NumberRanges(loadDataFile(path, numberRangesSchema, 'number ranges').ranges) : undefined;
}

/** Number ranges followed while ingest runs: a changed file takes effect without a restart. */
export interface FollowedNumberRanges {
  /** The last good ranges (none without a file). */
  current(): NumberRanges | undefined;
  close(): void;
}

/**
 * Follows the number ranges file (the chart's ConfigMap is updated in place): a new version that does not
 * parse is refused with its error, and the last good ranges stay in force.
 */
export function followNumberRanges(
  path: string | undefined,
  intervalMs: number,
  log: Logger,
): FollowedNumberRanges {
  if (!path) return { current: () => undefined, close: () => undefined };
  let ranges: NumberRanges | undefined;
  const watched = watchDataFile(path, numberRangesSchema, 'number ranges', {
    intervalMs,
    onChange: (file) => {
      ranges = new NumberRanges(file.ranges);
      log.info({ ranges: file.ranges.length }, 'number ranges reloaded');
    },
    onRefused: (err) => log.error({ err }, 'number ranges refused; the last good ones stay in force'),
  });
  ranges = new NumberRanges(watched.current().ranges);
  return { current: () => ranges, close: () => watched.close() };
}
