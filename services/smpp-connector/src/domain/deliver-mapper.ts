import { events, sms } from '@tern/contracts';
import {
  EsmClass,
  MessageState,
  Tlv,
  findTlv,
  readShortMessage,
  readTlvInt,
  readTlvString,
  type ShortMessageBody,
} from '@tern/smpp';
import { parseReceiptText, type ReceiptStat } from '@tern/sms-domain';

const STAT_STATE: Record<ReceiptStat, sms.ReceiptState> = {
  DELIVRD: sms.ReceiptState.RECEIPT_STATE_DELIVRD,
  UNDELIV: sms.ReceiptState.RECEIPT_STATE_UNDELIV,
  EXPIRED: sms.ReceiptState.RECEIPT_STATE_EXPIRED,
  REJECTD: sms.ReceiptState.RECEIPT_STATE_REJECTD,
  UNKNOWN: sms.ReceiptState.RECEIPT_STATE_UNKNOWN,
  DELETED: sms.ReceiptState.RECEIPT_STATE_DELETED,
  ACCEPTD: sms.ReceiptState.RECEIPT_STATE_ACCEPTD,
  ENROUTE: sms.ReceiptState.RECEIPT_STATE_ENROUTE,
};

const MESSAGE_STATE: Record<number, sms.ReceiptState> = {
  [MessageState.ENROUTE]: sms.ReceiptState.RECEIPT_STATE_ENROUTE,
  [MessageState.DELIVERED]: sms.ReceiptState.RECEIPT_STATE_DELIVRD,
  [MessageState.EXPIRED]: sms.ReceiptState.RECEIPT_STATE_EXPIRED,
  [MessageState.DELETED]: sms.ReceiptState.RECEIPT_STATE_DELETED,
  [MessageState.UNDELIVERABLE]: sms.ReceiptState.RECEIPT_STATE_UNDELIV,
  [MessageState.ACCEPTED]: sms.ReceiptState.RECEIPT_STATE_ACCEPTD,
  [MessageState.UNKNOWN]: sms.ReceiptState.RECEIPT_STATE_UNKNOWN,
  [MessageState.REJECTED]: sms.ReceiptState.RECEIPT_STATE_REJECTD,
};

export type Deliver =
  | { kind: 'receipt'; receipt: events.DeliveryReceipt }
  | { kind: 'inbound'; message: events.InboundMessage }
  | { kind: 'unreadable'; reason: string };

/** Message type bits of esm_class (2-5): 0x04 is an SMSC delivery receipt. */
const isReceipt = (esmClass: number) => (esmClass & 0x3c) === EsmClass.DELIVERY_RECEIPT;

/**
 * A deliver_sm as Tern's events: a receipt (id, state and error from TLVs where present, else from the
 * Appendix B text) or a mobile-originated message. The SMSC id is passed on as received; dlr normalises bases.
 */
export function mapDeliverSm(body: ShortMessageBody, channelId: string, receivedAt: Date): Deliver {
  let decoded: string;
  try {
    // An SMSC may label a receipt with any data_coding: its text is read as GSM, its TLVs decide.
    decoded = readShortMessage(body, { otherCodings: 'gsm7' }).text;
  } catch (e) {
    return { kind: 'unreadable', reason: (e as Error).message };
  }
  if (!isReceipt(body.esmClass)) {
    return {
      kind: 'inbound',
      message: { channelId, from: body.sourceAddr, to: body.destinationAddr, body: decoded, receivedAt },
    };
  }
  const parsed = parseReceiptText(decoded);
  const id = readTlvString(body.tlvs, Tlv.receipted_message_id) ?? parsed?.id;
  const stateTlv = readTlvInt(body.tlvs, Tlv.message_state);
  const state =
    stateTlv !== undefined ? MESSAGE_STATE[stateTlv] : parsed ? STAT_STATE[parsed.stat] : undefined;
  if (!id || state === undefined)
    return { kind: 'unreadable', reason: 'receipt without a message id or state' };
  const networkError = findTlv(body.tlvs, Tlv.network_error_code);
  const errorCode =
    networkError && networkError.length === 3
      ? String(networkError.readUInt16BE(1)).padStart(3, '0')
      : (parsed?.err ?? '');
  return {
    kind: 'receipt',
    receipt: {
      channelId,
      smscMessageId: id,
      state,
      errorCode,
      submitDate: parsed?.submitDate,
      doneDate: parsed?.doneDate,
      receivedAt,
      handset: body.sourceAddr,
    },
  };
}
