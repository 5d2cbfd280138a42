import { parseRawObject, plainKey, rawValue, rawValuesOf, setOwn } from './raw-json.js';

/**
 * A bulk statement's stored row images, read one after another into what a step writes: `data`,
 * the compact JSON text of `columns` (in the order `order` gives for the step's op, each value's
 * text exactly as stored), and `set`, the same values read as parseExactJson reads them. The key
 * list of the image before is tried first (rawValuesOf): the images of one statement share it,
 * so most make no map and no key string, and `columns` stays the same array.
 */
export class ImageRows {
  /** The columns of the last image read, in the order its step writes them. */
  columns: string[] = [];
  data = '';
  set: Record<string, unknown> = {};
  private op = '';
  private keys: string[] = [];
  private plain = false;
  /** For each column, the index of its value among `keys`. */
  private at: number[] = [];
  private quoted: string[] = [];

  constructor(private readonly order: (op: string, keys: string[]) => string[]) {}

  read(op: string, text: string): void {
    let values = this.plain && op === this.op ? rawValuesOf(text, this.keys) : null;
    if (values === null) {
      const image = parseRawObject(text)!;
      const keys = [...image.keys()];
      values = keys.map((k) => image.get(k)!);
      if (op !== this.op || !sameList(keys, this.keys)) this.learn(op, keys);
    }
    let data = '';
    const set: Record<string, unknown> = {};
    for (let j = 0; j < this.columns.length; j++) {
      const v = values[this.at[j]!]!;
      data += j === 0 ? this.quoted[j]! + v : `,${this.quoted[j]!}${v}`;
      setOwn(set, this.columns[j]!, rawValue(v));
    }
    this.data = `{${data}}`;
    this.set = set;
  }

  private learn(op: string, keys: string[]): void {
    this.op = op;
    this.keys = keys;
    this.plain = keys.every(plainKey);
    this.columns = this.order(op, keys);
    this.at = this.columns.map((c) => keys.indexOf(c));
    this.quoted = this.columns.map((c) => `${JSON.stringify(c)}:`);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
