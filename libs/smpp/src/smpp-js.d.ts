// Minimal typing of the `smpp` npm package, used only as an independent codec and client in our tests.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { ConnectionOptions } from 'node:tls';

  export class PDU {
    constructor(command: string, options?: Record<string, unknown>);
    static fromBuffer(buffer: Buffer): PDU | false;
    toBuffer(): Buffer;
    response(options?: Record<string, unknown>): PDU;
    command: string;
    command_status: number;
    sequence_number: number;
    [field: string]: unknown;
  }

  export class Session extends EventEmitter {
    send(pdu: PDU, responseCallback?: (response: PDU) => void): boolean;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
  }

  /** `url`: smpp://host:port, or ssmpp:// for TLS (the other options go to tls.connect). */
  export function connect(options: { url: string } & ConnectionOptions, listener?: () => void): Session;
}
