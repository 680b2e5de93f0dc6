import { OperatorDirectory, TenantDirectory } from '@tern/config';
import type { Logger } from '@tern/telemetry';

/** A directory that follows its file while the service runs; `close` stops following. */
export interface Followed<T> {
  directory: T;
  close: () => void;
}

/** How a service says that a followed file changed, or that a new version of it was refused. */
const reporting = (what: string, log: Logger) => ({
  onChange: () => log.info(`${what} reloaded`),
  onRefused: (err: Error) => log.error({ err }, `${what} file refused; the last good one stays in force`),
});

/** The tenants of a service that knows them (ingest, dlr): keys added or removed apply without a restart. */
export function followTenants(
  config: { tenantsFile: string; tenantsReloadMs: number },
  log: Logger,
): Followed<TenantDirectory> {
  return TenantDirectory.watch(config.tenantsFile, {
    intervalMs: config.tenantsReloadMs,
    ...reporting('tenants', log),
  });
}

/** The operators of a service with an operators' API: tokens added or removed apply without a restart. */
export function followOperators(config: { operatorsFile: string }, log: Logger): Followed<OperatorDirectory> {
  return OperatorDirectory.watch(config.operatorsFile, reporting('operators', log));
}
