import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, parseSettings, parseSharedDocument, serializeSettings } from '../../src/store/url';

describe('shareable URL state', () => {
  it('round-trips settings and omits defaults', () => {
    expect(serializeSettings(DEFAULT_SETTINGS)).toBe('');
    const s = { ...DEFAULT_SETTINGS, tab: 'scaling' as const, scan: 'sequential' as const, lengths: [128, 4096], probes: ['copy' as const], prompt: 'a & b=c' };
    const q = serializeSettings(s, { include: true });
    expect(parseSettings('?' + q)).toEqual(s);
  });
  it('keeps typed and pasted text out of the link unless asked to carry it', () => {
    const s = { ...DEFAULT_SETTINGS, prompt: 'my private notes', doc: 'pasted', pair: 'custom', mambaRepo: 'me/mamba-ft' };
    const q = serializeSettings(s);
    expect(q).not.toContain('private');
    expect(parseSettings('?' + q)).toEqual({ ...s, prompt: DEFAULT_SETTINGS.prompt });
    expect(parseSharedDocument('?' + q)).toBeNull();
    const withText = serializeSettings(s, { include: true, document: 'a pasted document' });
    expect(parseSettings('?' + withText).prompt).toBe('my private notes');
    expect(parseSharedDocument('?' + withText)).toBe('a pasted document');
  });
  it('carries the multikey probe and its K values', () => {
    const s = parseSettings('?probes=passkey,multikey&keys=1,8,32');
    expect(s.probes).toEqual(['passkey', 'multikey']);
    expect(s.keys).toEqual([1, 8, 32]);
    expect(serializeSettings(s)).toBe('probes=passkey%2Cmultikey&keys=1%2C8%2C32');
  });
  it('ignores invalid values', () => {
    const s = parseSettings('?tab=evil&scan=nope&maxNew=abc&lengths=x,,&probes=bad');
    expect(s).toEqual(DEFAULT_SETTINGS);
  });
});
