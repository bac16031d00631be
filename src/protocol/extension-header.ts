// The Sec-WebSocket-Extensions header (RFC 6455 §9.1): a list of extensions, each a token with
// parameters `; name` or `; name=value` (the value a token or a quoted string), read into elements and
// written back. It knows no extension: what the parameters mean is the extension's business.

/** One extension of the list: an offer in a request, the accepted configuration in a response. */
export interface ExtensionElement {
  readonly name: string;
  /** In the order given; `value` is undefined for a parameter without one (a quoted value is unescaped). */
  readonly params: readonly { readonly name: string; readonly value: string | undefined }[];
}

/** The header does not follow the §9.1 grammar. */
export class ExtensionHeaderError extends Error {
  override readonly name = 'ExtensionHeaderError';
}

const TOKEN_CHARACTER = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Reads a Sec-WebSocket-Extensions value (several header lines arrive joined with ', '). Empty list
 * elements are skipped, as RFC 7230 §7 asks of recipients. Throws ExtensionHeaderError on bad syntax.
 */
export function parseExtensionHeader(value: string | readonly string[] | undefined): ExtensionElement[] {
  if (value === undefined) return [];
  const text = typeof value === 'string' ? value : value.join(', ');
  return new ExtensionScanner(text).list();
}

/** Writes elements back as a header value: `name; flag; key=value, other`. */
export function formatExtensionHeader(elements: readonly ExtensionElement[]): string {
  return elements
    .map((element) =>
      [
        element.name,
        ...element.params.map((p) => (p.value === undefined ? p.name : `${p.name}=${p.value}`)),
      ].join('; '),
    )
    .join(', ');
}

class ExtensionScanner {
  private position = 0;

  constructor(private readonly text: string) {}

  list(): ExtensionElement[] {
    const elements: ExtensionElement[] = [];
    for (;;) {
      this.skipWhitespace();
      if (this.atEnd()) return elements;
      if (this.peek() === ',') {
        this.position++;
        continue;
      }
      elements.push(this.element());
      this.skipWhitespace();
      if (this.atEnd()) return elements;
      this.expect(',');
    }
  }

  private element(): ExtensionElement {
    const name = this.token('an extension name');
    const params: { name: string; value: string | undefined }[] = [];
    for (;;) {
      this.skipWhitespace();
      if (this.peek() !== ';') return { name, params };
      this.position++;
      this.skipWhitespace();
      const paramName = this.token(`a parameter name of ${name}`);
      this.skipWhitespace();
      let paramValue: string | undefined;
      if (this.peek() === '=') {
        this.position++;
        this.skipWhitespace();
        paramValue = this.peek() === '"' ? this.quotedString() : this.token(`a value for ${paramName}`);
      }
      params.push({ name: paramName, value: paramValue });
    }
  }

  private token(what: string): string {
    const start = this.position;
    while (!this.atEnd() && TOKEN_CHARACTER.test(this.peek())) this.position++;
    if (this.position === start) throw this.error(`expected ${what}`);
    return this.text.slice(start, this.position);
  }

  /** RFC 7230 §3.2.6: `"…"` with `\` escaping the next character. */
  private quotedString(): string {
    this.position++;
    let value = '';
    for (;;) {
      if (this.atEnd()) throw this.error('a quoted string is not closed');
      const character = this.text[this.position++]!;
      if (character === '"') return value;
      if (character === '\\') {
        if (this.atEnd()) throw this.error('a quoted string ends in a backslash');
        value += this.text[this.position++]!;
      } else if (character < ' ' && character !== '\t') {
        throw this.error('a control character in a quoted string');
      } else {
        value += character;
      }
    }
  }

  private expect(character: string): void {
    if (this.peek() !== character) throw this.error(`expected '${character}'`);
    this.position++;
  }

  private skipWhitespace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.position++;
  }

  private peek(): string {
    return this.text[this.position] ?? '';
  }

  private atEnd(): boolean {
    return this.position >= this.text.length;
  }

  private error(message: string): ExtensionHeaderError {
    // Only a little of the header is quoted: it is the peer's, of any length and content.
    const excerpt = JSON.stringify(this.text.slice(Math.max(0, this.position - 20), this.position + 20));
    return new ExtensionHeaderError(
      `Sec-WebSocket-Extensions: ${message} at offset ${this.position} (near ${excerpt})`,
    );
  }
}
