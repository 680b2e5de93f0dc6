import type { analytics, events } from '@tern/contracts';
import type { ChannelLine, ChannelReport } from './channel-report';
import {
  decisionOf,
  explainDecision,
  type AttemptStep,
  type MessageSummary,
  type TraceEvent,
} from './message-trace';
import { esc, linesTable, money, pct, secs } from './report-html';

/** Who is looking: their id and whether their role lets them act (replay), not only read. */
export interface Viewer {
  id: string;
  role: 'viewer' | 'operator';
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:0;color:#1b1f24}
nav{background:#1b1f24;padding:8px 24px;display:flex;gap:18px;align-items:center}
nav a{color:#f6f8fa;text-decoration:none}nav a.active{font-weight:700;text-decoration:underline}
nav .who{margin-left:auto;color:#afb8c1}nav form{margin:0}main{padding:16px 24px}
h1{font-size:20px}h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
th{background:#f6f8fa}td:first-child,th:first-child,td.text{text-align:left}
.below{color:#b42318;font-weight:600}.within{color:#1a7f37}.above{color:#0969da}.unknown{color:#6e7781}
.note{color:#57606a}.error{color:#b42318;font-weight:600}.ok{color:#1a7f37;font-weight:600}
.figures{display:flex;gap:24px}.figure{border:1px solid #d0d7de;padding:8px 16px;border-radius:6px}
.figure b{display:block;font-size:22px}.why{background:#f6f8fa;padding:6px 10px;border-left:3px solid #0969da}
.breaker.open{color:#b42318;font-weight:600}.breaker.half-open{color:#bf8700;font-weight:600}`;

const PAGES = [
  ['/', 'Traffic'],
  ['/routing', 'Routing'],
  ['/trace', 'Message trace'],
  ['/dead-letters', 'Dead letters'],
  ['/report', 'Channel report'],
] as const;

/** A console page: the navigation, who is signed in, and the page's body. */
export function layout(title: string, viewer: Viewer, path: string, body: string): string {
  const links = PAGES.map(
    ([href, name]) => `<a href="${href}"${href === path ? ' class="active"' : ''}>${name}</a>`,
  ).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Tern console</title>
<style>${STYLE}</style><script src="/console.js" defer></script></head><body>
<nav>${links}<span class="who" id="who">${esc(viewer.id)} (${viewer.role})</span>
<form method="post" action="/logout"><button type="submit">Sign out</button></form></nav>
<main><h1>${esc(title)}</h1>
${body}
</main></body></html>
`;
}

export function loginPage(error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Tern console</title><style>${STYLE}</style></head>
<body><main><h1>Tern console</h1>
${error ? `<p class="error" id="login-error">${esc(error)}</p>` : ''}
<form method="post" action="/login">
<label>Operator token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button></form>
<p class="note">The token an operator holds (its SHA-256 is in the operators file).</p>
</main></body></html>
`;
}

export const TRAFFIC_WINDOWS = { '5m': 300, '1h': 3600, '24h': 86_400 } as const;
export type TrafficWindow = keyof typeof TRAFFIC_WINDOWS;

export interface TrafficView {
  window: TrafficWindow;
  /** Messages that reached each status in the last minute, from their status events. */
  lastMinute: { status: string; count: number }[];
  channels: ChannelLine[];
  carriers: ChannelLine[];
  countries: ChannelReport['countries'];
  at: Date;
}

/** The live part of the traffic page: refreshed in place every few seconds by console.js. */
export function trafficFragment(view: TrafficView): string {
  const seconds = TRAFFIC_WINDOWS[view.window];
  const minute = (status: string) => view.lastMinute.find((s) => s.status === status)?.count ?? 0;
  const attempts = view.channels.reduce((sum, l) => sum + l.attempts, 0);
  const rate = (n: number, s: number) => (n / s).toFixed(n / s >= 10 ? 0 : 2);
  const figure = (id: string, label: string, value: string) =>
    `<div class="figure"><b id="${id}">${value}</b>${label}</div>`;
  return `<p class="note" id="updated">Updated ${esc(view.at.toISOString())}</p>
<div class="figures">
${figure('accepted-per-s', 'accepted/s (last minute)', rate(minute('ACCEPTED'), 60))}
${figure('delivered-per-s', 'delivered/s (last minute)', rate(minute('DELIVERED'), 60))}
${figure('rejected-last-minute', 'rejected (last minute)', String(minute('REJECTED')))}
${figure('attempts-per-s', `attempts/s (last ${view.window})`, rate(attempts, seconds))}
</div>
<h2>Countries</h2>
<table id="countries"><tr><th>country</th><th>attempts/s</th><th>delivered</th><th>latency p50</th><th>cost per delivered</th></tr>
${view.countries
  .map(
    (c) =>
      `<tr><td>${esc(c.country)}</td><td>${rate(c.attempts, seconds)}</td><td>${pct(c.deliveryRate)}</td><td>${secs(c.latencyP50Ms)}</td><td>${money(c.costPerDelivered)}</td></tr>`,
  )
  .join('\n')}
</table>
<h2>Channels</h2>${linesTable('channels', view.channels)}
<h2>Carriers</h2>${linesTable('carriers', view.carriers)}`;
}

export function trafficPage(view: TrafficView): string {
  const windows = (Object.keys(TRAFFIC_WINDOWS) as TrafficWindow[])
    .map((w) => (w === view.window ? `<b>${w}</b>` : `<a href="/?window=${w}">${w}</a>`))
    .join(' · ');
  return `<p>Window: ${windows}. Attempts count when they end (receipt, refusal or timeout); figures per
route against its tier's industry range. This page updates itself.</p>
<div id="live" data-refresh="/?window=${view.window}&amp;fragment=1">${trafficFragment(view)}</div>`;
}

/** A router breaker's state, the worst over every router. */
export type BreakerState = 'closed' | 'half-open' | 'open';

export interface ConsumerLag {
  group: string;
  topic: string;
  records: number;
}

export interface RoutingView {
  weights: {
    country: string;
    mccMnc: string;
    channelId: string;
    tier: string;
    deliveryRate: number;
    latencyP50Ms: number;
    latencyP95Ms: number;
    costPerDelivered: number;
    attempts: number;
    benchmark?: { delivery: [number, number]; latencyS: [number, number] } | undefined;
  }[];
  computedAt: Date | undefined;
  /**
   * From the routers' and consumers' metrics, when a Prometheus is configured: the worst state of each
   * breaker (`channel/mcc_mnc`) over every router, and each consumer group's lag per topic. A string says
   * why they are not shown.
   */
  live: { breakers: Map<string, BreakerState>; lag: ConsumerLag[] } | string;
}

export function routingPage(view: RoutingView): string {
  const breakers = typeof view.live === 'string' ? undefined : view.live.breakers;
  // A carrier's route is as open as its own breaker or its channel's, whichever is worse.
  const breakerOf = (channelId: string, mccMnc: string) => {
    const states = [
      breakers?.get(`${channelId}/`),
      mccMnc ? breakers?.get(`${channelId}/${mccMnc}`) : undefined,
    ];
    return states.includes('open')
      ? 'open'
      : states.includes('half-open')
        ? 'half-open'
        : breakers
          ? 'closed'
          : '';
  };
  const rows = view.weights.map((w) => {
    const breaker = breakerOf(w.channelId, w.mccMnc);
    return (
      `<tr><td>${esc(w.country)}</td><td class="text">${esc(w.mccMnc || 'all')}</td><td class="text">${esc(w.channelId)}</td>` +
      `<td class="text">${esc(w.tier)}</td><td class="text breaker ${breaker}">${breaker}</td><td>${w.attempts.toFixed(0)}</td><td>${pct(w.deliveryRate)}</td>` +
      `<td>${secs(w.latencyP50Ms)}</td><td>${secs(w.latencyP95Ms)}</td><td>${money(w.costPerDelivered)}</td>` +
      `<td class="text">${w.benchmark ? `${pct(w.benchmark.delivery[0])}-${pct(w.benchmark.delivery[1])}, ${w.benchmark.latencyS[0]}-${w.benchmark.latencyS[1]} s` : ''}</td></tr>`
    );
  });
  const lanes =
    typeof view.live === 'string'
      ? `<p class="note" id="no-live">${esc(view.live)}</p>`
      : `<table id="lag"><tr><th>topic</th><th>consumer group</th><th>lag (records)</th></tr>
${view.live.lag
  .map(
    (l) =>
      `<tr data-topic="${esc(l.topic)}"><td class="text">${esc(l.topic)}</td><td class="text">${esc(l.group)}</td><td>${l.records}</td></tr>`,
  )
  .join('\n')}</table>`;
  return `<p>The weights every router follows (routing.weights), as analytics last computed them
${view.computedAt ? `at ${esc(view.computedAt.toISOString())}` : ''}: the expected delivery rate (Beta posterior over
decayed evidence), latency and cost per route, beside its tier's industry range, and each route's circuit
breaker (the worst over every router).</p>
<table id="weights"><tr><th>country</th><th>carrier</th><th>channel</th><th>tier</th><th>breaker</th><th>evidence (attempts)</th>
<th>expected delivery</th><th>p50</th><th>p95</th><th>cost per delivered</th><th>tier range</th></tr>
${rows.join('\n')}</table>
<h2>Lanes and consumers</h2>
<p>Records each consumer group has yet to process, per topic: a lane's dispatch topic is
<code>sms.dispatch.&lt;lane&gt;</code>.</p>
${lanes}`;
}

const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** The search box, and what it found: a list of messages, or one message's trace. */
export function tracePage(
  query: string,
  found: MessageSummary[] | undefined,
  trace?: { messageId: string; events: TraceEvent[]; attempts: AttemptStep[] },
): string {
  const form = `<form method="get" action="/trace"><input name="q" size="48" value="${esc(query)}"
placeholder="message id, client reference or recipient (+E.164)"> <button type="submit">Find</button></form>
<p class="note">A recipient is looked up by its keyed hash: numbers are not stored.</p>`;
  if (trace) return form + traceBody(trace);
  if (!found) return form;
  if (found.length === 0) return `${form}<p id="not-found">No message matches “${esc(query)}”.</p>`;
  const rows = found.map(
    (m) =>
      `<tr><td class="text"><a href="/trace?id=${encodeURIComponent(m.messageId)}">${esc(m.messageId)}</a></td>` +
      `<td class="text">${esc(m.tenantId)}</td><td class="text">${esc(m.clientReference)}</td>` +
      `<td class="text">${time(m.firstAt)}</td><td class="text">${esc(m.lastStatus)}</td></tr>`,
  );
  return `${form}<table id="found"><tr><th>message</th><th>tenant</th><th>client reference</th><th>accepted</th><th>status</th></tr>
${rows.join('\n')}</table>`;
}

function traceBody(trace: { messageId: string; events: TraceEvent[]; attempts: AttemptStep[] }): string {
  if (trace.events.length === 0) return `<p id="not-found">No trace of ${esc(trace.messageId)}.</p>`;
  const decisions = new Map(
    trace.events.filter((e) => e.kind === 'routing').map((e) => [e.attempt, { ...decisionOf(e.detail), e }]),
  );
  const steps = trace.events
    .filter((e) => e.kind !== 'routing')
    .map((e) => {
      const detail = Object.entries(e.detail)
        .map(([k, v]) => `${esc(k)}: ${esc(String(v))}`)
        .join(', ');
      if (e.kind === 'callback') {
        return `<tr data-callback="${esc(e.status)}"><td class="text">${time(e.at)}</td><td class="text">callback of ${esc(e.status)}</td>
<td>${e.attempt || ''}</td><td class="text"></td><td class="text"></td><td class="text">${detail}</td></tr>`;
      }
      const decision = e.status === 'ROUTED' ? decisions.get(e.attempt) : undefined;
      const why = decision
        ? `<div class="why" data-attempt="${e.attempt}">${esc(explainDecision(decision.e.channelId, decision))}</div>` +
          candidatesTable(e.attempt, decision.candidates)
        : '';
      return `<tr data-status="${esc(e.status)}"><td class="text">${time(e.at)}</td><td class="text">${esc(e.status)}</td>
<td>${e.attempt || ''}</td><td class="text">${esc(e.channelId)}</td><td class="text">${esc(e.reasonCode)}</td>
<td class="text">${detail}${why}</td></tr>`;
    });
  const attempts = trace.attempts.map(
    (a) =>
      `<tr><td>${a.attempt}</td><td class="text">${esc(a.channelId)}</td><td class="text">${esc(a.tier)}</td>` +
      `<td class="text">${esc(a.status)}</td><td class="text">${esc(a.reasonCode)}</td><td class="text">${esc(a.receiptState)}</td>` +
      `<td class="text">${esc(a.errorCode)}</td><td>${a.submitLatencyMs} ms</td><td>${secs(a.deliveryLatencyMs)}</td><td>${money(a.cost)}</td></tr>`,
  );
  return `<h2>Message ${esc(trace.messageId)}</h2>
<table id="timeline"><tr><th>time (UTC)</th><th>status</th><th>attempt</th><th>channel</th><th>reason</th><th>detail</th></tr>
${steps.join('\n')}</table>
<h2>Attempts</h2>
${
  attempts.length === 0
    ? '<p>No attempt has ended yet.</p>'
    : `<table id="attempts"><tr><th>attempt</th><th>channel</th><th>tier</th><th>status</th><th>reason</th><th>receipt</th><th>error</th><th>submit</th><th>to receipt</th><th>cost</th></tr>
${attempts.join('\n')}</table>`
}`;
}

function candidatesTable(attempt: number, candidates: events.RoutingCandidate[]): string {
  if (candidates.length === 0) return '';
  const rows = candidates.map(
    (c) =>
      `<tr><td class="text">${esc(c.channelId)}</td><td>${c.score.toFixed(3)}</td><td>${pct(c.deliveryProbability)}</td>` +
      `<td>${secs(c.expectedLatencyMs)}</td><td>${c.pricePerSegment}</td><td class="text">${esc(c.excludedBecause)}</td></tr>`,
  );
  return `<table class="candidates" data-attempt="${attempt}"><tr><th>candidate</th><th>score</th><th>delivery</th><th>latency</th><th>price</th><th>left out because</th></tr>
${rows.join('')}</table>`;
}

export interface DeadLettersView {
  topic: string;
  reason: string;
  letters: analytics.DeadLetter[];
  /** What the last replay did, shown above the list. */
  replay?: analytics.ReplayDeadLettersResponse;
  error?: string;
}

/** Every DLQ's records with their reasons; an operator can replay one, some, or all of one reason. */
export function deadLettersPage(view: DeadLettersView, viewer: Viewer): string {
  const canReplay = viewer.role === 'operator';
  const outcome = view.replay
    ? `<p class="ok" id="replayed">Replayed ${view.replay.replayed.length} record(s).</p>` +
      (view.replay.refused.length > 0
        ? `<ul id="refused">${view.replay.refused.map((r) => `<li>${esc(`${r.record?.partition ?? ''}:${r.record?.offset ?? ''}`)}: ${esc(r.why)}</li>`).join('')}</ul>`
        : '')
    : '';
  const filter = `<form method="get" action="/dead-letters">
<label>Topic <input name="topic" value="${esc(view.topic)}" placeholder="every DLQ"></label>
<label>Reason <input name="reason" value="${esc(view.reason)}" placeholder="any"></label>
<button type="submit">Show</button></form>`;
  const rows = view.letters.map((d) => {
    const replayed = d.replayedAt ? `replayed ${time(d.replayedAt.getTime())}` : '';
    const pick =
      canReplay && !d.replayedAt
        ? `<input type="checkbox" name="record" value="${esc(`${d.topic}/${d.partition}/${d.offset}`)}">`
        : '';
    return `<tr data-offset="${esc(d.offset)}"><td>${pick}</td><td class="text">${esc(d.topic)}</td><td>${d.partition}</td><td>${esc(d.offset)}</td>
<td class="text">${esc(d.reason)}</td><td class="text">${esc(d.error)}</td><td class="text">${esc(d.field)}</td>
<td class="text">${esc(`${d.sourceTopic} ${d.sourcePartition}:${d.sourceOffset}`)}</td><td class="text">${esc(d.consumerGroup)}</td>
<td class="text">${d.failedAt ? time(d.failedAt.getTime()) : ''}</td><td>${d.replays}</td><td class="text">${replayed}</td></tr>`;
  });
  const table = `<table id="dead-letters"><tr><th></th><th>DLQ</th><th>partition</th><th>offset</th><th>reason</th><th>error</th><th>field</th>
<th>from</th><th>consumer group</th><th>failed at</th><th>replays</th><th></th></tr>
${rows.join('\n')}</table>`;
  const list =
    view.letters.length === 0
      ? '<p id="empty">No dead letters.</p>'
      : canReplay
        ? `<form method="post" action="/dead-letters/replay" id="replay">${table}
<label>Why (kept in the audit log) <input name="note" size="48" required></label>
<input type="hidden" name="topic" value="${esc(view.topic)}"><input type="hidden" name="reason" value="${esc(view.reason)}">
<button type="submit" name="scope" value="selected">Replay selected</button>
${view.topic && view.reason ? `<button type="submit" name="scope" value="reason">Replay every ${esc(view.reason)} record of ${esc(view.topic)}</button>` : ''}
</form>`
        : `${table}<p class="note" id="read-only">Your role (viewer) can read dead letters, not replay them.</p>`;
  return `${view.error ? `<p class="error" id="replay-error">${esc(view.error)}</p>` : ''}${outcome}${filter}
<p class="note">Newest first. Bodies are never shown. A replay sends the record back to the topic it came from, at most
once per dead letter and at most three times along its history.</p>
${list}`;
}
