// A deliberately broken router (`./tern mutants`): every weight of the routing score negated (delivery,
// latency, price), so smart routing picks the route its own criteria rank worst. Loaded into the router
// process only (NODE_OPTIONS --require), before its own code, so no production file carries it.
const { join } = require('node:path');

const select = require(join(__dirname, '..', '..', 'services', 'router', 'dist', 'domain', 'select.js'));
for (const weights of Object.values(select.TYPE_WEIGHTS)) {
  for (const term of Object.keys(weights)) weights[term] = -weights[term];
}
