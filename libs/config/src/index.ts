export * from './config';
export * from './common-settings';
export * from './data-file';
export * from './tenants';
export * from './operators';
export * from './passwords';
