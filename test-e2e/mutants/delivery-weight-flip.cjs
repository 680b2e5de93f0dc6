// A subtler broken router (`./tern mutants`): only the delivery weight negated, so smart routing prefers the
// routes that fail while still weighing latency and price as it should. Loaded as weights-sign-flip.cjs is.
const { join } = require('node:path');

const select = require(join(__dirname, '..', '..', 'services', 'router', 'dist', 'domain', 'select.js'));
for (const weights of Object.values(select.TYPE_WEIGHTS)) weights.delivery = -weights.delivery;
