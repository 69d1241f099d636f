// Bounded concurrency: `fn` over every item with at most `limit` calls in flight (a resync of
// thousands of objects must not open thousands of requests at once). Results keep the items'
// order; the first rejection rejects the whole call (calls already started still finish).

export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
