/**
 * Saving and loading models without tfjs-node: `saveModel`/`loadModel`, the `file://` handler
 * tfjs finds once ringbook is imported, sharded weights, custom models' variables, checkpoints
 * that `tf.loadLayersModel` reads and training resumes from, errors that say what to fix, and
 * writes that a failure or a crash never leaves half done.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { CustomModel, fileSystem, loadModel, loadVariables, saveModel, syntheticClassification, trainSingleProcess, type TrainedModel, type TrainOptions } from "../../lib/index.js";

await tf.setBackend("cpu");

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ringbook-io-"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function smallModel(seed = 1): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 8, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

const data = syntheticClassification({ size: 48, features: 6, classes: 3, seed: 4 });
const all = Uint32Array.from({ length: data.size }, (_, i) => i);

async function values(tensors: readonly tf.Tensor[]): Promise<Float32Array[]> {
  return Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
}

async function scalarOf(value: tf.Scalar | tf.Scalar[]): Promise<number> {
  const scalar = Array.isArray(value) ? value[0]! : value;
  const [number] = await scalar.data();
  tf.dispose(value);
  return number!;
}

test("saveModel then loadModel gives the same weights and predictions, compiled with the saved loss and optimizer", async () => {
  await withDir(async (dir) => {
    const model = smallModel();
    model.compile({ loss: "categoricalCrossentropy", optimizer: tf.train.adam(0.02) });
    const { xs, ys } = data.batch(all);
    await model.fit(xs, ys, { epochs: 1, batchSize: 16, verbose: 0 });
    const info = await saveModel(model, join(dir, "runs", "exp"));
    assert.deepEqual({ kind: info.kind, compiled: info.compiled, weightBytes: info.weightBytes > 0 }, { kind: "layers", compiled: true, weightBytes: true });
    assert.deepEqual((await readdir(join(dir, "runs", "exp"))).sort(), ["model.json", "weights.bin"]);
    const loaded = await loadModel(join(dir, "runs", "exp"));
    assert.deepEqual(await values(loaded.getWeights()), await values(model.getWeights()), "bitwise the same weights");
    assert.deepEqual(await (loaded.predict(xs) as tf.Tensor).data(), await (model.predict(xs) as tf.Tensor).data());
    assert.equal(loaded.loss, "categoricalCrossentropy");
    assert.equal(loaded.optimizer.getConfig().learningRate, 0.02);
    assert.equal(await scalarOf(loaded.evaluate(xs, ys)), await scalarOf(model.evaluate(xs, ys)));
    tf.dispose([xs, ys]);
    model.dispose();
    loaded.dispose();
  });
});

test("file:// URLs work for model.save and tf.loadLayersModel once ringbook is imported, and a model loads from its directory or its model.json", async () => {
  await withDir(async (dir) => {
    const model = smallModel(3);
    await model.save(`file://${dir}/url-model`);
    const manifest: unknown = JSON.parse(await readFile(join(dir, "url-model", "model.json"), "utf8"));
    assert.deepEqual((manifest as { weightsManifest: Array<{ paths: string[] }> }).weightsManifest.map((group) => group.paths), [["weights.bin"]]);
    for (const url of [`file://${dir}/url-model/model.json`, `file://${dir}/url-model`]) {
      const loaded = await tf.loadLayersModel(url);
      assert.deepEqual(await values(loaded.getWeights()), await values(model.getWeights()), url);
      loaded.dispose();
    }
    const uncompiled = await loadModel(join(dir, "url-model", "model.json"));
    assert.equal(uncompiled.optimizer, undefined, "saved without compile, loaded without compile");
    uncompiled.dispose();
    model.dispose();
  });
});

test("the file:// router steps aside where another handler takes the URL (tfjs-node registers one), so tfjs never sees two", async () => {
  const other: tf.io.IOHandler = { load: async () => ({ modelTopology: {} }) };
  tf.io.registerLoadRouter(((url: string | string[]) => (typeof url === "string" && url.startsWith("file:///other-handler/") ? other : null)) as (url: string | string[]) => tf.io.IOHandler);
  assert.deepEqual(tf.io.getLoadHandlers("file:///other-handler/model.json"), [other]);
  assert.equal(tf.io.getLoadHandlers("file:///tmp/x/model.json").length, 1, "ringbook's, elsewhere");
  assert.equal(tf.io.getLoadHandlers("s3://bucket/model.json").length, 0, "only file:// URLs");
});

test("a model compiled with a loss function is saved without its training configuration and loads uncompiled", async () => {
  await withDir(async (dir) => {
    const model = smallModel();
    model.compile({ loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.meanSquaredError(yTrue, yPred), optimizer: tf.train.sgd(0.1) });
    const info = await saveModel(model, dir + "/fn-loss");
    assert.equal(info.compiled, false);
    const loaded = await loadModel(dir + "/fn-loss");
    assert.equal(loaded.optimizer, undefined);
    assert.deepEqual(await values(loaded.getWeights()), await values(model.getWeights()));
    loaded.dispose();
    model.dispose();
  });
});

test("sharded weights are written in order and read back", async () => {
  await withDir(async (dir) => {
    const model = smallModel(5);
    await model.save(fileSystem(join(dir, "sharded"), { shardBytes: 64 }));
    const files = (await readdir(join(dir, "sharded"))).filter((name) => name.endsWith(".bin"));
    // (6·8 + 8 + 8·3 + 3) floats = 332 bytes: 6 shards of at most 64.
    assert.equal(files.length, 6);
    assert.ok(files.includes("group1-shard1of6.bin") && files.includes("group1-shard6of6.bin"), files.join(", "));
    const loaded = await loadModel(join(dir, "sharded"));
    assert.deepEqual(await values(loaded.getWeights()), await values(model.getWeights()));
    loaded.dispose();
    model.dispose();
  });
});

test("loading says what to fix: no directory, not a model directory, a damaged model.json, missing or truncated weights", async () => {
  await withDir(async (dir) => {
    await assert.rejects(loadModel(join(dir, "nowhere")), { code: "ERR_MODEL_NOT_FOUND", message: /no model at .*nowhere: the directory does not exist/ });
    await mkdir(join(dir, "notes"));
    await writeFile(join(dir, "notes", "readme.txt"), "hello");
    await assert.rejects(loadModel(join(dir, "notes")), { code: "ERR_NOT_A_MODEL", message: /notes is not a model directory: it has no model.json \(it holds readme.txt\)/ });
    await assert.rejects(loadModel(join(dir, "notes", "readme.txt")), { code: "ERR_NOT_A_MODEL" });

    const model = smallModel();
    const good = join(dir, "good");
    await saveModel(model, good);
    model.dispose();
    const damaged = async (name: string, change: (modelDir: string) => Promise<void>): Promise<string> => {
      const copy = join(dir, name);
      await mkdir(copy);
      for (const file of await readdir(good)) await writeFile(join(copy, file), await readFile(join(good, file)));
      await change(copy);
      return copy;
    };
    const cut = await damaged("cut-json", async (d) => truncate(join(d, "model.json"), 40));
    await assert.rejects(loadModel(cut), { code: "ERR_BAD_MODEL_JSON", message: /cut-json\/model.json is not valid JSON .*damaged/ });
    const noTopology = await damaged("no-topology", async (d) => writeFile(join(d, "model.json"), JSON.stringify({ weightsManifest: [] })));
    await assert.rejects(loadModel(noTopology), { code: "ERR_BAD_MODEL_JSON", message: /not a tfjs model.json: modelTopology must be an object, got undefined/ });
    const escaping = await damaged("escaping", async (d) => {
      const json = JSON.parse(await readFile(join(d, "model.json"), "utf8")) as { weightsManifest: Array<{ paths: string[] }> };
      json.weightsManifest[0]!.paths = ["../../etc/passwd"];
      await writeFile(join(d, "model.json"), JSON.stringify(json));
    });
    await assert.rejects(loadModel(escaping), { code: "ERR_BAD_MODEL_JSON", message: /"\.\.\/\.\.\/etc\/passwd": weights files must be relative paths inside the model directory/ });
    const noWeights = await damaged("no-weights", async (d) => rm(join(d, "weights.bin")));
    await assert.rejects(loadModel(noWeights), { code: "ERR_MODEL_WEIGHTS", message: /no-weights\/weights.bin, a weights file listed in .*model.json, cannot be read/ });
    const short = await damaged("short", async (d) => truncate(join(d, "weights.bin"), 100));
    await assert.rejects(loadModel(short), { code: "ERR_MODEL_WEIGHTS", message: /hold 100 bytes, but the weightsManifest of model.json describes 332/ });
  });
});

test("a save refuses a directory of other files and leaves them, and a failed save leaves the previous model loadable", async () => {
  await withDir(async (dir) => {
    const notes = join(dir, "notes");
    await mkdir(notes);
    await writeFile(join(notes, "readme.txt"), "keep me");
    const model = smallModel();
    await assert.rejects(saveModel(model, notes), { code: "ERR_SAVE_TARGET", message: /refusing to replace .*notes with a model: it holds files that are not one \(readme.txt\)/ });
    assert.equal(await readFile(join(notes, "readme.txt"), "utf8"), "keep me");
    await assert.rejects(model.save("file://model.json"), { code: "ERR_SAVE_TARGET", message: /saving replaces the whole directory; give it a directory of its own/ });

    const target = join(dir, "model");
    await saveModel(model, target);
    // A topology that cannot be serialised fails the second save after it started.
    const circular: Record<string, unknown> = { class_name: "Sequential" };
    circular.self = circular;
    await assert.rejects(fileSystem(target).save!({ modelTopology: circular, weightSpecs: [], weightData: new ArrayBuffer(0) }), {
      code: "ERR_MODEL_SAVE",
      message: /writing the model to .*model failed \(the model that was there, if any, is intact\): .*circular/i,
    });
    // Weights that do not match their specs are refused before anything is written.
    await assert.rejects(fileSystem(target).save!({ modelTopology: {}, weightSpecs: [{ name: "w", shape: [2], dtype: "float32" }], weightData: new ArrayBuffer(4) }), {
      code: "ERR_MODEL_SAVE",
      message: /weightSpecs describe 8 bytes of weights, its weightData holds 4: nothing was written/,
    });
    assert.deepEqual((await readdir(dir)).sort(), ["model", "notes"], "no temporary sibling left");
    const loaded = await loadModel(target);
    assert.deepEqual(await values(loaded.getWeights()), await values(model.getWeights()));
    loaded.dispose();
    model.dispose();
  });
});

const customOptions: TrainOptions = {
  model: ({ tf: t }) => {
    const w = t.variable(t.randomNormal([6, 3], 0, 0.1, "float32", 2));
    const b = t.variable(t.zeros([3]));
    const predict = (xs: tf.Tensor): tf.Tensor => t.softmax(t.add(t.matMul(xs, w), b));
    return { variables: [w, b], predict, loss: (xs: tf.Tensor, ys: tf.Tensor) => t.metrics.categoricalCrossentropy(ys, predict(xs)).mean() };
  },
  data: { builtin: "synthetic", size: 48, features: 6, classes: 3, seed: 4 },
  optimizer: { name: "sgd", learningRate: 0.1 },
  batchSize: 16,
  epochs: 2,
};

test("a custom model comes back as a CustomModel that predicts and evaluates; its variables are saved as named arrays", async () => {
  await withDir(async (dir) => {
    const run = await trainSingleProcess(customOptions);
    const model = await run.trainedModel();
    assert.ok(model instanceof CustomModel);
    assert.equal(model.countParams(), 6 * 3 + 3);
    const { xs, ys } = data.batch(all);
    const expected = tf.tidy(() => tf.metrics.categoricalCrossentropy(ys, model.predict(xs) as tf.Tensor).mean().dataSync()[0]!);
    const evaluated = await scalarOf(model.evaluate(xs, ys, { batchSize: 20 }));
    assert.ok(Math.abs(evaluated - expected) < 1e-6, `evaluate ${evaluated} vs the mean loss of predict ${expected}`);
    assert.ok(run.model.kind === "variables");
    assert.deepEqual(await values(model.variables), run.model.variables.map((v) => v.values), "the trained values");
    // summary() as a LayersModel's: one row per variable, then the totals.
    const lines: unknown[] = [];
    model.summary(undefined, undefined, (line) => lines.push(line));
    const rows = lines.filter((line): line is string => typeof line === "string" && /\[\d/.test(line));
    assert.deepEqual(rows.map((line) => line.split(/\s+/).slice(1)), [["[6,3]", "18"], ["[3]", "3"]], lines.join("\n"));
    assert.deepEqual(rows.map((line) => line.split(/\s+/)[0]), model.variables.map((v) => v.name));
    assert.ok(lines.includes("Total params: 21") && lines.includes("Trainable params: 21") && lines.includes("Non-trainable params: 0"), lines.join("\n"));
    assert.throws(() => model.summary(40, [0.5, 0.2, 1]), { code: "ERR_BAD_OPTION", message: /three increasing column ends/ });
    const union: TrainedModel = model;
    union.summary(80, [30, 60, 80], () => {});

    const info = await saveModel(model, join(dir, "custom"));
    assert.deepEqual({ kind: info.kind, weightBytes: info.weightBytes }, { kind: "variables", weightBytes: (6 * 3 + 3) * 4 });
    const saved = await loadVariables(join(dir, "custom"));
    assert.deepEqual(saved.map((v) => v.tensor.shape), [[6, 3], [3]]);
    assert.deepEqual(await values(saved.map((v) => v.tensor)), await values(model.variables));
    await assert.rejects(loadModel(join(dir, "custom")), { code: "ERR_NOT_A_MODEL", message: /holds the variables of a custom model \(variables.json\).*loadVariables/ });
    const layers = smallModel();
    await saveModel(layers, join(dir, "layers"));
    await assert.rejects(loadVariables(join(dir, "layers")), { code: "ERR_NOT_VARIABLES", message: /holds a layers model .*loadModel/ });
    tf.dispose([xs, ys, ...saved.map((v) => v.tensor)]);
    layers.dispose();
    model.dispose();
  });
});

const mlpOptions = (overrides: Partial<TrainOptions> = {}): TrainOptions => ({
  model: ({ tf: t }) =>
    t.sequential({ layers: [t.layers.dense({ inputShape: [6], units: 8, activation: "relu" }), t.layers.dense({ units: 3, activation: "softmax" })] }),
  data: { builtin: "synthetic", size: 48, features: 6, classes: 3, seed: 4 },
  optimizer: { name: "adam", learningRate: 0.01 },
  batchSize: 16,
  seed: 2,
  ...overrides,
});

test("a single-process run's model is compiled with the run's loss and optimizer, and evaluate gives the mean loss of its predictions", async () => {
  const run = await trainSingleProcess(mlpOptions({ loss: "meanSquaredError" }));
  const tensorsBefore = tf.memory().numTensors;
  const model = await run.trainedModel();
  assert.ok(model instanceof tf.LayersModel);
  assert.equal(model.loss, "meanSquaredError");
  assert.deepEqual(model.optimizer.getConfig(), { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: tf.backend().epsilon() });
  const { xs, ys } = data.batch(all);
  const expected = tf.tidy(() => tf.metrics.meanSquaredError(ys, model.predict(xs) as tf.Tensor).mean().dataSync()[0]!);
  const evaluated = await scalarOf(model.evaluate(xs, ys));
  assert.ok(Math.abs(evaluated - expected) < 1e-6, `evaluate ${evaluated} vs ${expected}`);
  tf.dispose([xs, ys]);
  model.dispose();
  assert.equal(tf.memory().numTensors, tensorsBefore, "dispose frees the model's weights and its optimizer");
});

test("a training checkpoint loads with tf.loadLayersModel through file:// and training resumes from it", async () => {
  await withDir(async (dir) => {
    const checkpoint = join(dir, "ckpt");
    // 48 samples in batches of 16: 3 steps an epoch.
    const first = await trainSingleProcess(mlpOptions({ epochs: 1, checkpoint: { dir: checkpoint, everySteps: 2 } }));
    const fromCheckpoint = await tf.loadLayersModel(`file://${checkpoint}/model.json`);
    assert.ok(first.model.kind === "layers");
    const trained = await tf.loadLayersModel(tf.io.fromMemory(first.model));
    assert.deepEqual(await values(fromCheckpoint.getWeights()), await values(trained.getWeights()), "the checkpoint at the end holds the final weights");
    fromCheckpoint.dispose();
    trained.dispose();
    const resumed = await trainSingleProcess(mlpOptions({ epochs: 2, resumeFrom: checkpoint }));
    assert.deepEqual(resumed.result.position, { epoch: 2, stepInEpoch: 0, globalStep: 6 });
    assert.deepEqual(resumed.records.map((r) => r.step), [4, 5, 6], "only the second epoch's steps ran");
  });
});
