import { problem, problemOfGrpc } from './http-problem';

describe('HTTP problems of API errors', () => {
  it('maps gRPC statuses as Google’s gRPC-HTTP mapping does, keeping the code and violations', () => {
    const invalid = problemOfGrpc(3, 'to: not E.164', {
      code: 'INVALID_NUMBER',
      violations: [{ field: 'to', description: 'INVALID_NUMBER: not E.164' }],
    });
    expect(invalid).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'to: not E.164',
      code: 'INVALID_NUMBER',
      violations: [{ field: 'to', description: 'INVALID_NUMBER: not E.164' }],
    });
    expect(problemOfGrpc(16, 'missing key', undefined)).toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    expect(problemOfGrpc(5, 'message m not found', undefined)).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(problemOfGrpc(6, 'reused', { code: 'IDEMPOTENCY_KEY_REUSED', violations: [] })).toMatchObject({
      status: 409,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(problemOfGrpc(8, 'slow down', { code: 'RATE_LIMITED', violations: [] }, 1500)).toEqual(
      problem(429, 'RATE_LIMITED', 'slow down', { retryAfterMs: 1500 }),
    );
    expect(problemOfGrpc(14, 'retry', undefined).status).toBe(503);
  });
});
