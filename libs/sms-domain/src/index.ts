export * from './encoding';
export * from './udh';
export * from './receipt';
