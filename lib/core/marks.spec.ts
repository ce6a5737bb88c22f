import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { MARK_PREFIX, mark, setMarksEnabled } from './marks.js';

const ours = () =>
  performance.getEntriesByType('mark').filter(entry => entry.name.startsWith(MARK_PREFIX));

describe('mark', () => {
  afterEach(() => {
    setMarksEnabled(false);
    performance.clearMarks();
  });

  it('records nothing while marks are off', () => {
    setMarksEnabled(false);
    mark('resign-sent');
    expect(ours()).toEqual([]);
  });

  it('puts prefixed marks on the performance timeline once enabled', () => {
    setMarksEnabled(true);
    mark('resign-sent');
    mark('resign-acked');
    expect(ours().map(entry => entry.name)).toEqual([
      `${MARK_PREFIX}resign-sent`,
      `${MARK_PREFIX}resign-acked`,
    ]);
  });
});
