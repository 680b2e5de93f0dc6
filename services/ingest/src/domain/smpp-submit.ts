import type { SmppAccount } from '@tern/config';
import { sms } from '@tern/contracts';
import { Status, Ton, type Address, type ShortMessageBody } from '@tern/smpp';
import type { ReceiptStat } from '@tern/sms-domain';
import type { Violation } from './send-request';

/** registered_delivery bits 0-1 (section 5.2.17): a receipt for every final state, only failures, or none. */
export type ReceiptRequest = 'always' | 'failure' | 'never';

/** How an SMPP account is shown its message ids (submit_sm_resp and receipts): one reversible form of the same id. */
export type MessageIdFormat = SmppAccount['messageIdFormat'];

export type SubmitReading =
  | { ok: true; request: sms.SendMessageRequest; receipt: ReceiptRequest }
  | { ok: false; status: number; reason: string };

const refuse = (status: number, reason: string): SubmitReading => ({ ok: false, status, reason });

/** service_type values Tern reads as a message type; empty and CMT (the standard one) are transactional. */
const SERVICE_TYPES: Record<string, sms.MessageType> = {
  '': sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
  CMT: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
  OTP: sms.MessageType.MESSAGE_TYPE_OTP,
  MKT: sms.MessageType.MESSAGE_TYPE_MARKETING,
};

/** esm_class bits 2-5: the message type; a submit_sm is a plain message (0). */
const ESM_MESSAGE_TYPE = 0x3c;

/**
 * A submit_sm (its text already read) as a Tern send request: addresses to E.164 or sender form,
 * service_type to the message type, validity_period and schedule_delivery_time to validity and send_at,
 * registered_delivery to the receipt wanted. What SMPP itself forbids is refused here with its status;
 * Tern's own rules (sender, number, length, validity bounds) are the acceptor's, as on every path.
 */
export function readSubmit(body: ShortMessageBody, text: string, now: Date): SubmitReading {
  if ((body.esmClass & ESM_MESSAGE_TYPE) !== 0) {
    return refuse(Status.ESME_RINVESMCLASS, 'esm_class message type must be 0 (a plain message)');
  }
  const type = SERVICE_TYPES[body.serviceType];
  if (type === undefined) {
    return refuse(Status.ESME_RINVSERTYP, 'service_type: empty, CMT, OTP or MKT');
  }
  const receipt = receiptRequestOf(body.registeredDelivery);
  if (!receipt) return refuse(Status.ESME_RINVREGDLVFLG, 'registered_delivery bits 0-1 must not be 3');

  if (body.destAddrTon !== Ton.INTERNATIONAL && body.destAddrTon !== Ton.UNKNOWN) {
    return refuse(Status.ESME_RINVDSTTON, 'destination TON: international (1)');
  }
  const digits = body.destinationAddr.replace(/^\+/, '');
  if (!/^\d{6,15}$/.test(digits)) {
    return refuse(Status.ESME_RINVDSTADR, 'destination: an international number, 6 to 15 digits');
  }
  const from = senderOf(body);
  if (from === undefined) return refuse(Status.ESME_RINVSRCADR, 'source_addr is empty');

  let sendAt: Date | undefined;
  let expiresAt: Date | undefined;
  try {
    sendAt = parseSmppTime(body.scheduleDeliveryTime, now);
  } catch (e) {
    return refuse(Status.ESME_RINVSCHED, `schedule_delivery_time: ${(e as Error).message}`);
  }
  try {
    expiresAt = parseSmppTime(body.validityPeriod, now);
  } catch (e) {
    return refuse(Status.ESME_RINVEXPIRY, `validity_period: ${(e as Error).message}`);
  }
  let validity: sms.SendMessageRequest['validity'];
  if (expiresAt) {
    const ms = expiresAt.getTime() - (sendAt ?? now).getTime();
    if (ms <= 0) return refuse(Status.ESME_RINVEXPIRY, 'validity_period ends before the message is sent');
    validity = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
  }
  return {
    ok: true,
    receipt,
    request: {
      to: `+${digits}`,
      from,
      body: text,
      type,
      clientReference: '',
      validity,
      callbackUrl: '',
      labels: {},
      sendAt,
    },
  };
}

function receiptRequestOf(registeredDelivery: number): ReceiptRequest | undefined {
  switch (registeredDelivery & 0x03) {
    case 0:
      return 'never';
    case 1:
      return 'always';
    case 2:
      return 'failure';
    default:
      return undefined;
  }
}

/** Alphanumeric (TON 5) as written; international (TON 1) as E.164; anything else as the digits sent (short codes). */
function senderOf(body: ShortMessageBody): string | undefined {
  const addr = body.sourceAddr;
  if (addr === '') return undefined;
  if (body.sourceAddrTon === Ton.ALPHANUMERIC) return addr;
  if (body.sourceAddrTon === Ton.INTERNATIONAL) return `+${addr.replace(/^\+/, '')}`;
  return addr;
}

const SMPP_TIME = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d)(\d\d)([+\-R])$/;

/**
 * An SMPP time (section 7.1.1, `YYMMDDhhmmsstnnp`): absolute, with its offset from UTC in quarter hours
 * (`+`/`-`), or relative to now (`R`). Empty: undefined. Throws on anything else.
 */
export function parseSmppTime(value: string, now: Date): Date | undefined {
  if (value === '') return undefined;
  const m = SMPP_TIME.exec(value);
  if (!m) return bad('not YYMMDDhhmmsstnnp');
  const [yy = 0, mo = 0, dd = 0, hh = 0, mi = 0, ss = 0, t = 0, nn = 0] = m.slice(1, 9).map(Number);
  const p = m[9];
  if (p === 'R') {
    const at = new Date(now.getTime());
    at.setUTCFullYear(at.getUTCFullYear() + yy, at.getUTCMonth() + mo, at.getUTCDate() + dd);
    return new Date(at.getTime() + ((hh * 60 + mi) * 60 + ss) * 1000);
  }
  if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 59 || nn > 48) {
    return bad('not a date');
  }
  const utc = Date.UTC(2000 + yy, mo - 1, dd, hh, mi, ss, t * 100);
  if (new Date(utc).getUTCDate() !== dd) return bad('not a date');
  const offsetMs = nn * 15 * 60_000;
  return new Date(p === '+' ? utc - offsetMs : utc + offsetMs);
}

function bad(reason: string): never {
  throw new Error(reason);
}

/** The command_status telling an ESME which of Tern's rules its submit_sm broke (the first violation's). */
export function violationStatus(violations: readonly Violation[]): number {
  switch (violations[0]?.field) {
    case 'to':
      return Status.ESME_RINVDSTADR;
    case 'from':
      return Status.ESME_RINVSRCADR;
    case 'body':
      return Status.ESME_RINVMSGLEN;
    case 'validity':
      return Status.ESME_RINVEXPIRY;
    case 'send_at':
      return Status.ESME_RINVSCHED;
    default:
      return Status.ESME_RSUBMITFAIL;
  }
}

/** A Tern message id (a UUID) as the account reads ids; `parseMessageId` turns it back. */
export function formatMessageId(messageId: string, format: MessageIdFormat): string {
  const hex = messageId.replace(/-/g, '');
  switch (format) {
    case 'uuid':
      return messageId;
    case 'hex':
      return hex.toUpperCase();
    case 'decimal':
      return BigInt(`0x${hex}`).toString(10);
  }
}

export function parseMessageId(id: string, format: MessageIdFormat): string | undefined {
  let hex: string;
  switch (format) {
    case 'uuid':
      return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) ? id : undefined;
    case 'hex':
      if (!/^[0-9A-Fa-f]{32}$/.test(id)) return undefined;
      hex = id.toLowerCase();
      break;
    case 'decimal':
      if (!/^\d{1,39}$/.test(id) || BigInt(id) >= 2n ** 128n) return undefined;
      hex = BigInt(id).toString(16).padStart(32, '0');
      break;
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What Tern keeps of a message that came over SMPP and wants a receipt: enough to write that receipt. */
export interface SmppOrigin {
  /** The account that submitted it: its receiver binds get the receipt. */
  systemId: string;
  receipt: Exclude<ReceiptRequest, 'never'>;
  idFormat: MessageIdFormat;
  /** The submit_sm's addresses as the ESME wrote them: the receipt's destination and source. */
  source: Address;
  destination: Address;
  submittedAt: number;
}

const RECEIPT_STAT: Partial<Record<sms.MessageStatus, ReceiptStat>> = {
  [sms.MessageStatus.MESSAGE_STATUS_DELIVERED]: 'DELIVRD',
  [sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED]: 'UNDELIV',
  [sms.MessageStatus.MESSAGE_STATUS_EXPIRED]: 'EXPIRED',
  [sms.MessageStatus.MESSAGE_STATUS_REJECTED]: 'REJECTD',
  // Every channel tried and none delivered: for the ESME, undeliverable.
  [sms.MessageStatus.MESSAGE_STATUS_FAILED]: 'UNDELIV',
};

/** The receipt a status event owes the ESME, if any: only final statuses, and failures only when asked so. */
export function receiptDue(
  event: Pick<sms.StatusEvent, 'status' | 'errorCode'>,
  wanted: SmppOrigin['receipt'],
): { stat: ReceiptStat; err: string } | undefined {
  const stat = RECEIPT_STAT[event.status];
  if (!stat || (wanted === 'failure' && stat === 'DELIVRD')) return undefined;
  return { stat, err: /^\d{1,3}$/.test(event.errorCode) ? event.errorCode.padStart(3, '0') : '000' };
}
