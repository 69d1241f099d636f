// Who owns which field of a tenant's objects, in server-side apply's own terms:
//   - enforced (the template's object): field manager `kubefn-provision`, applied with force. A
//     change by anyone else is put back by the next sign-up or scheduled check, which reports it.
//   - defaults (the template's `defaults`): field manager `kubefn-defaults`, applied without
//     force. While only kubefn has set such a field it follows the template and the plan; once
//     an operator sets it (`kubectl annotate --overwrite`, `kubectl scale`), the apply conflicts
//     on that field, which is then left to them: their value survives re-sign-up, the scheduled
//     check and plan changes. A default someone removed is set again.
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

/** Applies one tenant object and its defaults; the object as it is afterwards. */
export async function applyTenantObject(
  resource: Resource,
  { object, defaults }: TenantObject,
  options: { dryRun?: boolean } = {},
): Promise<KubeObject> {
  try {
    let applied = await resource.apply(object, { fieldManager, force: true, ...options });
    let rest = defaults;
    // At most twice: the second try without the fields the conflict named.
    for (let attempt = 1; rest && hasFields(rest); attempt++) {
      try {
        applied = await resource.apply(rest, { fieldManager: defaultsManager, ...options });
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

// What names the object, not a field it sets.
const identity = new Set(['.apiVersion', '.kind', '.metadata.name', '.metadata.namespace']);

/**
 * `object` without the leaves whose paths are in `owned`, in the form server-side apply names
 * them in a conflict (`.metadata.annotations.kubefn.dev/backend-timeout`, `.spec.replicas`).
 */
export function withoutFields(object: KubeObject, owned: Set<string>): KubeObject {
  const prune = (value: unknown, path: string): unknown => {
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return identity.has(path) || !owned.has(path) ? value : undefined;
    const kept = Object.entries(value)
      .map(([key, child]) => [key, prune(child, `${path}.${key}`)] as const)
      .filter(([, child]) => child !== undefined);
    return kept.length || !path ? Object.fromEntries(kept) : undefined;
  };
  return prune(object, '') as KubeObject;
}

/** Whether a defaults object still sets anything beside what names it. */
export function hasFields(object: KubeObject): boolean {
  const leaves = (value: unknown, path: string): string[] =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.entries(value).flatMap(([key, child]) => leaves(child, `${path}.${key}`))
      : [path];
  return leaves(object, '').some((path) => !identity.has(path));
}
