import { getExtension, hasExtension, type DescMethod } from '@bufbuild/protobuf';
import { protoRegistry } from './proto-json';

/** One unary RPC as HTTP, from its `google.api.http` rule (gRPC-JSON transcoding). */
export interface HttpBinding {
  /** The RPC's name, e.g. SendMessage. */
  rpc: string;
  verb: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The rule's path template, e.g. /v1/messages/{message_id}. */
  template: string;
  /** Path variables (request field names), in order. */
  variables: string[];
  /** '*': the JSON body is the request (path variables besides); '': no body. */
  body: '*' | '';
  method: DescMethod;
  match(path: string): Record<string, string> | undefined;
}

interface HttpRuleShape {
  pattern: { case: string | undefined; value?: unknown };
  body: string;
}

/** The HTTP bindings of a service's unary methods that have a `google.api.http` rule. */
export function httpBindings(serviceName: string): HttpBinding[] {
  const registry = protoRegistry();
  const service = registry.getService(serviceName);
  const rule = registry.getExtension('google.api.http');
  if (!service || !rule)
    throw new Error(`no descriptor for ${serviceName} or google.api.http: run pnpm generate`);
  const bindings: HttpBinding[] = [];
  for (const method of service.methods) {
    const options = method.proto.options;
    if (method.methodKind !== 'unary' || !options || !hasExtension(options, rule)) continue;
    // A dynamic message (no generated type for google.api.HttpRule): its shape as protobuf-es makes it.
    const value: unknown = getExtension(options, rule);
    const { pattern, body } = value as HttpRuleShape;
    if (!['get', 'post', 'put', 'patch', 'delete'].includes(pattern.case ?? '')) {
      throw new Error(`${method.name}: only get, post, put, patch and delete rules are served`);
    }
    if (body !== '*' && body !== '') throw new Error(`${method.name}: body must be "*" or empty`);
    const template = String(pattern.value);
    const variables = [...template.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map(([, name]) => name!);
    const regex = new RegExp(
      `^${template
        .split(/\{[a-z_][a-z0-9_]*\}/)
        .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
        .join('([^/]+)')}$`,
    );
    bindings.push({
      rpc: method.name,
      verb: pattern.case!.toUpperCase() as HttpBinding['verb'],
      template,
      variables,
      body,
      method,
      match: (path) => {
        const found = regex.exec(path);
        if (!found) return undefined;
        try {
          return Object.fromEntries(variables.map((name, i) => [name, decodeURIComponent(found[i + 1]!)]));
        } catch {
          return undefined; // a malformed escape (%E0) names nothing
        }
      },
    });
  }
  return bindings;
}
