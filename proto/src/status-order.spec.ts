import { MessageStatus as S } from './gen/tern/sms/v1/sms';
import { STATUS_REASONS, statusAdvances, statusRank } from './status-order';

const event = (status: S, attempt: number, code = '') => ({
  status,
  attempt,
  reason: code ? { code, description: '', retryable: false } : undefined,
});

/** Applies events in the order given, as a store does; returns the status each step leaves. */
function replay(events: ReturnType<typeof event>[]): S[] {
  let rank: number | undefined;
  let status = S.MESSAGE_STATUS_UNSPECIFIED;
  return events.map((e) => {
    if (statusAdvances(rank, e)) {
      rank = statusRank(e);
      status = e.status;
    }
    return status;
  });
}

describe('status order', () => {
  it('moves an attempt forward: ACCEPTED, ROUTED, SUBMITTED, then its ending', () => {
    const life = [
      event(S.MESSAGE_STATUS_ACCEPTED, 0),
      event(S.MESSAGE_STATUS_ROUTED, 1),
      event(S.MESSAGE_STATUS_SUBMITTED, 1),
      event(S.MESSAGE_STATUS_UNDELIVERED, 1),
    ];
    expect(replay(life)).toEqual(life.map((e) => e.status));
  });

  it('never goes back: a late SUBMITTED or ACCEPTED after DELIVERED changes nothing', () => {
    const statuses = replay([
      event(S.MESSAGE_STATUS_ACCEPTED, 0),
      event(S.MESSAGE_STATUS_DELIVERED, 1),
      event(S.MESSAGE_STATUS_SUBMITTED, 1),
      event(S.MESSAGE_STATUS_ROUTED, 1),
      event(S.MESSAGE_STATUS_ACCEPTED, 0),
    ]);
    expect(statuses.slice(1)).toEqual(Array(4).fill(S.MESSAGE_STATUS_DELIVERED));
  });

  it('a redelivered event of the same rank is not applied twice', () => {
    const submitted = event(S.MESSAGE_STATUS_SUBMITTED, 2);
    expect(statusAdvances(statusRank(submitted), submitted)).toBe(false);
  });

  it('only a later attempt moves a message on from an ending', () => {
    const statuses = replay([
      event(S.MESSAGE_STATUS_UNDELIVERED, 1, 'UNREACHABLE'),
      event(S.MESSAGE_STATUS_SUBMITTED, 1),
      event(S.MESSAGE_STATUS_ROUTED, 2),
      event(S.MESSAGE_STATUS_UNDELIVERED, 1, 'UNREACHABLE'),
    ]);
    expect(statuses).toEqual([
      S.MESSAGE_STATUS_UNDELIVERED,
      S.MESSAGE_STATUS_UNDELIVERED,
      S.MESSAGE_STATUS_ROUTED,
      S.MESSAGE_STATUS_ROUTED,
    ]);
  });

  it('a receipt overrules a missing-receipt report of its attempt; the router concludes after both', () => {
    const noReceipt = event(S.MESSAGE_STATUS_UNDELIVERED, 1, STATUS_REASONS.noReceipt);
    const lateFailure = event(S.MESSAGE_STATUS_UNDELIVERED, 1, 'UNREACHABLE');
    const expired = event(S.MESSAGE_STATUS_EXPIRED, 1, STATUS_REASONS.expired);
    expect(statusAdvances(statusRank(noReceipt), lateFailure)).toBe(true);
    expect(statusAdvances(statusRank(lateFailure), expired)).toBe(true);
    expect(statusAdvances(statusRank(expired), lateFailure)).toBe(false);
    expect(statusAdvances(statusRank(expired), event(S.MESSAGE_STATUS_DELIVERED, 1))).toBe(true);
  });

  it('DELIVERED stays, whatever a later attempt reports', () => {
    const statuses = replay([
      event(S.MESSAGE_STATUS_DELIVERED, 1),
      event(S.MESSAGE_STATUS_ROUTED, 2),
      event(S.MESSAGE_STATUS_UNDELIVERED, 2, 'UNREACHABLE'),
    ]);
    expect(statuses).toEqual(Array(3).fill(S.MESSAGE_STATUS_DELIVERED));
  });

  it('a rejection concludes the message before any attempt', () => {
    expect(replay([event(S.MESSAGE_STATUS_REJECTED, 0), event(S.MESSAGE_STATUS_ACCEPTED, 0)])).toEqual([
      S.MESSAGE_STATUS_REJECTED,
      S.MESSAGE_STATUS_REJECTED,
    ]);
  });
});
