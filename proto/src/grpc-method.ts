import { encodeMessage, type MessageCodec } from './encode';

/**
 * One method of a grpc-js service definition built from the generated codecs, so servers and clients use
 * the same types as the rest of Tern (no second set from a run-time .proto loader).
 */
export function grpcMethod<Req, Res>(
  service: string,
  name: string,
  req: MessageCodec<Req>,
  res: MessageCodec<Res>,
  responseStream = false,
) {
  return {
    path: `/${service}/${name}`,
    requestStream: false as const,
    responseStream,
    requestSerialize: (v: Req) => encodeMessage(req, v),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: (v: Res) => encodeMessage(res, v),
    responseDeserialize: (b: Buffer) => res.decode(b),
  };
}
