import { Status } from '@tern/smpp';

/**
 * What a submit_sm_resp status means for the attempt:
 * - accepted: the SMSC has it;
 * - busy: throttled or queue full: slow down and submit the same part again, not a failure;
 * - permanent: this channel will never take it (bad address, refused content): fail and try another channel;
 * - transient: the SMSC failed for its own reasons: fail this attempt, another channel may do better.
 */
export type SubmitClass = 'accepted' | 'busy' | 'permanent' | 'transient';

const PERMANENT: ReadonlyMap<number, string> = new Map([
  [Status.ESME_RINVDSTADR, 'INVALID_DESTINATION'],
  [Status.ESME_RINVDSTTON, 'INVALID_DESTINATION'],
  [Status.ESME_RINVSRCADR, 'INVALID_SENDER'],
  [Status.ESME_RINVSRCTON, 'INVALID_SENDER'],
  [Status.ESME_RINVSRCNPI, 'INVALID_SENDER'],
  [Status.ESME_RINVDCS, 'INVALID_ENCODING'],
  [Status.ESME_RINVESMCLASS, 'INVALID_ENCODING'],
  [Status.ESME_RINVMSGLEN, 'INVALID_ENCODING'],
  [Status.ESME_RX_P_APPN, 'FILTERED'],
  [Status.ESME_RX_R_APPN, 'FILTERED'],
  [Status.ESME_RSUBMITFAIL, 'FILTERED'],
]);

export function classifySubmitStatus(status: number): { class: SubmitClass; errorCode: string } {
  if (status === Status.ESME_ROK) return { class: 'accepted', errorCode: '' };
  if (status === Status.ESME_RTHROTTLED || status === Status.ESME_RMSGQFUL)
    return { class: 'busy', errorCode: 'THROTTLED' };
  const permanent = PERMANENT.get(status);
  if (permanent) return { class: 'permanent', errorCode: permanent };
  return { class: 'transient', errorCode: 'NETWORK_FAILURE' };
}
