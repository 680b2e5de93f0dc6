export * from './constants';
export * from './pdu';
export * from './framing';
export * from './tlv';
export * from './session';
export * from './token-bucket';
export * from './short-message';
export * from './receipt';
