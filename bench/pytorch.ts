/**
 * PyTorch (CPU) beside mlpkit: the same workloads, data, layers and SGD, run by
 * bench/pytorch.py in a Python subprocess that times itself (so no crossing between the two
 * runtimes is timed). It runs when a Python on this machine imports torch (Debian:
 * python3-torch); otherwise the tables say it was skipped and why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Result } from './common.js';
import { GROUPS, syntheticClasses, WORKLOADS, type GroupId } from './train.js';

/** A Python that imports torch, or why there is none. */
export function findTorch(): { python: string; version: string } | { reason: string } {
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      const version = execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      return { python, version };
    } catch {
      // not this one
    }
  }
  return { reason: 'no python3 here imports torch (Debian: apt-get install python3-torch)' };
}

interface Request {
  id: GroupId;
  mode: 'train' | 'infer';
  inputs: number;
  hidden: number[];
  outputs: number;
  activation: 'relu' | 'sigmoid';
  loss: 'cross-entropy' | 'binary-cross-entropy';
  batch: number;
  learningRate: number;
  x: string;
  y: string;
}

/** Times PyTorch on the workloads for each thread count; results in the shape of `measure`'s. */
export function pytorchResults(
  groups: GroupId[],
  threads: number[],
  { seconds = 2, runs = 3 }: { seconds?: number; runs?: number } = {},
): { results: Result[]; version: string; blas: string } | { reason: string } {
  const torch = findTorch();
  if ('reason' in torch) return torch;
  const dir = mkdtempSync(join(tmpdir(), 'mlpkit-torch-'));
  try {
    const write = (name: string, data: Float32Array | Int32Array) => {
      const path = join(dir, name);
      writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return path;
    };
    const workloads: Request[] = groups.map((id) => {
      if (id === 'W1') {
        return {
          id,
          mode: 'train',
          inputs: 2,
          hidden: [4],
          outputs: 1,
          activation: 'sigmoid',
          loss: 'binary-cross-entropy',
          batch: 4,
          learningRate: 0.5,
          x: write('w1-x', Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1)),
          y: write('w1-y', Float32Array.of(0, 1, 1, 0)),
        };
      }
      const name = id === 'W3' ? 'W3' : 'W2';
      const { inputs } = WORKLOADS[name];
      const rows = id.startsWith('W2-infer') ? 256 : 1024;
      const data = syntheticClasses(rows, inputs, 10, 3);
      const hidden = name === 'W2' ? [512, 512] : [1024, 1024];
      const batch = id === 'W2-infer-1' ? 1 : id === 'W2-infer-256' || id === 'W3' ? 256 : 64;
      return {
        id,
        mode: id.includes('infer') ? 'infer' : 'train',
        inputs,
        hidden,
        outputs: 10,
        activation: 'relu',
        loss: 'cross-entropy',
        batch,
        learningRate: 0.01,
        x: write(`${id}-x`, data.x),
        y: write(`${id}-y`, data.y),
      };
    });
    // OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE may be set on the machines this project runs on
    // (older OpenBLAS builds need them); they slow a current OpenBLAS, so PyTorch runs without
    // them. One process per thread count, with its BLAS and OpenMP pools of that size: torch's
    // own thread setting does not reach an external BLAS, whose pool would otherwise take every
    // core on top of torch's.
    const { OPENBLAS_CORETYPE: _core, OPENBLAS_L2_SIZE: _l2, ...env } = process.env;
    const results: Result[] = [];
    let blas = '';
    for (const count of threads) {
      const size = String(count);
      const child = spawnSync(torch.python, [new URL('./pytorch.py', import.meta.url).pathname], {
        input: JSON.stringify({ workloads, threads: [count], seconds, runs }),
        encoding: 'utf8',
        maxBuffer: 1 << 20,
        env: { ...env, OPENBLAS_NUM_THREADS: size, OMP_NUM_THREADS: size, MKL_NUM_THREADS: size, OMP_WAIT_POLICY: 'PASSIVE' },
      });
      if (child.status !== 0) throw new Error(`bench/pytorch.py failed (${child.status ?? child.signal}):\n${child.stderr}`);
      const lines = child.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, number | string>);
      blas = String(lines[0]!.blas);
      for (const r of lines.slice(1)) {
        const contender = `PyTorch ${torch.version} ${r.threads} thread${r.threads === 1 ? '' : 's'}`;
        const group = GROUPS[r.id as GroupId];
        results.push({
          name: `${group}, ${contender}`,
          group,
          contender,
          mlpkit: false,
          unit: 'samples/s',
          median: r.median as number,
          min: r.min as number,
          max: r.max as number,
          samples: runs,
          note: `torch ${torch.version} on ${blas}`,
        });
      }
    }
    return { results, version: torch.version, blas };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
