/** Loads the UCI optical-digits set shipped in data/ (1,797 rows of 8×8 pixels 0–16 and the digit 0–9). */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export function loadDigits(): { X: number[][]; y: number[] } {
  const text = gunzipSync(readFileSync(new URL('../data/digits.csv.gz', import.meta.url))).toString('utf8');
  const X: number[][] = [];
  const y: number[] = [];
  for (const line of text.trim().split('\n').slice(1)) {
    // after the header: pixel0,…,pixel63,digit
    const values = line.split(',').map(Number);
    y.push(values.pop()!);
    X.push(values);
  }
  return { X, y };
}
