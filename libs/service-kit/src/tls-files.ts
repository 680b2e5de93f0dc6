import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { GrpcTls } from './grpc-server';
import type { Logger } from '@tern/telemetry';

/**
 * A TLS server (HTTPS or raw TLS) on the gRPC API's certificate and key, re-read every `reloadMs` so a
 * rotated certificate is served without a restart, as the gRPC server does. With a client CA, clients must
 * present a certificate it signed.
 */
export function serveWithTlsFiles<S extends { setSecureContext(options: SecureContextOptions): void }>(
  tls: GrpcTls,
  log: Logger,
  create: (options: TlsOptions) => S,
): { server: S; stopReloading: () => void } {
  const context = () => ({
    cert: readFileSync(tls.certFile),
    key: readFileSync(tls.keyFile),
    ...(tls.clientCaFile ? { ca: readFileSync(tls.clientCaFile) } : {}),
  });
  const server = create({
    ...context(),
    requestCert: !!tls.clientCaFile,
    rejectUnauthorized: !!tls.clientCaFile,
  });
  const reload = setInterval(() => {
    try {
      server.setSecureContext(context());
    } catch (err) {
      log.error({ err }, 'reading the TLS files failed; the last good ones stay in use');
    }
  }, tls.reloadMs);
  reload.unref();
  return { server, stopReloading: () => clearInterval(reload) };
}
