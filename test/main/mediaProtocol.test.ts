import { describe, expect, it, vi } from 'vitest';
import { MEDIA_PROTOCOL } from '../../app/api/contract.js';
import { createMediaHandler, MEDIA_SCHEME, parseMediaUrl, registerMediaProtocol } from '../../main/mediaProtocol.js';

describe('parseMediaUrl', () => {
  it('reads a kind and a photo id', () => {
    expect(parseMediaUrl('sightline-media://thumb/1')).toEqual({ kind: 'thumb', photoId: 1 });
    expect(parseMediaUrl('sightline-media://image/123456')).toEqual({ kind: 'image', photoId: 123456 });
    expect(parseMediaUrl(`sightline-media://thumb/${Number.MAX_SAFE_INTEGER}`)).toEqual({ kind: 'thumb', photoId: Number.MAX_SAFE_INTEGER });
  });

  it.each([
    // dot segments, raw and encoded
    'sightline-media://thumb/../image/1',
    'sightline-media://thumb/..',
    'sightline-media://thumb/%2e%2e/1',
    'sightline-media://thumb/./1',
    // encoded and other separators
    'sightline-media://thumb/1%2F2',
    'sightline-media://thumb/1%2f..%2fsecret',
    'sightline-media://thumb/%5C1',
    'sightline-media://thumb\\1',
    'sightline-media://thumb/1%00',
    // ids that are not positive decimal integers
    'sightline-media://thumb/0',
    'sightline-media://thumb/-1',
    'sightline-media://thumb/01',
    'sightline-media://thumb/1.5',
    'sightline-media://thumb/1e3',
    'sightline-media://thumb/0x10',
    'sightline-media://thumb/+1',
    'sightline-media://thumb/ 1',
    'sightline-media://thumb/',
    'sightline-media://thumb/9007199254740993',
    'sightline-media://thumb/99999999999999999999',
    // kinds the contract does not have
    'sightline-media://file/1',
    'sightline-media://THUMB/1',
    'sightline-media://thumbs/1',
    'sightline-media:///thumb/1',
    // anything after the id
    'sightline-media://thumb/1/2',
    'sightline-media://thumb/1/',
    'sightline-media://thumb/1?path=/etc/passwd',
    'sightline-media://thumb/1#x',
    'sightline-media://thumb/1;x',
    // another scheme, credentials, ports, absolute paths
    'file:///etc/passwd',
    'sightline-app://thumb/1',
    'sightline-media://user@thumb/1',
    'sightline-media://thumb:80/1',
    'sightline-media:/etc/passwd',
    '',
  ])('rejects %j', (url) => {
    expect(parseMediaUrl(url)).toBeNull();
  });
});

describe('the media handler', () => {
  const bytes = new Uint8Array([0x52, 0x49, 0x46, 0x46]);

  it('answers with the core bytes and their type, never sniffed', async () => {
    const readMedia = vi.fn(async () => ({ bytes, contentType: 'image/webp' }));
    const response = await createMediaHandler(readMedia)(new Request('sightline-media://thumb/42'));
    expect(readMedia).toHaveBeenCalledWith('thumb', 42);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/webp');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it('asks the core nothing for a URL it rejects', async () => {
    const readMedia = vi.fn(async () => ({ bytes, contentType: 'image/webp' }));
    const response = await createMediaHandler(readMedia)(new Request('sightline-media://thumb/1%2F..%2F2'));
    expect(response.status).toBe(400);
    expect(readMedia).not.toHaveBeenCalled();
  });

  it('answers 404 for a photo the core does not have, 503 when the core fails, 405 to a POST', async () => {
    expect((await createMediaHandler(async () => null)(new Request('sightline-media://image/5'))).status).toBe(404);
    const onError = vi.fn();
    const failing = createMediaHandler(async () => {
      throw new Error('core restarting');
    }, onError);
    expect((await failing(new Request('sightline-media://image/5'))).status).toBe(503);
    expect(onError).toHaveBeenCalledTimes(1);
    expect((await createMediaHandler(async () => null)(new Request('sightline-media://image/5', { method: 'POST', body: 'x' }))).status).toBe(405);
  });

  it('registers its handler under the contract scheme, declared standard and secure', async () => {
    const handle = vi.fn();
    registerMediaProtocol({ handle }, async () => null);
    expect(handle).toHaveBeenCalledWith(MEDIA_PROTOCOL, expect.any(Function));
    expect(MEDIA_SCHEME).toEqual({ scheme: MEDIA_PROTOCOL, privileges: { standard: true, secure: true } });
  });
});
