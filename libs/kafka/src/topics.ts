import { events, LANE_NAME, mayBeOfClass, sms, type TrafficClass } from '@tern/contracts';
import type { ProtoCodec } from './codec';
import type { HandlerOptions } from './consumer';

/** A topic: its name, the type of its values, how a value is keyed, and how it is created. */
export interface TopicDef<T> {
  readonly name: string;
  readonly codec: ProtoCodec<T>;
  /** The record key, derived from the value: records of one key stay in order on one partition. */
  readonly key: (value: T) => string;
  readonly partitions: number;
  /** Log compaction (latest value per key kept), for state topics like routing weights. */
  readonly compacted: boolean;
  /**
   * The protobuf type (full name) whose proto3 JSON (content-type: application/json) external producers may
   * publish here; undefined: protobuf only.
   */
  readonly jsonTypeName: string | undefined;
  /** Where records that cannot be processed go, with the reason in headers. */
  readonly dlq: string;
  /**
   * Headers derived from the value, written with every record: what a consumer that wants only some of the
   * topic's records reads to pass over the rest without decoding them (see `on(..., { only })`).
   */
  readonly headers: ((value: T) => Record<string, string>) | undefined;
}

/** What creating a topic needs to know, whatever its value type. */
export type TopicSpec = Pick<TopicDef<unknown>, 'name' | 'partitions' | 'compacted' | 'dlq'>;

export interface TopicOptions<T> {
  name: string;
  codec: ProtoCodec<T>;
  key: (value: T) => string;
  partitions?: number;
  compacted?: boolean;
  jsonTypeName?: string;
  headers?: (value: T) => Record<string, string>;
}

const TOPIC_NAME = /^[a-z0-9][a-z0-9._-]{0,200}$/;
export const DEFAULT_PARTITIONS = 6;

export function defineTopic<T>(options: TopicOptions<T>): TopicDef<T> {
  if (!TOPIC_NAME.test(options.name)) throw new Error(`invalid topic name "${options.name}"`);
  return {
    name: options.name,
    codec: options.codec,
    key: options.key,
    partitions: options.partitions ?? DEFAULT_PARTITIONS,
    compacted: options.compacted ?? false,
    jsonTypeName: options.jsonTypeName,
    dlq: `${options.name}.dlq`,
    headers: options.headers,
  };
}

/**
 * A topic as it is named on a cluster that several platforms share (a staging and a production deployment,
 * or test runs side by side): `<namespace>.<name>`, its DLQ too. An empty namespace is the topic itself.
 */
export function namespaced<T extends TopicSpec>(def: T, namespace: string): T {
  if (namespace === '') return def;
  return { ...def, name: `${namespace}.${def.name}`, dlq: `${namespace}.${def.dlq}` };
}

/** What a topic namespace may be: it prefixes topic names. */
export const TOPIC_NAMESPACE = /^[a-z0-9][a-z0-9_-]{0,100}$/;

/** Headers of `sms.status` records: the event's status (its enum name), and whether it has a callback. */
export const STATUS_HEADERS = { status: 'tern-status', callback: 'tern-callback' } as const;

/**
 * Header of `sms.accepted`, `sms.approved`, `sms.retry` and `sms.dispatch.<lane>` records: the message's type
 * (its enum name), none without one.
 */
export const MESSAGE_TYPE_HEADER = 'tern-message-type';

/**
 * The handler options of an intake of one traffic class: the other class's records are passed over undecoded
 * where their header says their type (the handler still judges the rest by their value: `isOfClass`). A bulk
 * intake that passes over priority records tells the process's pacer (`BulkPacer`) that priority work is
 * about: in a process of marketing alone (classes apart), nothing else would, and its marketing would take
 * the shared Kafka, Redis and cores unpaced while OTPs wait for them elsewhere.
 */
export function ofTrafficClass(
  trafficClass: TrafficClass,
  pacer: { priorityWork(): void },
): Pick<HandlerOptions, 'only' | 'passedOver'> {
  return {
    only: (header) => mayBeOfClass(header(MESSAGE_TYPE_HEADER), trafficClass),
    ...(trafficClass === 'bulk' ? { passedOver: () => pacer.priorityWork() } : {}),
  };
}

/** How long a bulk intake waits to fetch again after a fetch of only priority records (passed over). */
const BULK_PASSED_OVER_GATHER_MS = 1000;

/**
 * The consumer option of an intake of one traffic class: on OTP and transactional traffic the bulk intake
 * passes over every record, and rather than waking for each it fetches about once a second (marketing may
 * wait that long after a quiet spell, at each stage). The priority intake never waits.
 */
export function trafficClassFetch(trafficClass: TrafficClass): { passedOverGatherMs?: number } {
  return trafficClass === 'bulk' ? { passedOverGatherMs: BULK_PASSED_OVER_GATHER_MS } : {};
}

/**
 * The consumer option of the bulk intake of a stage that had one intake before there were two (risk, the
 * connectors): a new bulk group starts where the one intake's group (kept by the priority intake) committed,
 * so an upgrade neither skips nor repeats marketing. Only an instance that takes both classes does: where the
 * priority group is read by instances of that class alone, its commits passed over marketing.
 */
export function bulkTakeover(
  trafficClass: TrafficClass,
  taken: readonly TrafficClass[],
  oneIntakeGroup: string,
): { startsWhere?: string } {
  return trafficClass === 'bulk' && taken.includes('priority') ? { startsWhere: oneIntakeGroup } : {};
}

const messageTypeHeader = (v: { message?: { type: sms.MessageType } | undefined }): Record<string, string> =>
  v.message ? { [MESSAGE_TYPE_HEADER]: sms.messageTypeToJSON(v.message.type) } : {};

const byMessageId = (v: { message?: { messageId: string } | undefined }) => v.message?.messageId ?? '';

/**
 * Every topic of the platform, declared once. Services refer to these, never to a topic name as text.
 * The architecture's flow: send-events/gRPC -> accepted -> approved -> dispatch.<lane> -> submitted/dlr -> status;
 * retry loops back to the router; routing.weights feeds it.
 */
export const topics = {
  /** Public intake: enterprises' own producers publish SendEvent here (protobuf or JSON). */
  sendEvents: defineTopic({
    name: 'sms.send-events',
    codec: events.SendEvent,
    key: (e) => e.tenantId,
    jsonTypeName: 'tern.events.v1.SendEvent',
  }),
  /** Public intake: conversions reported by enterprises' own producers (ConversionEvent, protobuf or JSON). */
  conversionEvents: defineTopic({
    name: 'sms.conversion-events',
    codec: events.ConversionEvent,
    key: (e) => e.tenantId,
    jsonTypeName: 'tern.events.v1.ConversionEvent',
  }),
  /** Read by one risk group per traffic class, each passing over the other class's records. */
  accepted: defineTopic({
    name: 'sms.accepted',
    codec: events.MessageAccepted,
    key: byMessageId,
    headers: messageTypeHeader,
  }),
  /** Read by one router group per traffic class, each passing over the other class's records. */
  approved: defineTopic({
    name: 'sms.approved',
    codec: events.MessageApproved,
    key: byMessageId,
    headers: messageTypeHeader,
  }),
  submitted: defineTopic({ name: 'sms.submitted', codec: events.SubmitResult, key: (e) => e.messageId }),
  /**
   * Keyed by the SMSC's message id on its channel: one part's receipts stay in order, and a channel's spread
   * over the partitions (keyed by channel, a busy channel's receipts were one partition's: one dlr instance,
   * a few calls at a time, fell 20 s behind at 1,200 a second).
   */
  dlr: defineTopic({
    name: 'sms.dlr',
    codec: events.DeliveryReceipt,
    key: (e) => `${e.channelId}/${e.smscMessageId}`,
  }),
  /**
   * Keyed by message id: status events of one message are ordered. The headers let a reader that wants few
   * of them (dlr's callbacks: events with a callback URL; a reader of some statuses) pass over the rest.
   */
  status: defineTopic({
    name: 'sms.status',
    codec: sms.StatusEvent,
    key: (e) => e.messageId,
    headers: (e) => ({
      [STATUS_HEADERS.status]: sms.messageStatusToJSON(e.status),
      [STATUS_HEADERS.callback]: e.callbackUrl ? 'yes' : 'no',
    }),
  }),
  retry: defineTopic({
    name: 'sms.retry',
    codec: events.RetryRequest,
    key: byMessageId,
    headers: messageTypeHeader,
  }),
  /**
   * Each attempt's ending: dlr's attempt writer batches them into ClickHouse, and every router's breakers
   * learn from them which channels fail.
   */
  attempts: defineTopic({ name: 'sms.attempts', codec: events.AttemptRecord, key: (a) => a.messageId }),
  /** Conversions the tenants reported (ReportConversion); dlr writes them to ClickHouse for the weights. */
  conversions: defineTopic({
    name: 'sms.conversions',
    codec: events.ConversionReported,
    key: (c) => c.messageId,
  }),
  /** Mobile-originated messages (STOP replies) keyed by the handset, so one number's replies stay in order. */
  inbound: defineTopic({ name: 'sms.inbound', codec: events.InboundMessage, key: (m) => m.from }),
  routingWeights: defineTopic({
    name: 'routing.weights',
    codec: events.RoutingWeight,
    key: (w) => `${w.country}/${w.mccMnc}/${w.channelId}`,
    partitions: 1,
    compacted: true,
  }),
} as const;

/** A lane is a group of countries with its own dispatch topic, connector deployment and autoscaling. */
export function dispatchTopic(lane: string): TopicDef<events.DispatchRequest> {
  if (!LANE_NAME.test(lane))
    throw new Error(`invalid lane "${lane}": lowercase letters, digits and dashes, not ending in -bulk`);
  return defineTopic({
    name: `sms.dispatch.${lane}`,
    codec: events.DispatchRequest,
    key: byMessageId,
    headers: messageTypeHeader,
  });
}

/** Every topic a deployment with these lanes needs (DLQs are added by ensureTopics). */
export function platformTopics(lanes: readonly string[]): TopicSpec[] {
  return [...Object.values(topics), ...lanes.map(dispatchTopic)];
}
