// The one substitution for kubefn's templates (the tenant bundle, the RBAC manifests): data an
// operator edits, not code. A string that is exactly "${path}" becomes the value at that path
// (an object, a list, a number); "${path}" inside a longer string is replaced by its text. A
// placeholder without a value throws, so a template typo fails loudly instead of rendering "".
const whole = /^\$\{([\w.-]+)\}$/;
const inline = /\$\{([\w.-]+)\}/g;

export function substitute(node: unknown, values: object): unknown {
  if (typeof node === 'string') {
    const exact = whole.exec(node);
    if (exact?.[1]) return lookup(values, exact[1]);
    return node.replace(inline, (_, path: string) => String(lookup(values, path)));
  }
  if (Array.isArray(node)) return node.map((child) => substitute(child, values));
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, child]) => [key, substitute(child, values)]),
    );
  }
  return node;
}

function lookup(values: object, path: string): unknown {
  let current: unknown = values;
  for (const key of path.split('.')) {
    current =
      current && typeof current === 'object'
        ? (current as Record<string, unknown>)[key]
        : undefined;
  }
  if (current === undefined) throw new Error(`template placeholder \${${path}} has no value`);
  return current;
}
