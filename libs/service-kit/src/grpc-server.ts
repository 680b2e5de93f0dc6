import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { roleAllows, type Operator, type OperatorDirectory, type OperatorRole } from '@tern/config';
import type { Logger } from '@tern/telemetry';
import { untilPortFree } from './port-wait';

/** Where a gRPC server's TLS material is (see grpcTlsSettings); every file is re-read every `reloadMs`. */
export interface GrpcTls {
  certFile: string;
  keyFile: string;
  /** Clients must present a certificate signed by this CA (mutual TLS). */
  clientCaFile?: string;
  reloadMs: number;
}

/** The TLS of a service's gRPC server from its settings: none when no certificate is configured. */
export function grpcTlsFromSettings(config: {
  grpcTlsCertFile?: string | undefined;
  grpcTlsKeyFile?: string | undefined;
  grpcTlsClientCaFile?: string | undefined;
  grpcTlsReloadMs: number;
}): GrpcTls | undefined {
  const { grpcTlsCertFile: certFile, grpcTlsKeyFile: keyFile, grpcTlsClientCaFile: clientCaFile } = config;
  if (!certFile && !keyFile) {
    if (clientCaFile)
      throw new Error('TERN_GRPC_TLS_CLIENT_CA_FILE needs TERN_GRPC_TLS_CERT_FILE and _KEY_FILE');
    return undefined;
  }
  if (!certFile || !keyFile)
    throw new Error('TERN_GRPC_TLS_CERT_FILE and TERN_GRPC_TLS_KEY_FILE go together');
  return { certFile, keyFile, ...(clientCaFile ? { clientCaFile } : {}), reloadMs: config.grpcTlsReloadMs };
}

/**
 * Server credentials, and a promise that settles once the files were first read: grpc-js reads them in the
 * background and refuses handshakes until then, so a server reports SERVING only after it.
 */
function serverCredentials(tls: GrpcTls | undefined): {
  credentials: grpc.ServerCredentials;
  loaded: () => Promise<void>;
  release: () => void;
} {
  if (!tls)
    return {
      credentials: grpc.ServerCredentials.createInsecure(),
      loaded: async () => {},
      release: () => {},
    };
  // grpc-js re-reads the files and swaps its secure context when they change: rotation without a restart.
  const identity = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: tls.certFile,
    privateKeyFile: tls.keyFile,
    refreshIntervalMs: tls.reloadMs,
  });
  const clientCa = tls.clientCaFile
    ? new grpc.experimental.FileWatcherCertificateProvider({
        caCertificateFile: tls.clientCaFile,
        refreshIntervalMs: tls.reloadMs,
      })
    : null;
  const releases: (() => void)[] = [];
  const firstRead = (watch: (done: (update: unknown) => void) => () => void, what: string) =>
    new Promise<void>((resolve, reject) => {
      releases.push(
        watch((update) => (update ? resolve() : reject(new Error(`gRPC TLS: ${what} cannot be read`)))),
      );
    });
  return {
    // Despite its first parameter's name, grpc-js takes the identity provider first, then the CA's.
    credentials: grpc.experimental.createCertificateProviderServerCredentials(
      identity,
      clientCa,
      clientCa !== null,
    ),
    loaded: async () => {
      await Promise.all([
        firstRead((done) => {
          identity.addIdentityCertificateListener(done);
          return () => identity.removeIdentityCertificateListener(done);
        }, `${tls.certFile} or ${tls.keyFile}`),
        ...(clientCa
          ? [
              firstRead((done) => {
                clientCa.addCaCertificateListener(done);
                return () => clientCa.removeCaCertificateListener(done);
              }, tls.clientCaFile ?? ''),
            ]
          : []),
      ]);
    },
    // Our listeners go once the server has its own (after binding), so the files are watched throughout.
    release: () => releases.forEach((r) => r()),
  };
}

/** The metadata an operator's token travels in: `authorization: Bearer <token>`. */
export const OPERATOR_AUTH_HEADER = 'authorization';

/**
 * Guards the methods of an operators' API: each needs a token of an operator whose role allows the
 * method's (`roles`, by method name; a method not listed needs the strongest role, so a new one is never
 * open by mistake). Health checking and reflection stay open for probes and tools. Tenants' API keys are
 * not operators' tokens: they are refused like any unknown token.
 */
/** The operator whose token a call carries (`authorization: Bearer <token>`), if any. */
export function callingOperator(operators: OperatorDirectory, metadata: grpc.Metadata): Operator | undefined {
  const [value] = metadata.get(OPERATOR_AUTH_HEADER);
  const token = typeof value === 'string' ? /^Bearer (.+)$/i.exec(value)?.[1] : undefined;
  return token ? operators.authenticate(token) : undefined;
}

export function operatorGuard(
  service: string,
  operators: OperatorDirectory,
  roles: Record<string, OperatorRole>,
): grpc.ServerInterceptor {
  const prefix = `/${service}/`;
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next(
          new grpc.ServerListenerBuilder()
            .withOnReceiveMetadata((metadata, pass) => {
              if (!method.path.startsWith(prefix)) return pass(metadata);
              const needed = roles[method.path.slice(prefix.length)] ?? 'operator';
              const operator = callingOperator(operators, metadata);
              if (!operator) {
                call.sendStatus({
                  code: grpc.status.UNAUTHENTICATED,
                  details: `an operator's token is needed in "${OPERATOR_AUTH_HEADER}: Bearer <token>" metadata`,
                  metadata: new grpc.Metadata(),
                });
              } else if (!roleAllows(operator.role, needed)) {
                call.sendStatus({
                  code: grpc.status.PERMISSION_DENIED,
                  details: `${method.path} needs the ${needed} role; ${operator.id} is a ${operator.role}`,
                  metadata: new grpc.Metadata(),
                });
              } else pass(metadata);
            })
            .build(),
        ),
    });
}

export interface GrpcServerOptions {
  /** grpc-js server options (message sizes, keepalive). */
  grpc?: grpc.ServerOptions;
  /** Serve TLS only (see grpcTlsFromSettings); plaintext without. */
  tls?: GrpcTls | undefined;
  /** Checks every call before its handler (see operatorGuard). */
  guard?: grpc.ServerInterceptor;
  /** Where waiting for a held port is logged. */
  log?: Logger;
}

/**
 * The gRPC server of one service (grpc-js): the service itself, standard health checking (SERVING only
 * while listening) and server reflection from its .proto file, so grpcurl and load balancers work alike
 * for every Tern API; TLS (optionally mutual) when configured, and a guard for operators' APIs.
 */
export class GrpcServer {
  private readonly server: grpc.Server;
  private readonly health: HealthImplementation;

  constructor(
    private readonly serviceName: string,
    proto: { path: string; includeDirs: string[] },
    definition: grpc.ServiceDefinition,
    handlers: grpc.UntypedServiceImplementation,
    private readonly options: GrpcServerOptions = {},
  ) {
    this.server = new grpc.Server({
      ...options.grpc,
      ...(options.guard ? { interceptors: [options.guard] } : {}),
    });
    this.server.addService(definition, handlers);
    this.health = new HealthImplementation({ '': 'NOT_SERVING', [serviceName]: 'NOT_SERVING' });
    this.health.addToServer(this.server);
    const loaded = protoLoader.loadSync(proto.path, { includeDirs: proto.includeDirs });
    new ReflectionService(loaded).addToServer(this.server);
  }

  /**
   * Binds (port 0: a free one; a port held by a connection is waited out, see untilPortFree), with TLS when
   * configured, and reports SERVING; returns the port.
   */
  async listen(host: string, port: number): Promise<number> {
    const { credentials, loaded, release } = serverCredentials(this.options.tls);
    try {
      // grpc-js cannot bind a port again after a failed bind, so a held one is waited out before.
      await untilPortFree(host, port, this.options.log);
      await loaded();
      const bound = await new Promise<number>((resolve, reject) =>
        this.server.bindAsync(`${host}:${port}`, credentials, (error, p) =>
          error ? reject(error) : resolve(p),
        ),
      );
      // The server takes the files' contents on the next tick after binding.
      await new Promise((resolve) => setImmediate(resolve));
      this.setServing(true);
      return bound;
    } finally {
      release();
    }
  }

  /** Reports NOT_SERVING, stops taking calls and lets the calls in progress finish. */
  async close(): Promise<void> {
    this.setServing(false);
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(this.serviceName, status);
  }
}
