// Jest test sequencer: the files of a run given with --runTestsByPath start in the order given, so that
// scripts/test-all.sh decides which end-to-end suites start first and which run beside which. Any other run
// keeps jest's own order (slowest first, as its cache of earlier runs says, else largest first).
const Sequencer = require('@jest/test-sequencer').default;

class GivenOrderSequencer extends Sequencer {
  sort(tests) {
    return process.argv.includes('--runTestsByPath') ? tests : super.sort(tests);
  }
}
module.exports = GivenOrderSequencer;
