// Jest reporter that ends the run with one plain line, `tests: N passed, N failed, N skipped`, which tools
// reading CI output (and people scanning it) recognise without knowing jest's own summary format. Written at
// process exit so that it comes after jest's own summary.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    process.once('exit', () => process.stderr.write(line));
  }
}
module.exports = SummaryReporter;
