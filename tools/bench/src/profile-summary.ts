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
import { codeOf, profileAllocation, profileTime, type AllocationNode, type ProfileFrame } from './figures';

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
const share = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1).padStart(5)}%`;
/** A frame's place: within its npm package or the repository; none for V8's own frames. */
const where = (url: string, line: number) =>
  url === ''
    ? ''
    : ` ${url
        .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
        .replace(/^(?:file:\/\/)?.*?\/((?:services|libs|tools|proto)\/)/, '$1')}:${line + 1}`;

const size = (bytes: number) =>
  messages ? `${(bytes / 1024 / messages).toFixed(1)} KB a message` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
/** Each profile of one kind in DIR: summed by package and by function, those under `least` left out. */
const summarize = <P>(
  extension: string,
  summed: (profile: P, keyOf: (frame: ProfileFrame) => string) => ReturnType<typeof profileTime>,
  least: number,
  headline: (total: number) => string,
): void => {
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(extension))
    .sort()) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as P;
    const packages = summed(profile, (frame) => codeOf(frame.url, frame.functionName));
    if (packages.total < least) continue; // a short-lived helper (pnpm, topic creation)
    const functions = summed(
      profile,
      (frame) => `${frame.functionName || '(anonymous)'}${where(frame.url, frame.lineNumber)}`,
    );
    const lines = [`${packages.process} (${file}): ${headline(packages.total)}`];
    for (const [name, n] of packages.by.slice(0, top)) lines.push(`  ${share(n, packages.total)}  ${name}`);
    lines.push('  functions:');
    for (const [name, n] of functions.by.slice(0, top)) lines.push(`  ${share(n, packages.total)}  ${name}`);
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }
};

summarize<Profiler.Profile>('.cpuprofile', profileTime, 1000, (ms) => `${(ms / 1000).toFixed(1)} s busy`);
summarize<{ head: AllocationNode }>(
  '.heapprofile',
  ({ head }, keyOf) => profileAllocation(head, keyOf),
  64 * 2 ** 20,
  (bytes) => `allocated ${size(bytes)}`,
);
