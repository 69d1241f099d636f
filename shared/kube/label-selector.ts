// Whether labels match a Kubernetes label selector, as the API server decides it
// (k8s.io/apimachinery labels.Parse): terms joined by commas, each `key`, `!key`, `key=value`,
// `key==value`, `key!=value`, `key in (a,b)` or `key notin (a,b)`. The watcher asks it of an
// object a relist did not show, read again by name: is it gone from the selection, or was the list
// short? A selector this cannot read answers undefined, and the caller decides.

export function matchesLabelSelector(
  selector: string,
  labels: Readonly<Record<string, string>> = {},
): boolean | undefined {
  const terms = splitTerms(selector);
  if (!terms) return undefined;
  let all = true;
  for (const term of terms) {
    const matched = matchTerm(term, labels);
    if (matched === undefined) return undefined;
    all &&= matched;
  }
  return all;
}

/** Commas separate terms, except inside a set's parentheses. */
function splitTerms(selector: string): string[] | undefined {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of selector) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (char === ',' && depth === 0) {
      terms.push(current.trim());
      current = '';
    } else current += char;
  }
  if (depth !== 0) return undefined;
  if (current.trim() || terms.length) terms.push(current.trim());
  return terms.filter((t) => t !== '');
}

const key = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const value = String.raw`[-A-Za-z0-9_.]*`;
const setTerm = new RegExp(String.raw`^(${key})\s+(in|notin)\s+\(([^()]*)\)$`);
const equalityTerm = new RegExp(String.raw`^(${key})\s*(==|!=|=)\s*(${value})$`);
const existsTerm = new RegExp(String.raw`^(!?)\s*(${key})$`);

function matchTerm(term: string, labels: Readonly<Record<string, string>>): boolean | undefined {
  const has = (k: string) => Object.hasOwn(labels, k);
  const set = setTerm.exec(term);
  if (set) {
    const [, k = '', op, list = ''] = set;
    const values = list.split(',').map((v) => v.trim());
    const inSet = has(k) && values.includes(labels[k] as string);
    // notin matches a missing key too, as the API server's does.
    return op === 'in' ? inSet : !inSet;
  }
  const equality = equalityTerm.exec(term);
  if (equality) {
    const [, k = '', op, v] = equality;
    return op === '!=' ? labels[k] !== v : has(k) && labels[k] === v;
  }
  const exists = existsTerm.exec(term);
  if (exists) return exists[1] === '!' ? !has(exists[2] ?? '') : has(exists[2] ?? '');
  return undefined;
}
