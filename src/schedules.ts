/** Learning rate of update t under a schedule (t counts updates from 0 over the model's life). */
import type { ScheduleSpec } from './spec.js';

export function scheduledLearningRate(base: number, schedule: ScheduleSpec, t: number): number {
  switch (schedule.type) {
    case 'constant':
      return base;
    case 'step':
      return base * schedule.factor ** Math.floor(t / schedule.stepSize);
    case 'exponential': {
      const p = t / schedule.decaySteps;
      return base * schedule.decayRate ** (schedule.staircase ? Math.floor(p) : p);
    }
    case 'inverse-time': {
      const p = t / schedule.decaySteps;
      return base / (1 + schedule.decayRate * (schedule.staircase ? Math.floor(p) : p));
    }
  }
}
