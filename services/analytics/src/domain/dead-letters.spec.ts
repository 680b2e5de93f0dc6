import { MAX_REPLAYS, replayRefusal } from './dead-letters';

describe('replayRefusal', () => {
  const letter = { sourceTopic: 'sms.retry', replays: 0, replayedAt: undefined };

  it('lets a dead letter go back once, while its history has fewer than three replays', () => {
    expect(replayRefusal(letter)).toBeUndefined();
    expect(replayRefusal({ ...letter, replays: MAX_REPLAYS - 1 })).toBeUndefined();
  });

  it('refuses one replayed already, one that keeps failing, and one that names no source', () => {
    expect(replayRefusal({ ...letter, replayedAt: new Date('2026-12-01T05:00:00Z') })).toBe(
      'replayed already, at 2026-12-01T05:00:00.000Z',
    );
    expect(replayRefusal({ ...letter, replays: MAX_REPLAYS })).toMatch(/after 3 replays/);
    expect(replayRefusal({ ...letter, sourceTopic: '' })).toMatch(/no source topic/);
  });
});
