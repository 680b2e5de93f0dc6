import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiKey, OperatorDirectory, roleAllows } from './index';

const file = (contents: unknown) => {
  const path = join(mkdtempSync(join(tmpdir(), 'tern-operators-')), 'operators.json');
  writeFileSync(path, JSON.stringify(contents));
  return path;
};

describe('operators', () => {
  it('lets each role do what the weaker roles may, and no more', () => {
    expect(roleAllows('viewer', 'viewer')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('operator', 'operator')).toBe(true);
  });

  it('finds an operator by any of their tokens, and nobody by an unknown one', () => {
    const operators = OperatorDirectory.load(
      file({
        operators: [
          {
            id: 'ann',
            role: 'operator',
            tokens: [
              { id: 'old', sha256: hashApiKey('token-old') },
              { id: 'new', sha256: hashApiKey('token-new') },
            ],
          },
        ],
      }),
    );
    expect(operators.authenticate('token-old')).toEqual({ id: 'ann', role: 'operator' });
    expect(operators.authenticate('token-new')).toEqual({ id: 'ann', role: 'operator' });
    expect(operators.authenticate('token-other')).toBeUndefined();
  });

  it('refuses a file with an unknown role, a token twice or no operators', () => {
    const token = { id: 't', sha256: hashApiKey('x') };
    expect(() =>
      OperatorDirectory.load(file({ operators: [{ id: 'a', role: 'admin', tokens: [token] }] })),
    ).toThrow(/operators\.0\.role/);
    expect(() =>
      OperatorDirectory.load(
        file({
          operators: [
            { id: 'a', role: 'viewer', tokens: [token] },
            { id: 'b', role: 'viewer', tokens: [token] },
          ],
        }),
      ),
    ).toThrow(/already another token/);
    expect(() => OperatorDirectory.load(file({ operators: [] }))).toThrow(/operators/);
  });
});
