// The function bundles use web-lite's classes in place of Node's: the same operations on both
// must give the same answers (Node's classes are the reference here).
import { describe, expect, it } from 'vitest';
import { LiteHeaders, LiteRequest, LiteResponse } from './web-lite.ts';

type AnyHeaders = Headers | LiteHeaders;

function headerOps(make: (init?: never) => AnyHeaders) {
  const h = make([
    ['Content-Type', ' application/json '],
    ['X-Many', 'a'],
  ] as never);
  h.append('x-many', 'b');
  h.append('Set-Cookie', 'a=1');
  h.append('set-cookie', 'b=2');
  h.set('WWW-Authenticate', 'Bearer');
  h.append('x-gone', '1');
  h.delete('X-Gone');
  const seen: string[] = [];
  h.forEach((value, name) => {
    seen.push(`${name}=${value}`);
  });
  return {
    get: [h.get('content-type'), h.get('X-MANY'), h.get('set-cookie'), h.get('missing')],
    has: [h.has('Www-Authenticate'), h.has('x-gone')],
    cookies: h.getSetCookie(),
    entries: [...h.entries()],
    iterated: [...h],
    keys: [...h.keys()],
    values: [...h.values()],
    seen,
    fromRecord: [...make({ B: '2', a: '1' } as never)],
    copied: [...make(h as never)],
  };
}

describe('web-lite', () => {
  it('Headers: names, combined values, set-cookie, order', () => {
    expect(headerOps((init) => new LiteHeaders(init))).toEqual(
      headerOps((init) => new Headers(init)),
    );
  });

  it('Response: status, headers, bodies read once, default content types', async () => {
    async function responseOps(R: typeof Response | typeof LiteResponse) {
      const text = new R('hello');
      const json = R.json({ a: 1 }, { status: 201, headers: { 'x-id': '7' } });
      const bytes = new R(new TextEncoder().encode('bytes'), {
        status: 404,
        statusText: 'Not Found',
        headers: [['content-type', 'application/octet-stream']],
      });
      const empty = new R(null, { status: 204 });
      const copy = new R(text.clone().body as never, text as never);
      const results = {
        text: [text.status, text.ok, text.statusText, text.headers.get('content-type')],
        json: [json.status, json.headers.get('content-type'), json.headers.get('x-id')],
        bytes: [bytes.status, bytes.ok, bytes.statusText],
        bodies: [
          await text.text(),
          await json.json(),
          new TextDecoder().decode(await bytes.arrayBuffer()),
          await empty.text(),
          await copy.text(),
        ],
        used: [text.bodyUsed, empty.bodyUsed],
        copyHeaders: [...copy.headers],
        redirect: [R.redirect('https://example.com/x', 307).headers.get('location')],
      };
      await expect(text.text()).rejects.toThrow(TypeError);
      expect(() => new R('x', { status: 99 })).toThrow(RangeError);
      return results;
    }
    expect(await responseOps(LiteResponse)).toEqual(await responseOps(Response));
  });

  it('Request: url, method, headers, body', async () => {
    async function requestOps(R: typeof Request | typeof LiteRequest) {
      const req = new R('http://localhost:8080/tenants/a?confirm=a', {
        method: 'post',
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.from('{"customerId":"a"}'),
      });
      const get = new R('http://localhost/x');
      return {
        url: [req.url, get.url],
        method: [req.method, get.method],
        type: req.headers.get('content-type'),
        body: await req.json(),
        empty: await get.text(),
      };
    }
    expect(await requestOps(LiteRequest)).toEqual(await requestOps(Request));
  });

  it("hands bodies it does not model to Node's classes", async () => {
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const res = new LiteResponse(stream, { status: 202 });
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('streamed');
  });
});
