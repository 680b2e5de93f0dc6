import { execFileSync } from 'node:child_process';
import { readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { podCgroupDir } from '../src/figures';

const script = join(__dirname, '../../../scripts/pod-memory.sh');

describe('scripts/pod-memory.sh (TERN_POD_MEMORY_MIB)', () => {
  it('runs a command in a memory cgroup of its own with the limit, which Node sizes its heap from', () => {
    const name = `spec-${process.pid}`;
    const probe = `
      const { readFileSync } = require('node:fs');
      const { getHeapStatistics } = require('node:v8');
      console.log(JSON.stringify({
        limit: process.constrainedMemory(),
        heap: getHeapStatistics().heap_size_limit,
        cgroup: readFileSync('/proc/self/cgroup', 'utf8'),
      }));`;
    const seen = JSON.parse(
      execFileSync('bash', [script, '300', name, process.execPath, '-e', probe], { encoding: 'utf8' }),
    ) as { limit: number; heap: number; cgroup: string };
    const group = podCgroupDir(seen.cgroup);
    try {
      expect(seen.limit).toBe(300 * 2 ** 20);
      // Without a limit Node gives this machine's heap gigabytes; within 300 MiB, less than the limit.
      expect(seen.heap).toBeLessThan(300 * 2 ** 20);
      expect(group?.dir).toMatch(new RegExp(`/tern-pod-${name}$`));
      const limitFile = group!.v2 ? 'memory.max' : 'memory.limit_in_bytes';
      expect(Number(readFileSync(join(group!.dir, limitFile), 'utf8'))).toBe(300 * 2 ** 20);
    } finally {
      if (group) rmdirSync(group.dir);
    }
  });

  it('refuses a name or limit it cannot use, naming it', () => {
    expect(() => execFileSync('bash', [script, '300', '../escape', 'true'], { stdio: 'pipe' })).toThrow(
      /NAME/,
    );
  });
});
