// sweep (API) and `satrnn sweep` / `satrnn prune` (CLI): every row equals its single-variant
// evaluation bit for bit, the strict threshold rule, the same rows on every code path and for
// any batching, several models (mixed H, bad files), the grid's errors, the JSON/CSV formats,
// Ctrl-C (partial output) and --resume, and prune = q5_redux's PruneStudy.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Analysis, type Variant } from '../../lib/analysis.js';
import { selectBackend } from '../../lib/engine/index.js';
import { SatrnnError } from '../../lib/errors.js';
import { loadModel, paramCount } from '../../lib/model.js';
import { progressLine } from '../../lib/cli/progress.js';
import { ReadoutKnockout } from '../../lib/programs/q3_neurons/experiment.js';
import { PruneStudy } from '../../lib/programs/q5_redux/experiment.js';
import { PRUNE_GRID, sweep, sweepRowKey, type SweepGrid, type SweepInput, type SweepRow } from '../../lib/programs/sweep/experiment.js';
import { SWEEP_CSV_COLUMNS, SWEEP_JSON_SCHEMA, SWEEP_ROW_FIELDS, formatSweepCsv, parseSweepJson } from '../../lib/programs/sweep/format.js';
import { PATHS, cli, expectCleanFailure, hasShared, refDataPath, refModelPath, repoRoot, tmpFiles } from '../helpers.js';
import { randomModel, randomText } from '../models.js';

const { dir, file } = tmpFiles('satrnn-sweep-');

/** The rows as text, -0 kept apart from 0: equal strings mean equal bits. */
const bits = (rows: readonly SweepRow[]): string => JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'number' && Object.is(v, -0) ? '-0' : v));

async function expectRejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SatrnnError);
  expect((err as SatrnnError).code).toBe(code);
  expect((err as SatrnnError).message).toMatch(pattern);
}

describe('sweep API: rows', () => {
  const H = 12;
  const model = randomModel(H, 41);
  // Magnitudes exactly at a threshold are kept (strict |w| < thr), just below it zeroed.
  model.Wh[0] = 0.5;
  model.Wh[1] = -0.5;
  model.Wh[2] = Math.fround(0.49999997);
  model.Wx[7] = 1;
  model.Wx[8] = Math.fround(0.99999994);
  const data = randomText(300, 5);
  const grid: SweepGrid = {
    k: [0, 3, 'all'],
    wh: [0, 0.5],
    wx: [0, 1],
    variants: [
      { label: 'ablate 2', interventions: [{ kind: 'ablate', neurons: [2] }] },
      [{ kind: 'knockout', neurons: [1, 3] }],
      [{ kind: 'keepOnly', neurons: [0, 1, 4] }, { kind: 'prune', matrix: 'Wh', threshold: 0.3 }],
      [{ kind: 'cutRecurrent', neuron: 5 }, { kind: 'prune', matrix: 'Wh', threshold: 0.2 }],
    ],
  };
  const noWarnings = (): void => {};

  it('each row equals the single-variant evaluation, bit for bit; sizes as q5 counts them', async () => {
    const backend = selectBackend({ threads: 2 });
    const r = await sweep({ models: [model], data, grid, backend, onWarning: noWarnings });
    expect(r.rows).toHaveLength(3 * 2 * 2 + 4);
    expect(r.total).toBe(r.rows.length);
    expect(r.errors).toEqual([]);
    const { ranking } = await new ReadoutKnockout().run(new Analysis({ model, data, backend, onWarning: noWarnings }));
    const single = async (v: Variant): Promise<number> => (await new Analysis({ model, data, backend, onWarning: noWarnings }).meanBpc([v]))[0]!;
    const baseline = await single({});
    const grids = r.rows.slice(0, 12);
    expect(grids.map((x) => [x.k, x.whThreshold, x.wxThreshold])).toEqual([0, 3, H].flatMap((k) => [0, 0.5].flatMap((wh) => [0, 1].map((wx) => [k, wh, wx]))));
    for (const row of grids) {
      const v: Variant = { keepOnly: ranking.slice(0, row.k), edits: [{ matrix: 'Wh', threshold: row.whThreshold! }, { matrix: 'Wx', threshold: row.wxThreshold! }] };
      expect(Object.is(row.bpc, await single(v)), `k=${row.k} wh=${row.whThreshold} wx=${row.wxThreshold}`).toBe(true);
      expect(row.baselineBpc).toBe(baseline);
      expect(row.deltaBpc).toBe(row.bpc - baseline);
      expect(row.pctOfGap).toBe(baseline < 8 ? (100 * (8 - row.bpc)) / (8 - baseline) : undefined);
      const whKept = Array.from(model.Wh).filter((w) => !(Math.abs(w) < Math.fround(row.whThreshold!))).length;
      const wxKept = Array.from(model.Wx).filter((w) => !(Math.abs(w) < Math.fround(row.wxThreshold!))).length;
      expect([row.whKept, row.wxKept, row.wyKept]).toEqual([whKept / (H * H), wxKept / (H * 256), row.k! / H]);
      expect(row.params).toBe(wxKept + whKept + H + row.k! * 256 + 256);
      expect(row.variant).toBeUndefined();
    }
    expect(r.rows.slice(12).map((x) => x.variant)).toEqual(['ablate 2', 'knockout 1,3', 'keepOnly 0,1,4 + prune Wh<0.3', 'cutRecurrent 5 + prune Wh<0.2']);
    const expected: Variant[] = [
      { neurons: [{ neuron: 2, clamp: 0 }] },
      { knockout: [1, 3] },
      { keepOnly: [0, 1, 4], edits: [{ matrix: 'Wh', threshold: 0.3 }] },
      { edits: [{ whColumn: 5 }, { matrix: 'Wh', threshold: 0.2 }] },
    ];
    for (const [i, v] of expected.entries()) expect(Object.is(r.rows[12 + i]!.bpc, await single(v)), r.rows[12 + i]!.variant).toBe(true);
    // Variant sizes: an ablation keeps every parameter; a knockout drops two Wy columns; a
    // column cut and a threshold together zero their union.
    expect(r.rows[12]!.params).toBe(paramCount(H));
    expect(r.rows[13]!.wyKept).toBe((H - 2) / H);
    const cut = Array.from(model.Wh).filter((w, i) => i % H === 5 || Math.abs(w) < Math.fround(0.2)).length;
    expect(r.rows[15]!.whKept).toBe((H * H - cut) / (H * H));
  });

  it('thresholds exactly at a magnitude keep the weight (strict |w| < float32(thr)): same bits as the explicit mask', async () => {
    const backend = selectBackend({ threads: 2 });
    const r = await sweep({ models: [model], data, grid: { wh: [0.5], wx: [1] }, backend, onWarning: noWarnings });
    const whMask = Uint8Array.from(model.Wh, (w) => (Math.abs(w) >= 0.5 ? 1 : 0));
    const wxMask = Uint8Array.from(model.Wx, (w) => (Math.abs(w) >= 1 ? 1 : 0));
    expect([whMask[0], whMask[1], whMask[2], wxMask[7], wxMask[8]]).toEqual([1, 1, 0, 1, 0]);
    const masked = await new Analysis({ model, data, backend, onWarning: noWarnings }).meanBpc([
      { edits: [{ matrix: 'Wh', keep: whMask }, { matrix: 'Wx', keep: wxMask }] },
    ]);
    expect(Object.is(r.rows[0]!.bpc, masked[0])).toBe(true);
    expect(r.rows[0]!.whKept).toBe(whMask.reduce((s, b) => s + b, 0) / (H * H));
    expect(r.rows[0]!.wxKept).toBe(wxMask.reduce((s, b) => s + b, 0) / (H * 256));
  });

  it('the same rows on native avx2, native scalar and js, for any batch size and thread count', async () => {
    let ref: string | undefined;
    for (const p of PATHS.filter((x) => x.enabled && x.label !== 'native-sse2'))
      for (const [threads, batchSize] of [
        [1, 1],
        [2, 3],
        [2, 1000],
      ] as const) {
        const backend = selectBackend({ name: p.backend, ...(p.isa ? { isa: p.isa } : {}), threads });
        const r = await sweep({ models: [model, randomModel(7, 2)], data: [data, { label: 'short', data: randomText(40, 9) }], grid, backend, batchSize, onWarning: noWarnings });
        ref ??= bits(r.rows);
        expect(bits(r.rows), `${p.label}, ${threads} threads, batch ${batchSize}`).toBe(ref);
      }
  }, 120_000);

  it('onProgress counts rows; onRow gives each row with its grid index; an abort keeps what onRow delivered; skip resumes', async () => {
    const backend = selectBackend({ threads: 2 });
    const input: SweepInput = { models: [model], data, grid, backend, batchSize: 1, onWarning: noWarnings };
    const full = await sweep(input);
    const progress: [number, number][] = [];
    const ac = new AbortController();
    const got = new Map<number, SweepRow>();
    const aborted = sweep(input, {
      signal: ac.signal,
      onProgress: (d, t) => progress.push([d, t]),
      onRow: (row, i) => {
        got.set(i, row);
        if (got.size === 5) ac.abort();
      },
    });
    await expectRejects(aborted, 'ABORTED', /aborted/);
    expect(progress[0]).toEqual([0, full.total]);
    expect(progress.every(([d], i) => i === 0 || d >= progress[i - 1]![0])).toBe(true);
    expect(got.size).toBeGreaterThanOrEqual(5);
    expect(got.size).toBeLessThan(full.total);
    for (const [i, row] of got) expect(bits([row])).toBe(bits([full.rows[i]!]));
    // Resume: skip the rows already delivered, then merge in grid order.
    const byKey = new Map([...got.values()].map((x) => [sweepRowKey(x), x]));
    const skippedAt: number[] = [];
    const rest = await sweep(input, {
      skip: (id, i) => {
        const hit = byKey.has(sweepRowKey(id));
        if (hit) skippedAt.push(i);
        return hit;
      },
    });
    expect(rest.skipped).toBe(got.size);
    expect(rest.rows).toHaveLength(full.total - got.size);
    const merged = new Map(got);
    let j = 0;
    for (let i = 0; i < full.total; i++) if (!skippedAt.includes(i)) merged.set(i, rest.rows[j++]!);
    expect(bits([...merged.keys()].sort((a, b) => a - b).map((i) => merged.get(i)!))).toBe(bits(full.rows));
  });
});

describe('sweep API: models and grids', () => {
  const folder = path.join(dir, 'models');
  mkdirSync(folder);
  const m5 = randomModel(5, 3);
  const m8 = randomModel(8, 4);
  writeFileSync(path.join(folder, 'a-h5.bin'), m5.toBytes());
  writeFileSync(path.join(folder, 'b-h8.bin'), m8.toBytes());
  writeFileSync(path.join(folder, 'c-bad.bin'), new Uint8Array(10));
  const nan = m5.clone();
  nan.weights[3] = NaN;
  writeFileSync(path.join(folder, 'd-nan.bin'), nan.toBytes());
  writeFileSync(path.join(folder, 'notes.txt'), 'not a model');
  const data = randomText(120, 8);
  const backend = selectBackend({ threads: 2 });
  const quiet = (): void => {};

  it('a folder: models sorted by name, mixed H; files that cannot be loaded are listed in errors and the others run', async () => {
    const r = await sweep({ models: [folder], data, grid: { k: [2, 'all'], wh: [0, 0.3] }, backend, onWarning: quiet });
    expect(r.models.map((m) => [path.basename(m.model), m.hidden])).toEqual([
      ['a-h5.bin', 5],
      ['b-h8.bin', 8],
    ]);
    expect(r.errors.map((e) => [path.basename(e.model), e.code])).toEqual([
      ['c-bad.bin', 'BAD_MODEL_SIZE'],
      ['d-nan.bin', 'BAD_MODEL_VALUES'],
    ]);
    expect(r.rows.map((x) => [x.hidden, x.k, x.whThreshold])).toEqual([5, 8].flatMap((H) => [2, H].flatMap((k) => [0, 0.3].map((wh) => [H, k, wh]))));
    // The same rows as each model alone.
    const alone = await sweep({ models: [m8], data, grid: { k: [2, 'all'], wh: [0, 0.3] }, backend, onWarning: quiet });
    expect(r.rows.slice(4).map((x) => x.bpc)).toEqual(alone.rows.map((x) => x.bpc));
    expect(r.rows[4]!.modelSha256).toBe(alone.rows[0]!.modelSha256);
  });

  it('k above a model\'s H: one error naming every model and its H before any work, or those rows left out with skipLargeK', async () => {
    let rows = 0;
    await expectRejects(
      sweep({ models: [folder], data, grid: { k: [6, 7, 9] }, backend }, { onRow: () => rows++ }),
      'BAD_OPTION',
      /k 6, 7, 9 > H=5 of .*a-h5\.bin; k 9 > H=8 of .*b-h8\.bin.*skipLargeK/,
    );
    expect(rows).toBe(0);
    const r = await sweep({ models: [folder], data, grid: { k: [6, 'all'], skipLargeK: true }, backend, onWarning: quiet });
    expect(r.rows.map((x) => [x.hidden, x.k])).toEqual([
      [5, 5],
      [8, 6],
      [8, 8],
    ]);
    await expectRejects(sweep({ models: [folder], data, grid: { variants: [[{ kind: 'ablate', neurons: [6] }]] }, backend }), 'BAD_OPTION', /variant 'ablate 6' uses neuron 6 .* has H=5/);
    await expectRejects(sweep({ models: [folder], data, grid: { variants: [[{ kind: 'readMean', neurons: [5] }]] }, backend }), 'BAD_OPTION', /variant 'readMean 5' uses neuron 5 .* has H=5/);
    await expectRejects(
      sweep({ models: [folder], data: [data, randomText(50, 1)], grid: { variants: [[{ kind: 'patch', neurons: [0], positions: [60], from: {} }]] }, backend }),
      'BAD_OPTION',
      /patches position 60, past the end of <bytes 2> \(50 bytes: positions 0\.\.48\)/,
    );
  });

  it('grid errors are BAD_OPTION with a clear message', async () => {
    const bad: [unknown, RegExp][] = [
      [{ k: [] }, /the grid has no rows/],
      [[], /empty list/],
      [{ k: [3], kk: [1] }, /unknown key 'kk'/],
      [{ k: [-1] }, /-1 is not a number of neurons/],
      [{ k: [1.5] }, /1\.5 is not a number of neurons/],
      [{ k: ['most'] }, /'most' is not a number of neurons/],
      [{ wh: [NaN] }, /threshold NaN must be a finite number >= 0/],
      [{ wx: [-0.5] }, /threshold -0\.5 must be a finite number >= 0/],
      [{ wh: [Infinity] }, /threshold Infinity/],
      [{ wh: [0.5, 0.5] }, /0\.5 is listed twice/],
      [{ variants: [[{ kind: 'ablate', neurons: [1] }], { label: 'ablate 1', interventions: [] }] }, /label 'ablate 1' is used twice/],
      [{ variants: [[{ kind: 'frobnicate' }]] }, /expected \{ kind:/],
      [null, /must be \{ k\?, wh\?, wx\?/],
    ];
    for (const [grid, message] of bad) await expectRejects(sweep({ models: [m5], data, grid: grid as SweepGrid, backend }), 'BAD_OPTION', message);
    await expectRejects(sweep({ models: [], data, grid: {}, backend }), 'BAD_OPTION', /models must be a non-empty array/);
    await expectRejects(sweep({ models: [m5], data: [], grid: {}, backend }), 'BAD_OPTION', /data is an empty list/);
    await expectRejects(sweep({ models: [m5], data: new Uint8Array(1), grid: {}, backend }), 'DATA_TOO_SHORT', /1 byte of data/);
    await expectRejects(sweep({ models: [m5], data, grid: {}, backend, batchSize: 0 }), 'BAD_OPTION', /batchSize/);
    // The default grid: one row, the intact model.
    const one = await sweep({ models: [m5], data, grid: {}, backend, onWarning: quiet });
    expect(one.rows.map((x) => [x.k, x.whThreshold, x.wxThreshold, x.bpc - x.baselineBpc])).toEqual([[5, 0, 0, 0]]);
  });
});

describe.skipIf(!hasShared)('prune = q5_redux', () => {
  it('prune rows equal PruneStudy on the reference model, bit for bit', async () => {
    const model = loadModel(refModelPath);
    const data = new Uint8Array(readFileSync(refDataPath));
    const backend = selectBackend({ threads: 2 });
    const [r, q5] = await Promise.all([sweep({ models: [model], data, grid: PRUNE_GRID, backend }), new PruneStudy().run(new Analysis({ model, data, backend }))]);
    const n = q5.whPruning.length;
    expect(r.rows).toHaveLength(2 * n + q5.combined.length);
    const H2 = 128 * 128;
    q5.whPruning.forEach((q, i) => {
      const row = r.rows[i]!;
      expect([row.whThreshold, row.wxThreshold, row.k, row.bpc, row.deltaBpc, row.baselineBpc]).toEqual([q.threshold, 0, 128, q.bpc, q.deltaBpc, q5.baselineBpc]);
      expect((100 * (H2 - row.whKept * H2)) / H2).toBe(q.pctZeroed);
      expect(row.pctOfGap).toBe((100 * (8 - row.bpc)) / (8 - q5.baselineBpc));
    });
    q5.wxPruning.forEach((q, i) => {
      const row = r.rows[n + i]!;
      expect([row.whThreshold, row.wxThreshold, row.bpc, row.deltaBpc]).toEqual([0, q.threshold, q.bpc, q.deltaBpc]);
      expect((100 * (32768 - row.wxKept * 32768)) / 32768).toBe(q.pctZeroed);
    });
    q5.combined.forEach((q, i) => {
      const row = r.rows[2 * n + i]!;
      expect([row.k, row.whThreshold, row.bpc, row.deltaBpc, 100 * row.wyKept, 100 * row.whKept]).toEqual([q.k, q.whThreshold, q.bpc, q.deltaBpc, q.wyPctKept, q.whPctKept]);
    });
    // q5's redux count is the params of the row k = 15, Wh threshold 2.
    expect(r.rows.find((x) => x.k === 15 && x.whThreshold === 2)!.params).toBe(q5.redux.params);
    // The CLI's prune --json holds the same rows.
    const out = cli('prune', '-m', refModelPath, '-d', refDataPath, '--json');
    expect(out.status, out.stderr).toBe(0);
    expect(parseSweepJson(out.stdout, 'stdout').map((x) => x.bpc)).toEqual(r.rows.map((x) => x.bpc));
  }, 120_000);
});

describe('satrnn sweep / prune (CLI)', () => {
  const H = 6;
  const model = randomModel(H, 12);
  const mf = file('m6.bin', model.toBytes());
  const tf = file('t.txt', randomText(200, 13));
  const tf2 = file('t2.txt', randomText(90, 14));

  it('--json: schema, provenance, rows and errors; --csv: header; table', () => {
    const r = cli('sweep', '-m', mf, '-d', tf, '-d', tf2, '--k', '2,all', '--wh', '0,0.4', '--json', '--backend', 'js');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Record<string, unknown> & { rows: Record<string, unknown>[]; provenance: Record<string, unknown> };
    expect(Object.keys(doc)).toEqual(['schema', 'partial', 'totalRows', 'provenance', 'rows', 'errors']);
    expect([doc.schema, doc.partial, doc.totalRows, doc.errors]).toEqual([SWEEP_JSON_SCHEMA, false, 8, []]);
    expect(Object.keys(doc.provenance)).toEqual(['satrnn', 'command', 'backend', 'isa', 'readoutMethod', 'data', 'models', 'options']);
    expect(doc.provenance.data).toHaveLength(2);
    expect((doc.provenance.options as { grid: unknown }).grid).toEqual({ k: [2, 'all'], wh: [0, 0.4], wx: [0], variants: [], skipLargeK: false });
    expect(Object.keys(doc.rows[0]!)).toEqual([...SWEEP_ROW_FIELDS]);
    expect(doc.rows.map((x) => [x.text, x.k, x.whThreshold, x.variant])).toEqual([tf, tf2].flatMap((t) => [2, H].flatMap((k) => [0, 0.4].map((wh) => [t, k, wh, null]))));
    const csv = cli('sweep', '-m', mf, '-d', tf, '--k', '2,all', '--wh', '0,0.4', '--csv');
    expect(csv.status, csv.stderr).toBe(0);
    const lines = csv.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('model,model_sha256,hidden,text,text_sha256,k,wh_threshold,wx_threshold,variant,wh_kept,wx_kept,wy_kept,params,bpc,baseline_bpc,delta_bpc,pct_of_gap');
    expect(SWEEP_CSV_COLUMNS.join(',')).toBe(lines[0]);
    expect(lines).toHaveLength(5);
    // Same numbers as the JSON (full precision).
    expect(lines[1]!.split(',')[13]).toBe(String(doc.rows[0]!.bpc));
    const table = cli('sweep', '-m', mf, '-d', tf, '--k', '2', '--wh', '0,0.4');
    expect(table.status, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^model .*m6\.bin \(hidden 6\), text .*t\.txt: baseline_bpc \d+\.\d{4}\n\s+k\s+wh_threshold\s+wx_threshold\s+wh_kept/);
  }, 60_000);

  it('variants from a --grid file; flags override its lists', () => {
    const keep = Array.from({ length: H * H }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const gf = file(
      'grid.json',
      JSON.stringify({ k: [1], wx: [0.5], variants: [{ label: 'no h2', interventions: [{ kind: 'ablate', neurons: [2] }] }, [{ kind: 'mask', matrix: 'Wh', keep }]] }),
    );
    const r = cli('sweep', '-m', mf, '-d', tf, '--grid', gf, '--k', 'all', '--json');
    expect(r.status, r.stderr).toBe(0);
    const rows = parseSweepJson(r.stdout, 'stdout');
    expect(rows.map((x) => [x.k, x.wxThreshold, x.variant])).toEqual([
      [H, 0.5, undefined],
      [undefined, undefined, 'no h2'],
      [undefined, undefined, 'mask Wh'],
    ]);
    expect(rows[2]!.whKept).toBe(keep.filter((b) => b).length / (H * H));
    // A resume with another grid reuses the rows that still belong to it and says what it drops.
    const prev = file('prev.json', r.stdout);
    const again = cli('sweep', '-m', mf, '-d', tf, '--k', 'all', '--wx', '0.5', '--json', '--resume', prev);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/warning: 2 rows of .*prev\.json are not in this sweep/);
    expect(parseSweepJson(again.stdout, 'stdout')).toEqual(rows.slice(0, 1));
  }, 30_000);

  it('bad usage exits 2 with one line: empty grid, k > H, negative/NaN thresholds, bad files', () => {
    expectCleanFailure(cli('sweep', '-m', mf, '-d', tf, '--k', ''), 2, /the grid has no rows/);
    expectCleanFailure(cli('sweep', '-m', mf, '-d', tf, '--k', '3,7'), 2, /k 7 > H=6 of .*m6\.bin/);
    expectCleanFailure(cli('sweep', '-m', mf, '-d', tf, '--wh=-1'), 2, /threshold -1 must be a finite number >= 0/);
    expectCleanFailure(cli('sweep', '-m', mf, '-d', tf, '--wx', 'nan'), 2, /threshold NaN/);
    expectCleanFailure(cli('sweep', '-m', mf, '-d', tf, '--wh', '0,abc'), 2, /'abc' is not a number/);
    expectCleanFailure(cli('sweep', '-m', path.join(dir, 'missing.bin'), '-d', tf), 2, /model file not found/);
    expectCleanFailure(cli('sweep', '-m', mf, '-d', tf, '--grid', tf), 2, /not valid JSON/);
    expectCleanFailure(cli('sweep', '-m', mf, '-d', tf, '--resume', tf), 2, /not JSON.*--resume takes the --json output/);
    const ko = file('ko.json', JSON.stringify({ schema: 'satrnn.knockout/2', models: [] }));
    expectCleanFailure(cli('prune', '-m', mf, '-d', tf, '--resume', ko), 2, /schema is "satrnn\.knockout\/2", not satrnn\.sweep\/1/);
  }, 60_000);

  it('a bad model in a folder: listed in errors, the others run, exit 1', () => {
    const folder = path.join(dir, 'cli-models');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'a.bin'), model.toBytes());
    writeFileSync(path.join(folder, 'b.bin'), randomModel(3, 1).toBytes());
    writeFileSync(path.join(folder, 'c.bin'), new Uint8Array(7));
    const r = cli('sweep', '-m', folder, '-d', tf, '--k', '2', '--json');
    expectCleanFailure(r, 1, /1 model was not run .*c\.bin.*7 bytes is not the size of any sat-rnn model/);
    const doc = JSON.parse(r.stdout) as { rows: SweepRow[]; errors: { model: string; code: string }[]; partial: boolean };
    expect(doc.rows.map((x) => x.hidden)).toEqual([6, 3]);
    expect(doc.errors.map((e) => [path.basename(e.model), e.code])).toEqual([['c.bin', 'BAD_MODEL_SIZE']]);
    expect(doc.partial).toBe(false);
    const csv = cli('sweep', '-m', folder, '-d', tf, '--k', '2', '--csv');
    expect(csv.status).toBe(1);
    expect(csv.stdout.trimEnd().split('\n').pop()).toMatch(/^# error: .*c\.bin: 7 bytes is not the size of any sat-rnn model .*\(BAD_MODEL_SIZE\)$/);
  }, 30_000);

  it('Ctrl-C writes the finished rows marked partial (exit 130); --resume into the same file completes it, equal to an uninterrupted run', async () => {
    // A grid of many small sub-batches on the js backend: slow enough to interrupt midway.
    const big = file('big.txt', randomText(1500, 21));
    const m = file('m16.bin', randomModel(16, 22).toBytes());
    const args = ['sweep', '-m', m, '-d', big, '--k', '3,all', '--wh', '0,0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5,0.55,0.6,0.65,0.7,0.75,0.8,0.85,0.9,0.95', '--wx', '0,0.2', '--batch-size', '1', '--backend', 'js', '--threads', '1', '--json'];
    const run = (out: string, sigintAfterMs?: number): Promise<{ code: number | null; stderr: string; ms: number }> =>
      new Promise((resolve) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'satrnn.js'), ...args, '-o', out]);
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        if (sigintAfterMs !== undefined) setTimeout(() => child.kill('SIGINT'), sigintAfterMs);
        child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - t0 }));
      });
    const full = path.join(dir, 'full.json');
    const whole = await run(full);
    expect(whole.code, whole.stderr).toBe(0);
    const out = path.join(dir, 'partial.json');
    // Most of the rows come in the second half of the run (start-up and the ranking come first).
    // The machine's speed varies: a run that finished before the signal is tried again earlier,
    // one stopped before its plan was made (nothing written) later.
    let delay = whole.ms * 0.65;
    let cut = await run(out, delay);
    for (let attempt = 0; attempt < 4 && (cut.code === 0 || !existsSync(out)); attempt++) {
      delay *= cut.code === 0 ? 0.6 : 1.4;
      rmSync(out, { force: true });
      cut = await run(out, delay);
    }
    expect(cut.code, cut.stderr).toBe(130);
    expect(cut.stderr).toMatch(/rows written to .*partial\.json, marked partial; finish with --resume/);
    expect(cut.stderr).toMatch(/satrnn: interrupted/);
    const partial = JSON.parse(readFileSync(out, 'utf8')) as { partial: boolean; totalRows: number; rows: unknown[] };
    expect(partial.partial).toBe(true);
    expect(partial.totalRows).toBe(80);
    expect(partial.rows.length).toBeLessThan(80); // usually about half; 0 if the machine was very slow
    const resumed = cli(...args, '-o', out, '--resume', out);
    expect(resumed.status, resumed.stderr).toBe(0);
    const a = JSON.parse(readFileSync(out, 'utf8')) as { partial: boolean; rows: unknown[]; provenance: { options: { resumedFrom: string } } };
    const b = JSON.parse(readFileSync(full, 'utf8')) as { rows: unknown[] };
    expect(a.partial).toBe(false);
    expect(a.provenance.options.resumedFrom).toBe(out);
    expect(a.rows).toEqual(b.rows);
  }, 120_000);
});

describe('formats and the progress line', () => {
  it('CSV: undefined fields empty, labels quoted, partial and errors as trailing comments', () => {
    const row: SweepRow = {
      model: 'a,b.bin',
      modelSha256: 'a'.repeat(64),
      hidden: 4,
      text: 't',
      textSha256: 'b'.repeat(64),
      k: undefined,
      whThreshold: undefined,
      wxThreshold: undefined,
      variant: 'ablate 1',
      whKept: 1,
      wxKept: 1,
      wyKept: 1,
      params: 3348,
      bpc: 9,
      baselineBpc: 8.5,
      deltaBpc: 0.5,
      pctOfGap: undefined,
    };
    const csv = formatSweepCsv({ rows: [row], errors: [{ model: 'x.bin', code: 'BAD_MODEL_SIZE', message: 'too short' }], total: 3, partial: true });
    expect(csv.split('\n').slice(1)).toEqual([`"a,b.bin",${'a'.repeat(64)},4,t,${'b'.repeat(64)},,,,ablate 1,1,1,1,3348,9,8.5,0.5,`, '# partial: 1 of 3 rows (interrupted); finish with --resume FILE (the --json output)', '# error: x.bin: too short (BAD_MODEL_SIZE)', '']);
  });

  it('progressLine: counts, rate and ETA', () => {
    expect(progressLine('sweep', 10, 40, 5000, { unit: 'rows' })).toBe(`sweep [${'#'.repeat(8)}${' '.repeat(22)}] 25% 10/40 rows 5.0s, 2.0 rows/s, ETA 15s`);
    expect(progressLine('x', 0, 7, 0)).toBe(`x [${' '.repeat(30)}] 0% 0/7 0.0s`);
    expect(progressLine('x', 1, 1000, 2000)).toMatch(/, 0\.50\/s, ETA 33m18s$/);
  });
});
