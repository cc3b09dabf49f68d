/**
 * The demo: a classifier for handwritten digits (UCI optical digits, 8×8 pixels), trained
 * with per-epoch progress and scored on a held-out test set.
 *
 *     npm run demo
 */
import { listBackends, MLPClassifier, trainTestSplit } from '../src/node.js';
import { loadDigits } from './digits-data.js';

const { X, y } = loadDigits();
const { xTrain, xTest, yTrain, yTest } = trainTestSplit(X, y, { testSize: 0.25, seed: 0, stratify: true });
console.log(`mlpkit demo: ${X.length} handwritten digits (8×8 pixels), ${yTrain.length} to train, ${yTest.length} to test`);
console.log(
  'backends: ' +
    listBackends()
      .map((b) => `${b.name} ${b.available ? `(${b.isa})` : '(unavailable)'}`)
      .join(', '),
);

const epochs = 60;
const clf = new MLPClassifier({
  hiddenLayerSizes: [128, 64],
  activation: 'relu',
  dropout: 0.2,
  learningRateInit: 0.001,
  batchSize: 32,
  maxIter: epochs,
  earlyStopping: true,
  validationFraction: 0.1,
  nIterNoChange: 10,
  randomState: 42,
});

const started = performance.now();
await clf.fit(xTrain, yTrain, {
  onEpochEnd: (epoch, logs) => {
    const bar = '█'.repeat(Math.round(((epoch + 1) / epochs) * 30)).padEnd(30, '░');
    console.log(
      `epoch ${String(epoch + 1).padStart(2)}/${epochs} ${bar} loss ${logs.loss.toFixed(4)}` +
        `  val ${logs.valLoss!.toFixed(4)}  ${Math.round(logs.samplesPerSecond).toLocaleString('en')} samples/s`,
    );
  },
});
const seconds = (performance.now() - started) / 1000;

const accuracy = clf.score(xTest, yTest);
console.log(`\ntrained ${clf.nIter} epochs in ${seconds.toFixed(2)} s on the ${clf.backend} backend`);
console.log(`test accuracy: ${(accuracy * 100).toFixed(2)} % (${Math.round(accuracy * yTest.length)}/${yTest.length})`);
const shown = 12;
const predicted = clf.predict(xTest.slice(0, shown) as number[][]);
console.log(`first ${shown} test digits: true ${yTest.slice(0, shown).join(' ')}`);
console.log(`                 predicted ${predicted.join(' ')}`);
clf.dispose();
