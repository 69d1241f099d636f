// Kubernetes' rules for names, label keys and label values, as k8s.io/apimachinery defines them
// (pkg/util/validation: IsDNS1123Label, IsDNS1123Subdomain, IsQualifiedName, IsValidLabelValue).
// The one copy: what kubefn accepts as a name is what the API server would, and no function
// answers a name the cluster can never hold with anything but "invalid input".
//   DNS label       namespaces, a customer id: 1-63 of [a-z0-9-], alphanumeric at both ends
//   DNS subdomain   most objects' names, a label key's prefix: DNS labels joined by dots, <= 253
//   qualified name  a label or annotation key: [DNS subdomain '/'] name, the name 1-63 of
//                   [A-Za-z0-9_.-], alphanumeric at both ends
//   label value     empty, or a qualified name's name part

/**
 * The DNS-label pattern without anchors or length, for an HTML `pattern` attribute. Browsers
 * compile that with the `v` flag, where a bare '-' in a class is a syntax error and the
 * pattern is then silently ignored: hence `\-`.
 */
export const dnsLabelSource = '[a-z0-9]([a-z0-9\\-]*[a-z0-9])?';
const dnsLabel = new RegExp(`^${dnsLabelSource}$`);
const dnsSubdomain = new RegExp(`^${dnsLabelSource}(\\.${dnsLabelSource})*$`);
const namePart = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** A DNS-1123 label; `maxLength` lower than 63 where kubefn adds to the name (a prefix, a suffix). */
export function isDnsLabel(value: string, maxLength = 63): boolean {
  return value.length <= maxLength && dnsLabel.test(value);
}

/** A DNS-1123 subdomain: at most 253 characters (each label is not limited to 63 here). */
export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && dnsSubdomain.test(value);
}

/** A label or annotation key: `name` or `prefix/name`, the prefix a DNS subdomain. */
export function isQualifiedName(value: string): boolean {
  const parts = value.split('/');
  const name = parts.at(-1) ?? '';
  if (parts.length > 2 || name.length > 63 || !namePart.test(name)) return false;
  return parts.length === 1 || isDnsSubdomain(parts[0] ?? '');
}

/** A label value: empty, or 1-63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && namePart.test(value));
}
