// What a rendered chart gives a pod: its environment and the files it sees under /etc/tern, taken from the
// manifests alone, so a test can hand them to the service's own configuration check.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  emptyDir?: unknown;
}

export interface Container {
  name: string;
  command?: string[];
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string }[];
}

interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
}

/** Where the pods see their files; a test puts them under a directory of its own instead. */
const POD_ROOT = '/etc/tern/';

/** Every object of a multi-document YAML stream (`helm template` output), empty documents left out. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null && typeof m === 'object' && 'kind' in m);
}

export function objectsOf(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

export function objectNamed(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered chart`);
  return found;
}

export function podSpecOf(workload: Manifest): PodSpec {
  return (workload.spec as { template: { spec: PodSpec } }).template.spec;
}

/** The service a workload's container runs (its TERN_SERVICE). */
export function serviceOf(workload: Manifest): string {
  const env = podSpecOf(workload).containers[0]?.env ?? [];
  const service = env.find((e) => e.name === 'TERN_SERVICE')?.value;
  if (!service) throw new Error(`${workload.metadata.name}: no TERN_SERVICE`);
  return service;
}

/** A Secret's or ConfigMap's entries, whichever way the chart wrote them. */
export function entriesOf(object: Manifest): Record<string, string> {
  const decoded = Object.fromEntries(
    Object.entries(object.data ?? {}).map(([k, v]) => [
      k,
      object.kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v,
    ]),
  );
  return { ...decoded, ...(object.stringData ?? {}) };
}

/**
 * What the pod of a workload sees, placed under `root` instead of /etc/tern: each mounted Secret and
 * ConfigMap item as a file (its content's /etc/tern paths moved the same way), and the container's
 * environment with Secret references resolved and paths moved. `given` holds Secrets the chart expects to
 * exist already (CA bundles, certificates), by name. A reference to something neither rendered nor given
 * is an error: the pod would not start.
 */
export function podView(
  manifests: Manifest[],
  workload: Manifest,
  root: string,
  given: Record<string, Record<string, string>> = {},
): { env: Record<string, string> } {
  const moved = (text: string) => text.split(POD_ROOT).join(`${root}/`);
  const secret = (name: string): Record<string, string> => {
    const rendered = manifests.find((m) => m.kind === 'Secret' && m.metadata.name === name);
    const entries = rendered ? entriesOf(rendered) : given[name];
    if (!entries) throw new Error(`${workload.metadata.name}: Secret ${name} is neither rendered nor given`);
    return entries;
  };
  const spec = podSpecOf(workload);
  const container = spec.containers[0];
  if (!container) throw new Error(`${workload.metadata.name}: no container`);

  rmSync(root, { recursive: true, force: true });
  for (const mount of container.volumeMounts ?? []) {
    const volume = spec.volumes?.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`${workload.metadata.name}: mount ${mount.name} has no volume`);
    if (volume.emptyDir !== undefined) continue;
    const source = volume.secret
      ? {
          entries: secret(volume.secret.secretName),
          items: volume.secret.items,
          what: volume.secret.secretName,
        }
      : volume.configMap
        ? {
            entries: entriesOf(objectNamed(manifests, 'ConfigMap', volume.configMap.name)),
            items: volume.configMap.items,
            what: volume.configMap.name,
          }
        : undefined;
    if (!source) throw new Error(`${workload.metadata.name}: volume ${volume.name} of an unknown kind`);
    const items = source.items ?? Object.keys(source.entries).map((key) => ({ key, path: key }));
    for (const item of items) {
      const content = source.entries[item.key];
      if (content === undefined)
        throw new Error(`${workload.metadata.name}: ${source.what} has no key ${item.key}`);
      const file = moved(join(mount.mountPath, item.path));
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, moved(content));
    }
  }

  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    const value = ref ? secret(ref.name)[ref.key] : e.value;
    if (value === undefined)
      throw new Error(
        `${workload.metadata.name}: ${e.name} names ${ref?.name}/${ref?.key}, which has no value`,
      );
    env[e.name] = moved(value);
  }
  return { env };
}
