// Renders the Helm chart with the helm binary that scripts/setup.sh builds into .tools/bin.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..', '..');
export const CHART_DIR = join(REPO_ROOT, 'deploy/helm/tern');
export const TWO_LANES = join(CHART_DIR, 'examples/two-lanes.yaml');
/** Values layered on TWO_LANES: marketing in Deployments of its own. */
export const MARKETING_APART = join(CHART_DIR, 'examples/marketing-apart.yaml');
/** Secrets the two-lane example's operator makes before installing: the brokers' CA and the gRPC certificate. */
export const EXAMPLE_OPERATOR_SECRETS = {
  'kafka-ca': { 'ca.crt': 'a CA bundle' },
  'tern-grpc-tls': { 'tls.crt': 'a certificate', 'tls.key': 'its key' },
};
/** The cluster serves KEDA's ScaledObject: the chart scales lanes with it (autoscaling.mode auto). */
export const WITH_KEDA = ['keda.sh/v1alpha1/ScaledObject', 'keda.sh/v1alpha1/TriggerAuthentication'];

export interface RenderOptions {
  values?: string[];
  set?: string[];
  apiVersions?: string[];
  release?: string;
}

/** `helm template` of the chart: the manifests, or an error with helm's own message. */
export function renderChart(options: RenderOptions = {}): string {
  const args = [
    'template',
    options.release ?? 'tern',
    CHART_DIR,
    '--kube-version',
    '1.34.0',
    ...(options.values ?? []).flatMap((v) => ['-f', v]),
    ...(options.set ?? []).flatMap((s) => ['--set', s]),
    ...(options.apiVersions ?? []).flatMap((a) => ['--api-versions', a]),
  ];
  const run = spawnSync(process.env.TERN_HELM ?? 'helm', args, { encoding: 'utf8' });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(run.stderr.trim());
  return run.stdout;
}
