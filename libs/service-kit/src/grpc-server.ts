import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';

/**
 * The gRPC server of one service (grpc-js): the service itself, standard health checking (SERVING only
 * while listening) and server reflection from its .proto file, so grpcurl and load balancers work alike
 * for every Tern API.
 */
export class GrpcServer {
  private readonly server: grpc.Server;
  private readonly health: HealthImplementation;

  constructor(
    private readonly serviceName: string,
    proto: { path: string; includeDirs: string[] },
    definition: grpc.ServiceDefinition,
    handlers: grpc.UntypedServiceImplementation,
    options: grpc.ServerOptions = {},
  ) {
    this.server = new grpc.Server(options);
    this.server.addService(definition, handlers);
    this.health = new HealthImplementation({ '': 'NOT_SERVING', [serviceName]: 'NOT_SERVING' });
    this.health.addToServer(this.server);
    const loaded = protoLoader.loadSync(proto.path, { includeDirs: proto.includeDirs });
    new ReflectionService(loaded).addToServer(this.server);
  }

  /** Binds (port 0: a free one) and reports SERVING; returns the port. */
  async listen(host: string, port: number): Promise<number> {
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
        error ? reject(error) : resolve(p),
      ),
    );
    this.setServing(true);
    return bound;
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
