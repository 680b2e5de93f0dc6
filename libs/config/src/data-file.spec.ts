import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { watchDataFile } from './data-file';

const schema = z.object({ limit: z.number().int().positive() });
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('watchDataFile', () => {
  it('refuses a bad file at start with the path and the field', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tern-watch-')), 'policy.yaml');
    writeFileSync(path, 'limit: -1\n');
    expect(() => watchDataFile(path, schema, 'policy', { onRefused: () => undefined })).toThrow(
      /policy file .*policy\.yaml is invalid:\n {2}limit:/,
    );
  });

  it('takes a good new version, refuses a bad one and keeps the last good', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tern-watch-')), 'policy.yaml');
    writeFileSync(path, 'limit: 5\n');
    const changes: number[] = [];
    const refusals: string[] = [];
    const file = watchDataFile(path, schema, 'policy', {
      intervalMs: 20,
      onChange: (v) => changes.push(v.limit),
      onRefused: (e) => refusals.push(e.message),
    });
    try {
      expect(file.current().limit).toBe(5);
      writeFileSync(path, 'limit: 7\n');
      await until(() => changes.length === 1);
      expect(file.current().limit).toBe(7);
      writeFileSync(path, 'limit: seven\n');
      await until(() => refusals.length === 1);
      await new Promise((r) => setTimeout(r, 100));
      expect(refusals).toHaveLength(1); // refused once, not at every look
      expect(refusals[0]).toMatch(/limit/);
      expect(file.current().limit).toBe(7);
      writeFileSync(path, 'limit: 9\n');
      await until(() => changes.length === 2);
      expect(changes).toEqual([7, 9]);
    } finally {
      file.close();
    }
  });
});
