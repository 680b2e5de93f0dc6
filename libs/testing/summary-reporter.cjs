// Jest reporter that ends the run with one plain line, `tests: N passed, N failed, N skipped`, which tools
// reading CI output (and people scanning it) recognise without knowing jest's own summary format. Written at
// process exit so that it comes after jest's own summary. When the tiers run as several jest runs
// (scripts/test-all.sh), TERN_TEST_TALLY names a file that carries the counts from one run to the next, and
// each run's line counts every run ended so far. Each run appends a line of its own (an append is one
// write, so two runs ending side by side never lose each other's counts). Run as a script with that file,
// it prints the line of every run in it: test-all.sh's last, when a run beside the others may end first.
const { appendFileSync, readFileSync } = require('node:fs');

/** The counts of every run the tally file holds, as the line the reporter writes. */
function tallyLine(file) {
  const runs = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
  const sum = (key) => runs.reduce((total, run) => total + run[key], 0);
  return `tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped\n`;
}

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const counts = {
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    const tally = process.env.TERN_TEST_TALLY;
    let line = `tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`;
    if (tally) {
      appendFileSync(tally, `${JSON.stringify(counts)}\n`);
      line = tallyLine(tally);
    }
    process.once('exit', () => process.stderr.write(line));
  }
}

if (require.main === module) process.stderr.write(tallyLine(process.argv[2]));
module.exports = SummaryReporter;
