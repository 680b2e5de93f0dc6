// Minimal typing of the `smpp` npm package, used only as an independent codec in our tests.
declare module 'smpp' {
  export class PDU {
    constructor(command: string, options?: Record<string, unknown>);
    static fromBuffer(buffer: Buffer): PDU | false;
    toBuffer(): Buffer;
    [field: string]: unknown;
  }
}
