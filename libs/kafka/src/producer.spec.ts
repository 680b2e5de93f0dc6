import { brokenSequence } from './producer';

describe('brokenSequence', () => {
  const protocolError = (type: string) => Object.assign(new Error(type), { type });

  it('recognises the broker answers after which an idempotent producer cannot go on, wrapped or not', () => {
    expect(brokenSequence(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER'))).toBe(true);
    expect(brokenSequence(protocolError('UNKNOWN_PRODUCER_ID'))).toBe(true);
    const retriesExceeded = new Error('retries exceeded', { cause: protocolError('INVALID_PRODUCER_EPOCH') });
    expect(brokenSequence(retriesExceeded)).toBe(true);
  });

  it('leaves every other failure to the caller', () => {
    expect(brokenSequence(protocolError('NOT_LEADER_FOR_PARTITION'))).toBe(false);
    expect(brokenSequence(new Error('Connection error: connect ECONNREFUSED'))).toBe(false);
    expect(brokenSequence(undefined)).toBe(false);
  });
});
