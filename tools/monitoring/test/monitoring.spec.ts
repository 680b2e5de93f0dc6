import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startPrometheus, TERN_ALERT_RULES } from '@tern/testing';

// The monitoring operators load (deploy/monitoring): rules, their tests, the scrape config and the Grafana
// dashboard, checked with Debian's promtool and a real Prometheus. That an alert fires on the platform's own
// metrics is shown where its condition is made: the router's breaker test.
const root = resolve(__dirname, '../../..');
const monitoring = join(root, 'deploy/monitoring');
const dashboard = JSON.parse(readFileSync(join(monitoring, 'grafana/tern-overview.json'), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
};
const promtool = (...args: string[]) => execFileSync('promtool', args, { cwd: monitoring, encoding: 'utf8' });

/** Every metric name a service or library defines (`name: 'tern_…'` beside prom-client). */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) {
        if (!['node_modules', 'dist'].includes(entry)) walk(path);
      } else if (path.endsWith('.ts') && !path.endsWith('.spec.ts')) {
        for (const [, name] of readFileSync(path, 'utf8').matchAll(/name: '(tern_[a-z_]+)'/g))
          names.add(name!);
      }
    }
  };
  for (const top of ['services', 'libs']) walk(join(root, top));
  return names;
}

describe('monitoring', () => {
  it('passes promtool: the rules, the scrape config, and every alert on the series made for it', () => {
    expect(promtool('check', 'rules', 'rules/tern.yml')).toMatch(/SUCCESS: 17 rules found/);
    expect(promtool('check', 'config', 'prometheus.yml')).toMatch(/is valid prometheus config file/);
    expect(promtool('test', 'rules', 'rules/tern.test.yml')).toMatch(/SUCCESS/);
  });

  it('names only metrics the platform exports, in the rules and on the dashboard', () => {
    const defined = definedMetrics();
    const queries = [
      readFileSync(TERN_ALERT_RULES, 'utf8'),
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ].join('\n');
    const unknown = [...queries.matchAll(/\b(tern_[a-z_]+)/g)]
      .map(([, name]) => name!.replace(/_(bucket|sum|count)$/, ''))
      .filter((name) => !defined.has(name));
    expect(defined.size).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  it('has a dashboard whose every query Prometheus accepts', async () => {
    const prometheus = await startPrometheus([]);
    try {
      for (const panel of dashboard.panels) {
        for (const { expr } of panel.targets) {
          // $__rate_interval is Grafana's; any range stands in for it here.
          const query = encodeURIComponent(expr.replaceAll('$__rate_interval', '1m'));
          const reply = (await (await fetch(`${prometheus.url}/api/v1/query?query=${query}`)).json()) as {
            status: string;
            error?: string;
          };
          expect({ panel: panel.title, status: reply.status, error: reply.error }).toEqual({
            panel: panel.title,
            status: 'success',
            error: undefined,
          });
        }
      }
    } finally {
      await prometheus.stop();
    }
  });
});
