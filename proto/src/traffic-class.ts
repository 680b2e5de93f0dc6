import { MessageType, messageTypeToJSON } from './gen/tern/sms/v1/sms';

/**
 * Priority classes: OTP and transactional traffic is never queued behind marketing. Each stage that reads a
 * shared topic in order (risk, router) has an intake per class, so a marketing backlog never sits in front
 * of a login code; at a shared rate limit the priority class may take the last tokens.
 */
export type TrafficClass = 'priority' | 'bulk';

export const TRAFFIC_CLASSES: readonly TrafficClass[] = ['priority', 'bulk'];

/** The classes an instance is told to take (`TERN_TRAFFIC_CLASSES`), each once, priority first. */
export function trafficClassesNamed(names: readonly string[]): TrafficClass[] {
  return TRAFFIC_CLASSES.filter((c) => names.includes(c));
}

/**
 * A lane's name (its dispatch topic is sms.dispatch.<lane>). Not ending in -bulk: a lane's connectors read
 * it in a consumer group per class, the marketing one named as the other's plus -bulk, so lane x-bulk's
 * group would be lane x's marketing group.
 */
export const LANE_NAME = /^(?!.*-bulk$)[a-z0-9][a-z0-9-]{0,62}$/;

export function classOf(type: MessageType): TrafficClass {
  return type === MessageType.MESSAGE_TYPE_MARKETING ? 'bulk' : 'priority';
}

/**
 * Whether a record's message is this class's: exactly one intake takes each record, and the priority intake
 * takes one without a message (to dead-letter it).
 */
export function isOfClass(message: { type: MessageType } | undefined, trafficClass: TrafficClass): boolean {
  return message ? classOf(message.type) === trafficClass : trafficClass === 'priority';
}

/**
 * Whether a record whose message type header says `typeName` is this class's (a record without the header,
 * or with a name unknown here, is decoded and judged by its value).
 */
export function mayBeOfClass(typeName: string | undefined, trafficClass: TrafficClass): boolean {
  const type = typeName === undefined ? undefined : TYPES_BY_NAME.get(typeName);
  return type === undefined || classOf(type) === trafficClass;
}

const TYPES_BY_NAME = new Map(
  Object.values(MessageType)
    .filter((t): t is MessageType => typeof t === 'number')
    .map((t) => [messageTypeToJSON(t), t]),
);
