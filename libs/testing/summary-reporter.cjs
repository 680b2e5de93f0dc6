// Jest reporter that ends the run with one plain line, `tests: N passed, N failed, N skipped`, which tools
// reading CI output (and people scanning it) recognise without knowing jest's own summary format. Written at
// process exit so that it comes after jest's own summary. When the tiers run as several jest runs
// (scripts/test-all.sh), TERN_TEST_TALLY names a file that carries the counts from one run to the next, and
// each run's line counts every run ended so far. Each run appends a line of its own (an append is one
// write, so two runs ending side by side never lose each other's counts).
const { appendFileSync, readFileSync } = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const counts = {
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    const tally = process.env.TERN_TEST_TALLY;
    if (tally) {
      appendFileSync(tally, `${JSON.stringify(counts)}\n`);
      const runs = readFileSync(tally, 'utf8')
        .split('\n')
        .filter((line) => line !== '');
      for (const key of Object.keys(counts))
        counts[key] = runs.reduce((sum, line) => sum + JSON.parse(line)[key], 0);
    }
    const line = `tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`;
    process.once('exit', () => process.stderr.write(line));
  }
}
module.exports = SummaryReporter;
