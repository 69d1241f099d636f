// What a label request looks like; Kubernetes' own rules for names, keys and values are
// shared/kube/names.ts.
//   { target: { apiVersion, kind, namespace?, name? | labelSelector? },
//     set?: { key: value }, remove?: [key], dryRun?: boolean }
import * as v from 'valibot';
import {
  isDnsLabel,
  isDnsSubdomain,
  isLabelValue,
  isQualifiedName,
} from '../../shared/kube/names.ts';

/** Prefixes Kubernetes reserves for its own components. */
const reserved = /(^|\.)(kubernetes\.io|k8s\.io)$/;

/** group/version or a core version: the group a DNS subdomain. */
function isApiVersion(apiVersion: string): boolean {
  const slash = apiVersion.indexOf('/');
  const version = apiVersion.slice(slash + 1);
  return /^v[0-9a-z]+$/.test(version) && (slash < 0 || isDnsSubdomain(apiVersion.slice(0, slash)));
}

export function isReservedKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  return slash >= 0 && reserved.test(key.slice(0, slash));
}

const LabelKey = v.pipe(
  v.string(),
  v.check(isQualifiedName, 'a label key: [prefix/]name, name 1-63 alphanumerics, -, _ or .'),
);
const LabelValue = v.pipe(
  v.string(),
  v.check(isLabelValue, 'a label value: empty, or 1-63 alphanumerics, -, _ or .'),
);

export const LabelRequestSchema = v.pipe(
  v.strictObject({
    target: v.strictObject({
      apiVersion: v.pipe(v.string(), v.check(isApiVersion, 'group/version or a core version')),
      kind: v.pipe(v.string(), v.regex(/^[A-Z][A-Za-z0-9]{0,62}$/)),
      namespace: v.optional(v.pipe(v.string(), v.check(isDnsLabel, 'a DNS label'))),
      name: v.optional(v.pipe(v.string(), v.check(isDnsSubdomain, 'a DNS subdomain'))),
      labelSelector: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(1024))),
    }),
    set: v.optional(v.pipe(v.record(LabelKey, LabelValue), v.maxEntries(64)), {}),
    remove: v.optional(v.pipe(v.array(LabelKey), v.maxLength(64)), []),
    dryRun: v.optional(v.boolean(), false),
  }),
  v.check(
    (r) => (r.target.name === undefined) !== (r.target.labelSelector === undefined),
    'target needs exactly one of name and labelSelector',
  ),
  v.check(
    (r) => Object.keys(r.set).length + r.remove.length > 0,
    'nothing to do: give labels to set or remove',
  ),
  v.check((r) => !r.remove.some((key) => key in r.set), 'a key cannot be both set and removed'),
);

export type LabelRequest = v.InferOutput<typeof LabelRequestSchema>;
