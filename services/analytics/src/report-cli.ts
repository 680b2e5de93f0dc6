// The channel optimization report for a period, as HTML with charts and a JSON twin:
//   node services/analytics/dist/report-cli.js [--since 1h | --from ISO --to ISO] [--out .local/reports]
// ClickHouse from TERN_CLICKHOUSE_URL / TERN_CLICKHOUSE_DATABASE, as the service reads it.
import { parseArgs } from 'node:util';
import { ClickHouse, clickhouseOptionsFromSettings } from '@tern/clickhouse';
import { clickhouseSettings, loadConfig } from '@tern/config';
import { channelReport, writeChannelReport } from './channel-report.job';
import { RouteFiguresRepository } from './route-figures.repository';

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90m", "6h", "7d" as milliseconds. */
function duration(text: string): number {
  const match = /^(\d+)([mhd])$/.exec(text);
  if (!match) throw new Error(`--since ${text}: expected a number and m, h or d (e.g. 6h)`);
  return Number(match[1]) * (UNITS[match[2] ?? 'h'] ?? 0);
}

function instant(text: string, flag: string): Date {
  const at = new Date(text);
  if (Number.isNaN(at.getTime()))
    throw new Error(`${flag} ${text}: not a date (ISO 8601, e.g. 2026-11-28T10:00:00Z)`);
  return at;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      since: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      out: { type: 'string', default: '.local/reports' },
    },
  });
  const to = values.to ? instant(values.to, '--to') : new Date();
  const from = values.from
    ? instant(values.from, '--from')
    : new Date(to.getTime() - duration(values.since ?? '1h'));
  const config = loadConfig(clickhouseSettings);
  const db = new ClickHouse(clickhouseOptionsFromSettings(config));
  try {
    const report = await channelReport(new RouteFiguresRepository(db), from, to);
    const written = writeChannelReport(report, values.out);
    process.stdout.write(
      `channel report ${report.from} to ${report.to}: ${report.totals.attempts} attempts, ` +
        `${report.recommendations.length} recommendations\n  ${written.html}\n  ${written.json}\n`,
    );
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
