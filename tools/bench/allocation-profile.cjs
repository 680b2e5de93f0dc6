// Preload (NODE_OPTIONS="--require <this file>"): samples what the process allocates, garbage included
// (Node's --heap-prof keeps only what is still alive at the end), and writes TERN_ALLOCATION_PROFILE_DIR
// (default /tmp/tern-allocation)/<pid>.heapprofile as it stops. `pnpm --filter @tern/bench profile-summary
// DIR` sums them up (operations.md, Benchmark).
const { Session } = require('node:inspector');
const { mkdirSync, writeFileSync } = require('node:fs');

const dir = process.env.TERN_ALLOCATION_PROFILE_DIR || '/tmp/tern-allocation';
const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', {
  samplingInterval: 16384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
let written = false;
// An in-process session answers at once, so this works in an 'exit' listener too.
const write = () => {
  if (written) return;
  written = true;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${process.pid}.heapprofile`, JSON.stringify(result.profile));
  });
};
process.on('exit', write);
for (const signal of ['SIGTERM', 'SIGINT']) {
  const onSignal = () => {
    write();
    // A process with no handler of its own would have ended on the signal: let it.
    if (process.listenerCount(signal) === 1) {
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    }
  };
  process.prependListener(signal, onSignal);
}
