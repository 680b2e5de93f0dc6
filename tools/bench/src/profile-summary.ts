// Where each process's time went, from the V8 profiles `node --cpu-prof` wrote, and what it allocated, from
// those tools/bench/allocation-profile.cjs wrote (operations.md, Benchmark):
//   pnpm --filter @tern/bench profile-summary DIR [--top N] [--messages N]
// Per CPU profile (.cpuprofile): its busy time (the CPU it used and, on a machine short of CPU, its waits for
// a core), then the packages (npm's, the repository's services and libraries, Node's modules, V8's own) and
// the functions that took the most of it, self time only. Per allocation profile (.heapprofile): the bytes it
// allocated, a message's with --messages (those the run sent, its warm-up's included), the same way.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Profiler } from 'node:inspector';
import { codeOf, profileAllocation, profileTime, type AllocationNode } from './figures';

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '12' }, messages: { type: 'string' } },
  allowPositionals: true,
});
const dir = positionals[0];
if (!dir) {
  process.stderr.write('usage: profile-summary DIR [--top N] [--messages N]\n');
  process.exit(2);
}
const top = Number(values.top);
const messages = values.messages === undefined ? undefined : Number(values.messages);
const share = (ms: number, busyMs: number) => `${((100 * ms) / busyMs).toFixed(1).padStart(5)}%`;
/** A frame's place: within its npm package or the repository; none for V8's own frames. */
const where = (url: string, line: number) =>
  url === ''
    ? ''
    : ` ${url
        .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
        .replace(/^(?:file:\/\/)?.*?\/((?:services|libs|tools|proto)\/)/, '$1')}:${line + 1}`;

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profiler.Profile;
  const packages = profileTime(profile, (frame) => codeOf(frame.url, frame.functionName));
  if (packages.busyMs < 1000) continue; // a short-lived helper (pnpm, topic creation)
  const functions = profileTime(
    profile,
    (frame) => `${frame.functionName || '(anonymous)'}${where(frame.url, frame.lineNumber)}`,
  );
  const lines = [`${packages.process} (${file}): ${(packages.busyMs / 1000).toFixed(1)} s busy`];
  for (const [name, ms] of packages.by.slice(0, top)) lines.push(`  ${share(ms, packages.busyMs)}  ${name}`);
  lines.push('  functions:');
  for (const [name, ms] of functions.by.slice(0, top)) lines.push(`  ${share(ms, packages.busyMs)}  ${name}`);
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

const size = (bytes: number) =>
  messages ? `${(bytes / 1024 / messages).toFixed(1)} KB a message` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.heapprofile'))
  .sort()) {
  const { head } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { head: AllocationNode };
  const packages = profileAllocation(head, (frame) => codeOf(frame.url, frame.functionName));
  if (packages.bytes < 64 * 2 ** 20) continue; // a short-lived helper
  const functions = profileAllocation(
    head,
    (frame) => `${frame.functionName || '(anonymous)'}${where(frame.url, frame.lineNumber)}`,
  );
  const lines = [`${packages.process} (${file}): allocated ${size(packages.bytes)}`];
  for (const [name, bytes] of packages.by.slice(0, top))
    lines.push(`  ${share(bytes, packages.bytes)}  ${name}`);
  lines.push('  functions:');
  for (const [name, bytes] of functions.by.slice(0, top))
    lines.push(`  ${share(bytes, packages.bytes)}  ${name}`);
  process.stdout.write(`${lines.join('\n')}\n\n`);
}
