import { settingAdvice, settingProblems } from './state-guard';

describe('settingProblems', () => {
  it('accepts a Redis that persists and never evicts', () => {
    expect(settingProblems({ appendonly: 'yes', save: '', 'maxmemory-policy': 'noeviction' })).toEqual([]);
    expect(settingProblems({ appendonly: 'no', save: '3600 1', 'maxmemory-policy': 'noeviction' })).toEqual(
      [],
    );
  });

  it('names eviction and the lack of persistence', () => {
    const problems = settingProblems({ appendonly: 'no', save: '', 'maxmemory-policy': 'volatile-lru' });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/volatile-lru/);
    expect(problems[1]).toMatch(/restart loses every key/);
  });
});

describe('settingAdvice', () => {
  it("advises listpacks for Tern's hashes when values of a few hundred bytes would make hash tables", () => {
    expect(settingAdvice({ 'hash-max-listpack-value': '64' })).toEqual([
      expect.stringMatching(/hash-max-listpack-value is 64: .*\(use 1024/),
    ]);
    expect(settingAdvice({ 'hash-max-ziplist-value': '512' })).toEqual([expect.stringMatching(/is 512/)]);
  });

  it('says nothing when they fit a listpack, or when the setting cannot be read', () => {
    expect(settingAdvice({ 'hash-max-listpack-value': '1024', 'hash-max-ziplist-value': '1024' })).toEqual(
      [],
    );
    expect(settingAdvice({ 'hash-max-ziplist-value': '4096' })).toEqual([]);
    expect(settingAdvice({})).toEqual([]);
  });
});
