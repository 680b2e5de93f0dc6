import type { ChannelLine, ChannelReport, TrafficBucket } from './channel-report';

/**
 * The report as one self-contained HTML page: tables and inline SVG charts, no script and nothing fetched,
 * so it opens anywhere (a mail attachment, an air-gapped operator's browser, headless Chromium in tests).
 */
export function renderReportHtml(report: ChannelReport): string {
  const channels = report.channels;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tern channel optimization report</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#1b1f24}h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
th{background:#f6f8fa}td:first-child,th:first-child,td.text{text-align:left}
.below{color:#b42318;font-weight:600}.within{color:#1a7f37}.above{color:#0969da}.unknown{color:#6e7781}
svg{display:block;margin:8px 0}.note{color:#57606a}
</style></head><body>
<h1>Channel optimization report</h1>
<p class="note">${esc(report.from)} to ${esc(report.to)}, generated ${esc(report.generatedAt)}.
${report.totals.attempts} attempts, ${pct(report.totals.deliveryRate)} delivered, ${money(report.totals.costPerDelivered)} per delivered message.</p>
<h2>Recommendations</h2>
${
  report.recommendations.length === 0
    ? '<p>No change recommended for this period.</p>'
    : `<ul id="recommendations">${report.recommendations.map((r) => `<li data-kind="${esc(r.kind)}">${esc(r.why)}</li>`).join('')}</ul>`
}
<h2>SMS pumping refused</h2>
${
  report.pumping.length === 0
    ? '<p>No OTP was refused as pumping in this period, and none would have been.</p>'
    : `<table id="pumping"><tr><th>tenant</th><th>number range</th><th>OTPs refused</th><th>would refuse (monitor mode)</th></tr>${report.pumping.map((b) => `<tr><td class="text">${esc(b.tenantId)}</td><td class="text">+${esc(b.range)}…</td><td>${b.refused}</td><td>${b.wouldRefuse}</td></tr>`).join('')}</table>`
}
<h2>Delivery rate per channel, against its tier's industry range</h2>
${rangeChart(
  'chart-delivery',
  channels,
  (c) => c.deliveryRate,
  (c) => c.benchmark?.delivery,
  1,
  pct,
)}
<h2>Latency p50 per channel (seconds), against its tier's industry range</h2>
${rangeChart(
  'chart-latency',
  channels.filter((c) => c.delivered > 0),
  (c) => c.latencyP50Ms / 1000,
  (c) => c.benchmark?.latencyS,
  Math.max(30, ...channels.map((c) => c.latencyP50Ms / 1000)),
  (x) => `${x.toFixed(1)} s`,
)}
<h2>Where the traffic went (share of each country's attempts per channel over time)</h2>
${routingCharts(report.routing)}
<h2>Countries</h2>
<table id="countries"><tr><th>country</th><th>attempts</th><th>delivered</th><th>latency p50</th><th>cost per delivered</th></tr>
${report.countries
  .map(
    (c) =>
      `<tr><td>${esc(c.country)}</td><td>${c.attempts}</td><td>${pct(c.deliveryRate)}</td><td>${secs(c.latencyP50Ms)}</td><td>${money(c.costPerDelivered)}</td></tr>`,
  )
  .join('\n')}
</table>
<h2>Channels</h2>${linesTable('channels', channels)}
<h2>Carriers</h2>${linesTable('carriers', report.carriers)}
</body></html>
`;
}

/** A table of route lines: figures, each against its tier's industry range. */
export function linesTable(id: string, lines: readonly ChannelLine[]): string {
  const rows = lines.map(
    (l) =>
      `<tr><td>${esc(l.country)}</td><td class="text">${esc(l.mccMnc || 'all')}</td><td class="text">${esc(l.channelId)}</td><td class="text">${esc(l.tier)}</td>` +
      `<td>${l.attempts}</td><td class="${l.deliveryVerdict}">${pct(l.deliveryRate)}</td>` +
      `<td>${conversionCell(l)}</td><td>${l.conversion ? secs(l.conversion.timeToUseMeanMs) : ''}</td>` +
      `<td class="${l.latencyVerdict}">${secs(l.latencyP50Ms)}</td><td>${secs(l.latencyP95Ms)}</td><td>${money(l.costPerDelivered)}</td>` +
      `<td class="text">${l.benchmark ? `${pct(l.benchmark.delivery[0])}-${pct(l.benchmark.delivery[1])}, ${l.benchmark.latencyS[0]}-${l.benchmark.latencyS[1]} s` : ''}</td></tr>`,
  );
  return `<table id="${id}"><tr><th>country</th><th>carrier</th><th>channel</th><th>tier</th><th>attempts</th><th>delivered</th><th>OTPs used (receipts confirmed)</th><th>mean time to use</th><th>p50</th><th>p95</th><th>cost per delivered</th><th>tier range</th></tr>
${rows.join('\n')}</table>`;
}

/** Of the OTPs the channel called delivered, the share used, and the share of its receipts that confirms. */
function conversionCell(l: ChannelLine): string {
  const c = l.conversion;
  if (!c || c.delivered === 0) return '';
  const low = c.confirmed < 0.85 ? ' class="below"' : '';
  return `<span${low}>${pct(c.converted / c.delivered)} (${pct(c.confirmed)})</span>`;
}

/** Horizontal bars, one per channel and country, with the tier's range as a band behind each. */
function rangeChart(
  id: string,
  lines: readonly ChannelLine[],
  value: (l: ChannelLine) => number,
  range: (l: ChannelLine) => [number, number] | undefined,
  max: number,
  label: (x: number) => string,
): string {
  const rowH = 22;
  const left = 220;
  const width = 460;
  const x = (v: number) => left + (Math.min(v, max) / max) * width;
  const bars = lines.map((l, i) => {
    const y = 10 + i * rowH;
    const band = range(l);
    return (
      `<text x="${left - 6}" y="${y + 14}" text-anchor="end" font-size="12">${esc(`${l.country} ${l.channelId}`)}</text>` +
      (band
        ? `<rect class="range" x="${x(band[0])}" y="${y}" width="${Math.max(1, x(band[1]) - x(band[0]))}" height="${rowH - 4}" fill="#dafbe1"/>`
        : '') +
      `<rect class="bar" x="${left}" y="${y + 5}" width="${Math.max(1, x(value(l)) - left)}" height="${rowH - 14}" fill="#0969da"/>` +
      `<text x="${x(value(l)) + 6}" y="${y + 14}" font-size="12">${esc(label(value(l)))}</text>`
    );
  });
  const height = 20 + lines.length * rowH;
  return `<svg id="${id}" width="${left + width + 90}" height="${height}" role="img">${bars.join('')}</svg>`;
}

const PALETTE = ['#0969da', '#1a7f37', '#bf8700', '#8250df', '#cf222e', '#57606a', '#1b7c83', '#953800'];

/** Per country: stacked columns of each channel's share of attempts per time bucket. */
function routingCharts(buckets: readonly TrafficBucket[]): string {
  const countries = [...new Set(buckets.map((b) => b.country))].sort();
  if (countries.length === 0) return '<p>No traffic in this period.</p>';
  return countries
    .map((country) => {
      const mine = buckets.filter((b) => b.country === country);
      const times = [...new Set(mine.map((b) => b.at))].sort((a, b) => a - b);
      const channels = [...new Set(mine.map((b) => b.channelId))].sort();
      const colW = Math.max(4, Math.min(24, Math.floor(600 / times.length)));
      const h = 120;
      const columns = times.map((t, i) => {
        const at = mine.filter((b) => b.at === t);
        const total = at.reduce((s, b) => s + b.attempts, 0);
        let y = h;
        return channels
          .map((channelId, k) => {
            const share = (at.find((b) => b.channelId === channelId)?.attempts ?? 0) / Math.max(1, total);
            const segment = share * h;
            y -= segment;
            return segment > 0
              ? `<rect class="share" x="${i * colW}" y="${y}" width="${colW - 1}" height="${segment}" fill="${PALETTE[k % PALETTE.length]}"><title>${esc(`${channelId} ${pct(share)} at ${new Date(t).toISOString()}`)}</title></rect>`
              : '';
          })
          .join('');
      });
      const legend = channels
        .map((c, k) => `<span style="color:${PALETTE[k % PALETTE.length]}">■</span> ${esc(c)}`)
        .join(' &nbsp; ');
      return `<h3>${esc(country)}</h3><svg class="routing" width="${times.length * colW}" height="${h}" role="img">${columns.join('')}</svg><p>${legend}</p>`;
    })
    .join('\n');
}

/** Text made safe to put in HTML, in an element or a quoted attribute. */
export const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
export const secs = (ms: number) => (ms > 0 ? `${(ms / 1000).toFixed(1)} s` : '—');
export const money = (x: number) => (x > 0 ? x.toFixed(4) : '—');
