// The Helm chart as rendered by helm: every workload gets what its service needs (checked by the service's own
// configuration check, the one `--check-config` runs), lanes render what they should, and mistakes in values
// stop the render with a message naming them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsSettings, checkAnalyticsFiles } from '@tern/analytics/config';
import { checkConfig, type FilesCheck, type Settings } from '@tern/config';
import { checkDlrFiles, dlrSettings } from '@tern/dlr/config';
import { checkIngestFiles, ingestSettings } from '@tern/ingest/config';
import { checkRiskFiles, riskSettings } from '@tern/risk/config';
import { checkRouterFiles, routerSettings } from '@tern/router/config';
import { checkSmppConnectorFiles, smppConnectorSettings } from '@tern/smpp-connector/config';
import { parse as parseYaml, stringify } from 'yaml';
import {
  CHART_DIR,
  EXAMPLE_OPERATOR_SECRETS,
  MARKETING_APART,
  renderChart,
  TWO_LANES,
  WITH_KEDA,
} from '../src/chart';
import {
  entriesOf,
  objectNamed,
  objectsOf,
  parseManifests,
  podSpecOf,
  podView,
  serviceOf,
  type Manifest,
} from '../src/manifests';

const SERVICES: Record<string, { settings: Settings; checkFiles: FilesCheck<Settings> }> = {
  ingest: { settings: ingestSettings, checkFiles: checkIngestFiles as FilesCheck<Settings> },
  risk: { settings: riskSettings, checkFiles: checkRiskFiles as FilesCheck<Settings> },
  router: { settings: routerSettings, checkFiles: checkRouterFiles as FilesCheck<Settings> },
  'smpp-connector': {
    settings: smppConnectorSettings,
    checkFiles: checkSmppConnectorFiles as FilesCheck<Settings>,
  },
  dlr: { settings: dlrSettings, checkFiles: checkDlrFiles as FilesCheck<Settings> },
  analytics: { settings: analyticsSettings, checkFiles: checkAnalyticsFiles as FilesCheck<Settings> },
};

let dir: string;
let twoLanes: Manifest[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tern-chart-'));
  twoLanes = parseManifests(renderChart({ values: [TWO_LANES], apiVersions: WITH_KEDA }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the service of a workload says of the environment and files the chart gives its pod. */
function problemsOf(manifests: Manifest[], workload: Manifest): string[] {
  const { env } = podView(manifests, workload, join(dir, 'pod'), EXAMPLE_OPERATOR_SECRETS);
  const service = SERVICES[serviceOf(workload)];
  if (!service) throw new Error(`${workload.metadata.name}: unknown service ${serviceOf(workload)}`);
  // NODE_OPTIONS is Node's own (common.nodeOptions).
  const known = new Set([
    'TERN_SERVICE',
    'NODE_OPTIONS',
    ...Object.values(service.settings).map((s) => s.env),
  ]);
  // A misspelt optional setting would be ignored by the service: every variable must be one it reads.
  const unknown = Object.keys(env)
    .filter((name) => !known.has(name))
    .map((name) => `${name}: not a setting of ${serviceOf(workload)}`);
  return [...unknown, ...checkConfig(service.settings, service.checkFiles, env)];
}

const key = (m: Manifest) => `${m.kind}/${m.metadata.name}`;
const routingTableOf = (manifests: Manifest[]) =>
  parseYaml(entriesOf(objectNamed(manifests, 'ConfigMap', 'tern-files'))['routing-table.yaml'] ?? '') as {
    lanes: Record<string, string>;
    defaultLane: string;
  };
const channelsOfLane = (manifests: Manifest[], lane: string) =>
  (
    parseYaml(
      entriesOf(objectNamed(manifests, 'ConfigMap', 'tern-files'))[`channels-${lane}.yaml`] ?? '',
    ) as {
      channels: { id: string }[];
    }
  ).channels.map((c) => c.id);
const topicLanes = (manifests: Manifest[]) =>
  podSpecOf(objectNamed(manifests, 'Job', 'tern-topics'))
    .containers[0]?.env?.find((e) => e.name === 'TERN_LANES')
    ?.value?.split(',')
    .sort();

describe('the Helm chart', () => {
  it('gives every service every setting and file it needs, as the service itself checks them', () => {
    const workloads = objectsOf(twoLanes, 'Deployment');
    expect(workloads.map((w) => serviceOf(w)).sort()).toEqual([
      'analytics',
      'dlr',
      'ingest',
      'risk',
      'router',
      'smpp-connector',
      'smpp-connector',
      'smpp-connector',
    ]);
    const problems = Object.fromEntries(workloads.map((w) => [w.metadata.name, problemsOf(twoLanes, w)]));
    expect(problems).toEqual(Object.fromEntries(workloads.map((w) => [w.metadata.name, []])));
  });

  it('fails that check when a workload lacks a required setting, a secret or a file', () => {
    const withoutRedis = structuredClone(objectNamed(twoLanes, 'Deployment', 'tern-router'));
    const container = podSpecOf(withoutRedis).containers[0]!;
    container.env = container.env?.filter((e) => e.name !== 'TERN_REDIS_URL');
    expect(problemsOf(twoLanes, withoutRedis)).toEqual(['TERN_REDIS_URL: is required']);

    const misspelt = structuredClone(objectNamed(twoLanes, 'Deployment', 'tern-risk'));
    podSpecOf(misspelt).containers[0]!.env?.push({ name: 'TERN_RISK_POLICY_RELOAD', value: '1000' });
    expect(problemsOf(twoLanes, misspelt)).toEqual(['TERN_RISK_POLICY_RELOAD: not a setting of risk']);

    const withoutPassword = structuredClone(objectNamed(twoLanes, 'Deployment', 'tern-connector-gulf'));
    const secrets = podSpecOf(withoutPassword).volumes?.find((v) => v.name === 'secrets')?.secret;
    secrets!.items = secrets!.items?.filter((i) => i.key !== 'smpp-gulf-direct');
    expect(problemsOf(twoLanes, withoutPassword)).toEqual([
      expect.stringMatching(/channel gulf-direct password: secret file .*smpp-gulf-direct cannot be read/),
    ]);
  });

  it('stops rendering with a message naming a required value that is missing or wrong', () => {
    const refusals: [string, RegExp][] = [
      ['kafka.brokers=null', /kafka\.brokers: list the Kafka bootstrap servers/],
      ['riskPolicy=null', /riskPolicy: the risk policy is required/],
      ['secrets.values.redis-url=', /secrets\.values\.redis-url is required/],
      ['secrets.values.smpp-asia-direct=', /secrets\.values\.smpp-asia-direct is required/],
      ['lanes.sea.countries={AE}', /country AE is in lanes gulf and sea/],
      ['lanes.sea.maxReplicas=40', /channel asia-direct: its lanes' connectors could submit 4000\/s/],
      ['lanes.arctic.countries={GL}', /lane "arctic": no channel reaches GL/],
      ['autoscaling.mode=sometimes', /autoscaling\.mode "sometimes"/],
      ['lanes.sea-bulk.countries={TH}', /lane "sea-bulk": a lane name does not end in -bulk/],
    ];
    for (const [set, message] of refusals) {
      expect(() => renderChart({ values: [TWO_LANES], set: [set] })).toThrow(message);
    }
  });

  it('routes each lane’s countries to its topic, served by a connector with the channels that reach them', () => {
    const table = routingTableOf(twoLanes);
    expect(table.lanes).toEqual({ AE: 'gulf', SA: 'gulf', QA: 'gulf', SG: 'sea', ID: 'sea', VN: 'sea' });
    expect(table.defaultLane).toBe('default');
    expect(channelsOfLane(twoLanes, 'gulf')).toEqual(['gulf-direct', 'global-aggregator']);
    expect(channelsOfLane(twoLanes, 'sea')).toEqual(['asia-direct', 'global-aggregator']);
    // GB and US are in no lane: the aggregator that reaches them serves the default lane too.
    expect(channelsOfLane(twoLanes, 'default')).toEqual(['global-aggregator']);
    expect(topicLanes(twoLanes)).toEqual(['default', 'gulf', 'sea']);

    const scaled = objectNamed(twoLanes, 'ScaledObject', 'tern-connector-sea').spec as {
      scaleTargetRef: { name: string };
      minReplicaCount: number;
      maxReplicaCount: number;
      cooldownPeriod: number;
      triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
    };
    expect(scaled).toMatchObject({
      scaleTargetRef: { name: 'tern-connector-sea' },
      minReplicaCount: 1,
      maxReplicaCount: 4,
      cooldownPeriod: 120,
    });
    // The lag of each traffic class's group: a marketing backlog is the bulk group's alone.
    expect(scaled.triggers).toEqual(
      ['tern-smpp-connector-sea', 'tern-smpp-connector-sea-bulk'].map((consumerGroup): unknown =>
        expect.objectContaining({
          type: 'kafka',
          metadata: expect.objectContaining({
            consumerGroup,
            topic: 'sms.dispatch.sea',
            lagThreshold: '500',
          }),
          authenticationRef: { name: 'tern-kafka' },
        }),
      ),
    );
    // The autoscaler owns a lane's replicas: the Deployment does not say how many.
    expect(objectNamed(twoLanes, 'Deployment', 'tern-connector-sea').spec as object).not.toHaveProperty(
      'replicas',
    );
  });

  it('adds exactly a lane’s topic, connector, autoscaler, Service and disruption budget when a lane is added', () => {
    const values = parseYaml(readFileSync(TWO_LANES, 'utf8')) as {
      channels: unknown[];
      secrets: { values: Record<string, string> };
      lanes: Record<string, unknown>;
    };
    values.channels.push({
      id: 'latam-direct',
      tier: 'direct',
      tps: 200,
      senderTypes: ['alphanumeric'],
      countries: { BR: { price: 0.02 }, MX: { price: 0.025 } },
      smpp: { host: 'smsc.latam.example', port: 2775, systemId: 'tern', tpsPerBind: 50 },
    });
    values.secrets.values['smpp-latam-direct'] = 'example-smpp-password-4';
    values.lanes.latam = { countries: ['BR', 'MX'] };
    const withLatam = join(dir, 'with-latam.yaml');
    writeFileSync(withLatam, stringify(values));
    const threeLanes = parseManifests(renderChart({ values: [withLatam], apiVersions: WITH_KEDA }));

    const before = new Set(twoLanes.map(key));
    expect(
      threeLanes
        .map(key)
        .filter((k) => !before.has(k))
        .sort(),
    ).toEqual([
      'Deployment/tern-connector-latam',
      'PodDisruptionBudget/tern-connector-latam',
      'ScaledObject/tern-connector-latam',
      'Service/tern-connector-latam',
    ]);
    expect(twoLanes.map(key).filter((k) => !threeLanes.map(key).includes(k))).toEqual([]);
    expect(topicLanes(threeLanes)).toEqual(['default', 'gulf', 'latam', 'sea']);
    expect(routingTableOf(threeLanes).lanes).toEqual({
      ...routingTableOf(twoLanes).lanes,
      BR: 'latam',
      MX: 'latam',
    });
    expect(channelsOfLane(threeLanes, 'latam')).toEqual(['latam-direct']);
    expect(problemsOf(threeLanes, objectNamed(threeLanes, 'Deployment', 'tern-connector-latam'))).toEqual([]);

    // A country added to a lane is a routing change only.
    const withThailand = parseManifests(
      renderChart({
        values: [TWO_LANES],
        set: ['lanes.sea.countries={SG,ID,VN,TH}'],
        apiVersions: WITH_KEDA,
      }),
    );
    expect(withThailand.map(key).sort()).toEqual(twoLanes.map(key).sort());
    expect(routingTableOf(withThailand).lanes.TH).toBe('sea');
  });

  it('rolls a lane’s connectors when its channels change, which a connector reads only as it starts', () => {
    const values = parseYaml(readFileSync(TWO_LANES, 'utf8')) as {
      channels: { id: string; smpp: { host: string } }[];
    };
    const asia = values.channels.find((c) => c.id === 'asia-direct');
    if (!asia) throw new Error('two-lanes.yaml: no asia-direct channel');
    // The carrier moved its SMSC.
    asia.smpp.host = 'smsc2.asia-carrier.example';
    const moved = join(dir, 'moved-smsc.yaml');
    writeFileSync(moved, stringify(values));
    const changed = parseManifests(renderChart({ values: [moved], apiVersions: WITH_KEDA }));
    const checksumsOf = (manifests: Manifest[]) =>
      Object.fromEntries(
        objectsOf(manifests, 'Deployment').map((d) => {
          const { template } = d.spec as { template: { metadata: { annotations?: Record<string, string> } } };
          return [d.metadata.name, template.metadata.annotations?.['checksum/channels']];
        }),
      );
    const before = checksumsOf(twoLanes);
    const after = checksumsOf(changed);
    // Only the lane whose channels changed rolls: asia-direct serves the sea lane alone.
    const rolled = Object.keys(after).filter((name) => after[name] !== before[name]);
    expect(rolled).toEqual(['tern-connector-sea']);
    // Every connector has the checksum (and only connectors): a lane without it would never roll.
    for (const [name, checksum] of Object.entries(before)) {
      expect([name, checksum !== undefined]).toEqual([name, name.startsWith('tern-connector-')]);
    }
  });

  it('runs marketing in Deployments of its own, each scaled on its own class’s lag, within each channel’s tps', () => {
    const apart = parseManifests(
      renderChart({ values: [TWO_LANES, MARKETING_APART], apiVersions: WITH_KEDA }),
    );
    const bulkConnectors = ['default', 'gulf', 'sea'].map((lane) => `tern-connector-${lane}-bulk`);
    const bulkOnes = ['tern-risk-bulk', 'tern-router-bulk', ...bulkConnectors];
    const before = new Set(twoLanes.map(key));
    expect(
      apart
        .map(key)
        .filter((k) => !before.has(k))
        .sort(),
    ).toEqual(
      [
        ...['Deployment', 'PodDisruptionBudget', 'Service'].flatMap((kind) =>
          bulkOnes.map((name) => `${kind}/${name}`),
        ),
        ...bulkConnectors.map((name) => `ScaledObject/${name}`),
      ].sort(),
    );

    // Each takes one class, and its service accepts what the chart gives it.
    const workloads = objectsOf(apart, 'Deployment');
    const classOf = (w: Manifest) =>
      podSpecOf(w).containers[0]?.env?.find((e) => e.name === 'TERN_TRAFFIC_CLASSES')?.value ?? 'both';
    expect(Object.fromEntries(workloads.map((w) => [w.metadata.name, classOf(w)]))).toEqual({
      'tern-ingest': 'both',
      'tern-dlr': 'both',
      'tern-analytics': 'both',
      'tern-risk': 'priority',
      'tern-risk-bulk': 'bulk',
      'tern-router': 'priority',
      'tern-router-bulk': 'bulk',
      'tern-connector-default': 'priority',
      'tern-connector-default-bulk': 'bulk',
      'tern-connector-gulf': 'priority',
      'tern-connector-gulf-bulk': 'bulk',
      'tern-connector-sea': 'priority',
      'tern-connector-sea-bulk': 'bulk',
    });
    const problems = Object.fromEntries(workloads.map((w) => [w.metadata.name, problemsOf(apart, w)]));
    expect(problems).toEqual(Object.fromEntries(workloads.map((w) => [w.metadata.name, []])));
    // A lane's two connectors bind to the same channels.
    const channelsFile = (name: string) =>
      podSpecOf(objectNamed(apart, 'Deployment', name)).containers[0]?.env?.find(
        (e) => e.name === 'TERN_SMPP_CHANNELS_FILE',
      )?.value;
    expect(channelsFile('tern-connector-sea-bulk')).toBe(channelsFile('tern-connector-sea'));

    // A campaign's backlog scales the bulk connectors alone; OTP traffic the others alone.
    const scaling = (name: string) => {
      const spec = objectNamed(apart, 'ScaledObject', name).spec as {
        maxReplicaCount: number;
        triggers: { metadata: Record<string, string> }[];
      };
      return [spec.maxReplicaCount, spec.triggers.map((t) => t.metadata.consumerGroup)];
    };
    expect(scaling('tern-connector-sea')).toEqual([3, ['tern-smpp-connector-sea']]);
    expect(scaling('tern-connector-sea-bulk')).toEqual([1, ['tern-smpp-connector-sea-bulk']]);

    // The bulk connectors' binds count against a channel's tps: gulf-direct's 300/s is taken.
    expect(() =>
      renderChart({ values: [TWO_LANES, MARKETING_APART], set: ['lanes.gulf.bulk.maxReplicas=2'] }),
    ).toThrow(
      /channel gulf-direct: its lanes' connectors could submit 400\/s \(maxReplicas x binds x tpsPerBind, bulk connectors' too\), more than its tps 300/,
    );
    // What fits apart fits together.
    expect(() =>
      renderChart({ values: [TWO_LANES, MARKETING_APART], set: ['marketingApart.enabled=false'] }),
    ).not.toThrow();
  });

  it('scales lanes with a CPU autoscaler where the cluster has no KEDA', () => {
    const plain = parseManifests(renderChart({ values: [TWO_LANES] }));
    expect(objectsOf(plain, 'ScaledObject')).toEqual([]);
    expect(
      objectsOf(plain, 'HorizontalPodAutoscaler')
        .map((h) => h.metadata.name)
        .sort(),
    ).toEqual(['tern-connector-default', 'tern-connector-gulf', 'tern-connector-sea']);
    expect(objectNamed(plain, 'HorizontalPodAutoscaler', 'tern-connector-gulf').spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: 'tern-connector-gulf' },
      minReplicas: 1,
      maxReplicas: 3,
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    });
  });

  it('gives the Prometheus Operator the alert rules and Grafana the dashboard, the files deploy/monitoring tests', () => {
    const monitored = parseManifests(
      renderChart({
        values: [TWO_LANES],
        apiVersions: ['monitoring.coreos.com/v1/PrometheusRule'],
        set: ['monitoring.grafanaDashboard=true', 'monitoring.ruleLabels.release=kube-prometheus-stack'],
      }),
    );
    const rules = objectNamed(monitored, 'PrometheusRule', 'tern-alerts');
    expect(rules.spec).toEqual(
      parseYaml(readFileSync(join(CHART_DIR, '../../monitoring/rules/tern.yml'), 'utf8')),
    );
    expect(rules.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    const dashboard = objectNamed(monitored, 'ConfigMap', 'tern-dashboard');
    expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse(entriesOf(dashboard)['tern-overview.json'] ?? '')).toEqual(
      JSON.parse(readFileSync(join(CHART_DIR, '../../monitoring/grafana/tern-overview.json'), 'utf8')),
    );
    // Where the cluster has no Prometheus Operator, nothing it could not apply.
    const plain = parseManifests(renderChart({ values: [TWO_LANES] }));
    expect(objectsOf(plain, 'PrometheusRule')).toEqual([]);
    expect(objectsOf(plain, 'ConfigMap').map((c) => c.metadata.name)).not.toContain('tern-dashboard');
  });

  it('keeps every secret out of ConfigMaps and environment values', () => {
    const secretValues = Object.values(entriesOf(objectNamed(twoLanes, 'Secret', 'tern-secrets'))).filter(
      (v) => !v.includes('\n'),
    );
    expect(secretValues.length).toBeGreaterThan(5);
    const exposed = [
      ...objectsOf(twoLanes, 'ConfigMap').flatMap((c) => Object.values(entriesOf(c))),
      ...[...objectsOf(twoLanes, 'Deployment'), ...objectsOf(twoLanes, 'Job')].flatMap((w) =>
        podSpecOf(w).containers.flatMap((c) => (c.env ?? []).map((e) => e.value ?? '')),
      ),
    ].join('\n');
    for (const value of secretValues) expect(exposed).not.toContain(value);
  });

  it('gives every service a young generation of 16 MB a semi-space, not what a 512Mi limit makes Node choose', () => {
    const nodeOptions = (manifests: Manifest[]) =>
      Object.fromEntries(
        objectsOf(manifests, 'Deployment').map((w) => [
          w.metadata.name,
          podSpecOf(w).containers[0]?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value,
        ]),
      );
    const given = nodeOptions(twoLanes);
    expect(Object.values(given)).toHaveLength(8);
    expect(new Set(Object.values(given))).toEqual(new Set(['--max-semi-space-size=16']));
    // An operator's own options replace the chart's; an empty value leaves the variable out.
    const file = join(dir, 'node-options.yaml');
    writeFileSync(file, stringify({ common: { nodeOptions: '--max-semi-space-size=32' } }));
    const theirs = nodeOptions(
      parseManifests(renderChart({ values: [TWO_LANES, file], apiVersions: WITH_KEDA })),
    );
    expect(new Set(Object.values(theirs))).toEqual(new Set(['--max-semi-space-size=32']));
    writeFileSync(file, stringify({ common: { nodeOptions: '' } }));
    const none = nodeOptions(
      parseManifests(renderChart({ values: [TWO_LANES, file], apiVersions: WITH_KEDA })),
    );
    expect(new Set(Object.values(none))).toEqual(new Set([undefined]));
  });

  it('runs every pod as a non-root user on a read-only root filesystem, stopping within its grace period', () => {
    for (const workload of [...objectsOf(twoLanes, 'Deployment'), ...objectsOf(twoLanes, 'Job')]) {
      const pod = podSpecOf(workload) as ReturnType<typeof podSpecOf> & {
        securityContext: { runAsNonRoot: boolean };
        terminationGracePeriodSeconds?: number;
      };
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      for (const c of pod.containers as (ReturnType<typeof podSpecOf>['containers'][number] & {
        securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
      })[]) {
        expect(c.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
      }
      if (workload.kind === 'Deployment') {
        const shutdownMs = Number(
          pod.containers[0]?.env?.find((e) => e.name === 'TERN_SHUTDOWN_TIMEOUT_MS')?.value,
        );
        expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(shutdownMs);
      }
    }
  });
});
