import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { GrpcTls } from './grpc-server';
import type { Logger } from '@tern/telemetry';
import { untilPortFree } from './port-wait';

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

/**
 * An HTTP server for one handler: HTTPS on the TLS files when given (re-read for rotation, as above), plain
 * HTTP otherwise (local runs).
 */
export class HttpServer {
  private readonly server: Server | HttpsServer;
  private readonly stopReloading: (() => void) | undefined;

  constructor(
    handler: (req: IncomingMessage, res: ServerResponse) => void,
    tls: GrpcTls | undefined,
    private readonly log: Logger,
  ) {
    if (tls) {
      const served = serveWithTlsFiles(tls, log, (options) => createHttpsServer(options, handler));
      this.server = served.server;
      this.stopReloading = served.stopReloading;
    } else {
      this.server = createHttpServer(handler);
    }
  }

  /** Listens; resolves with the port bound (0 picks a free one; a held one is waited out, see untilPortFree). */
  async listen(host: string, port: number): Promise<number> {
    await untilPortFree(host, port, this.log);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops taking connections; requests in progress finish. */
  async close(): Promise<void> {
    this.stopReloading?.();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
