/** gRPC status codes (numbers, as on the wire) and their names, for HTTP callers. */
const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** The HTTP status of a gRPC status, as Google's gRPC-HTTP mapping gives it (google.rpc.Code). */
const HTTP_STATUS: Record<(typeof GRPC_CODES)[number], number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  /** Tern's stable code (as in ErrorDetail), or the gRPC status name where the error has none. */
  code: string;
  violations?: { field: string; description: string }[];
  retryAfterMs?: number;
}

/** An application/problem+json body (RFC 9457) for an HTTP status. */
export function problem(
  status: number,
  code: string,
  detail: string,
  extra: Pick<Problem, 'violations' | 'retryAfterMs'> = {},
): Problem {
  return { type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail, code, ...extra };
}

/** The problem an API error answers over HTTP: its gRPC status mapped, its code and field violations kept. */
export function problemOfGrpc(
  grpcCode: number,
  message: string,
  detail: { code: string; violations: { field: string; description: string }[] } | undefined,
  retryAfterMs?: number,
): Problem {
  const name = GRPC_CODES[grpcCode] ?? 'UNKNOWN';
  const violations = detail?.violations.length ? detail.violations : undefined;
  return problem(HTTP_STATUS[name], detail?.code || name, message, {
    ...(violations ? { violations } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
