/**
 * One memory check in a process of its own: `tsx bench/memory-check.ts <backend> [threads]`
 * prints the MemoryCheck of scaling.ts as JSON.
 */
import { memoryAcrossEpochs } from './scaling.js';

const [backend = 'native', threads] = process.argv.slice(2);
const label = `${backend}${threads ? ` ${threads} thread${threads === '1' ? '' : 's'}` : ''}`;
console.log(
  JSON.stringify(
    memoryAcrossEpochs(
      { label, backend: backend as 'native', ...(threads ? { threads: Number(threads) } : {}) },
      backend === 'js' ? 5 : 50,
    ),
  ),
);
