export * from './encoding';
export * from './udh';
export * from './receipt';
export * from './body';
export * from './recipient';
export * from './sender';
export * from './callback-url';
export * from './channel-tiers';
