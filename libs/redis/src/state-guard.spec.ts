import { settingProblems } from './state-guard';

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
