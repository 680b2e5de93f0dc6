import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildChannelReport, type ChannelReport } from './domain/channel-report';
import { renderReportHtml } from './domain/report-html';
import type { RouteFiguresRepository } from './route-figures.repository';

/** Reads a period's figures and builds its report; the time buckets of the routing chart are ~40 per range. */
export async function channelReport(
  figures: RouteFiguresRepository,
  from: Date,
  to: Date,
): Promise<ChannelReport> {
  const bucketSeconds = Math.max(60, Math.round((to.getTime() - from.getTime()) / 40 / 60_000) * 60);
  const [routes, routing] = await Promise.all([
    figures.reportRoutes(from, to),
    figures.reportRouting(from, to, bucketSeconds),
  ]);
  return buildChannelReport({ from, to, now: new Date(), routes, routing });
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
