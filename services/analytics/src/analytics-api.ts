import * as grpc from '@grpc/grpc-js';
import {
  analytics,
  ANALYTICS_PROTO_PATH,
  events,
  grpcMethod,
  PROTO_ROOT,
  type MessageCodec,
} from '@tern/contracts';
import type { Logger } from '@tern/telemetry';
import type { OperatorDirectory, OperatorRole } from '@tern/config';
import { callingOperator, GrpcServer, operatorGuard, type GrpcTls } from '@tern/service-kit';
import type { DeadLetterDesk } from './dead-letter-desk';
import type { ChannelLine, ChannelReport, Verdict } from './domain/channel-report';

export const ANALYTICS_SERVICE = analytics.AnalyticsServiceDefinition.fullName;
/** The longest period one report call may cover: longer ones belong to the batch command. */
const MAX_REPORT_MS = 31 * 24 * 3_600_000;

const method = <Req, Res>(name: string, req: MessageCodec<Req>, res: MessageCodec<Res>) =>
  grpcMethod(ANALYTICS_SERVICE, name, req, res);

/** AnalyticsService for grpc-js, from the generated codecs. */
export const analyticsServiceDefinition = {
  listRoutingWeights: method(
    'ListRoutingWeights',
    analytics.ListRoutingWeightsRequest,
    analytics.ListRoutingWeightsResponse,
  ),
  getChannelReport: method(
    'GetChannelReport',
    analytics.GetChannelReportRequest,
    analytics.GetChannelReportResponse,
  ),
  listDeadLetters: method(
    'ListDeadLetters',
    analytics.ListDeadLettersRequest,
    analytics.ListDeadLettersResponse,
  ),
  replayDeadLetters: method(
    'ReplayDeadLetters',
    analytics.ReplayDeadLettersRequest,
    analytics.ReplayDeadLettersResponse,
  ),
} satisfies grpc.ServiceDefinition;

/** The role each method needs: a viewer reads (dashboards, reports, dead letters); an operator replays. */
const ROLES: Record<string, OperatorRole> = {
  ListRoutingWeights: 'viewer',
  GetChannelReport: 'viewer',
  ListDeadLetters: 'viewer',
  ReplayDeadLetters: 'operator',
};

/** A call refused for its arguments: INVALID_ARGUMENT with the reason. */
export class InvalidArgument extends Error {}

/** The handlers: the current weights, reports read from ClickHouse, and the dead letters. */
export class AnalyticsController implements analytics.AnalyticsService {
  constructor(
    private readonly weights: () => readonly events.RoutingWeight[],
    private readonly report: (from: Date, to: Date) => Promise<ChannelReport>,
    private readonly deadLetters: DeadLetterDesk,
    private readonly operators: OperatorDirectory,
  ) {}

  listDeadLetters(request: analytics.ListDeadLettersRequest): Promise<analytics.ListDeadLettersResponse> {
    return this.deadLetters.list(request);
  }

  replayDeadLetters(
    request: analytics.ReplayDeadLettersRequest,
    metadata?: grpc.Metadata,
  ): Promise<analytics.ReplayDeadLettersResponse> {
    // The guard let only an operator through; who it was goes to the audit log.
    const operator = metadata && callingOperator(this.operators, metadata);
    if (!operator) throw new Error('no operator on a guarded call');
    return this.deadLetters.replay(operator.id, request);
  }

  listRoutingWeights(
    request: analytics.ListRoutingWeightsRequest,
  ): Promise<analytics.ListRoutingWeightsResponse> {
    const country = request.country.toUpperCase();
    return Promise.resolve({ weights: this.weights().filter((w) => !country || w.country === country) });
  }

  async getChannelReport(
    request: analytics.GetChannelReportRequest,
  ): Promise<analytics.GetChannelReportResponse> {
    const to = request.to ?? new Date();
    const from = request.from ?? new Date(to.getTime() - 3_600_000);
    if (from >= to) throw new InvalidArgument('from must be before to');
    if (to.getTime() - from.getTime() > MAX_REPORT_MS) {
      throw new InvalidArgument('a report covers at most 31 days: use ./tern report for longer periods');
    }
    return reportMessage(await this.report(from, to));
  }
}

const VERDICTS: Record<Verdict, analytics.Verdict> = {
  unknown: analytics.Verdict.VERDICT_UNKNOWN,
  below: analytics.Verdict.VERDICT_BELOW,
  within: analytics.Verdict.VERDICT_WITHIN,
  above: analytics.Verdict.VERDICT_ABOVE,
};

function routeLine(l: ChannelLine): analytics.RouteLine {
  return {
    country: l.country,
    mccMnc: l.mccMnc,
    channelId: l.channelId,
    tier: l.tier,
    attempts: l.attempts,
    delivered: l.delivered,
    deliveryRate: l.deliveryRate,
    latencyP50Ms: l.latencyP50Ms,
    latencyP95Ms: l.latencyP95Ms,
    costPerDelivered: l.costPerDelivered,
    benchmarkDeliveryLow: l.benchmark?.delivery[0] ?? 0,
    benchmarkDeliveryHigh: l.benchmark?.delivery[1] ?? 0,
    benchmarkLatencyLowS: l.benchmark?.latencyS[0] ?? 0,
    benchmarkLatencyHighS: l.benchmark?.latencyS[1] ?? 0,
    deliveryVerdict: VERDICTS[l.deliveryVerdict],
    latencyVerdict: VERDICTS[l.latencyVerdict],
    otpsDelivered: Math.round(l.conversion?.delivered ?? 0),
    otpsConverted: Math.round(l.conversion?.converted ?? 0),
    conversionReference: l.conversion?.reference ?? 0,
    receiptsConfirmed: l.conversion?.confirmed ?? 0,
    timeToUseMeanMs: l.conversion?.timeToUseMeanMs ?? 0,
  };
}

function reportMessage(r: ChannelReport): analytics.GetChannelReportResponse {
  return {
    from: new Date(r.from),
    to: new Date(r.to),
    attempts: r.totals.attempts,
    delivered: r.totals.delivered,
    costPerDelivered: r.totals.costPerDelivered,
    channels: r.channels.map(routeLine),
    carriers: r.carriers.map(routeLine),
    routing: r.routing.map((b) => ({
      at: new Date(b.at),
      country: b.country,
      channelId: b.channelId,
      attempts: b.attempts,
      delivered: b.delivered,
    })),
    pumpingBlocks: r.pumping.map((b) => ({
      tenantId: b.tenantId,
      range: b.range,
      refused: b.refused,
      wouldRefuse: b.wouldRefuse,
    })),
    recommendations: r.recommendations.map((x) => ({
      kind: x.kind,
      country: x.country,
      channelId: x.channelId ?? '',
      why: x.why,
    })),
  };
}

/**
 * The read API's server: AnalyticsService for operators only (each call carries an operator's token),
 * with gRPC health checking and server reflection; TLS when configured.
 */
export function analyticsGrpcServer(
  controller: AnalyticsController,
  access: { operators: OperatorDirectory; tls: GrpcTls | undefined },
  log: Logger,
): GrpcServer {
  const unary =
    <Req, Res>(handle: (req: Req, metadata: grpc.Metadata) => Res | Promise<Res>) =>
    (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      Promise.resolve()
        .then(() => handle(call.request, call.metadata))
        .then(
          (res) => callback(null, res),
          (error: unknown) => {
            if (error instanceof InvalidArgument) {
              callback({ code: grpc.status.INVALID_ARGUMENT, details: error.message });
              return;
            }
            log.warn({ err: error }, 'analytics API call failed');
            callback({ code: grpc.status.UNAVAILABLE, details: 'analytics store unavailable; try again' });
          },
        );
    };
  return new GrpcServer(
    ANALYTICS_SERVICE,
    { path: ANALYTICS_PROTO_PATH, includeDirs: [PROTO_ROOT] },
    analyticsServiceDefinition,
    {
      listRoutingWeights: unary((req: analytics.ListRoutingWeightsRequest) =>
        controller.listRoutingWeights(req),
      ),
      getChannelReport: unary((req: analytics.GetChannelReportRequest) => controller.getChannelReport(req)),
      listDeadLetters: unary((req: analytics.ListDeadLettersRequest) => controller.listDeadLetters(req)),
      replayDeadLetters: unary((req: analytics.ReplayDeadLettersRequest, metadata) =>
        controller.replayDeadLetters(req, metadata),
      ),
    },
    { tls: access.tls, guard: operatorGuard(ANALYTICS_SERVICE, access.operators, ROLES), log },
  );
}
