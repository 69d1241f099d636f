// Who owns which field of a tenant's objects, in server-side apply's own terms:
//   - enforced (the template's object): field manager `kubefn-provision`, applied with force. A
//     change by anyone else is put back by the next sign-up or scheduled check, which reports it.
//   - defaults (the template's `defaults`): field manager `kubefn-defaults`, applied without
//     force. While only kubefn has set such a field it follows the template and the plan; once
//     an operator sets it (`kubectl annotate --overwrite`, `kubectl scale`), the apply conflicts
//     on that field, which is then left to them: their value survives re-sign-up, the scheduled
//     check and plan changes. A default someone removed is set again.
// `drift` tells, from an object as listed, whether either needs writing, without a request.
import {
  type FailedObject,
  KubeError,
  type KubeObject,
  type Resource,
} from '../../shared/kube/index.ts';
import type { TenantObject } from './render.ts';

export const fieldManager = 'kubefn-provision';
export const defaultsManager = 'kubefn-defaults';

export function failedObject(object: KubeObject): FailedObject {
  const { name = '', namespace } = object.metadata ?? {};
  return { kind: object.kind ?? '', name, ...(namespace ? { namespace } : {}) };
}

/**
 * Applies one tenant object and its defaults (or, with `only: 'defaults'`, just those); the
 * object as it is afterwards. A failure names the object (KubeError.about).
 */
export async function applyTenantObject(
  resource: Resource,
  { object, defaults }: TenantObject,
  options: { dryRun?: boolean; only?: 'defaults' } = {},
): Promise<KubeObject | undefined> {
  const dryRun = options.dryRun ? { dryRun: true } : {};
  try {
    let applied =
      options.only === 'defaults'
        ? undefined
        : await resource.apply(object, { fieldManager, force: true, ...dryRun });
    let rest = defaults;
    // At most twice: the second try without the fields the conflict named.
    for (let attempt = 1; rest && hasFields(rest); attempt++) {
      try {
        applied = await resource.apply(rest, { fieldManager: defaultsManager, ...dryRun });
        break;
      } catch (error) {
        if (!(error instanceof KubeError && error.code === 'conflict') || attempt > 1) throw error;
        rest = withoutFields(rest, new Set(error.causes.map((cause) => cause.field ?? '')));
      }
    }
    return applied;
  } catch (error) {
    throw KubeError.about(error, failedObject(object));
  }
}

/** What a listed object needs: all of it, its enforced fields (and defaults), or its defaults. */
export function drift(
  entry: TenantObject,
  live: KubeObject | undefined,
): 'missing' | 'different' | 'defaults' | undefined {
  if (!live) return 'missing';
  if (!covers(live, entry.object)) return 'different';
  const unset = leaves(entry.defaults ?? {}).some(
    ({ keys, value }) =>
      !equal(valueAt(live, keys), value) &&
      (valueAt(live, keys) === undefined || !ownedByOthers(live, keys)),
  );
  return unset ? 'defaults' : undefined;
}

/**
 * Whether `live` holds every field `want` sets, with its value (the server adds defaults and
 * status beside them). Lists must match item by item. Quantities are compared as written, so
 * templates write them as the API server does ("1Gi", "500m"); otherwise each check rewrites.
 */
export function covers(live: unknown, want: unknown): boolean {
  // The server stores an empty list or map as absent (a binding with no owners has no subjects).
  if (live === undefined && isEmpty(want)) return true;
  if (Array.isArray(want))
    return (
      Array.isArray(live) && live.length === want.length && want.every((w, i) => covers(live[i], w))
    );
  if (want !== null && typeof want === 'object')
    return (
      live !== null &&
      typeof live === 'object' &&
      !Array.isArray(live) &&
      Object.entries(want).every(([key, value]) =>
        covers((live as Record<string, unknown>)[key], value),
      )
    );
  return live === want;
}

const isEmpty = (value: unknown) =>
  Array.isArray(value)
    ? value.length === 0
    : value !== null && typeof value === 'object' && Object.keys(value).length === 0;

// What names the object, not a field it sets.
const identity = new Set(['.apiVersion', '.kind', '.metadata.name', '.metadata.namespace']);

/** Each field an object sets (maps walked, lists and scalars as leaves), beside what names it. */
function leaves(object: unknown, keys: string[] = []): { keys: string[]; value: unknown }[] {
  if (object !== null && typeof object === 'object' && !Array.isArray(object))
    return Object.entries(object).flatMap(([key, child]) => leaves(child, [...keys, key]));
  return keys.length && !identity.has(pathOf(keys)) ? [{ keys, value: object }] : [];
}

/** A field's path as server-side apply names it in a conflict: `.spec.replicas`. */
const pathOf = (keys: string[]) => `.${keys.join('.')}`;

function valueAt(object: unknown, keys: string[]): unknown {
  return keys.reduce<unknown>(
    (node, key) =>
      node !== null && typeof node === 'object'
        ? (node as Record<string, unknown>)[key]
        : undefined,
    object,
  );
}

/** Whether two values set the same fields to the same values (`covers` both ways). */
export const equal = (a: unknown, b: unknown) => covers(a, b) && covers(b, a);

/** Whether a field manager other than kubefn-defaults has set this field (managedFields). */
function ownedByOthers(live: KubeObject, keys: string[]): boolean {
  const managed = (live.metadata as { managedFields?: { manager?: string; fieldsV1?: unknown }[] })
    .managedFields;
  return (managed ?? []).some(
    (entry) =>
      entry.manager !== defaultsManager &&
      valueAt(
        entry.fieldsV1,
        keys.map((key) => `f:${key}`),
      ) !== undefined,
  );
}

/** `object` without the fields whose paths are in `owned` (as a conflict names them). */
export function withoutFields(object: KubeObject, owned: Set<string>): KubeObject {
  const prune = (value: unknown, keys: string[]): unknown => {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return identity.has(pathOf(keys)) || !owned.has(pathOf(keys)) ? value : undefined;
    const kept = Object.entries(value)
      .map(([key, child]) => [key, prune(child, [...keys, key])] as const)
      .filter(([, child]) => child !== undefined);
    return kept.length || !keys.length ? Object.fromEntries(kept) : undefined;
  };
  return prune(object, []) as KubeObject;
}

/** Whether a defaults object still sets anything beside what names it. */
export function hasFields(object: KubeObject): boolean {
  return leaves(object).length > 0;
}
