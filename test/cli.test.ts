/** The mlpkit command line, run for real as a subprocess on small files. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FORMAT_VERSION, MLP } from '../src/node.js';
import { crc32 } from '../src/model-file.js';

const root = new URL('..', import.meta.url).pathname;
const iris = join(root, 'data', 'iris.csv');
const args = ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')];

function mlpkit(...argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [...args, ...argv], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const scratch = () => mkdtempSync(join(tmpdir(), 'mlpkit-cli-'));

describe('mlpkit command line', () => {
  it('train → evaluate → predict on a CSV with class names', () => {
    const dir = scratch();
    const model = join(dir, 'iris.mlpkit');
    const plot = join(dir, 'loss.svg');
    const trained = mlpkit(
      'train',
      iris,
      '--target',
      'species',
      '--layers',
      '16',
      '--epochs',
      '60',
      '--learning-rate',
      '0.01',
      '--out',
      model,
      '--plot',
      plot,
    );
    expect(trained.stderr).toBe('');
    expect(trained.status).toBe(0);
    expect(trained.stdout).toMatch(/150 rows × 4 features .*target 'species', classification \(3 classes\)/);
    expect(trained.stdout.match(/^epoch \d+\/60 loss \d\.\d{4} val \d\.\d{4} .* samples\/s eta /gm)).toHaveLength(60);
    expect(readFileSync(plot, 'utf8')).toMatch(/^<svg[\s\S]*training loss[\s\S]*validation loss[\s\S]*<\/svg>\n$/);
    expect(readdirSync(dir).sort()).toEqual(['iris.mlpkit', 'loss.svg']); // no temporary files left

    const evaluated = mlpkit('evaluate', model, iris, '--confusion');
    expect(evaluated.status).toBe(0);
    const accuracy = Number(evaluated.stdout.match(/accuracy (\d+\.\d+) %/)![1]);
    expect(accuracy).toBeGreaterThan(90);
    expect(evaluated.stdout).toMatch(/setosa\s+1\.0000\s+1\.0000\s+1\.0000\s+50/);
    expect(evaluated.stdout).toMatch(/confusion matrix[\s\S]*setosa\s+50\s+0\s+0/);

    const predicted = mlpkit('predict', model, iris, '--probabilities');
    expect(predicted.status).toBe(0);
    const lines = predicted.stdout.trim().split('\n');
    expect(lines[0]).toBe('species,p(setosa),p(versicolor),p(virginica)');
    expect(lines).toHaveLength(151);
    for (const line of lines.slice(1)) {
      const [label, ...p] = line.split(',');
      expect(['setosa', 'versicolor', 'virginica']).toContain(label);
      expect(p.map(Number).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    }
    const out = join(dir, 'predictions.csv');
    expect(mlpkit('predict', model, iris, '--out', out).status).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n').slice(1)).toEqual(lines.slice(1).map((l) => l.split(',')[0]));
  });

  it('regression on a numeric target, with features chosen by name', () => {
    const dir = scratch();
    const csv = join(dir, 'curve.csv');
    writeFileSync(
      csv,
      [
        'x,noise,y',
        ...Array.from({ length: 200 }, (_, i) => {
          const x = i / 50 - 2;
          return `${x},${(i * 7919) % 13},${(x * x + 0.5 * x).toFixed(5)}`;
        }),
      ].join('\n'),
    );
    const model = join(dir, 'curve.mlpkit');
    const trained = mlpkit(
      'train',
      csv,
      '--target',
      'y',
      '--features',
      'x',
      '--layers',
      '32,32',
      '--activation',
      'tanh',
      '--epochs',
      '150',
      '--learning-rate',
      '0.01',
      '--out',
      model,
    );
    expect(trained.status).toBe(0);
    expect(trained.stdout).toMatch(/200 rows × 1 features .*target 'y', regression/);
    const evaluated = mlpkit('evaluate', model, csv);
    expect(evaluated.status).toBe(0);
    expect(Number(evaluated.stdout.match(/R² (-?\d+\.\d+)/)![1])).toBeGreaterThan(0.95);
    const predicted = mlpkit('predict', model, csv).stdout.trim().split('\n');
    expect(predicted[0]).toBe('y');
    expect(predicted).toHaveLength(201);
  });

  it('IDX images with a labels file, gzipped or not', () => {
    const dir = scratch();
    const rows = 120;
    const idx = (type: number, dims: number[], values: number[]) => {
      const header = Buffer.alloc(4 + 4 * dims.length);
      header[2] = type;
      header[3] = dims.length;
      dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
      return Buffer.concat([header, Buffer.from(values)]);
    };
    // 3×3 "images": class 0 lights the top row, class 1 the bottom row.
    const labels = Array.from({ length: rows }, (_, i) => i % 2);
    const pixels = labels.flatMap((c, i) =>
      Array.from({ length: 9 }, (_, p) => ((c === 0 ? p < 3 : p >= 6) ? 200 : 20) + ((i * 31 + p * 7) % 40)),
    );
    writeFileSync(join(dir, 'images-idx3-ubyte.gz'), gzipSync(idx(0x08, [rows, 3, 3], pixels)));
    writeFileSync(join(dir, 'labels-idx1-ubyte'), idx(0x08, [rows], labels));
    const model = join(dir, 'idx.mlpkit');
    const trained = mlpkit(
      'train',
      join(dir, 'images-idx3-ubyte.gz'),
      '--labels',
      join(dir, 'labels-idx1-ubyte'),
      '--layers',
      '8',
      '--epochs',
      '30',
      '--learning-rate',
      '0.01',
      '--out',
      model,
    );
    expect(trained.status).toBe(0);
    expect(trained.stdout).toMatch(/120 rows × 9 features/);
    const evaluated = mlpkit('evaluate', model, join(dir, 'images-idx3-ubyte.gz'), '--labels', join(dir, 'labels-idx1-ubyte'));
    expect(evaluated.stdout).toMatch(/accuracy 100\.00 %/);
  });

  it('bad files and bad columns fail with one readable line and a non-zero exit', () => {
    const dir = scratch();
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'a,b,label\n1,2,x\n3,oops,y\n');
    const missing = join(dir, 'missing.csv');
    writeFileSync(missing, 'a,b,label\n1,2,x\n3,,y\n');
    const cases: [string[], RegExp][] = [
      [['train', join(dir, 'nope.csv'), '--target', 'y'], /nope\.csv: no such file/],
      [['train', bad, '--target', 'label'], /bad\.csv: line 3, column 'b': 'oops' is not a number/],
      [['train', missing, '--target', 'label'], /missing\.csv: line 3, column 'b': missing value/],
      [
        ['train', iris, '--target', 'colour'],
        /no target column 'colour'; the columns are 'sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species'/,
      ],
      [['train', iris, '--target', 'species', '--features', 'sepal_length,petals'], /no feature column 'petals'/],
      [['train', iris], /name the target column with --target/],
      [['train', iris, '--target', 'species', '--task', 'regression'], /target 'species' has values that are not numbers/],
    ];
    for (const [argv, message] of cases) {
      const run = mlpkit(...argv);
      expect(run.status, argv.join(' ')).not.toBe(0);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trim().split('\n'), 'one line, no stack').toHaveLength(1);
    }
    const usage = mlpkit('train', iris, '--target', 'species', '--epochs', 'zero');
    expect(usage.status).not.toBe(0);
    expect(usage.stderr).toMatch(/--epochs must be a positive integer, got 'zero'/);
  });

  it('a truncated, corrupt or newer model file fails with one line (a stack only with --verbose)', () => {
    const dir = scratch();
    const model = join(dir, 'ok.mlpkit');
    expect(mlpkit('train', iris, '--target', 'species', '--epochs', '2', '--out', model).status).toBe(0);
    const bytes = readFileSync(model);
    const truncated = join(dir, 'truncated.mlpkit');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 9));
    const corrupt = join(dir, 'corrupt.mlpkit');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 30]! ^= 1;
    writeFileSync(corrupt, flipped);
    const newer = join(dir, 'newer.mlpkit');
    const edited = Buffer.from(bytes);
    edited.writeUInt32LE(FORMAT_VERSION + 1, 4);
    edited.writeUInt32LE(crc32(edited.subarray(0, edited.length - 4)), edited.length - 4);
    writeFileSync(newer, edited);
    const plain = join(dir, 'plain.mlpkit');
    writeFileSync(plain, new MLP({ inputs: 4, layers: [{ units: 3, activation: 'softmax' }] }).save());
    for (const [file, message] of [
      [truncated, /truncated\.mlpkit: model file is truncated: expected \d+ bytes, got \d+/],
      [corrupt, /corrupt\.mlpkit: model file is corrupt: checksum mismatch/],
      [
        newer,
        new RegExp(
          `newer\\.mlpkit: model file format version ${FORMAT_VERSION + 1} is newer than this mlpkit .* reads \\(up to ${FORMAT_VERSION}\\); upgrade mlpkit`,
        ),
      ],
      [plain, /plain\.mlpkit: this model was not trained by the mlpkit command line/],
    ] as const) {
      const run = mlpkit('evaluate', file, iris);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
    const verbose = mlpkit('--verbose', 'evaluate', truncated, iris);
    expect(verbose.stderr).toMatch(/truncated[\s\S]*\n\s+at /);
  });

  it('Ctrl-C stops training after the current batch and saves the best weights so far', async () => {
    const dir = scratch();
    const model = join(dir, 'digits.mlpkit');
    const checkpoint = join(dir, 'digits.ckpt');
    const child = spawn(
      process.execPath,
      [
        ...args,
        '--backend',
        'js',
        'train',
        join(root, 'data', 'digits.csv.gz'),
        '--target',
        'digit',
        '--layers',
        '32',
        '--epochs',
        '100000',
        '--out',
        model,
        '--checkpoint',
        checkpoint,
      ],
      { cwd: root },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        if ((stdout.match(/^epoch /gm) ?? []).length >= 3) resolve();
      });
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toMatch(/stopping after the current batch/);
    expect(code).toBe(130);
    expect(stdout).toMatch(/interrupted; keeping the best epoch so far \(\d+\)/);
    expect(existsSync(model)).toBe(true);
    expect(stdout).toMatch(/checkpoint written to .*digits\.ckpt \(continue with --resume\)/);
    expect(MLP.load(readFileSync(checkpoint)).epochsTrained).toBeGreaterThanOrEqual(3);
    const evaluated = mlpkit('evaluate', model, join(root, 'data', 'digits.csv.gz'));
    expect(Number(evaluated.stdout.match(/accuracy (\d+\.\d+) %/)![1])).toBeGreaterThan(80);
  });

  it('export --tfjs writes a layers model that TensorFlow.js loads with the same predictions', async () => {
    const dir = scratch();
    const model = join(dir, 'iris.mlpkit');
    expect(mlpkit('train', iris, '--target', 'species', '--layers', '6', '--epochs', '20', '--out', model).status).toBe(0);
    const run = mlpkit('export', model, '--tfjs', join(dir, 'tfjs'));
    expect(run.status).toBe(0);
    const tf = await import('@tensorflow/tfjs');
    const json = JSON.parse(readFileSync(join(dir, 'tfjs', 'model.json'), 'utf8'));
    const weights = readFileSync(join(dir, 'tfjs', 'weights.bin'));
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: new Uint8Array(weights).buffer,
      }),
    );
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.1, 4.4, 1.4],
      [6.3, 3.3, 6.0, 2.5],
    ];
    const net = MLP.load(readFileSync(model));
    const want = (net.predict(rows) as number[][]).flat();
    const got = Array.from((loaded.predict(tf.tensor2d(rows)) as { dataSync(): Float32Array }).dataSync());
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5);
    expect(mlpkit('export', model).stderr).toMatch(/name what to write: --onnx <file> or --tfjs <directory>/);
  });

  it('export --onnx writes a model that onnxruntime runs with the same probabilities, and the class index', async () => {
    const dir = scratch();
    const model = join(dir, 'iris.mlpkit');
    const onnx = join(dir, 'iris.onnx');
    expect(mlpkit('train', iris, '--target', 'species', '--layers', '6', '--epochs', '20', '--out', model).status).toBe(0);
    const run = mlpkit('export', model, '--onnx', onnx);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(
      /ONNX model written to .*iris\.onnx: input "input" \[batch, 4\], outputs "probabilities" \[batch, 3\] and "label"/,
    );
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(readFileSync(onnx));
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.7, 3.1, 4.4, 1.4],
      [6.3, 3.3, 6.0, 2.5],
    ];
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(rows.flat()), [3, 4]) });
    const net = MLP.load(readFileSync(model));
    const want = net.predict(rows) as number[][];
    const got = Array.from(out.probabilities!.data as Float32Array);
    for (let i = 0; i < 9; i++) expect(Math.abs(got[i]! - want.flat()[i]!)).toBeLessThan(1e-6);
    expect(Array.from(out.label!.data as BigInt64Array, Number)).toEqual(Array.from(net.predictClasses(rows)));
  });

  it('--resume continues a --checkpoint to the weights of a run that never stopped', () => {
    const dir = scratch();
    const [whole, resumed, checkpoint] = ['whole.mlpkit', 'resumed.mlpkit', 'run.ckpt'].map((f) => join(dir, f)) as [
      string,
      string,
      string,
    ];
    const common = ['--layers', '8', '--optimizer', 'adam', '--learning-rate', '0.01', '--dropout', '0.1', '--batch-size', '16'];
    expect(mlpkit('train', iris, '--target', 'species', ...common, '--epochs', '8', '--out', whole).status).toBe(0);
    expect(mlpkit('train', iris, '--target', 'species', ...common, '--epochs', '4', '--checkpoint', checkpoint).status).toBe(0);
    const run = mlpkit('train', iris, '--resume', checkpoint, '--epochs', '8', '--out', resumed);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/resuming .*run\.ckpt at epoch 5 of 8/);
    expect(MLP.load(readFileSync(resumed)).getWeights()).toEqual(MLP.load(readFileSync(whole)).getWeights());
    const done = mlpkit('train', iris, '--resume', checkpoint, '--epochs', '4');
    expect(done.status).toBe(1);
    expect(done.stderr).toMatch(/has trained 4 epochs already; ask for more with --epochs/);
  });

  it('--help shows examples everywhere; info lists the backends', () => {
    for (const command of [[], ['train'], ['evaluate'], ['predict'], ['bench'], ['export'], ['info']]) {
      const run = mlpkit(...command, '--help');
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/Examples?:\n\s+mlpkit /);
    }
    const info = mlpkit('info');
    expect(info.stdout).toMatch(/^mlpkit \d+\.\d+\.\d+ on Node/);
    expect(info.stdout).toMatch(/js\s+available\s+scalar, 1 thread/);
  });

  it('bench compares the backends on a data file', () => {
    const run = mlpkit(
      'bench',
      join(root, 'data', 'digits.csv.gz'),
      '--target',
      'digit',
      '--layers',
      '32',
      '--rows',
      '256',
      '--epochs',
      '1',
      '--json',
    );
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as {
      rows: { backend: string; available: boolean; samplesPerSecond?: number; maxWeightDifference?: number }[];
    };
    expect(report.rows.map((r) => r.backend)).toEqual(['native', 'wasm', 'js']);
    for (const row of report.rows.filter((r) => r.available)) {
      expect(row.samplesPerSecond).toBeGreaterThan(0);
      expect(row.maxWeightDifference).toBeLessThan(1e-3);
    }
  });
});

describe('reading gzipped files', () => {
  it('inflates to the bytes of the original, and a trailer that lies about the size fails by name', async () => {
    const { readTable } = await import('../src/cli/data.js');
    const dir = scratch();
    const csv = 'a,b,y\n' + Array.from({ length: 500 }, (_, i) => `${i % 7},${(i * 3) % 11},${i % 2}`).join('\n') + '\n';
    const gz = gzipSync(Buffer.from(csv));
    writeFileSync(join(dir, 'plain.csv'), csv);
    writeFileSync(join(dir, 'packed.csv.gz'), gz);
    const plain = readTable(join(dir, 'plain.csv'), { target: 'y' });
    const packed = readTable(join(dir, 'packed.csv.gz'), { target: 'y' });
    expect(packed.rows).toBe(500);
    expect(
      Buffer.from(packed.x.buffer, packed.x.byteOffset, packed.x.byteLength).equals(
        Buffer.from(plain.x.buffer, plain.x.byteOffset, plain.x.byteLength),
      ),
    ).toBe(true);
    const lying = Buffer.from(gz);
    lying.writeUInt32LE(0xffffffff, lying.length - 4); // claims 4 GiB
    writeFileSync(join(dir, 'lying.csv.gz'), lying);
    expect(() => readTable(join(dir, 'lying.csv.gz'), { target: 'y' })).toThrow(/a gzip file that cannot be decompressed/);
  });
});
