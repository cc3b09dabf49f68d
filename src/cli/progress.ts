/**
 * Progress on the terminal: a bar when standard output is a terminal (training: over the
 * epochs, with loss, validation loss, samples/s and ETA; a search: over its trials, with
 * samples/s and ETA), plain lines otherwise (logs, pipes, CI).
 */
import { SingleBar } from 'cli-progress';
import type { EpochLogs, TrialProgress } from '../node.js';

const fixed = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));
const rate = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en') : '∞');

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  return m < 60
    ? `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A started progress bar when `stream` is a terminal; nothing otherwise. */
function terminalBar(stream: NodeJS.WriteStream, format: string, total: number, payload: object): SingleBar | undefined {
  if (!stream.isTTY) return undefined;
  const bar = new SingleBar({ format, stream, hideCursor: true, barsize: 24, etaBuffer: 5 });
  bar.start(total, 0, payload);
  return bar;
}

export class ProgressReporter {
  readonly #bar: SingleBar | undefined;
  readonly #started = performance.now();

  constructor(
    readonly epochs: number,
    readonly stream: NodeJS.WriteStream,
  ) {
    this.#bar = terminalBar(
      stream,
      'epoch {value}/{total} {bar} loss {loss}  val {valLoss}  {rate} samples/s  eta {eta_formatted}',
      epochs,
      {
        loss: '–',
        valLoss: '–',
        rate: '–',
      },
    );
  }

  epoch(epoch: number, logs: EpochLogs): void {
    const payload = { loss: fixed(logs.loss), valLoss: fixed(logs.valLoss), rate: rate(logs.samplesPerSecond) };
    if (this.#bar) {
      this.#bar.update(epoch + 1, payload);
      return;
    }
    const elapsed = (performance.now() - this.#started) / 1000;
    const eta = (elapsed / (epoch + 1)) * (this.epochs - epoch - 1);
    this.stream.write(
      `epoch ${epoch + 1}/${this.epochs} loss ${payload.loss} val ${payload.valLoss} ${payload.rate} samples/s eta ${duration(eta)}\n`,
    );
  }

  stop(): void {
    this.#bar?.stop();
  }
}

/** Progress of a model selection over its trials: a bar on a terminal, a line per tenth otherwise. */
export class TrialReporter {
  readonly #bar: SingleBar | undefined;
  #printed = 0;

  constructor(
    readonly total: number,
    readonly stream: NodeJS.WriteStream,
  ) {
    this.#bar = terminalBar(stream, 'trials {value}/{total} {bar} {rate} samples/s  eta {eta}', total, { rate: '–', eta: '?' });
  }

  update(p: TrialProgress): void {
    const seconds = p.elapsed / 1000;
    const payload = { rate: rate(p.samples / seconds), eta: duration((seconds / p.done) * (p.total - p.done)) };
    if (this.#bar) {
      this.#bar.update(p.done, payload);
      return;
    }
    if (p.done === p.total || p.done >= this.#printed + Math.max(1, Math.ceil(this.total / 10))) {
      this.#printed = p.done;
      this.stream.write(`trials ${p.done}/${p.total} ${payload.rate} samples/s eta ${payload.eta}\n`);
    }
  }

  stop(): void {
    this.#bar?.stop();
  }
}
