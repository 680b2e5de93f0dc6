export * from './infra';
export * from './wait';
export * from './service-process';
export * from './topics';
export * from './isolation';
export * from './tcp-proxy';
export * from './chromium';
export * from './stats';
