import { describe, expect, it } from 'vitest';
import { cellTrigger, type Trigger, triggers } from './subscriptions.ts';

const longestCell = 'abcdefghij-k';

describe('cellTrigger', () => {
  it.each(Object.entries(triggers) as [string, Trigger][])(
    '%s: one subscription per cell, filters within Pub/Sub limit of 256 bytes',
    (_key, trigger) => {
      const own = cellTrigger(trigger, longestCell);
      expect(Buffer.byteLength(own.filter ?? '')).toBeLessThanOrEqual(256);
      if (trigger.scope === 'global') return expect(own).toBe(trigger);
      expect(own.subscription).toBe(`${trigger.subscription}-${longestCell}`);
      expect(own.filter?.startsWith(`attributes.cluster = "${longestCell}"`)).toBe(true);
      expect(cellTrigger(trigger, 'eu1').subscription).not.toBe(
        cellTrigger(trigger, 'us1').subscription,
      );
    },
  );
});
