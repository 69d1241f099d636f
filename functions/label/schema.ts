// What a label request looks like, and Kubernetes' own rules for label keys and values
// (apimachinery validation: a qualified name, optionally prefixed by a DNS subdomain).
//   { target: { apiVersion, kind, namespace?, name? | labelSelector? },
//     set?: { key: value }, remove?: [key], dryRun?: boolean }
import * as v from 'valibot';

const namePart = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Prefixes Kubernetes reserves for its own components. */
const reserved = /(^|\.)(kubernetes\.io|k8s\.io)$/;

export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (!namePart.test(name)) return false;
  return prefix === undefined || (prefix.length <= 253 && dnsSubdomain.test(prefix));
}

export function isLabelValue(value: string): boolean {
  return value === '' || namePart.test(value);
}

export function isReservedKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  return slash >= 0 && reserved.test(key.slice(0, slash));
}

const LabelKey = v.pipe(
  v.string(),
  v.check(isLabelKey, 'a label key: [prefix/]name, name 1-63 alphanumerics, -, _ or .'),
);
const LabelValue = v.pipe(
  v.string(),
  v.check(isLabelValue, 'a label value: empty, or 1-63 alphanumerics, -, _ or .'),
);

export const LabelRequestSchema = v.pipe(
  v.strictObject({
    target: v.strictObject({
      apiVersion: v.pipe(v.string(), v.regex(/^([a-z0-9.-]+\/)?v[0-9a-z]+$/)),
      kind: v.pipe(v.string(), v.regex(/^[A-Z][A-Za-z0-9]{0,62}$/)),
      namespace: v.optional(v.pipe(v.string(), v.regex(dnsLabel))),
      name: v.optional(v.pipe(v.string(), v.maxLength(253), v.regex(dnsSubdomain))),
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
