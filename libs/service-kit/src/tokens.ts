/** Injection tokens of what the kit provides. */
export const CONFIG = Symbol('tern:config');
export const LOGGER = Symbol('tern:logger');
