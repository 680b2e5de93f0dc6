import {
  DataCoding,
  readShortMessage,
  Status,
  Ton,
  type ShortMessageBody,
  type ShortMessageContent,
  type ShortMessageError,
} from '@tern/smpp';
import type { Concatenation } from '@tern/sms-domain';
import type { ChannelSpec } from './scenario';
import type { Destination, SenderKind, World } from './world';

export type SubmitVerdict =
  | {
      ok: true;
      destination: Destination;
      number: string;
      sender: string;
      senderKind: SenderKind;
      /** Decoded text of this part (never logged). */
      text: string;
      concatenation?: Concatenation;
    }
  | { ok: false; status: number; reason: string };

const refuse = (status: number, reason: string): SubmitVerdict => ({ ok: false, status, reason });

/** Septets a UDH of `octets` takes in a 7-bit message (it is padded to a septet boundary). */
const udhSeptets = (octets: number) => Math.ceil((octets * 8) / 7);

/**
 * What an SMSC checks before it accepts a submit_sm: the destination (international, a known carrier
 * this channel reaches), the source TON/NPI against the sender's type, data_coding against the octets,
 * the UDH of concatenated parts, and the length.
 */
export function validateSubmit(body: ShortMessageBody, channel: ChannelSpec, world: World): SubmitVerdict {
  if (body.destAddrTon !== Ton.INTERNATIONAL)
    return refuse(Status.ESME_RINVDSTTON, 'destination TON must be international (1)');
  const number = body.destinationAddr.replace(/^\+/, '');
  if (!/^\d{6,15}$/.test(number))
    return refuse(Status.ESME_RINVDSTADR, 'destination is not an international number');
  const destination = world.resolve(number);
  if (!destination) return refuse(Status.ESME_RINVDSTADR, 'no carrier owns this number');
  if (!channel.countries.includes(destination.country.code)) {
    return refuse(Status.ESME_RINVDSTADR, `channel does not reach ${destination.country.code}`);
  }

  const sender = body.sourceAddr;
  if (sender.length === 0) return refuse(Status.ESME_RINVSRCADR, 'empty source address');
  const senderKind: SenderKind = /[^\d+]/.test(sender) ? 'alphanumeric' : 'numeric';
  if (senderKind === 'alphanumeric') {
    if (body.sourceAddrTon !== Ton.ALPHANUMERIC)
      return refuse(Status.ESME_RINVSRCTON, 'alphanumeric sender needs TON 5');
    if (sender.length > 11)
      return refuse(Status.ESME_RINVSRCADR, 'alphanumeric sender longer than 11 characters');
  } else {
    const digits = sender.replace(/^\+/, '');
    const shortCode = digits.length <= 8;
    const allowed: number[] = shortCode
      ? [Ton.NATIONAL, Ton.NETWORK_SPECIFIC, Ton.ABBREVIATED, Ton.UNKNOWN]
      : [Ton.INTERNATIONAL];
    if (!allowed.includes(body.sourceAddrTon)) {
      return refuse(
        Status.ESME_RINVSRCTON,
        shortCode ? 'short code with an international TON' : 'numeric sender needs TON 1',
      );
    }
  }

  let content: ShortMessageContent;
  try {
    content = readShortMessage(body);
  } catch (e) {
    const error = e as ShortMessageError;
    return refuse(error.status, error.message);
  }
  // message_payload carries a whole long message; short_message at most one SMS.
  const sevenBit = body.dataCoding === DataCoding.SMSC_DEFAULT || body.dataCoding === DataCoding.IA5;
  const fits =
    body.shortMessage.length === 0 ||
    (sevenBit
      ? content.octets.length + (content.udhLength ? udhSeptets(content.udhLength) : 0) <= 160
      : body.shortMessage.length <= 140);
  if (!fits) return refuse(Status.ESME_RINVMSGLEN, 'message longer than one SMS');
  const { text, concatenation } = content;

  return {
    ok: true,
    destination,
    number,
    sender,
    senderKind,
    text,
    ...(concatenation ? { concatenation } : {}),
  };
}
