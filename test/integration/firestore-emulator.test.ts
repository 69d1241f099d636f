// The real Firestore emulator (REST v1, as placement calls it): what a durable, exactly-once
// placement relies on. A create with a chosen documentId is refused once the document exists,
// and a commit is atomic and checks its preconditions (exists, updateTime).
import { expect, test } from 'vitest';
import { uniqueName } from '../support/kube.ts';
import { stack } from '../support/stack.ts';

const database = `projects/${stack.firestoreProject}/databases/(default)`;
const base = `http://${stack.firestoreEmulatorHost}/v1/${database}`;

type Answer = { status: number; body: Record<string, unknown> };
async function firestore(method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${base}/${path}`, {
    method,
    // The emulator's admin token: security rules do not apply.
    headers: { authorization: 'Bearer owner', 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
const errorStatus = (answer: Answer) => (answer.body.error as { status?: string }).status;
const cellField = (cell: string) => ({ cell: { stringValue: cell } });

test('creating a document with ?documentId= twice: the second is refused (409), the first kept', async () => {
  const collection = uniqueName('placements');
  const first = await firestore('POST', `documents/${collection}?documentId=acme`, {
    fields: cellField('eu1'),
  });
  expect(first.status).toBe(200);
  const second = await firestore('POST', `documents/${collection}?documentId=acme`, {
    fields: cellField('us1'),
  });
  expect(second.status).toBe(409);
  expect(errorStatus(second)).toBe('ALREADY_EXISTS');
  const stored = await firestore('GET', `documents/${collection}/acme`);
  expect(stored.body.fields).toEqual(cellField('eu1'));
});

test('a commit checks its preconditions and is all or nothing', async () => {
  const collection = uniqueName('cells');
  const name = (id: string) => `${database}/documents/${collection}/${id}`;
  const counter = (tenants: number) => ({
    update: { name: name('eu1'), fields: { tenants: { integerValue: String(tenants) } } },
  });
  const created = await firestore('POST', 'documents:commit', {
    writes: [{ ...counter(1), currentDocument: { exists: false } }],
  });
  expect(created.status).toBe(200);
  const again = await firestore('POST', 'documents:commit', {
    writes: [{ ...counter(1), currentDocument: { exists: false } }],
  });
  expect(again.status).toBe(409);
  expect(errorStatus(again)).toBe('ALREADY_EXISTS');

  // Compare-and-set on updateTime: the write that read the current version wins, a stale one is
  // refused, and a refused commit writes nothing of its other writes either.
  const read = await firestore('GET', `documents/${collection}/eu1`);
  const updateTime = read.body.updateTime as string;
  const fresh = await firestore('POST', 'documents:commit', {
    writes: [{ ...counter(2), currentDocument: { updateTime } }],
  });
  expect(fresh.status).toBe(200);
  const stale = await firestore('POST', 'documents:commit', {
    writes: [
      {
        update: { name: name('beta'), fields: cellField('eu1') },
        currentDocument: { exists: false },
      },
      { ...counter(3), currentDocument: { updateTime } },
    ],
  });
  expect(stale.status).toBe(400);
  expect(errorStatus(stale)).toBe('FAILED_PRECONDITION');
  expect((await firestore('GET', `documents/${collection}/beta`)).status).toBe(404);
  const after = await firestore('GET', `documents/${collection}/eu1`);
  expect(after.body.fields).toEqual({ tenants: { integerValue: '2' } });
});
