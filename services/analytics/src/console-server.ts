import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { analytics, events } from '@tern/contracts';
import { isTier } from '@tern/sms-domain';
import { roleAllows, type Operator, type OperatorDirectory } from '@tern/config';
import { HttpServer, type GrpcTls } from '@tern/service-kit';
import type { Logger } from '@tern/telemetry';
import { InvalidArgument } from './analytics-api';
import type { RecentReports } from './channel-report.job';
import type { DeadLetterDesk } from './dead-letter-desk';
import { buildChannelReport, TIER_BENCHMARKS } from './domain/channel-report';
import {
  deadLettersPage,
  layout,
  loginPage,
  routingPage,
  TRAFFIC_WINDOWS,
  trafficFragment,
  trafficPage,
  tracePage,
  type RoutingView,
  type TrafficWindow,
  type Viewer,
} from './domain/console-pages';
import { traceQuery } from './domain/message-trace';
import { esc, renderReportHtml } from './domain/report-html';
import { deliveryRate } from './domain/route-weights';
import type { MessageTraceRepository } from './message-trace.repository';
import type { PrometheusFigures } from './prometheus-figures';
import type { RouteFiguresRepository } from './route-figures.repository';

/** The cookie a signed-in browser holds: the operator's token, so a token revoked in the file signs it out. */
const SESSION_COOKIE = 'tern_operator';
const SESSION_SECONDS = 12 * 3600;
const MAX_FORM_BYTES = 64 * 1024;

/** Refreshes the live part of a page (the element with `data-refresh`) in place every few seconds. */
const CONSOLE_JS = `for (const el of document.querySelectorAll('[data-refresh]')) {
  setInterval(async () => {
    try {
      const res = await fetch(el.dataset.refresh, { credentials: 'same-origin' });
      if (res.ok) el.innerHTML = await res.text();
      else if (res.status === 401) location.assign('/login');
    } catch {}
  }, 3000);
}
`;

/** Pages: their own scripts and styles only, never framed, never cached (they hold live figures). */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  // Not no-referrer: with it, browsers send `Origin: null` on form posts, which the origin check refuses.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** A request the console answers with an error page and status. */
class PageError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ConsoleDeps {
  operators: OperatorDirectory;
  figures: RouteFiguresRepository;
  traces: MessageTraceRepository;
  deadLetters: DeadLetterDesk;
  reports: RecentReports;
  /** Breakers and consumer lag, where a Prometheus scrapes the platform. */
  prometheus: PrometheusFigures | undefined;
  /** The routing weights as analytics last published them. */
  weights: () => readonly events.RoutingWeight[];
  /** The analytics hash key: a recipient is found by the HMAC dlr stored. */
  analyticsHashKey: string;
  tls?: GrpcTls | undefined;
  log: Logger;
}

/**
 * The operators' web console: server-rendered pages over what analytics reads (live traffic, routing
 * weights, message traces, dead letters, the channel report), behind an operator's token. Role viewer
 * reads everything; role operator may also replay dead letters. Forms post only from its own pages
 * (SameSite=Strict cookie, Origin checked).
 */
export class ConsoleServer {
  private readonly server: HttpServer;

  constructor(private readonly deps: ConsoleDeps) {
    this.server = new HttpServer((req, res) => void this.handle(req, res), deps.tls, deps.log);
  }

  listen(host: string, port: number): Promise<number> {
    return this.server.listen(host, port);
  }

  /** Stops taking connections; calls in progress finish. */
  close(): Promise<void> {
    return this.server.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    try {
      if (req.method === 'POST' && !sameOrigin(req)) throw new PageError(403, 'cross-site form refused');
      if (route === 'GET /console.js') {
        res
          .writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'max-age=300' })
          .end(CONSOLE_JS);
        return;
      }
      if (route === 'GET /login') return page(res, 200, loginPage());
      if (route === 'POST /login') return await this.login(req, res);
      if (route === 'POST /logout') {
        res.writeHead(303, { location: '/login', 'set-cookie': this.cookie('', 0) }).end();
        return;
      }
      const operator = this.signedIn(req);
      if (!operator) {
        if (req.method === 'GET' && !url.searchParams.has('fragment')) {
          res.writeHead(303, { location: '/login' }).end();
        } else res.writeHead(401, PAGE_HEADERS).end('sign in again');
        return;
      }
      const viewer: Viewer = { id: operator.id, role: operator.role };
      switch (route) {
        case 'GET /':
          return await this.traffic(res, url, viewer);
        case 'GET /routing':
          return page(res, 200, layout('Routing', viewer, '/routing', await this.routing()));
        case 'GET /trace':
          return page(res, 200, layout('Message trace', viewer, '/trace', await this.trace(url)));
        case 'GET /dead-letters':
          return await this.deadLetterList(res, url, viewer);
        case 'POST /dead-letters/replay':
          return await this.replay(req, res, operator);
        case 'GET /report':
          return await this.report(res, url);
        default:
          throw new PageError(404, `no page at ${url.pathname}`);
      }
    } catch (error) {
      const [status, message] =
        error instanceof PageError
          ? [error.status, error.message]
          : error instanceof InvalidArgument
            ? [400, error.message]
            : [503, 'the analytics store is unavailable; try again'];
      if (status === 503) this.deps.log.warn({ err: error, route }, 'console page failed');
      page(res, status, `<!doctype html><title>Tern console</title><p class="error">${esc(message)}</p>`);
    }
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const token = (await form(req)).get('token') ?? '';
    const operator = token ? this.deps.operators.authenticate(token) : undefined;
    if (!operator) {
      page(res, 401, loginPage('That token is not an operator’s.'));
      return;
    }
    this.deps.log.info({ operator: operator.id }, 'console sign-in');
    res.writeHead(303, { location: '/', 'set-cookie': this.cookie(token, SESSION_SECONDS) }).end();
  }

  private cookie(value: string, maxAge: number): string {
    const secure = this.deps.tls ? '; Secure' : '';
    return `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`;
  }

  /** The operator whose token the session cookie holds, checked against the operators file on every request. */
  private signedIn(req: IncomingMessage): Operator | undefined {
    const cookies = req.headers.cookie ?? '';
    const value = cookies
      .split(';')
      .map((c) => c.trim().split('='))
      .find(([name]) => name === SESSION_COOKIE)?.[1];
    return value ? this.deps.operators.authenticate(decodeURIComponent(value)) : undefined;
  }

  private async traffic(res: ServerResponse, url: URL, viewer: Viewer): Promise<void> {
    const asked = url.searchParams.get('window') ?? '5m';
    const window: TrafficWindow = asked in TRAFFIC_WINDOWS ? (asked as TrafficWindow) : '5m';
    const now = new Date();
    const since = new Date(now.getTime() - TRAFFIC_WINDOWS[window] * 1000);
    const [routes, lastMinute] = await Promise.all([
      this.deps.figures.liveRoutes(since),
      this.deps.traces.recentFlow(60),
    ]);
    const report = buildChannelReport({ from: since, to: now, now, routes, routing: [] });
    const view = {
      window,
      lastMinute,
      channels: report.channels,
      carriers: report.carriers,
      countries: report.countries,
      at: now,
    };
    if (url.searchParams.has('fragment')) page(res, 200, trafficFragment(view));
    else page(res, 200, layout('Traffic', viewer, '/', trafficPage(view)));
  }

  private async routing(): Promise<string> {
    const weights = this.deps.weights();
    // Tiers come with the figures: the last day's routes name each channel's tier per country.
    const routes = await this.deps.figures.liveRoutes(new Date(Date.now() - 86_400_000));
    const tierOf = new Map(routes.map((r) => [`${r.country}/${r.channelId}`, r.tier]));
    return routingPage({
      computedAt: weights[0]?.computedAt,
      live: await this.liveFigures(),
      weights: [...weights]
        .sort((a, b) => a.country.localeCompare(b.country) || a.mccMnc.localeCompare(b.mccMnc))
        .map((w) => {
          const tier = tierOf.get(`${w.country}/${w.channelId}`) ?? '';
          return {
            country: w.country,
            mccMnc: w.mccMnc,
            channelId: w.channelId,
            tier,
            deliveryRate: deliveryRate(w),
            latencyP50Ms: w.latencyP50Ms,
            latencyP95Ms: w.latencyP95Ms,
            costPerDelivered: w.costPerDelivered,
            attempts: w.attempts,
            benchmark: isTier(tier) ? TIER_BENCHMARKS[tier] : undefined,
          };
        }),
    });
  }

  /** Breakers and lag from Prometheus; without one, or with it away, the page says so and shows the rest. */
  private async liveFigures(): Promise<RoutingView['live']> {
    const { prometheus, log } = this.deps;
    if (!prometheus)
      return 'Breakers and consumer lag show here when TERN_PROMETHEUS_URL names the Prometheus that scrapes the platform.';
    try {
      const [breakers, lag] = await Promise.all([prometheus.breakers(), prometheus.lag()]);
      return { breakers, lag };
    } catch (error) {
      log.warn({ err: error }, 'Prometheus unavailable for the console');
      return 'Prometheus did not answer: breakers and consumer lag are not shown.';
    }
  }

  private async trace(url: URL): Promise<string> {
    const id = url.searchParams.get('id');
    if (id) return tracePage(id, undefined, { messageId: id, ...(await this.deps.traces.trace(id)) });
    const text = url.searchParams.get('q') ?? '';
    const query = traceQuery(text);
    if (!query) return tracePage(text, undefined);
    const found = await this.deps.traces.find(
      'recipient' in query
        ? {
            recipientHash: createHmac('sha256', this.deps.analyticsHashKey)
              .update(query.recipient)
              .digest('hex'),
          }
        : query,
    );
    const [only] = found;
    if (found.length === 1 && only) {
      return tracePage(text, found, {
        messageId: only.messageId,
        ...(await this.deps.traces.trace(only.messageId)),
      });
    }
    return tracePage(text, found);
  }

  private async deadLetterList(
    res: ServerResponse,
    url: URL,
    viewer: Viewer,
    outcome: { replay?: analytics.ReplayDeadLettersResponse; error?: string } = {},
  ): Promise<void> {
    const topic = url.searchParams.get('topic') ?? '';
    const reason = url.searchParams.get('reason') ?? '';
    const { deadLetters } = await this.deps.deadLetters.list({ topic, reason, limit: 0 });
    const body = deadLettersPage({ topic, reason, letters: deadLetters, ...outcome }, viewer);
    page(res, outcome.error ? 400 : 200, layout('Dead letters', viewer, '/dead-letters', body));
  }

  /** Replays the chosen records (grouped by DLQ), or every record of one DLQ refused for one reason. */
  private async replay(req: IncomingMessage, res: ServerResponse, operator: Operator): Promise<void> {
    if (!roleAllows(operator.role, 'operator')) {
      throw new PageError(
        403,
        `replaying dead letters needs the operator role; ${operator.id} is a ${operator.role}`,
      );
    }
    const fields = await form(req);
    const topic = fields.get('topic') ?? '';
    const reason = fields.get('reason') ?? '';
    const note = (fields.get('note') ?? '').trim();
    const back = new URL(`http://console/dead-letters?${new URLSearchParams({ topic, reason }).toString()}`);
    const viewer: Viewer = { id: operator.id, role: operator.role };
    if (!note) return this.deadLetterList(res, back, viewer, { error: 'say why the records are replayed' });
    const requests: analytics.ReplayDeadLettersRequest[] = [];
    if (fields.get('scope') === 'reason') requests.push({ topic, records: [], reason, note });
    else {
      const byTopic = new Map<string, analytics.DeadLetterRef[]>();
      for (const place of fields.getAll('record')) {
        const [, dlq = '', partition = '', offset = ''] = /^(.+)\/(\d+)\/(\d+)$/.exec(place) ?? [];
        if (!dlq) continue;
        byTopic.set(dlq, [...(byTopic.get(dlq) ?? []), { partition: Number(partition), offset }]);
      }
      if (byTopic.size === 0)
        return this.deadLetterList(res, back, viewer, { error: 'choose records to replay' });
      for (const [dlq, records] of byTopic) requests.push({ topic: dlq, records, reason: '', note });
    }
    const replay: analytics.ReplayDeadLettersResponse = { replayed: [], refused: [] };
    for (const request of requests) {
      const done = await this.deps.deadLetters.replay(operator.id, request);
      replay.replayed.push(...done.replayed);
      replay.refused.push(...done.refused);
    }
    await this.deadLetterList(res, back, viewer, { replay });
  }

  private async report(res: ServerResponse, url: URL): Promise<void> {
    const hours = Math.min(24 * 31, Math.max(1, Math.round(Number(url.searchParams.get('hours') ?? 1)) || 1));
    page(res, 200, renderReportHtml(await this.deps.reports.get(hours)));
  }
}

function page(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, PAGE_HEADERS).end(html);
}

/** A form post came from a page of this console: its Origin, when the browser sends one, is this host. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** An application/x-www-form-urlencoded body, at most MAX_FORM_BYTES. */
async function form(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new PageError(413, 'form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
