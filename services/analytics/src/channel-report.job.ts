import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildChannelReport, type ChannelReport } from './domain/channel-report';
import { conversionEvidence, DEFAULT_CONVERSION_WINDOW_MS } from './domain/route-weights';
import { renderReportHtml } from './domain/report-html';
import type { RouteFiguresRepository } from './route-figures.repository';

/** Reads a period's figures and builds its report; the time buckets of the routing chart are ~40 per range. */
export async function channelReport(
  figures: RouteFiguresRepository,
  from: Date,
  to: Date,
  conversionWindowMs = DEFAULT_CONVERSION_WINDOW_MS,
): Promise<ChannelReport> {
  const now = new Date();
  const bucketSeconds = Math.max(60, Math.round((to.getTime() - from.getTime()) / 40 / 60_000) * 60);
  // OTPs delivered in the range whose codes have had time to be used.
  const matureBefore = new Date(Math.min(to.getTime(), now.getTime() - conversionWindowMs));
  const [routes, routing, conversionMinutes, pumping] = await Promise.all([
    figures.reportRoutes(from, to),
    figures.reportRouting(from, to, bucketSeconds),
    figures.conversionMinutes(from, matureBefore),
    figures.pumpingBlocks(from, to),
  ]);
  // The range's figures as they are: no decay.
  const conversions = conversionEvidence(conversionMinutes, now.getTime(), Infinity);
  return buildChannelReport({ from, to, now, routes, routing, conversions, pumping });
}

/**
 * The reports the console shows most (the last hour, the last day), read again every `refresh` by a job:
 * on a busy day the exact report (every attempt, newest version) takes over a second to read, too long to
 * wait for on each page load. Other periods are read when asked.
 */
export class RecentReports {
  private readonly latest = new Map<number, ChannelReport>();

  constructor(
    private readonly figures: RouteFiguresRepository,
    private readonly conversionWindowMs: number,
    readonly hours: readonly number[] = [1, 24],
  ) {}

  async refresh(): Promise<void> {
    for (const hours of this.hours) this.latest.set(hours, await this.read(hours));
  }

  /** The report over the last `hours`: as last read for the usual periods, else read now. */
  async get(hours: number): Promise<ChannelReport> {
    return this.latest.get(hours) ?? this.read(hours);
  }

  private read(hours: number): Promise<ChannelReport> {
    const to = new Date();
    return channelReport(
      this.figures,
      new Date(to.getTime() - hours * 3_600_000),
      to,
      this.conversionWindowMs,
    );
  }
}

/** Writes the report's HTML and its JSON twin into `dir`; returns their paths. */
export function writeChannelReport(report: ChannelReport, dir: string): { html: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const html = join(dir, 'channel-report.html');
  const json = join(dir, 'channel-report.json');
  writeFileSync(html, renderReportHtml(report));
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  return { html, json };
}
