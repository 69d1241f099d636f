// Pub/Sub's subscription filter language, parsed and evaluated as Google documents it
// (cloud.google.com/pubsub/docs/subscription-message-filter). The emulator stores a filter but
// does not apply it, so this is how the local stack routes as production does (the push
// forwarder drops what a filter excludes) and how the filters in infra/subscriptions.ts are
// tested. The grammar, all of it documented:
//   attributes:KEY                       the message has the key
//   attributes.KEY = "VALUE"             has the key with that value
//   attributes.KEY != "VALUE"            not (KEY = VALUE): a message without the key matches
//   hasPrefix(attributes.KEY, "PREFIX")  has the key, its value starts with PREFIX
//   NOT x, -x                            negation, the highest precedence
//   x AND y AND ..., x OR y OR ...       uppercase only; AND and OR mixed only with parentheses
//   ( x )
// A KEY is letters, digits, - and _, or a string literal ("iana.org/language_tag"); a literal
// takes \\ \" \n \t ..., \uXXXX, \xHH and octal \NNN escapes. At most 256 bytes. An empty filter
// is no filter (every message). Anything else is a FilterError, never a match.

export const maxFilterBytes = 256;

export type Attributes = Readonly<Record<string, string>>;

export type FilterExpression =
  | { op: 'has'; key: string }
  | { op: '=' | '!='; key: string; value: string }
  | { op: 'hasPrefix'; key: string; prefix: string }
  | { op: 'NOT'; operand: FilterExpression }
  | { op: 'AND' | 'OR'; operands: FilterExpression[] };

/** A filter Pub/Sub would refuse; `at` is the character offset where reading stopped. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
  constructor(
    message: string,
    readonly at?: number,
  ) {
    super(at === undefined ? message : `${message} (at character ${at})`);
  }
}

/** The filter as a predicate on a message's attributes; throws FilterError on a bad filter. */
export function compileFilter(filter: string | undefined): (attributes: Attributes) => boolean {
  const expression = parseFilter(filter ?? '');
  return (attributes) => expression === undefined || evaluate(expression, attributes);
}

/** The filter's expression tree; undefined for the empty filter (every message). */
export function parseFilter(filter: string): FilterExpression | undefined {
  const bytes = Buffer.byteLength(filter, 'utf8');
  if (bytes > maxFilterBytes)
    throw new FilterError(`the filter is ${bytes} bytes; Pub/Sub takes at most ${maxFilterBytes}`);
  const tokens = tokenize(filter);
  if (tokens.length === 0) return undefined;
  const parser = new Parser(tokens, filter);
  const expression = parser.expression();
  parser.end();
  return expression;
}

export function evaluate(expression: FilterExpression, attributes: Attributes): boolean {
  const value = (key: string) => (Object.hasOwn(attributes, key) ? attributes[key] : undefined);
  switch (expression.op) {
    case 'has':
      return value(expression.key) !== undefined;
    case '=':
      return value(expression.key) === expression.value;
    case '!=':
      return value(expression.key) !== expression.value;
    case 'hasPrefix':
      return value(expression.key)?.startsWith(expression.prefix) ?? false;
    case 'NOT':
      return !evaluate(expression.operand, attributes);
    case 'AND':
      return expression.operands.every((operand) => evaluate(operand, attributes));
    case 'OR':
      return expression.operands.some((operand) => evaluate(operand, attributes));
  }
}

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: '(' | ')' | ',' | '.' | ':' | '=' | '!=' | '-'; at: number };

const wordChar = /[A-Za-z0-9_-]/;

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const c = filter.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const { text, end } = readString(filter, i);
      tokens.push({ kind: 'string', text, at: i });
      i = end;
    } else if (c === '!' && filter[i + 1] === '=') {
      tokens.push({ kind: '!=', at: i });
      i += 2;
    } else if (c === '-' && !isWordAfterWord(tokens, filter, i)) {
      // A minus before a term is NOT; inside a bare key (ce-type) it is part of the word.
      tokens.push({ kind: '-', at: i });
      i++;
    } else if ('(),.:='.includes(c)) {
      tokens.push({ kind: c as '(' | ')' | ',' | '.' | ':' | '=', at: i });
      i++;
    } else if (wordChar.test(c)) {
      const start = i;
      while (i < filter.length && wordChar.test(filter.charAt(i))) i++;
      tokens.push({ kind: 'word', text: filter.slice(start, i), at: start });
    } else {
      throw new FilterError(`unexpected character ${JSON.stringify(c)}`, i);
    }
  }
  return tokens;
}

// A "-" starts a word only right after "attributes." or "attributes:" (a key such as -x);
// everywhere else it is the unary minus.
function isWordAfterWord(tokens: Token[], filter: string, i: number): boolean {
  const previous = tokens.at(-1);
  return (previous?.kind === '.' || previous?.kind === ':') && wordChar.test(filter.charAt(i + 1));
}

const simpleEscapes: Record<string, string> = {
  '\\': '\\',
  '"': '"',
  "'": "'",
  '?': '?',
  '`': '`',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

function readString(filter: string, start: number): { text: string; end: number } {
  let text = '';
  let i = start + 1;
  while (i < filter.length) {
    const c = filter.charAt(i);
    if (c === '"') return { text, end: i + 1 };
    if (c !== '\\') {
      text += c;
      i++;
      continue;
    }
    const e = filter.charAt(i + 1);
    const simple = simpleEscapes[e];
    if (simple !== undefined) {
      text += simple;
      i += 2;
    } else if (e === 'u' || e === 'x' || e === 'X' || e === 'U') {
      const length = { u: 4, x: 2, X: 2, U: 8 }[e];
      const hex = filter.slice(i + 2, i + 2 + length);
      if (!new RegExp(`^[0-9A-Fa-f]{${length}}$`).test(hex))
        throw new FilterError(`\\${e} needs ${length} hex digits`, i);
      const point = Number.parseInt(hex, 16);
      if (point > 0x10ffff) throw new FilterError('escape beyond Unicode', i);
      text += String.fromCodePoint(point);
      i += 2 + length;
    } else if (/[0-7]/.test(e)) {
      const octal = filter.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(octal)) throw new FilterError('an octal escape is 3 digits', i);
      text += String.fromCodePoint(Number.parseInt(octal, 8));
      i += 4;
    } else {
      throw new FilterError(`unknown escape \\${e}`, i);
    }
  }
  throw new FilterError('unterminated string literal', start);
}

class Parser {
  #i = 0;
  constructor(
    readonly tokens: Token[],
    readonly source: string,
  ) {}

  #peek(): Token | undefined {
    return this.tokens[this.#i];
  }
  #at(): number {
    return this.#peek()?.at ?? this.source.length;
  }
  #isWord(text: string): boolean {
    const token = this.#peek();
    return token?.kind === 'word' && token.text === text;
  }
  #take(kind: Token['kind'], what: string): Token {
    const token = this.#peek();
    if (token?.kind !== kind) throw new FilterError(`expected ${what}`, this.#at());
    this.#i++;
    return token;
  }

  end(): void {
    if (this.#i === this.tokens.length) return;
    const token = this.#peek();
    const word = token?.kind === 'word' ? token.text : '';
    if (['and', 'or', 'not'].includes(word.toLowerCase()))
      throw new FilterError(
        word === 'AND' || word === 'OR'
          ? 'AND and OR are combined only with parentheses'
          : 'AND, OR and NOT are uppercase',
        this.#at(),
      );
    throw new FilterError(token?.kind === ')' ? 'unmatched ")"' : 'unexpected input', this.#at());
  }

  // expression: term {AND term} | term {OR term}, never both at one level.
  expression(): FilterExpression {
    const first = this.#term();
    const op = this.#isWord('AND') ? 'AND' : this.#isWord('OR') ? 'OR' : undefined;
    if (!op) return first;
    const operands = [first];
    while (this.#isWord(op)) {
      this.#i++;
      operands.push(this.#term());
    }
    const other = op === 'AND' ? 'OR' : 'AND';
    if (this.#isWord(other))
      throw new FilterError('AND and OR are combined only with parentheses', this.#at());
    return { op, operands };
  }

  // term: NOT term | -term | ( expression ) | restriction
  #term(): FilterExpression {
    if (this.#isWord('NOT')) {
      const at = this.#at();
      if (!/\s/.test(this.source.charAt(at + 3)))
        throw new FilterError('NOT is followed by a space', at);
      this.#i++;
      return { op: 'NOT', operand: this.#term() };
    }
    if (this.#peek()?.kind === '-') {
      this.#i++;
      return { op: 'NOT', operand: this.#term() };
    }
    if (this.#peek()?.kind === '(') {
      this.#i++;
      const inner = this.expression();
      this.#take(')', '")"');
      return inner;
    }
    if (this.#isWord('hasPrefix')) {
      this.#i++;
      this.#take('(', '"(" after hasPrefix');
      this.#attributes(true);
      const key = this.#key();
      this.#take(',', '"," between the key and the prefix');
      const prefix = this.#string('the prefix, a string literal');
      this.#take(')', '")" closing hasPrefix');
      return { op: 'hasPrefix', key, prefix };
    }
    const separator = this.#attributes();
    const key = this.#key();
    if (separator === ':') return { op: 'has', key };
    const operator = this.#peek();
    if (operator?.kind !== '=' && operator?.kind !== '!=')
      throw new FilterError('expected = or != after the key', this.#at());
    this.#i++;
    const value = this.#string('the value, a string literal');
    return { op: operator.kind, key, value };
  }

  /** `attributes.` or `attributes:` (only the first in hasPrefix), written without spaces. */
  #attributes(dotOnly = false): '.' | ':' {
    const at = this.#at();
    if (!this.#isWord('attributes'))
      throw new FilterError('expected attributes.KEY, attributes:KEY, NOT, - or (', at);
    this.#i++;
    const token = this.#peek();
    if ((token?.kind === '.' || (token?.kind === ':' && !dotOnly)) && token.at === at + 10) {
      this.#i++;
      return token.kind;
    }
    throw new FilterError(
      dotOnly ? 'expected attributes.KEY' : 'expected attributes.KEY or attributes:KEY',
      this.#at(),
    );
  }

  /** The key, right after the "." or ":". */
  #key(): string {
    const token = this.#peek();
    const previous = this.tokens[this.#i - 1];
    if (
      (token?.kind === 'word' || token?.kind === 'string') &&
      token.at === (previous?.at ?? -2) + 1
    ) {
      this.#i++;
      return token.text;
    }
    throw new FilterError(
      'expected a key right after attributes. or attributes: (letters, digits, - and _, or a string literal)',
      this.#at(),
    );
  }

  #string(what: string): string {
    const token = this.#peek();
    if (token?.kind !== 'string') throw new FilterError(`expected ${what}`, this.#at());
    this.#i++;
    return token.text;
  }
}
