export * from './topics';
export * from './codec';
export * from './errors';
export * from './kafka-client';
export * from './producer';
export * from './consumer';
export * from './admin';
export * from './dead-letters';
