export * from './scenario';
export * from './world';
export * from './random';
export * from './clock';
export * from './ground-truth';
export * from './submit-validation';
export * from './simulator';
export type { ArrivedMessage } from './smsc';
export * from './platform-config';
