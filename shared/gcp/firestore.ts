// The few Firestore (v1 REST) calls placement makes: read a document, commit writes atomically
// with preconditions, and query one collection by one field. On the shared HTTPS transport
// (shared/transport), like Compute: no Firestore SDK (gRPC, ~10 MB) for three calls.
//   GET  {base}/projects/P/databases/D/documents/COLLECTION/ID
//   POST {base}/projects/P/databases/D/documents:commit     {writes}: all or nothing
//   POST {base}/projects/P/databases/D/documents:runQuery   {structuredQuery}
// FIRESTORE_EMULATOR_HOST (what Google's libraries read) points it at the emulator, over plain
// HTTP with the emulator's admin token.
import { HttpsClient } from '../transport/https-client.ts';
import { GoogleApiError, googleApiErrors } from './api-error.ts';

/** Field values as Firestore's JSON has them; only the kinds kubefn stores. */
export type Value = { stringValue: string } | { integerValue: string } | { nullValue: null };
export type Fields = Record<string, Value>;
export type Document = { name: string; fields?: Fields; updateTime: string };

/** A precondition on a written document: it must not exist, or must be unchanged since read. */
export type Precondition = { exists: boolean } | { updateTime: string };
export type Write =
  | { set: { path: string; fields: Fields }; precondition?: Precondition }
  | { increment: { path: string; field: string; by: number }; precondition?: Precondition }
  | { delete: string; precondition?: Precondition }
  /** Sets `fields` and removes `remove`, leaving the document's other fields as they are. */
  | {
      patch: { path: string; fields: Fields; remove?: string[] };
      precondition?: Precondition;
    };

export type FirestoreOptions = {
  project: string;
  database?: string | undefined;
  /** host:port of the emulator (FIRESTORE_EMULATOR_HOST); absent: Google's endpoint. */
  emulatorHost?: string | undefined;
  /** An OAuth access token (the metadata server's); not used with the emulator. */
  token?: (() => Promise<string>) | undefined;
  timeoutMs?: number | undefined;
};

export type Firestore = ReturnType<typeof firestoreClient>;

export function firestoreClient(options: FirestoreOptions) {
  const server = options.emulatorHost
    ? `http://${options.emulatorHost}`
    : 'https://firestore.googleapis.com';
  // The emulator takes `owner` as an admin token (rules bypassed), as Google's SDKs send it.
  const token = options.emulatorHost ? () => 'owner' : options.token;
  const transport = new HttpsClient({ server, ...(token ? { token } : {}) }, googleApiErrors, {
    timeoutMs: options.timeoutMs ?? 10_000,
  });
  const database = `projects/${options.project}/databases/${options.database ?? '(default)'}`;
  const documents = `${database}/documents`;
  const name = (path: string) => `${documents}/${path}`;

  const write = (w: Write) => {
    const currentDocument = w.precondition;
    const pre = currentDocument ? { currentDocument } : {};
    if ('set' in w) return { update: { name: name(w.set.path), fields: w.set.fields }, ...pre };
    if ('delete' in w) return { delete: name(w.delete), ...pre };
    if ('patch' in w) {
      const { path, fields, remove = [] } = w.patch;
      const fieldPaths = [...Object.keys(fields), ...remove];
      return { update: { name: name(path), fields }, updateMask: { fieldPaths }, ...pre };
    }
    const { path, field, by } = w.increment;
    // An update of no field with a transform: creates the document if it is missing.
    return {
      update: { name: name(path), fields: {} },
      updateMask: { fieldPaths: [] },
      updateTransforms: [{ fieldPath: field, increment: { integerValue: String(by) } }],
      ...pre,
    };
  };

  return {
    /** The document, or undefined when there is none. */
    async get(path: string): Promise<Document | undefined> {
      try {
        return await transport.request<Document>(`/v1/${name(path)}`);
      } catch (error) {
        if (error instanceof GoogleApiError && error.code === 'not-found') return undefined;
        throw error;
      }
    },
    /**
     * All writes or none. A failed precondition throws GoogleApiError with code 'conflict', what
     * shared/retry's retryOnConflict retries: a document that must not exist does (409
     * ALREADY_EXISTS), or one changed since it was read (400 FAILED_PRECONDITION).
     */
    async commit(writes: Write[]): Promise<void> {
      // Not repeated by the transport: a commit whose answer was lost may have been applied; the
      // caller reads again and decides (its preconditions make a blind repeat fail anyway).
      await transport
        .request(`/v1/${documents}:commit`, {
          method: 'POST',
          body: { writes: writes.map(write) },
          idempotent: false,
        })
        .catch((error: unknown) => {
          if (error instanceof GoogleApiError && error.reason === 'FAILED_PRECONDITION')
            throw new GoogleApiError(error.message, error.status, error.reason, 'conflict');
          throw error;
        });
    },
    /** The documents of `collection` whose string `field` equals `value`. */
    async query(collection: string, field: string, value: string): Promise<Document[]> {
      const rows = await transport.request<{ document?: Document }[]>(`/v1/${documents}:runQuery`, {
        method: 'POST',
        idempotent: true,
        body: {
          structuredQuery: {
            from: [{ collectionId: collection }],
            where: {
              fieldFilter: {
                field: { fieldPath: field },
                op: 'EQUAL',
                value: { stringValue: value },
              },
            },
          },
        },
      });
      return rows.flatMap((row) => (row.document ? [row.document] : []));
    },
    close: () => transport.close(),
  };
}

/** A document's id: the last segment of its name. */
export const documentId = (doc: Document): string => doc.name.slice(doc.name.lastIndexOf('/') + 1);

export const stringField = (doc: Document, field: string): string | undefined => {
  const value = doc.fields?.[field];
  return value && 'stringValue' in value ? value.stringValue : undefined;
};

export const integerField = (doc: Document | undefined, field: string): number => {
  const value = doc?.fields?.[field];
  return value && 'integerValue' in value ? Number(value.integerValue) : 0;
};
