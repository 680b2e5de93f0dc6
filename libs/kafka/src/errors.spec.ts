import { createServer, connect } from 'node:net';
import { KafkaJSConnectionError, KafkaJSProtocolError, KafkaJSRequestTimeoutError } from 'kafkajs';
import { brokenSequence, isTransient, PoisonMessageError, TransientError } from './errors';

/** A real refused connection: a port that was just listening and is closed again. */
async function refusedSocketError(): Promise<Error> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return new Promise((resolve) => connect(port, '127.0.0.1').on('error', resolve));
}

describe('isTransient', () => {
  it('says a dependency is away for socket, fetch and Kafka client failures', async () => {
    const refused = await refusedSocketError();
    expect(isTransient(refused)).toBe(true);
    // Port 9 (discard) has no listener here: fetch fails with the socket error as its cause.
    const fetchError = await fetch('http://127.0.0.1:9/').catch((e: unknown) => e);
    expect(isTransient(fetchError)).toBe(true);
    expect(isTransient(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'))).toBe(true);
    expect(isTransient(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'))).toBe(
      true,
    );
    // NOT_LEADER_FOR_PARTITION (6) is retriable by the protocol's own word; kafkajs builds these from the
    // protocol's error table (its typings only name the Error-or-string form).
    const notLeader = { type: 'NOT_LEADER_FOR_PARTITION', code: 6, retriable: true, message: 'x' };
    expect(isTransient(new KafkaJSProtocolError(notLeader as unknown as Error))).toBe(true);
  });

  it('recognises Redis away, loading or failing over (ioredis names and replies)', () => {
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit (which is 2).'), {
      name: 'MaxRetriesPerRequestError',
    });
    expect(isTransient(maxRetries)).toBe(true);
    expect(isTransient(new Error('Connection is closed.'))).toBe(true);
    expect(isTransient(new Error('LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(isTransient(new Error("READONLY You can't write against a read only replica."))).toBe(true);
    expect(isTransient(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe(true);
  });

  it('follows the cause chain, and keeps TransientError transient', () => {
    expect(isTransient(new Error('intake failed', { cause: new Error('Connection is closed.') }))).toBe(true);
    expect(isTransient(new TransientError('router stopping'))).toBe(true);
  });

  it('leaves defects and bad records alone: they are not waited out', () => {
    expect(isTransient(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
    expect(isTransient(new PoisonMessageError('BAD', 'bad record'))).toBe(false);
    expect(isTransient(new Error("ERR wrong number of arguments for 'set' command"))).toBe(false);
    expect(isTransient('a string')).toBe(false);
  });
});

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
